//! Merging a login into another: organizations, roles, ownership, inboxes, invitations and
//! sessions move in one step; an interrupted merge leaves the old state and completes when run again.

use e2e::{Engine, TestApp, unique_email};
use reqwest::{Method, StatusCode};
use serde_json::json;
use switchboard::access::{Manage, Scope};
use switchboard::auth::secret;
use switchboard::domain::{Email, Role, UserId};
use switchboard::service::identity::merge;

dynoxide_only!(merge_two_logins, merge_requires_both_second_factors);

async fn merge_two_logins(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let main = app.signup("main", "web").await;
    let second = app.post_auth("/v1/orgs", &main.access, json!({"name": "Main Two"})).await.body["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let old = app.signup("old", "web").await;
    let old_mobile = app.login(&old.email, &old.password, "mobile").await["access_token"].as_str().unwrap().to_owned();
    // Shared organization: main owns it, old is an agent there.
    app.add_member(&old.id, &main.org, &[Role::Agent], Scope::Subtree, Manage::All).await;
    // Old owns its organization, with an inbox it owns and an invitation it sent.
    let inbox = app
        .post_auth(&format!("/v1/orgs/{}/inboxes", old.org), &old.access, json!({"name": "Old line"}))
        .await
        .body["inbox_id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.post_auth(&format!("/v1/orgs/{}/inboxes/{inbox}/members", old.org), &old.access, json!({"user_id": old.id}))
        .await;
    let invitee = unique_email("pending");
    app.post_auth(
        &format!("/v1/orgs/{}/invitations", old.org),
        &old.access,
        json!({"invitations": [{"email": invitee, "roles": ["viewer"]}]}),
    )
    .await;

    // Logged in as the old login, move its address onto the main login's address.
    let token = email_change_token(&app, &old, &main.email).await;

    // Interrupted: planned, then something changes before the commit.
    let ctx = &app.ctx;
    let old_user = ctx.store.get_user(&UserId::parse(&old.id, "u").unwrap()).await.unwrap().unwrap();
    let main_user = ctx.store.get_user(&UserId::parse(&main.id, "u").unwrap()).await.unwrap().unwrap();
    let old_cred =
        ctx.store.login_lookup(Email::parse(&old.email, "e").unwrap().as_str(), &[]).await.unwrap().credential.unwrap();
    let hash = secret::hash(&token);
    let record = ctx.store.get_token(&hash).await.unwrap().unwrap();
    let proof = merge::Proof { old_credential: &old_cred, token_hash: &hash, token: &record };
    let plan = merge::plan(ctx, &old_user, &main_user, Some(&proof)).await.unwrap();
    app.add_member(&main.id, &main.org, &[Role::Owner, Role::Admin, Role::Viewer], Scope::Subtree, Manage::All).await;
    let err = ctx.store.commit_merge(&plan).await.unwrap_err();
    assert_eq!(err.code(), "conflict");
    // Nothing moved: the old login still works and still has its organizations.
    let still = app.get("/v1/me/organizations", &old.access).await;
    assert_eq!(still.body["organizations"].as_array().unwrap().len(), 2);
    assert_eq!(app.get("/v1/me", &old_mobile).await.status, StatusCode::OK);

    // Run again: it completes.
    let r = app.post_auth("/v1/me/email/confirm", &old.access, json!({"token": token})).await;
    println!(
        "{engine:?}: merge of 2 memberships (1 inbox, 1 invitation, 2 sessions): {} DynamoDB round trips",
        r.calls()
    );
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!((r.body["merged_into"].as_str(), r.body["organizations"].as_u64()), (Some(main.id.as_str()), Some(2)));

    // The old login is gone: its sessions on both clients, and its password.
    assert_eq!(app.get("/v1/me", &old.access).await.code(), "session_ended");
    assert_eq!(app.get("/v1/me", &old_mobile).await.code(), "session_ended");
    let r = app.post("/v1/auth/login", json!({"email": old.email, "password": old.password, "client": "web"})).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);

    // One list of organizations, with the union of roles where both were members.
    let mine = app.get("/v1/me/organizations", &main.access).await;
    let orgs = mine.body["organizations"].as_array().unwrap();
    let roles_in = |id: &str| orgs.iter().find(|o| o["organization"]["id"] == id).map(|o| o["roles"].clone());
    assert_eq!(roles_in(&main.org), Some(json!(["owner", "admin", "agent", "viewer"])));
    assert_eq!(roles_in(&old.org), Some(json!(["owner", "admin"])));
    assert!(roles_in(&second).is_some());
    let details = app.get(&format!("/v1/orgs/{}", old.org), &main.access).await;
    assert_eq!(details.body["organization"]["id"], old.org);
    let o = ctx.store.get_org(&switchboard::domain::OrgId::parse(&old.org, "o").unwrap()).await.unwrap().unwrap();
    assert_eq!(o.owner_id.as_str(), main.id, "ownership moved");

    // Inbox ownership and membership, the pending invitation, and the activity follow.
    let inboxes = app.get(&format!("/v1/orgs/{}/inboxes", old.org), &main.access).await;
    assert_eq!(inboxes.body["inboxes"][0]["owner_id"], main.id);
    assert_eq!(
        app.get(&format!("/v1/orgs/{}/inboxes/{inbox}/activity", old.org), &main.access).await.status,
        StatusCode::OK
    );
    let pending = app.get(&format!("/v1/orgs/{}/invitations", old.org), &main.access).await;
    assert_eq!(pending.body["invitations"][0]["invited_by"], main.id);
    let feed = app.get(&format!("/v1/orgs/{}/activity", old.org), &main.access).await;
    assert_eq!(feed.body["activity"][0]["action"], "login.merged");
    // What the old login did before is attributed to the main login, the original kept.
    let created = feed.body["activity"].as_array().unwrap().iter().find(|a| a["action"] == "organization.created");
    let created = created.expect("the old login created its organization");
    assert_eq!((created["actor_id"].as_str(), created["merged_actor_id"].as_str()), (Some(&*main.id), Some(&*old.id)));
    let main_created = app.get(&format!("/v1/orgs/{}/activity", main.org), &main.access).await;
    let own = main_created.body["activity"].as_array().unwrap().iter().find(|a| a["action"] == "organization.created");
    assert!(own.is_some_and(|a| a.get("merged_actor_id").is_none()), "main's own entries are untouched");
    let members = app.get(&format!("/v1/orgs/{}/members", old.org), &main.access).await;
    assert_eq!(members.body["members"].as_array().unwrap().len(), 1, "one member: the main login");
    let r = app.call(Method::GET, "/v1/me", Some(&main.access), None).await;
    assert_eq!(r.body["user"]["email"], main.email);
}

fn totp_code(secret_b32: &str, at: i64) -> String {
    let bytes = totp_rs::Secret::Encoded(secret_b32.to_owned()).to_bytes().unwrap();
    totp_rs::TOTP::new(totp_rs::Algorithm::SHA1, 6, 1, 30, bytes).unwrap().generate(at as u64)
}

async fn enable_two_factor(app: &TestApp, token: &str) -> String {
    use switchboard::clock::Clock;
    let secret = app.post_auth("/v1/me/2fa", token, json!({})).await.body["secret"].as_str().unwrap().to_owned();
    let r = app
        .post_auth("/v1/me/2fa/confirm", token, json!({"code": totp_code(&secret, app.clock.now().timestamp())}))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    secret
}

async fn merge_requires_both_second_factors(engine: Engine) {
    use switchboard::clock::Clock;
    let app = TestApp::spawn(engine).await;
    let main = app.signup("main2fa", "web").await;
    let main_mobile =
        app.login(&main.email, &main.password, "mobile").await["access_token"].as_str().unwrap().to_owned();
    let old = app.signup("old2fa", "web").await;
    let main_secret = enable_two_factor(&app, &main.access).await;
    let old_secret = enable_two_factor(&app, &old.access).await;
    app.clock.advance(chrono::Duration::seconds(30));
    let now = app.clock.now().timestamp();

    // Asking needs the old login's password and code.
    let r =
        app.post_auth("/v1/me/email", &old.access, json!({"new_email": main.email, "password": old.password})).await;
    assert_eq!(r.code(), "invalid_code");
    let r = app
        .post_auth(
            "/v1/me/email",
            &old.access,
            json!({"new_email": main.email, "password": old.password, "code": totp_code(&old_secret, now)}),
        )
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{:?}", r.body);
    let link = app.wait_link(&main.email, "/confirm-email?token=").await.expect("confirmation link");
    let token = link.split("token=").nth(1).unwrap().to_owned();

    // Confirming a merge needs the main login's code too.
    let r = app.post_auth("/v1/me/email/confirm", &old.access, json!({"token": token})).await;
    assert_eq!(r.code(), "invalid_code");
    let r = app
        .post_auth("/v1/me/email/confirm", &old.access, json!({"token": token, "code": totp_code(&main_secret, now)}))
        .await;
    assert_eq!((r.status, r.body["merged_into"].as_str()), (StatusCode::OK, Some(main.id.as_str())), "{:?}", r.body);

    // The main login's own sessions on web and mobile go on; the old one's end.
    assert_eq!(app.get("/v1/me", &main.access).await.status, StatusCode::OK);
    assert_eq!(app.get("/v1/me", &main_mobile).await.status, StatusCode::OK);
    assert_eq!(app.get("/v1/me", &old.access).await.code(), "session_ended");
    let orgs = app.get("/v1/me/organizations", &main_mobile).await;
    assert_eq!(orgs.body["organizations"].as_array().unwrap().len(), 2);
}

/// As `old`, ask to move the address onto `to` (another login's): the confirmation token
/// from the email sent there.
pub(crate) async fn email_change_token(app: &TestApp, old: &e2e::User, to: &str) -> String {
    let r = app.post_auth("/v1/me/email", &old.access, json!({"new_email": to, "password": old.password})).await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{:?}", r.body);
    let link = app
        .wait_emails_to(to, 2)
        .await
        .iter()
        .find_map(|m| m.link("/confirm-email?token="))
        .expect("link to the main address");
    link.split("token=").nth(1).unwrap().to_owned()
}
