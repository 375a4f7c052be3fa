//! Personal settings: profile, password change, one's sessions.

use e2e::{Engine, TestApp};
use reqwest::{Method, StatusCode};
use serde_json::json;

dynoxide_only!(profile_password_and_sessions);

async fn profile_password_and_sessions(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let ann = app.signup("profile", "web").await;
    let r = app.call(Method::PATCH, "/v1/me", Some(&ann.access), Some(json!({"first_name": "Anna", "job_title": "Support lead", "mobile": "+31 6 12345678", "language": "nl"}))).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(
        (
            r.body["first_name"].as_str(),
            r.body["job_title"].as_str(),
            r.body["mobile"].as_str(),
            r.body["language"].as_str()
        ),
        (Some("Anna"), Some("Support lead"), Some("+31612345678"), Some("nl"))
    );
    let r = app.call(Method::PATCH, "/v1/me", Some(&ann.access), Some(json!({"mobile": "12345"}))).await;
    assert_eq!((r.status, r.body["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("mobile")));
    let r = app.call(Method::PATCH, "/v1/me", Some(&ann.access), Some(json!({"job_title": ""}))).await;
    assert_eq!(r.body["job_title"], serde_json::Value::Null);
    // The members page shows (and finds) the new name.
    let members = app.get(&format!("/v1/orgs/{}/members?q=anna", ann.org), &ann.access).await;
    assert_eq!(members.body["members"][0]["name"], "Anna Smith");

    let mobile = app.login(&ann.email, &ann.password, "mobile").await;
    let list = app.get("/v1/me/sessions", &ann.access).await;
    let sessions = list.body["sessions"].as_array().unwrap();
    assert_eq!(sessions.len(), 2);
    assert_eq!(sessions.iter().filter(|s| s["current"] == true).count(), 1);
    let r = app
        .call(
            Method::DELETE,
            &format!("/v1/me/sessions/{}", mobile["session_id"].as_str().unwrap()),
            Some(&ann.access),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert_eq!(app.get("/v1/me", mobile["access_token"].as_str().unwrap()).await.code(), "session_ended");

    let desktop = app.login(&ann.email, &ann.password, "desktop").await;
    let r = app
        .post_auth(
            "/v1/me/password",
            &ann.access,
            json!({"current_password": "wrong one!", "new_password": "a changed passphrase"}),
        )
        .await;
    assert_eq!((r.status, r.code()), (StatusCode::UNPROCESSABLE_ENTITY, "wrong_password"));
    let r = app
        .post_auth("/v1/me/password", &ann.access, json!({"current_password": ann.password, "new_password": "a changed passphrase", "end_other_sessions": true}))
        .await;
    assert_eq!((r.status, r.body["sessions_ended"].as_u64()), (StatusCode::OK, Some(1)));
    assert_eq!(app.get("/v1/me", desktop["access_token"].as_str().unwrap()).await.code(), "session_ended");
    assert_eq!(app.get("/v1/me", &ann.access).await.status, StatusCode::OK, "this session stays");
    app.login(&ann.email, "a changed passphrase", "web").await;
}
