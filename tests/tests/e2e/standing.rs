//! What a session carries, ended in one write (issue 32, items 2 and 5): turning two-factor
//! off ends every session's second-factor standing; signing out everywhere and a new
//! password that ends the other sessions are one transaction, so a failure after it (the
//! clean-up of session items never running, as when the process dies there) loses nothing,
//! and a failure of it changes nothing.

use e2e::fault_proxy::{Fault, Rule};
use e2e::{Engine, TestApp, User};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::faults::{OUTLASTS_SDK, TX, assert_retryable};

both_engines!(ending_sessions_is_one_write);
dynoxide_only!(turning_two_factor_off_ends_its_standing_everywhere);

fn totp(secret: &str) -> totp_rs::TOTP {
    let bytes = totp_rs::Secret::Encoded(secret.to_owned()).to_bytes().unwrap();
    totp_rs::TOTP::new(totp_rs::Algorithm::SHA1, 6, 1, 30, bytes).unwrap()
}

/// A session on `client` that passed the second factor: (access, refresh).
async fn with_second_factor(app: &TestApp, who: &User, t: &totp_rs::TOTP, client: &str) -> (String, String) {
    let r = app.login(&who.email, &who.password, client).await;
    let challenge = r["mfa_token"].as_str().expect("the second step").to_owned();
    app.clock.advance(chrono::Duration::seconds(30));
    let code = t.generate(app.clock_now() as u64);
    let r = app.post("/v1/auth/login/2fa", json!({"mfa_token": challenge, "code": code})).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    (r.body["access_token"].as_str().unwrap().to_owned(), r.body["refresh_token"].as_str().unwrap().to_owned())
}

