//! Ending sessions under injected faults: the sessions end and their notice is written in one
//! transaction, so a failure leaves every session live and no notice, and a success never
//! loses the notice to a later failing write.

use std::time::Duration;

use e2e::fault_proxy::{Fault, Rule};
use e2e::{Engine, TestApp};
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::faults::{OUTLASTS_SDK, TX, assert_retryable};

both_engines!(ending_sessions_tells_once_under_faults);

/// The "signed out" notices `to` has received, once everything recorded has had its chance.
async fn signed_out_notices(app: &TestApp, to: &str) -> usize {
    app.run_mail_worker().await;
    app.clock.advance(chrono::Duration::seconds(61));
    app.relay_emails().await;
    app.mail_settled().await;
    app.emails_to(to).await.iter().filter(|m| m.subject.contains("signed out")).count()
}

async fn ending_sessions_tells_once_under_faults(engine: Engine) {
    let app = TestApp::spawn_faulty(engine).await;
    let ann = app.signup("end-faults", "web").await;
    let mobile = app.login(&ann.email, &ann.password, "mobile").await["access_token"].as_str().unwrap().to_owned();
    let desktop = app.login(&ann.email, &ann.password, "desktop").await["access_token"].as_str().unwrap().to_owned();

    // "Sign out everywhere" whose transaction fails through every attempt: nothing ended, no
    // notice, told to retry.
    app.inject_fault(Rule::new(TX, Fault::Internal).times(OUTLASTS_SDK)).await;
    let r = app.call(Method::POST, "/v1/auth/logout-all", Some(&ann.access), None).await;
    assert_retryable(&r);
    app.faults().heal();
    for t in [&ann.access, &mobile, &desktop] {
        assert_eq!(app.get("/v1/me", t).await.status, StatusCode::OK, "every session still live");
    }
    assert_eq!(signed_out_notices(&app, &ann.email).await, 0, "no notice without the ending");

    // The retry while batch writes fail: the sessions and the notice are one transaction, so
    // all three end and the notice is written.
    app.faults().inject(Rule::new("BatchWriteItem", Fault::Internal).times(OUTLASTS_SDK));
    let r = app.call(Method::POST, "/v1/auth/logout-all", Some(&ann.access), None).await;
    assert_eq!((r.status, r.body["sessions_ended"].as_u64()), (StatusCode::OK, Some(3)), "{:?}", r.body);
    app.faults().heal();
    for t in [&ann.access, &mobile, &desktop] {
        assert_eq!(app.get("/v1/me", t).await.code(), "session_ended");
    }
    assert_eq!(signed_out_notices(&app, &ann.email).await, 1, "one notice, with the ending");

    // A password reset: the token, the new password, the sessions and the notice in one
    // transaction, the same under the same faults.
    let web = app.login(&ann.email, &ann.password, "web").await["access_token"].as_str().unwrap().to_owned();
    let mobile = app.login(&ann.email, &ann.password, "mobile").await["access_token"].as_str().unwrap().to_owned();
    app.post("/v1/auth/forgot-password", json!({"email": ann.email})).await;
    let mut link = None;
    for _ in 0..100 {
        link = app.wait_emails_to(&ann.email, 1).await.iter().find_map(|m| m.link("/reset-password?token="));
        if link.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let token = link.expect("a reset link").split("token=").nth(1).unwrap().to_owned();
    let reset = json!({"token": token, "password": "a brand new phrase"});
    app.inject_fault(Rule::new(TX, Fault::Internal).times(OUTLASTS_SDK)).await;
    assert_retryable(&app.post("/v1/auth/reset-password", reset.clone()).await);
    app.faults().heal();
    for t in [&web, &mobile] {
        assert_eq!(app.get("/v1/me", t).await.status, StatusCode::OK, "no session ended by a failed reset");
    }
    app.login(&ann.email, &ann.password, "web").await;
    assert_eq!(signed_out_notices(&app, &ann.email).await, 1, "no second notice yet");

    app.faults().inject(Rule::new("BatchWriteItem", Fault::Internal).times(OUTLASTS_SDK));
    let r = app.post("/v1/auth/reset-password", reset).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{:?}", r.body);
    app.faults().heal();
    for t in [&web, &mobile] {
        assert_eq!(app.get("/v1/me", t).await.code(), "session_ended", "a reset ends every session");
    }
    app.login(&ann.email, "a brand new phrase", "web").await;
    assert_eq!(signed_out_notices(&app, &ann.email).await, 2, "one notice for the reset's three sessions");
    println!(
        "{engine:?} | logout-all, password reset | TX 500 x3, then the retry with BatchWriteItem 500 x3 | 503+Retry-After with every session live and no notice; then every session ended and one notice each"
    );
}
