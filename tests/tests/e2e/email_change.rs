//! Changing one's own email address.

use e2e::{Engine, TestApp, unique_email};
use reqwest::StatusCode;
use serde_json::json;

both_engines!(concurrent_changes_to_one_address);
dynoxide_only!(change_own_email);

async fn change_own_email(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let ann = app.signup("mover", "web").await;
    let bob = app.signup("other", "web").await;
    let new = unique_email("moved");

    let r = app.post_auth("/v1/me/email", &ann.access, json!({"new_email": new, "password": "not my password"})).await;
    assert_eq!((r.status, r.code()), (StatusCode::UNPROCESSABLE_ENTITY, "wrong_password"));
    let r = app
        .post_auth(
            "/v1/me/email",
            &ann.access,
            json!({"new_email": ann.email.to_uppercase(), "password": ann.password}),
        )
        .await;
    assert_eq!((r.status, r.code()), (StatusCode::CONFLICT, "same_email"));
    let r = app.post_auth("/v1/me/email", &ann.access, json!({"new_email": new, "password": ann.password})).await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{:?}", r.body);
    let r = app.post_auth("/v1/me/email", &bob.access, json!({"new_email": new, "password": bob.password})).await;
    assert_eq!((r.status, r.code()), (StatusCode::CONFLICT, "email_pending"), "pending for someone else");

    let to_new = app.wait_emails_to(&new, 1).await;
    let link = to_new[0].link("/confirm-email?token=").expect("link to the new address");
    let token = link.split("token=").nth(1).unwrap().to_owned();
    let notice = app.wait_emails_to(&ann.email, 2).await;
    assert!(notice.iter().any(|m| m.body.contains(&new)), "the old address is told");

    let r = app.post_auth("/v1/me/email/confirm", &bob.access, json!({"token": token})).await;
    assert_eq!((r.status, r.code()), (StatusCode::BAD_REQUEST, "invalid_token"), "someone else's link");
    let r = app.post_auth("/v1/me/email/confirm", &ann.access, json!({"token": token})).await;
    assert_eq!((r.status, r.body["email"].as_str()), (StatusCode::OK, Some(new.as_str())), "{:?}", r.body);
    let r = app.post_auth("/v1/me/email/confirm", &ann.access, json!({"token": token})).await;
    assert_eq!(r.code(), "invalid_token", "single use");
    app.login(&new, &ann.password, "web").await;
    let old = app.post("/v1/auth/login", json!({"email": ann.email, "password": ann.password, "client": "web"})).await;
    assert_eq!(old.status, StatusCode::UNAUTHORIZED);
    let members = app.get(&format!("/v1/orgs/{}/members", ann.org), &ann.access).await;
    assert_eq!(members.body["members"][0]["email"], new);
    // The old address is free again.
    let again = app.post("/v1/auth/register", json!({"email": ann.email, "password": "a new owner of it", "first_name": "N", "last_name": "O", "organization_name": "Next"})).await;
    assert_eq!(again.status, StatusCode::ACCEPTED);
    app.login(&ann.email, "a new owner of it", "web").await;

    // An address that gets a login between asking and confirming: the link proved control of
    // it, so confirming merges into that login (see merge.rs) instead of taking the address.
    let target = unique_email("taken");
    app.post_auth("/v1/me/email", &bob.access, json!({"new_email": target, "password": bob.password})).await;
    let token = app.wait_emails_to(&target, 1).await[0]
        .link("/confirm-email?token=")
        .unwrap()
        .split("token=")
        .nth(1)
        .unwrap()
        .to_owned();
    app.post("/v1/auth/register", json!({"email": target, "password": "got here first", "first_name": "F", "last_name": "S", "organization_name": "First"})).await;
    let r = app.post_auth("/v1/me/email/confirm", &bob.access, json!({"token": token})).await;
    assert_eq!((r.status, r.body["email"].as_str()), (StatusCode::OK, Some(target.as_str())));
    assert!(r.body["merged_into"].is_string());
}

async fn concurrent_changes_to_one_address(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let mut people = Vec::new();
    for i in 0..6 {
        people.push(app.signup(&format!("racer{i}"), "web").await);
    }
    let target = unique_email("contested");
    let asks = people
        .iter()
        .map(|p| app.post_auth("/v1/me/email", &p.access, json!({"new_email": target, "password": p.password})));
    let results = futures::future::join_all(asks).await;
    let accepted = results.iter().filter(|r| r.status == StatusCode::ACCEPTED).count();
    let pending = results.iter().filter(|r| r.code() == "email_pending").count();
    assert_eq!((accepted, pending), (1, 5), "{:?}", results.iter().map(|r| r.status).collect::<Vec<_>>());
    let winner = people.iter().zip(&results).find(|(_, r)| r.status == StatusCode::ACCEPTED).unwrap().0;
    let token = app.wait_emails_to(&target, 1).await[0]
        .link("/confirm-email?token=")
        .unwrap()
        .split("token=")
        .nth(1)
        .unwrap()
        .to_owned();
    let r = app.post_auth("/v1/me/email/confirm", &winner.access, json!({"token": token})).await;
    assert_eq!(r.body["email"], target);
    assert_eq!(app.count_items("EMAIL#").await, 6, "six logins, six addresses");
}
