//! The everyday endpoints people expect of an account service: one member, one invitation,
//! leaving, an inbox's members, deleting an inbox, an invitation's preview, and the
//! invitations waiting for a signed-in person.

use e2e::{Engine, TestApp, User};
use reqwest::{Method, StatusCode};
use serde_json::json;
use switchboard::access::{Manage, Scope};
use switchboard::domain::Role;

dynoxide_only!(one_member_one_invitation_and_leaving, inbox_members_and_deletion, the_invitees_side);

async fn verify(app: &TestApp, user: &User) {
    let mails = app.wait_emails_to(&user.email, 1).await;
    let link = mails[0].link("/verify-email?token=").expect("verification link");
    let token = link.split("token=").nth(1).unwrap().to_owned();
    assert_eq!(app.post("/v1/auth/verify-email", json!({"token": token})).await.status, StatusCode::NO_CONTENT);
}

async fn one_member_one_invitation_and_leaving(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let owner = app.signup("every-owner", "web").await;
    let member = app.signup("every-member", "web").await;
    app.add_member(&member.id, &owner.org, &[Role::Agent], Scope::Subtree, Manage::All).await;
    let r = app.get(&format!("/v1/orgs/{}/members/{}", owner.org, member.id), &owner.access).await;
    assert_eq!((r.status, r.body["roles"].clone()), (StatusCode::OK, json!(["agent"])), "{:?}", r.body);
    let r =
        app.get(&format!("/v1/orgs/{}/members/{}", owner.org, owner.org.replace("org_", "usr_")), &owner.access).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);

    let invited = e2e::unique_email("every-invited");
    let inv = json!({"invitations": [{"email": invited, "roles": ["viewer"]}]});
    assert_eq!(
        app.post_auth(&format!("/v1/orgs/{}/invitations", owner.org), &owner.access, inv).await.body["invited"],
        1
    );
    let r = app.get(&format!("/v1/orgs/{}/invitations/{invited}", owner.org), &owner.access).await;
    assert_eq!((r.status, r.body["email"].as_str()), (StatusCode::OK, Some(invited.as_str())));
    assert_eq!(r.body["manage"], json!({"kind": "all"}));

    // Leaving: the member goes, their seat stays paid and free; the owner cannot leave.
    let seats = |r: &e2e::Reply| (r.body["purchased"].clone(), r.body["used"].clone());
    let before = app.get(&format!("/v1/orgs/{}/seats", owner.org), &owner.access).await;
    let r = app.post_auth(&format!("/v1/orgs/{}/leave", owner.org), &member.access, json!({})).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{:?}", r.body);
    assert_eq!(app.get(&format!("/v1/orgs/{}", owner.org), &member.access).await.status, StatusCode::FORBIDDEN);
    let after = app.get(&format!("/v1/orgs/{}/seats", owner.org), &owner.access).await;
    assert_eq!(seats(&after).0, seats(&before).0, "the paid seats stay");
    assert_eq!(after.body["used"].as_u64().unwrap() + 1, before.body["used"].as_u64().unwrap());
    let r = app.post_auth(&format!("/v1/orgs/{}/leave", owner.org), &owner.access, json!({})).await;
    assert_eq!((r.status, r.code()), (StatusCode::CONFLICT, "owner_protected"));
    let feed = app.get(&format!("/v1/orgs/{}/activity", owner.org), &owner.access).await;
    assert!(feed.body["activity"].as_array().unwrap().iter().any(|a| a["action"] == "member.left"));
}

