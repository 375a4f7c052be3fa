//! A closed organization where features meet (issue 33): nobody is locked out of signing in
//! because their last organization closed (its owner signs in afresh and restores it), an
//! invitation beneath it cannot even be previewed, and restoring what is not closed says so.

use e2e::{Engine, TestApp, unique_email};
use reqwest::StatusCode;
use serde_json::{Value, json};
use switchboard::access::{Manage, Scope};
use switchboard::domain::{OrgId, Role};

dynoxide_only!(closing_never_locks_anyone_out_of_signing_in);

async fn close(app: &TestApp, token: &str, org: &str) -> e2e::Reply {
    let version = app.ctx.store.get_org(&OrgId::parse(org, "o").unwrap()).await.unwrap().unwrap().version;
    app.post_auth(&format!("/v1/orgs/{org}/close"), token, json!({"version": version})).await
}

async fn login(app: &TestApp, email: &str, password: &str) -> e2e::Reply {
    app.post("/v1/auth/login", json!({"email": email, "password": password, "client": "web"})).await
}

async fn closing_never_locks_anyone_out_of_signing_in(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let owner = app.signup("closed-owner", "web").await;
    let child = app.sub_account(&owner.access, &owner.org, "Region").await;
    let grandchild = app.sub_account(&owner.access, &child, "Branch").await;
    // An agent whose last organization is the grandchild; a member of X who owns Y as well.
    let agent = app.signup("closed-agent", "web").await;
    app.add_member(&agent.id, &grandchild, &[Role::Agent], Scope::Subtree, Manage::All).await;
    let r = app.post_auth("/v1/auth/switch", &agent.access, json!({"organization_id": grandchild})).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let both = app.signup("closed-both", "web").await;
    app.add_member(&both.id, &owner.org, &[Role::Agent], Scope::Subtree, Manage::All).await;
    let r = app.post_auth("/v1/auth/switch", &both.access, json!({"organization_id": owner.org})).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    // A session of `both` in X (the last organization the web client used).
    let t = app.login(&both.email, &both.password, "web").await;
    assert_eq!(t["organization_id"].as_str(), Some(owner.org.as_str()), "{t:?}");
    let both_refresh = t["refresh_token"].as_str().unwrap().to_owned();
    // An invitation to the grandchild, sent before the close.
    let invitee = unique_email("closed-invitee");
    let r = app
        .post_auth(
            &format!("/v1/orgs/{grandchild}/invitations"),
            &owner.access,
            json!({"invitations": [{"email": invitee, "roles": ["agent"]}]}),
        )
        .await;
    assert!(r.status.is_success(), "{:?}", r.body);
    let mail = app.wait_emails_to(&invitee, 1).await;
    let token = mail[0].link("/accept-invitation?token=").unwrap().split("token=").nth(1).unwrap().to_owned();
    assert_eq!(app.post("/v1/invitations/preview", json!({"token": token})).await.status, StatusCode::OK);

    // Restoring what is not closed: its owner is told so.
    let r = app.post_auth(&format!("/v1/orgs/{}/restore", owner.org), &owner.access, json!({})).await;
    assert_eq!((r.status, r.code()), (StatusCode::UNPROCESSABLE_ENTITY, "not_closed"), "{:?}", r.body);

    let r = close(&app, &owner.access, &owner.org).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);

    // Everyone signs in: landing elsewhere, or nowhere, never refused.
    let r = login(&app, &owner.email, &owner.password).await;
    assert_eq!((r.status, &r.body["organization_id"]), (StatusCode::OK, &Value::Null), "{:?}", r.body);
    let owner_again = r.body["access_token"].as_str().unwrap().to_owned();
    let r = login(&app, &agent.email, &agent.password).await;
    assert_eq!(
        (r.status, r.body["organization_id"].as_str()),
        (StatusCode::OK, Some(agent.org.as_str())),
        "{:?}",
        r.body
    );
    let r = login(&app, &both.email, &both.password).await;
    assert_eq!(
        (r.status, r.body["organization_id"].as_str()),
        (StatusCode::OK, Some(both.org.as_str())),
        "{:?}",
        r.body
    );
    // A refresh falls back the same way.
    let r = app.post("/v1/auth/refresh", json!({"refresh_token": both_refresh})).await;
    assert_eq!(
        (r.status, r.body["organization_id"].as_str()),
        (StatusCode::OK, Some(both.org.as_str())),
        "{:?}",
        r.body
    );
    // The invitation beneath it is as dead to a preview as to accepting.
    let r = app.post("/v1/invitations/preview", json!({"token": token})).await;
    assert_eq!((r.status, r.code()), (StatusCode::BAD_REQUEST, "invalid_token"), "{:?}", r.body);

    // The owner restores it from the new session.
    let r = app.post_auth(&format!("/v1/orgs/{}/restore", owner.org), &owner_again, json!({})).await;
    assert_eq!((r.status, r.body["status"].as_str()), (StatusCode::OK, Some("active")), "{:?}", r.body);
    let r = login(&app, &owner.email, &owner.password).await;
    assert_eq!(r.body["organization_id"].as_str(), Some(owner.org.as_str()), "{:?}", r.body);
}
