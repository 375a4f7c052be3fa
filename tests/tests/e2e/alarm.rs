//! The alarm service through HTTP: validation per type, inheritance down the tree and an
//! explicit `none`, locks, optimistic concurrency, and the messaging service's lookup.

use e2e::{Engine, TestApp};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

dynoxide_only!(alarm_service_configured_inherited_and_looked_up);

async fn send(app: &TestApp, method: Method, path: &str, token: &str, etag: &str, body: Option<Value>) -> e2e::Reply {
    let mut req = app.http.request(method, format!("{}{path}", app.base)).bearer_auth(token).header("If-Match", etag);
    if let Some(b) = body {
        req = req.json(&b);
    }
    TestApp::reply(req.send().await.expect("request")).await
}

async fn lookup(app: &TestApp, org: &str) -> e2e::Reply {
    let url = format!("{}/internal/v1/orgs/{org}/alarm-service", app.base);
    TestApp::reply(app.http.get(url).header("x-switchboard-service-token", &app.service_token).send().await.unwrap())
        .await
}

async fn alarm_service_configured_inherited_and_looked_up(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let owner = app.signup("alarm", "web").await;
    let sub = app.sub_account(&owner.access, &owner.org, "Ward 3").await;
    let path = format!("/v1/orgs/{}/alarm-service", owner.org);
    let sub_path = format!("/v1/orgs/{sub}/alarm-service");

    let r = app.get(&path, &owner.access).await;
    assert_eq!((r.status, &r.body["effective"]), (StatusCode::OK, &Value::Null), "{:?}", r.body);
    let tag = r.body["etag"].as_str().unwrap().to_owned();
    assert_eq!(lookup(&app, &owner.org).await.body["alarm_service"], Value::Null);

    let ascom =
        json!({"type": "ascom", "host": "10.20.0.4", "port": 5001, "subject": "Panic button", "call_id": "4711"});
    for (bad, code, field) in [
        (
            json!({"type": "ascom", "host": "169.254.169.254", "port": 5001, "subject": "s", "call_id": "1"}),
            "invalid_alarm_host",
            "host",
        ),
        (
            json!({"type": "ascom", "host": "10.0.0.1", "port": 70000, "subject": "s", "call_id": "1"}),
            "invalid_port",
            "port",
        ),
        (
            json!({"type": "ascom", "host": "10.0.0.1", "port": 1, "subject": "s", "call_id": "no spaces"}),
            "invalid_call_id",
            "call_id",
        ),
        (json!({"type": "ascom", "host": "10.0.0.1", "port": 1, "call_id": "1"}), "alarm_field_required", "subject"),
        (json!({"type": "pager"}), "unknown_alarm_type", "type"),
    ] {
        let r = send(&app, Method::PUT, &path, &owner.access, &tag, Some(bad)).await;
        assert_eq!(
            (r.status, r.code(), r.body["field"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, code, Some(field)),
            "{:?}",
            r.body
        );
    }
    let r = send(&app, Method::PUT, &path, &owner.access, "\"s999\"", Some(ascom.clone())).await;
    assert_eq!(r.status, StatusCode::PRECONDITION_FAILED);
    let r = send(&app, Method::PUT, &path, &owner.access, &tag, Some(ascom.clone())).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["own"], ascom);
    assert_eq!(r.body["effective"], ascom);
    assert_ne!(r.body["etag"].as_str(), Some(tag.as_str()));
    let tag = r.body["etag"].as_str().unwrap().to_owned();

    // The sub-account inherits it; the messaging service reads the same for both.
    let r = app.get(&sub_path, &owner.access).await;
    assert_eq!((&r.body["effective"], r.body["inherited_from"].as_str()), (&ascom, Some(owner.org.as_str())));
    let sub_tag = r.body["etag"].as_str().unwrap().to_owned();
    let l = lookup(&app, &sub).await;
    assert_eq!((l.status, &l.body["alarm_service"]), (StatusCode::OK, &ascom));
    assert_eq!(l.body["configured_by"].as_str(), Some(owner.org.as_str()));

    // `none` below stops the inherited one; removing it inherits again.
    let r = send(&app, Method::PUT, &sub_path, &owner.access, &sub_tag, Some(json!({"type": "none"}))).await;
    assert_eq!((r.status, &r.body["effective"]), (StatusCode::OK, &Value::Null), "{:?}", r.body);
    assert_eq!(lookup(&app, &sub).await.body["alarm_service"], Value::Null);
    let sub_tag = r.body["etag"].as_str().unwrap().to_owned();
    let r = send(&app, Method::DELETE, &sub_path, &owner.access, &sub_tag, None).await;
    assert_eq!((r.status, &r.body["effective"]), (StatusCode::OK, &ascom));
    let sub_tag = r.body["etag"].as_str().unwrap().to_owned();

    // A lock at the parent fixes it for the subtree.
    let r = send(
        &app,
        Method::PATCH,
        &format!("/v1/orgs/{}/settings", owner.org),
        &owner.access,
        &tag,
        Some(json!({"locks": ["alarm_service"]})),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let r = send(&app, Method::PUT, &sub_path, &owner.access, &sub_tag, Some(json!({"type": "none"}))).await;
    assert_eq!((r.status, r.code()), (StatusCode::FORBIDDEN, "setting_locked"), "{:?}", r.body);
    assert_eq!(app.get(&sub_path, &owner.access).await.body["locked_by"].as_str(), Some(owner.org.as_str()));

    // Only the messaging service looks it up; an unknown organization is a 404.
    let url = format!("{}/internal/v1/orgs/{}/alarm-service", app.base, owner.org);
    let r = TestApp::reply(app.http.get(&url).bearer_auth(&owner.access).send().await.unwrap()).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(lookup(&app, "org_01ARZ3NDEKTSV4RRFFQ69G5FAV").await.status, StatusCode::NOT_FOUND);
    let id = switchboard::domain::OrgId::parse(&sub, "org").unwrap();
    let (found, n) =
        switchboard::store::count_calls(switchboard::service::orgs::alarm::for_messaging(&app.ctx, &id)).await;
    assert!(found.unwrap().alarm_service.is_some());
    assert_eq!(n.calls, 2, "a sub-account's alarm service is two reads: it, then its ancestors");
}