async fn turning_two_factor_off_ends_its_standing_everywhere(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let owner = app.signup("standing-o", "web").await;
    let m = app.signup("standing-m", "web").await;
    app.add_member(&m.id, &owner.org, &[switchboard::domain::Role::Agent], Default::default(), Default::default())
        .await;
    // M turns two-factor on; the organization then requires it.
    let r = app.post_auth("/v1/me/2fa", &m.access, json!({})).await;
    let t = totp(r.body["secret"].as_str().unwrap());
    let r = app.post_auth("/v1/me/2fa/confirm", &m.access, json!({"code": t.generate(app.clock_now() as u64)})).await;
    let recovery = r.body["recovery_codes"][0].as_str().unwrap().to_owned();
    let path = format!("/v1/orgs/{}/settings", owner.org);
    let tag = app.http.get(format!("{}{path}", app.base)).bearer_auth(&owner.access).send().await.unwrap();
    let tag = tag.headers()["etag"].to_str().unwrap().to_owned();
    let r = app
        .http
        .patch(format!("{}{path}", app.base))
        .bearer_auth(&owner.access)
        .header("If-Match", tag)
        .json(&json!({"two_factor_required": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let (web, _) = with_second_factor(&app, &m, &t, "web").await;
    let (mobile, mobile_refresh) = with_second_factor(&app, &m, &t, "mobile").await;
    let members = format!("/v1/orgs/{}/members", owner.org);
    for s in [&web, &mobile] {
        let r = app.post_auth("/v1/auth/switch", s, json!({"organization_id": owner.org})).await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
        assert_eq!(app.get(&members, s).await.status, StatusCode::OK);
    }

    // Off with a recovery code, from the web session: neither session stands on a second
    // factor any more, and a refresh no longer hands out the organization.
    let r = app.post_auth("/v1/me/2fa/disable", &web, json!({"password": m.password, "recovery_code": recovery})).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{:?}", r.body);
    for s in [&web, &mobile] {
        let r = app.get(&members, s).await;
        assert_eq!((r.status, r.code()), (StatusCode::FORBIDDEN, "two_factor_required"), "{:?}", r.body);
        assert_eq!(app.get("/v1/me", s).await.status, StatusCode::OK, "the session itself goes on");
    }
    let r = app.post("/v1/auth/refresh", json!({"refresh_token": mobile_refresh})).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_ne!(r.body["organization_id"], owner.org.as_str(), "{:?}", r.body);
}

async fn live(app: &TestApp, tokens: &[String]) -> usize {
    let mut n = 0;
    for t in tokens {
        if app.get("/v1/me", t).await.status == StatusCode::OK {
            n += 1;
        }
    }
    n
}

async fn sessions(app: &TestApp, who: &User, n: usize) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for _ in 0..n {
        let r: Value = app.login(&who.email, &who.password, "web").await;
        out.push((r["access_token"].as_str().unwrap().to_owned(), r["refresh_token"].as_str().unwrap().to_owned()));
    }
    out
}

async fn ending_sessions_is_one_write(engine: Engine) {
    let app = TestApp::spawn_faulty(engine).await;
    let ann = app.signup("one-write", "web").await;
    let many = sessions(&app, &ann, 30).await;
    let access: Vec<String> = many.iter().map(|(a, _)| a.clone()).collect();

    // The transaction fails: nothing ended, told to retry.
    app.inject_fault(Rule::new(TX, Fault::Internal).times(OUTLASTS_SDK)).await;
    assert_retryable(&app.call(Method::POST, "/v1/auth/logout-all", Some(&access[0]), None).await);
    app.faults().heal();
    assert_eq!(live(&app, &access).await, 30, "all or nothing: nothing");

    // It commits and nothing after it does (no session item is deleted, as when the process
    // dies right after): every session has ended all the same, refreshes included.
    app.faults().inject(Rule::new("BatchWriteItem", Fault::Internal).times(1000));
    app.faults().inject(Rule::new("DeleteItem", Fault::Internal).times(1000));
    let r = app.call(Method::POST, "/v1/auth/logout-all", Some(&access[0]), None).await;
    assert_eq!((r.status, r.body["sessions_ended"].as_u64()), (StatusCode::OK, Some(31)), "{:?}", r.body);
    assert_eq!(live(&app, &access).await, 0, "all or nothing: all");
    for (_, refresh) in many.iter().take(3) {
        let r = app.post("/v1/auth/refresh", json!({"refresh_token": refresh})).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{:?}", r.body);
    }
    app.faults().heal();

    // A new password ending the other sessions: the same, and the session that asked goes on.
    let many = sessions(&app, &ann, 10).await;
    let (me, others): (Vec<String>, Vec<String>) =
        (vec![many[0].0.clone()], many[1..].iter().map(|(a, _)| a.clone()).collect());
    let change =
        json!({"current_password": ann.password, "new_password": "an entirely new phrase", "end_other_sessions": true});
    app.inject_fault(Rule::new(TX, Fault::Internal).times(OUTLASTS_SDK)).await;
    assert_retryable(&app.post_auth("/v1/me/password", &me[0], change.clone()).await);
    app.faults().heal();
    assert_eq!(live(&app, &others).await, 9, "no session ended by a failed change");
    assert_eq!(
        app.post("/v1/auth/login", json!({"email": ann.email, "password": ann.password, "client": "web"})).await.status,
        StatusCode::OK,
        "the old password still works"
    );
    app.faults().inject(Rule::new("BatchWriteItem", Fault::Internal).times(1000));
    let r = app.post_auth("/v1/me/password", &me[0], change).await;
    app.faults().heal();
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(live(&app, &others).await, 0, "every other session ended with the password");
    assert_eq!(live(&app, &me).await, 1, "the session that changed it goes on");
    let listed = app.get("/v1/me/sessions", &me[0]).await;
    assert_eq!(listed.body["sessions"].as_array().map(Vec::len), Some(1), "{:?}", listed.body);
    let old = app.post("/v1/auth/login", json!({"email": ann.email, "password": ann.password, "client": "web"})).await;
    assert_eq!(old.status, StatusCode::UNAUTHORIZED);
}
