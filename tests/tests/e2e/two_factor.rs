//! Two-factor authentication: enrolment, the second login step, single use, tries, recovery
//! codes, turning it off, and an admin's reset. Codes come from an independent implementation.

use e2e::{Engine, TestApp};
use reqwest::StatusCode;
use serde_json::{Value, json};
use switchboard::clock::Clock;

dynoxide_only!(two_factor_login);

fn code(secret_b32: &str, at: i64) -> String {
    let bytes = totp_rs::Secret::Encoded(secret_b32.to_owned()).to_bytes().unwrap();
    totp_rs::TOTP::new(totp_rs::Algorithm::SHA1, 6, 1, 30, bytes).unwrap().generate(at as u64)
}

async fn two_factor_login(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let ann = app.signup("mfa", "web").await;
    let now = || app.clock.now().timestamp();
    let r = app.post_auth("/v1/me/2fa", &ann.access, json!({})).await;
    assert_eq!(r.status, StatusCode::CREATED);
    let uri = r.body["otpauth_uri"].as_str().unwrap();
    assert!(uri.starts_with("otpauth://totp/Switchboard:") && uri.contains("&period=30"));
    let secret = r.body["secret"].as_str().unwrap().to_owned();
    let r = app.post_auth("/v1/me/2fa/confirm", &ann.access, json!({"code": "000000"})).await;
    assert_eq!((r.status, r.code()), (StatusCode::UNAUTHORIZED, "invalid_code"));
    let r = app.post_auth("/v1/me/2fa/confirm", &ann.access, json!({"code": code(&secret, now())})).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let recovery: Vec<String> =
        r.body["recovery_codes"].as_array().unwrap().iter().map(|c| c.as_str().unwrap().to_owned()).collect();
    assert_eq!(recovery.len(), 10);
    assert_eq!(app.post_auth("/v1/me/2fa", &ann.access, json!({})).await.code(), "two_factor_on");

    let login = |pw: &str| app.post("/v1/auth/login", json!({"email": ann.email, "password": pw, "client": "mobile"}));
    let r = login(&ann.password).await;
    assert_eq!((r.status, r.body["mfa_required"].as_bool()), (StatusCode::OK, Some(true)));
    assert!(r.body.get("access_token").is_none(), "no tokens before the second factor");
    let challenge = r.body["mfa_token"].as_str().unwrap().to_owned();
    let step = |body: Value| app.post("/v1/auth/login/2fa", body);

    // The code of this 30-second step was used to confirm: it does not work twice.
    let r = step(json!({"mfa_token": challenge, "code": code(&secret, now())})).await;
    assert_eq!(r.code(), "invalid_code");
    app.clock.advance(chrono::Duration::seconds(30));
    let fresh = code(&secret, now());
    let r = step(json!({"mfa_token": challenge, "code": fresh})).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert!(r.body["access_token"].is_string());
    let r = step(json!({"mfa_token": challenge, "code": fresh})).await;
    assert_eq!(r.code(), "invalid_token", "a challenge is used once");

    // Guessing: a challenge allows five tries, and every wrong code counts against the login
    // (the reused code above was one), so after five in a window codes are refused outright,
    // even right ones, whichever challenge they come with.
    let challenge = login(&ann.password).await.body["mfa_token"].as_str().unwrap().to_owned();
    let mut answers = Vec::new();
    for _ in 0..5 {
        answers.push(step(json!({"mfa_token": challenge, "code": "123456"})).await.code().to_owned());
    }
    assert_eq!(answers, ["invalid_code", "invalid_code", "invalid_code", "invalid_code", "too_many_attempts"]);
    let fresh_challenge = login(&ann.password).await.body["mfa_token"].as_str().unwrap().to_owned();
    let r = step(json!({"mfa_token": fresh_challenge, "code": code(&secret, now())})).await;
    assert_eq!((r.status, r.code()), (StatusCode::TOO_MANY_REQUESTS, "too_many_attempts"));
    assert!(r.headers.get("retry-after").is_some());
    app.clock.advance(chrono::Duration::minutes(16));
    let r = step(json!({"mfa_token": challenge, "code": code(&secret, now())})).await;
    assert_eq!(r.code(), "invalid_token", "that challenge expired");

    // A recovery code works once.
    let challenge = login(&ann.password).await.body["mfa_token"].as_str().unwrap().to_owned();
    let r = step(json!({"mfa_token": challenge, "recovery_code": recovery[0].to_uppercase()})).await;
    assert_eq!(r.status, StatusCode::OK);
    let challenge = login(&ann.password).await.body["mfa_token"].as_str().unwrap().to_owned();
    let r = step(json!({"mfa_token": challenge, "recovery_code": recovery[0]})).await;
    assert_eq!(r.code(), "invalid_code");
    let session = step(json!({"mfa_token": challenge, "recovery_code": recovery[1]})).await.body;
    let token = session["access_token"].as_str().unwrap().to_owned();

    // Off: password and a code.
    app.clock.advance(chrono::Duration::seconds(30));
    let r = app
        .post_auth("/v1/me/2fa/disable", &token, json!({"password": "not it at all", "code": code(&secret, now())}))
        .await;
    assert_eq!(r.code(), "wrong_password");
    let r = app
        .post_auth("/v1/me/2fa/disable", &token, json!({"password": ann.password, "code": code(&secret, now())}))
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{:?}", r.body);
    assert!(login(&ann.password).await.body["access_token"].is_string());

    // An admin resets a member's two-factor; the member's sessions end.
    let admin = app.signup("boss", "web").await;
    app.add_member(
        &ann.id,
        &admin.org,
        &[switchboard::domain::Role::Agent],
        switchboard::access::Scope::Subtree,
        switchboard::access::Manage::All,
    )
    .await;
    let r = app.post_auth("/v1/me/2fa", &token, json!({})).await;
    let secret = r.body["secret"].as_str().unwrap().to_owned();
    app.clock.advance(chrono::Duration::seconds(30));
    app.post_auth("/v1/me/2fa/confirm", &token, json!({"code": code(&secret, now())})).await;
    let boss = app.login(&admin.email, &admin.password, "web").await;
    let boss_token = boss["access_token"].as_str().unwrap();
    let r = app.post_auth(&format!("/v1/orgs/{}/members/{}/reset-2fa", admin.org, ann.id), boss_token, json!({})).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{:?}", r.body);
    assert_eq!(app.get("/v1/me", &token).await.code(), "session_ended");
    assert!(login(&ann.password).await.body["access_token"].is_string(), "password alone again");
}
