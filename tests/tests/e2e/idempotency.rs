//! `Idempotency-Key` on every POST that creates or charges something: a repeat gets the
//! first answer and causes nothing; the key with another request is refused; concurrent
//! repeats make one effect; a failure a retry may fix gives the key up.

use e2e::fault_proxy::{Fault, Rule};
use e2e::{Engine, Reply, TestApp, User};
use reqwest::StatusCode;
use serde_json::{Value, json};

both_engines!(concurrent_repeats_make_one_organization, keys_last_a_day_belong_to_their_caller_and_survive_failures);
dynoxide_only!(every_creating_route_answers_a_repeat_once);

async fn keyed(app: &TestApp, token: Option<&str>, path: &str, key: &str, body: &Value) -> Reply {
    let mut req = app.http.post(format!("{}{path}", app.base)).header("Idempotency-Key", key).json(body);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    TestApp::reply(req.send().await.expect("post")).await
}

fn replayed(r: &Reply) -> bool {
    r.headers.get("idempotent-replayed").is_some_and(|v| v == "true")
}

/// Send `body` twice and `other` once under one fresh key; the first answer.
async fn repeat(app: &TestApp, token: Option<&str>, path: &str, body: Value, other: Value) -> Reply {
    let key = ulid::Ulid::new().to_string();
    let first = keyed(app, token, path, &key, &body).await;
    assert!(first.status.is_success(), "{path}: {:?}", first.body);
    assert!(!replayed(&first), "{path}: the first answer is not a replay");
    let second = keyed(app, token, path, &key, &body).await;
    assert_eq!((second.status, &second.body), (first.status, &first.body), "{path}: the same answer");
    assert!(replayed(&second), "{path}: marked as a replay");
    assert_eq!(
        second.headers.get("content-type").and_then(|v| v.to_str().ok()),
        first.headers.get("content-type").and_then(|v| v.to_str().ok()),
        "{path}"
    );
    let reused = keyed(app, token, path, &key, &other).await;
    assert_eq!(
        (reused.status, reused.code(), reused.body["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, "idempotency_key_reused", Some("Idempotency-Key")),
        "{path}: {:?}",
        reused.body
    );
    first
}

async fn my_orgs(app: &TestApp, user: &User) -> usize {
    app.get("/v1/me/organizations", &user.access).await.body["organizations"].as_array().map_or(0, Vec::len)
}

async fn seats(app: &TestApp, user: &User) -> Value {
    app.get(&format!("/v1/orgs/{}/seats", user.org), &user.access).await.body
}

async fn every_creating_route_answers_a_repeat_once(engine: Engine) {
    let app = TestApp::spawn(engine).await;

    // Register (anonymous): one account, one verification email.
    let email = e2e::unique_email("idem-register");
    let body = json!({"email": email, "password": "correct horse battery staple", "first_name": "Ann",
        "last_name": "Smith", "organization_name": "Keyed Inc"});
    let other = json!({"email": email, "password": "correct horse battery staple", "first_name": "Bob",
        "last_name": "Smith", "organization_name": "Keyed Inc"});
    repeat(&app, None, "/v1/auth/register", body, other).await;
    assert_eq!(app.wait_emails_to(&email, 1).await.len(), 1, "one verification email");

    let owner = app.signup("idem", "web").await;
    let org = owner.org.clone();
    let token = Some(owner.access.as_str());

    let before = my_orgs(&app, &owner).await;
    repeat(&app, token, "/v1/orgs", json!({"name": "Keyed Two"}), json!({"name": "Keyed Three"})).await;
    repeat(&app, token, &format!("/v1/orgs/{org}/sub-accounts"), json!({"name": "Branch"}), json!({"name": "Other"}))
        .await;
    assert_eq!(my_orgs(&app, &owner).await, before + 2, "one organization and one sub-account");

    let s = seats(&app, &owner).await;
    let r =
        repeat(&app, token, &format!("/v1/orgs/{org}/seats/purchase"), json!({"count": 2}), json!({"count": 3})).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(seats(&app, &owner).await["purchased"], s["purchased"].as_u64().unwrap() + 2, "charged once");

    let invitee = e2e::unique_email("idem-invitee");
    let s = seats(&app, &owner).await;
    repeat(
        &app,
        token,
        &format!("/v1/orgs/{org}/invitations"),
        json!({"invitations": [{"email": invitee, "roles": ["agent"]}]}),
        json!({"invitations": [{"email": invitee, "roles": ["viewer"]}]}),
    )
    .await;
    assert_eq!(seats(&app, &owner).await["pending"], s["pending"].as_u64().unwrap() + 1);
    let link = app.wait_link(&invitee, "/accept-invitation?token=").await.expect("invitation");
    assert_eq!(app.emails_to(&invitee).await.len(), 1, "one invitation email");
    let invite_token = link.split("token=").nth(1).unwrap().to_owned();
    let accept = json!({"token": invite_token, "first_name": "Nina", "last_name": "Brown",
        "password": "a brand new passphrase"});
    let other = json!({"token": invite_token, "first_name": "Nina", "last_name": "Brown",
        "password": "another new passphrase"});
    let r = repeat(&app, None, "/v1/invitations/accept", accept, other).await;
    assert_eq!(r.status, StatusCode::CREATED);
    let nina = app.login(&invitee, "a brand new passphrase", "web").await;
    assert_eq!(nina["organization_id"], org.as_str(), "a member, once");

    let created = e2e::unique_email("idem-created");
    let r = repeat(
        &app,
        token,
        &format!("/v1/orgs/{org}/users"),
        json!({"first_name": "Cas", "last_name": "Jansen", "email": created, "roles": ["viewer"]}),
        json!({"first_name": "Cas", "last_name": "Jansen", "email": created, "roles": ["agent"]}),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED);

    // An import: one job for the upload, however often it is started.
    let csv = format!("email,first_name,last_name\n{},Imke,Jong\n", e2e::unique_email("idem-import"));
    let upload = crate::imports::upload(&app, &owner, csv.into_bytes()).await;
    let mapping = json!({"email": "A", "first_name": "B", "last_name": "C"});
    let r = repeat(
        &app,
        token,
        &format!("/v1/orgs/{org}/imports"),
        json!({"upload_id": &upload, "mapping": mapping, "start_row": 2}),
        json!({"upload_id": &upload, "mapping": mapping, "start_row": 1}),
    )
    .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{:?}", r.body);

    // The library and inboxes: one of each.
    for (path, body, other) in [
        (format!("/v1/orgs/{org}/inboxes"), json!({"name": "Sales"}), json!({"name": "Support"})),
        (format!("/v1/orgs/{org}/contact-groups"), json!({"name": "Drivers"}), json!({"name": "Riders"})),
        (
            format!("/v1/orgs/{org}/message-templates"),
            json!({"name": "Hello", "language": "en", "body": "Hello there"}),
            json!({"name": "Bye", "language": "en", "body": "Bye now"}),
        ),
    ] {
        let r = repeat(&app, token, &path, body, other).await;
        assert_eq!(r.status, StatusCode::CREATED, "{path}: {:?}", r.body);
    }
    let inboxes = app.get(&format!("/v1/orgs/{org}/inboxes"), &owner.access).await.body;
    let named_sales = inboxes["inboxes"].as_array().unwrap().iter().filter(|i| i["name"] == "Sales").count();
    assert_eq!(named_sales, 1, "{inboxes:?}");
    let groups = app.get(&format!("/v1/orgs/{org}/contact-groups"), &owner.access).await.body;
    assert_eq!(groups["groups"].as_array().map(Vec::len), Some(1), "{groups:?}");

    // A client error is an answer too: the same key gets the same refusal.
    let key = ulid::Ulid::new().to_string();
    let bad = json!({"count": 0});
    let first = keyed(&app, token, &format!("/v1/orgs/{org}/seats/purchase"), &key, &bad).await;
    let again = keyed(&app, token, &format!("/v1/orgs/{org}/seats/purchase"), &key, &bad).await;
    assert!(first.status.is_client_error() && (again.status, &again.body) == (first.status, &first.body));

    // A malformed key is refused before anything runs.
    let r = keyed(&app, token, "/v1/orgs", "", &json!({"name": "Never"})).await;
    assert_eq!((r.status, r.code()), (StatusCode::UNPROCESSABLE_ENTITY, "invalid_idempotency_key"));
    assert_eq!(my_orgs(&app, &owner).await, before + 2);
}

async fn concurrent_repeats_make_one_organization(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let owner = app.signup("idem-race", "web").await;
    let before = my_orgs(&app, &owner).await;
    let key = ulid::Ulid::new().to_string();
    let body = json!({"name": "Raced"});
    let replies =
        futures::future::join_all((0..6).map(|_| keyed(&app, Some(&owner.access), "/v1/orgs", &key, &body))).await;
    let mut ids = std::collections::HashSet::new();
    for r in &replies {
        match r.status {
            StatusCode::CREATED => {
                ids.insert(r.body["id"].as_str().unwrap().to_owned());
            }
            StatusCode::CONFLICT => {
                assert_eq!(r.code(), "idempotency_in_progress", "{:?}", r.body);
                assert_eq!(r.headers.get("retry-after").and_then(|v| v.to_str().ok()), Some("1"));
            }
            s => panic!("unexpected {s}: {:?}", r.body),
        }
    }
    assert_eq!(ids.len(), 1, "every success names the one organization");
    assert_eq!(my_orgs(&app, &owner).await, before + 1, "one organization");
    // Once the first finished, a late repeat is a replay.
    let late = keyed(&app, Some(&owner.access), "/v1/orgs", &key, &body).await;
    assert_eq!((late.status, replayed(&late)), (StatusCode::CREATED, true));
    assert!(ids.contains(late.body["id"].as_str().unwrap()));
}

async fn keys_last_a_day_belong_to_their_caller_and_survive_failures(engine: Engine) {
    let app = TestApp::spawn_faulty(engine).await;
    let owner = app.signup("idem-fault", "web").await;
    let other = app.signup("idem-other", "web").await;
    let key = ulid::Ulid::new().to_string();
    let path = format!("/v1/orgs/{}/seats/purchase", owner.org);
    let purchased = seats(&app, &owner).await["purchased"].as_u64().unwrap();

    // Failing through the SDK's retries: the key is given up, so the retry runs. The rule
    // names the purchase's own transaction (its billing event), so no other write takes it.
    app.inject_fault(Rule::new("TransactWriteItems", Fault::Internal).containing("BILLING#").times(3)).await;
    let failed = keyed(&app, Some(&owner.access), &path, &key, &json!({"count": 2})).await;
    assert_eq!((failed.status, failed.code()), (StatusCode::SERVICE_UNAVAILABLE, "temporarily_unavailable"));
    assert_eq!(seats(&app, &owner).await["purchased"], purchased, "nothing charged");
    let ok = keyed(&app, Some(&owner.access), &path, &key, &json!({"count": 2})).await;
    assert_eq!((ok.status, replayed(&ok)), (StatusCode::OK, false), "{:?}", ok.body);
    let again = keyed(&app, Some(&owner.access), &path, &key, &json!({"count": 2})).await;
    assert_eq!((again.status, replayed(&again)), (StatusCode::OK, true));
    assert_eq!(seats(&app, &owner).await["purchased"], purchased + 2, "charged once");

    // Another caller's key space is their own: the same key runs their request.
    let theirs = keyed(&app, Some(&other.access), "/v1/orgs", &key, &json!({"name": "Theirs"})).await;
    assert_eq!((theirs.status, replayed(&theirs)), (StatusCode::CREATED, false), "{:?}", theirs.body);

    // Kept 24 hours: the item expires (DynamoDB's TTL) a day after it was made.
    let out = app.ctx.store.client().scan().table_name(app.ctx.store.table_name()).send().await.expect("scan");
    let keys: Vec<_> = out
        .items()
        .iter()
        .filter(|i| i.get("pk").and_then(|v| v.as_s().ok()).is_some_and(|p| p.starts_with("IDEMP#")))
        .collect();
    assert_eq!(keys.len(), 2, "one item per caller and key");
    for item in keys {
        let ttl: i64 = item["ttl"].as_n().unwrap().parse().unwrap();
        let created = chrono::DateTime::parse_from_rfc3339(item["created_at"].as_s().unwrap()).unwrap().timestamp();
        assert_eq!(ttl - created, 24 * 3600);
    }
}
