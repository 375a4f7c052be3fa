//! Where a sign-in lands (issue 33): the organization each client type landed in is recorded
//! at sign-in and at an invitation's acceptance, not only on a switch, so the next sign-in on
//! that client opens there; and a client that never worked anywhere hears which policy kept
//! it out.

use e2e::{Engine, TestApp};
use reqwest::StatusCode;
use serde_json::json;
use switchboard::domain::UserId;

dynoxide_only!(each_client_opens_where_it_last_landed);

async fn invitation_to(app: &TestApp, admin: &e2e::User, email: &str) -> String {
    let r = app
        .post_auth(
            &format!("/v1/orgs/{}/invitations", admin.org),
            &admin.access,
            json!({"invitations": [{"email": email, "roles": ["agent"]}]}),
        )
        .await;
    assert!(r.status.is_success(), "{:?}", r.body);
    let link = app.wait_link(email, "/accept-invitation?token=").await.expect("invitation");
    link.split("token=").nth(1).expect("token").to_owned()
}

async fn last_org(app: &TestApp, user: &str) -> std::collections::BTreeMap<String, String> {
    let id = UserId::parse(user, "user").unwrap();
    let profile = app.ctx.store.get_user(&id).await.unwrap().expect("profile");
    profile.last_org.into_iter().map(|(c, o)| (c, o.to_string())).collect()
}

async fn each_client_opens_where_it_last_landed(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let owner = app.signup("landing-owner", "web").await;
    // An existing login, signed in on the web in its own organization, accepts an invitation
    // from there: its next web sign-in opens in the organization it joined.
    let anna = app.signup("landing-anna", "web").await;
    let token = invitation_to(&app, &owner, &anna.email).await;
    let r = app.post_auth("/v1/invitations/accept", &anna.access, json!({"token": token})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let web = app.login(&anna.email, &anna.password, "web").await;
    assert_eq!(web["organization_id"], owner.org.as_str(), "{web:?}");
    // Her first mobile sign-in opens somewhere it may (her own organization: the owner's
    // disables mobile), and that is recorded for mobile; the web keeps its own.
    let tag = app.get(&format!("/v1/orgs/{}/settings", owner.org), &owner.access).await.body["etag"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = format!("/v1/orgs/{}/settings", owner.org);
    let body = json!({"disabled_clients": ["mobile"]});
    let r = app.send(reqwest::Method::PATCH, &path, &owner.access, Some(&tag), Some(body)).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let mobile = app.login(&anna.email, &anna.password, "mobile").await;
    assert_eq!(mobile["organization_id"], anna.org.as_str(), "{mobile:?}");
    let recorded = last_org(&app, &anna.id).await;
    assert_eq!(
        (recorded.get("web").map(String::as_str), recorded.get("mobile").map(String::as_str)),
        (Some(owner.org.as_str()), Some(anna.org.as_str()))
    );

    // A new login made by accepting, whose only organization disables mobile: its first
    // mobile sign-in opens nowhere and says why.
    let bo = e2e::unique_email("landing-bo");
    let token = invitation_to(&app, &owner, &bo).await;
    let body = json!({"token": token, "first_name": "Bo", "last_name": "Mobile", "password": "a mobile passphrase"});
    assert_eq!(app.post("/v1/invitations/accept", body).await.status, StatusCode::CREATED);
    let web = app.login(&bo, "a mobile passphrase", "web").await;
    assert_eq!(web["organization_id"], owner.org.as_str(), "{web:?}");
    let mobile = app.login(&bo, "a mobile passphrase", "mobile").await;
    assert_eq!(mobile["organization_id"], json!(null), "{mobile:?}");
    assert_eq!(mobile["refused"], json!({"organization_id": owner.org, "code": "client_disabled"}), "{mobile:?}");
}
