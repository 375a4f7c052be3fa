//! Bad input gets problem+json with a stable code and the field at fault; never a 500.

use e2e::{Engine, TestApp};
use reqwest::StatusCode;
use serde_json::json;

dynoxide_only!(bad_input_is_a_clear_problem);

async fn bad_input_is_a_clear_problem(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let raw = |body: &'static str, ctype: &'static str| {
        let app = &app;
        async move {
            let r = app
                .http
                .post(format!("{}/v1/auth/register", app.base))
                .header("content-type", ctype)
                .body(body)
                .send()
                .await
                .unwrap();
            TestApp::reply(r).await
        }
    };
    let r = raw("{not json", "application/json").await;
    assert_eq!((r.status, r.code()), (StatusCode::BAD_REQUEST, "malformed_body"));
    assert_eq!(r.headers["content-type"], "application/problem+json");
    assert_eq!(r.body["status"], 400);
    assert!(r.body["type"].as_str().unwrap().ends_with("malformed_body"));

    let r = raw("{}", "text/plain").await;
    assert_eq!((r.status, r.code()), (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type"));

    let valid = json!({"email": "a@example.com", "password": "a fine passphrase", "first_name": "A",
                       "last_name": "B", "organization_name": "C"});
    let with = |k: &str, v: serde_json::Value| {
        let mut b = valid.clone();
        b[k] = v;
        b
    };
    let cases = [
        (with("admin", json!(true)), "invalid_field", "admin"),
        (with("email", json!(42)), "invalid_field", "email"),
        (with("email", json!("no-at-sign")), "invalid_email", "email"),
        (with("password", json!("short")), "weak_password", "password"),
        (with("password", json!("password123")), "weak_password", "password"),
        (with("first_name", json!("   ")), "invalid_name", "first_name"),
        (with("organization_name", json!("x".repeat(200))), "invalid_org_name", "organization_name"),
        (with("language", json!("fr")), "invalid_language", "language"),
        (json!({"email": "a@example.com"}), "invalid_field", "password"),
    ];
    for (body, code, field) in cases {
        let r = app.post("/v1/auth/register", body).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{code} {field}: {:?}", r.body);
        assert_eq!((r.code(), r.body["field"].as_str().unwrap_or_default()), (code, field), "{:?}", r.body);
    }
    assert_eq!(app.count_items("USER#").await, 0, "nothing written by bad input");

    let r = app.post("/v1/auth/login", json!({"email": "a@example.com", "password": "x", "client": "fridge"})).await;
    assert_eq!((r.status, r.body["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("client")));

    let big = json!({"email": "a@example.com", "password": "p".repeat(100_000), "client": "web"});
    let r = app.post("/v1/auth/login", big).await;
    assert_eq!((r.status, r.code()), (StatusCode::PAYLOAD_TOO_LARGE, "body_too_large"));

    let r = app.get("/v1/nowhere", "t").await;
    assert_eq!((r.status, r.code()), (StatusCode::NOT_FOUND, "route_not_found"));
    let r = app.call(reqwest::Method::DELETE, "/v1/auth/login", None, None).await;
    assert_eq!((r.status, r.code()), (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed"));
    let r = app.call(reqwest::Method::GET, "/v1/me?cursor=%%%", Some("x"), None).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "authentication comes before query parsing");
}