async fn inbox_members_and_deletion(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let owner = app.signup("inb-owner", "web").await;
    let agent = app.signup("inb-agent", "web").await;
    app.add_member(&agent.id, &owner.org, &[Role::Agent], Scope::Subtree, Manage::All).await;
    let inbox =
        app.post_auth(&format!("/v1/orgs/{}/inboxes", owner.org), &owner.access, json!({"name": "Sales"})).await;
    let id = inbox.body["inbox_id"].as_str().unwrap().to_owned();
    let base = format!("/v1/orgs/{}/inboxes/{id}", owner.org);
    let r = app.post_auth(&format!("{base}/members"), &owner.access, json!({"user_id": agent.id})).await;
    assert!(r.status.is_success(), "{:?}", r.body);
    let r = app.get(&format!("{base}/members"), &agent.access).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let m = &r.body["members"][0];
    assert_eq!((m["user_id"].as_str(), m["conversation_assignment"].as_bool()), (Some(agent.id.as_str()), Some(true)));
    assert_eq!(m["ivr"], false);
    // The assignment lists refuse unknown fields like every other body.
    let lists = json!({"conversation_assignment": false, "ring_group": false, "ivr": false, "call_distribution": false, "extra": 1});
    let r = app
        .call(Method::PUT, &format!("{base}/members/{}/assignments", agent.id), Some(&owner.access), Some(lists))
        .await;
    assert_eq!((r.status, r.code()), (StatusCode::UNPROCESSABLE_ENTITY, "invalid_field"));

    assert_eq!(app.call(Method::DELETE, &base, Some(&agent.access), None).await.status, StatusCode::FORBIDDEN);
    assert_eq!(app.call(Method::DELETE, &base, Some(&owner.access), None).await.status, StatusCode::NO_CONTENT);
    assert_eq!(app.get(&format!("{base}/members"), &owner.access).await.status, StatusCode::NOT_FOUND);
    let left = app.ctx.store.inbox_members(&owner.org.parse_org(), &id.parse_inbox()).await.unwrap();
    assert!(left.is_empty(), "its member items are gone: {left:?}");
    assert_eq!(app.call(Method::DELETE, &base, Some(&owner.access), None).await.status, StatusCode::NOT_FOUND);
}

trait Ids {
    fn parse_org(&self) -> switchboard::domain::OrgId;
    fn parse_inbox(&self) -> switchboard::domain::InboxId;
}

impl Ids for String {
    fn parse_org(&self) -> switchboard::domain::OrgId {
        switchboard::domain::OrgId::parse(self, "org").unwrap()
    }
    fn parse_inbox(&self) -> switchboard::domain::InboxId {
        switchboard::domain::InboxId::parse(self, "inbox").unwrap()
    }
}

async fn the_invitees_side(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let owner = app.signup("inv-owner", "web").await;
    let other = app.signup("inv-other", "web").await;
    let person = app.signup("inv-person", "web").await;
    for org in [&owner, &other] {
        let body = json!({"invitations": [{"email": person.email, "roles": ["agent"]}]});
        assert_eq!(
            app.post_auth(&format!("/v1/orgs/{}/invitations", org.org), &org.access, body).await.body["invited"],
            1
        );
    }
    // The link's holder sees what it offers, and that the address has a login.
    let mails = app.wait_emails_to(&person.email, 3).await;
    let link = mails.iter().find_map(|m| m.link("/accept-invitation?token=")).expect("invitation link");
    let token = link.split("token=").nth(1).unwrap().to_owned();
    let r = app.post("/v1/invitations/preview", json!({"token": token})).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!((r.body["login_exists"].as_bool(), r.body["invited_by_name"].as_str()), (Some(true), Some("Ann Smith")));
    let bogus = app.post("/v1/invitations/preview", json!({"token": "x".repeat(43)})).await;
    assert_eq!(bogus.status, StatusCode::BAD_REQUEST);

    // Only a verified address sees its invitations.
    let r = app.get("/v1/me/invitations", &person.access).await;
    assert_eq!((r.status, r.code()), (StatusCode::CONFLICT, "email_unverified"));
    verify(&app, &person).await;
    let r = app.get("/v1/me/invitations", &person.access).await;
    let orgs: Vec<&str> =
        r.body["invitations"].as_array().unwrap().iter().map(|i| i["organization_id"].as_str().unwrap()).collect();
    assert_eq!(orgs.len(), 2, "{:?}", r.body);
    assert!(orgs.contains(&owner.org.as_str()) && orgs.contains(&other.org.as_str()));

    let r = app.post_auth(&format!("/v1/me/invitations/{}/accept", owner.org), &person.access, json!({})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    assert_eq!(app.get(&format!("/v1/orgs/{}", owner.org), &person.access).await.status, StatusCode::OK);
    let seats_before = app.get(&format!("/v1/orgs/{}/seats", other.org), &other.access).await.body["pending"].clone();
    let r = app.post_auth(&format!("/v1/me/invitations/{}/decline", other.org), &person.access, json!({})).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{:?}", r.body);
    let seats_after = app.get(&format!("/v1/orgs/{}/seats", other.org), &other.access).await.body["pending"].clone();
    assert_eq!(seats_after.as_u64().unwrap() + 1, seats_before.as_u64().unwrap(), "the seat is free again");
    assert!(app.get("/v1/me/invitations", &person.access).await.body["invitations"].as_array().unwrap().is_empty());
    let r = app.post_auth(&format!("/v1/me/invitations/{}/accept", other.org), &person.access, json!({})).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "a declined invitation is gone");
}
