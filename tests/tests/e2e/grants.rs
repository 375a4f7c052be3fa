//! Grant rules: nobody grants, widens or holds more than they have. The actor is an admin of M
//! whose change rights are restricted to the sub-account C1 (`manage: only [C1]`); C2 is
//! another sub-account of M, F an organization of another tenant. Each row is one attempt and
//! the outcome it must get; the unrestricted admin's rows show the same requests pass when the
//! rights are held.

use e2e::{Engine, TestApp, User};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use switchboard::access::{Manage, Scope};
use switchboard::domain::{OrgId, Role};

dynoxide_only!(grant_rules, suspended_and_lost_organizations, sign_out_revokes_every_session);

fn org_id(s: &str) -> OrgId {
    OrgId::parse(s, "org").unwrap()
}

struct World {
    app: TestApp,
    owner: User,
    m: String,
    c1: String,
    c2: String,
    foreign: String,
    restricted: User,
    full: User,
    viewer: User,
}

async fn world(engine: Engine) -> World {
    let app = TestApp::spawn(engine).await;
    let owner = app.signup("grant-owner", "web").await;
    let m = owner.org.clone();
    let c1 = app.sub_account(&owner.access, &m, "C1").await;
    let c2 = app.sub_account(&owner.access, &m, "C2").await;
    let foreign = app.signup("grant-foreign", "web").await.org;
    let restricted = app.signup("grant-restricted", "web").await;
    app.add_member(&restricted.id, &m, &[Role::Admin], Scope::Subtree, Manage::Only(vec![org_id(&c1)])).await;
    let full = app.signup("grant-full", "web").await;
    app.add_member(&full.id, &m, &[Role::Admin], Scope::Subtree, Manage::All).await;
    let viewer = app.signup("grant-viewer", "web").await;
    app.add_member(&viewer.id, &m, &[Role::Viewer], Scope::Subtree, Manage::All).await;
    World { app, owner, m, c1, c2, foreign, restricted, full, viewer }
}

/// Invite one address; the outcome's status and code.
async fn invite(w: &World, as_: &User, entry: Value) -> (String, String) {
    let mut entry = entry;
    entry["email"] = json!(e2e::unique_email("grantee"));
    let r =
        w.app.post_auth(&format!("/v1/orgs/{}/invitations", w.m), &as_.access, json!({"invitations": [entry]})).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let o = &r.body["results"][0];
    (o["status"].as_str().unwrap_or_default().into(), o["code"].as_str().unwrap_or_default().into())
}

async fn edit(w: &World, as_: &User, user: &str, body: Value) -> (StatusCode, String) {
    let r = w.app.call(Method::PATCH, &format!("/v1/orgs/{}/members/{user}", w.m), Some(&as_.access), Some(body)).await;
    (r.status, r.code().to_owned())
}

async fn grant_rules(engine: Engine) {
    let w = world(engine).await;
    let (r, f) = (&w.restricted, &w.full);
    let only = |id: &str| json!({"kind": "only", "org_ids": [id]});
    let mut failures = Vec::new();
    let mut check = |row: &str, got: (String, String), want: (&str, &str)| {
        if (got.0.as_str(), got.1.as_str()) != want {
            failures.push(format!("{row}: expected {want:?}, got {got:?}"));
        }
    };
    let status = |s: (StatusCode, String)| (s.0.as_u16().to_string(), s.1);

    // Their own access and the owner's.
    check(
        "own manage → all",
        status(edit(&w, r, &r.id, json!({"manage": {"kind": "all"}})).await),
        ("403", "own_access"),
    );
    check("own roles", status(edit(&w, f, &f.id, json!({"roles": ["admin", "agent"]})).await), ("403", "own_access"));
    check(
        "owner's manage → none",
        status(edit(&w, f, &w.owner.id, json!({"manage": {"kind": "none"}})).await),
        ("409", "owner_protected"),
    );

    // Acting on oneself through the member routes: the second factor is turned off with the
    // password and a code, sessions end with logout, never this way.
    for action in ["reset-2fa", "sign-out", "reset-password", "deactivate"] {
        let r = w.app.post_auth(&format!("/v1/orgs/{}/members/{}/{action}", w.m, f.id), &f.access, json!({})).await;
        check(&format!("{action} oneself"), (r.status.as_u16().to_string(), r.code().into()), ("403", "own_access"));
    }

    // Invitations.
    check(
        "invite admin (manage all by default)",
        invite(&w, r, json!({"roles": ["admin"]})).await,
        ("failed", "grant_exceeds_rights"),
    );
    check(
        "invite admin only [C1]",
        invite(&w, r, json!({"roles": ["admin"], "manage": only(&w.c1)})).await,
        ("invited", ""),
    );
    check(
        "invite admin only [C2]",
        invite(&w, r, json!({"roles": ["admin"], "manage": only(&w.c2)})).await,
        ("failed", "grant_exceeds_rights"),
    );
    check(
        "invite agent (subtree)",
        invite(&w, r, json!({"roles": ["agent"]})).await,
        ("failed", "grant_exceeds_rights"),
    );
    check(
        "invite agent (org only)",
        invite(&w, r, json!({"roles": ["agent"], "scope": "org_only"})).await,
        ("invited", ""),
    );
    check("invite viewer (subtree)", invite(&w, r, json!({"roles": ["viewer"]})).await, ("invited", ""));
    check("full admin invites admin", invite(&w, f, json!({"roles": ["admin"]})).await, ("invited", ""));

    // What manage.only may name.
    let manage_only = |ids: Value| json!({"roles": ["admin"], "manage": {"kind": "only", "org_ids": ids}});
    check("only [foreign org]", invite(&w, f, manage_only(json!([w.foreign]))).await, ("failed", "invalid_manage"));
    check(
        "only [the organization itself]",
        invite(&w, f, manage_only(json!([w.m]))).await,
        ("failed", "invalid_manage"),
    );
    check("only []", invite(&w, f, manage_only(json!([]))).await, ("failed", "invalid_manage"));
    check(
        "manage on an agent",
        invite(&w, f, json!({"roles": ["agent"], "manage": only(&w.c1)})).await,
        ("failed", "invalid_manage"),
    );

    // Promotions and reductions of others.
    let v = &w.viewer.id;
    check(
        "promote viewer → admin (all)",
        status(edit(&w, r, v, json!({"roles": ["admin"]})).await),
        ("403", "grant_exceeds_rights"),
    );
    check(
        "promote viewer → admin only [C1]",
        status(edit(&w, r, v, json!({"roles": ["admin"], "manage": only(&w.c1)})).await),
        ("200", ""),
    );
    check(
        "widen them to all",
        status(edit(&w, r, v, json!({"manage": {"kind": "all"}})).await),
        ("403", "grant_exceeds_rights"),
    );
    check(
        "restricted admin demotes the full admin",
        status(edit(&w, r, &f.id, json!({"roles": ["viewer"]})).await),
        ("403", "grant_exceeds_rights"),
    );
    let deactivate =
        w.app.post_auth(&format!("/v1/orgs/{}/members/{}/deactivate", w.m, f.id), &r.access, json!({})).await;
    check(
        "restricted admin deactivates the full admin",
        (deactivate.status.as_u16().to_string(), deactivate.code().into()),
        ("403", "grant_exceeds_rights"),
    );
    check("full admin widens them", status(edit(&w, f, v, json!({"manage": {"kind": "all"}})).await), ("200", ""));

    // Invitation edits and imports hand rights on too.
    let pending = e2e::unique_email("pending");
    let r1 = w
        .app
        .post_auth(
            &format!("/v1/orgs/{}/invitations", w.m),
            &r.access,
            json!({"invitations": [{"email": pending, "roles": ["viewer"]}]}),
        )
        .await;
    assert_eq!(r1.body["invited"], 1, "{:?}", r1.body);
    let path = format!("/v1/orgs/{}/invitations/{pending}", w.m);
    let e = w.app.call(Method::PATCH, &path, Some(&r.access), Some(json!({"roles": ["admin"]}))).await;
    check(
        "edit invitation → admin (all)",
        (e.status.as_u16().to_string(), e.code().into()),
        ("403", "grant_exceeds_rights"),
    );
    let start = json!({"upload_id": "01arz3ndektsv4rrffq69g5fav", "mapping": {"email": "A", "first_name": "B", "last_name": "C"}, "start_row": 2, "roles": ["admin"]});
    let i = w.app.post_auth(&format!("/v1/orgs/{}/imports", w.m), &r.access, start.clone()).await;
    check("import admins", (i.status.as_u16().to_string(), i.code().into()), ("403", "grant_exceeds_rights"));
    let i = w.app.post_auth(&format!("/v1/orgs/{}/imports", w.m), &f.access, start).await;
    check(
        "full admin imports admins (then: no such upload)",
        (i.status.as_u16().to_string(), i.code().into()),
        ("404", "not_found"),
    );

    // A shared account with rights the linker lacks.
    let shared = w.app.signup("grant-shared", "web").await;
    w.app.add_member(&shared.id, &w.m, &[Role::Admin], Scope::Subtree, Manage::All).await;
    let r2 = w
        .app
        .call(
            Method::PUT,
            &format!("/v1/orgs/{}/members/{}/shared", w.m, shared.id),
            Some(&f.access),
            Some(json!({"shared": true})),
        )
        .await;
    assert_eq!(r2.status, StatusCode::NO_CONTENT, "{:?}", r2.body);
    let links = format!("/v1/orgs/{}/members/{}/links", w.m, shared.id);
    let body = json!({"user_id": w.viewer.id});
    let l = w.app.post_auth(&links, &r.access, body.clone()).await;
    check(
        "restricted admin links someone to an admin shared account",
        (l.status.as_u16().to_string(), l.code().into()),
        ("403", "grant_exceeds_rights"),
    );
    let l = w.app.post_auth(&links, &f.access, body).await;
    check("full admin links them", (l.status.as_u16().to_string(), l.code().into()), ("201", ""));

    assert!(failures.is_empty(), "{} grant rules broken:\n{}", failures.len(), failures.join("\n"));
    // Nothing the refused requests tried was written: the restricted admin still reaches C1 only,
    // the full admin is still an unrestricted admin.
    let members = w.app.get(&format!("/v1/orgs/{}/members?limit=200", w.m), &w.owner.access).await;
    let of =
        |id: &str| members.body["members"].as_array().unwrap().iter().find(|m| m["user_id"] == id).cloned().unwrap();
    assert_eq!(of(&r.id)["manage"], json!({"kind": "only", "org_ids": [w.c1]}));
    assert_eq!((of(&f.id)["roles"].clone(), of(&f.id)["manage"].clone()), (json!(["admin"]), json!({"kind": "all"})));
}

async fn suspended_and_lost_organizations(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let owner = app.signup("susp-owner", "web").await;
    let sub = app.sub_account(&owner.access, &owner.org, "Location").await;
    let below = app.sub_account(&owner.access, &sub, "Desk").await;
    let member = app.signup("susp-member", "web").await;
    app.add_member(&member.id, &sub, &[Role::Admin], Scope::Subtree, Manage::All).await;
    let tokens = app.login(&member.email, &member.password, "mobile").await;
    let switched = app
        .post_auth("/v1/auth/switch", tokens["access_token"].as_str().unwrap(), json!({"organization_id": sub}))
        .await;
    assert_eq!(switched.status, StatusCode::OK);
    let access = switched.body["access_token"].as_str().unwrap().to_owned();
    let refresh = tokens["refresh_token"].as_str().unwrap().to_owned();

    let r = app.post_auth(&format!("/v1/orgs/{sub}/suspend"), &owner.access, json!({})).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    // Its own people are locked out of it and of what lies beneath it, on the next request.
    for org in [&sub, &below] {
        assert_eq!(app.get(&format!("/v1/orgs/{org}"), &access).await.status, StatusCode::FORBIDDEN);
        assert_eq!(app.get(&format!("/v1/orgs/{org}/members"), &access).await.status, StatusCode::FORBIDDEN);
    }
    let listed = app.get("/v1/me/organizations", &access).await;
    let ids: Vec<&str> = listed.body["organizations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["organization"]["id"].as_str().unwrap())
        .collect();
    assert!(!ids.contains(&sub.as_str()) && !ids.contains(&below.as_str()), "{ids:?}");
    // The parent's admin still sees it.
    assert_eq!(app.get(&format!("/v1/orgs/{sub}/members"), &owner.access).await.status, StatusCode::OK);
    // Login and refresh never hand it out: they fall back to the member's own organization.
    let again = app.login(&member.email, &member.password, "mobile").await;
    assert_eq!(again["organization_id"], member.org, "login reopens the member's own organization");
    let r = app.post("/v1/auth/refresh", json!({"refresh_token": refresh})).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["organization_id"], member.org, "refresh moves the session to one it can work in");
    assert_eq!(r.body["roles"], json!(["owner", "admin"]));

    // A membership lost entirely: refresh no longer names the organization.
    let r = app.post_auth(&format!("/v1/orgs/{sub}/reactivate"), &owner.access, json!({})).await;
    assert_eq!(r.status, StatusCode::OK);
    let t = app.login(&member.email, &member.password, "desktop").await;
    let s =
        app.post_auth("/v1/auth/switch", t["access_token"].as_str().unwrap(), json!({"organization_id": sub})).await;
    assert_eq!(s.status, StatusCode::OK);
    let del = app
        .call(
            Method::DELETE,
            &format!("/v1/orgs/{sub}/members/{}", member.id),
            Some(&owner.access),
            Some(json!({"reassign_to": owner.id, "seat": "keep"})),
        )
        .await;
    assert_eq!(del.status, StatusCode::NO_CONTENT, "{:?}", del.body);
    let r = app.post("/v1/auth/refresh", json!({"refresh_token": t["refresh_token"]})).await;
    // Deleting a member ends their sessions in that organization.
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
}

async fn sign_out_revokes_every_session(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let owner = app.signup("so-owner", "web").await;
    let member = app.signup("so-member", "web").await;
    app.add_member(&member.id, &owner.org, &[Role::Agent], Scope::Subtree, Manage::All).await;
    // The member's client works in their own organization, yet the token reaches the owner's by path.
    let tokens = app.login(&member.email, &member.password, "desktop").await;
    let own = json!({"organization_id": member.org});
    let switched = app.post_auth("/v1/auth/switch", tokens["access_token"].as_str().unwrap(), own).await;
    let access = switched.body["access_token"].as_str().unwrap().to_owned();
    let members_path = format!("/v1/orgs/{}/members", owner.org);
    assert_eq!(app.get(&members_path, &access).await.status, StatusCode::OK);

    let r = app
        .post_auth(&format!("/v1/orgs/{}/members/{}/sign-out", owner.org, member.id), &owner.access, json!({}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["sessions_ended"], 2, "the signup session and the desktop one both lose this organization");
    assert_eq!(
        app.get(&members_path, &access).await.status,
        StatusCode::FORBIDDEN,
        "the old token no longer works here"
    );
    assert_eq!(
        app.get(&format!("/v1/orgs/{}", member.org), &access).await.status,
        StatusCode::OK,
        "but still in their own"
    );
    let refreshed = app.post("/v1/auth/refresh", json!({"refresh_token": tokens["refresh_token"]})).await;
    let new_access = refreshed.body["access_token"].as_str().unwrap();
    assert_eq!(app.get(&members_path, new_access).await.status, StatusCode::FORBIDDEN, "nor a token refreshed from it");
    // A new login works again.
    let fresh = app.login(&member.email, &member.password, "desktop").await;
    assert_eq!(app.get(&members_path, fresh["access_token"].as_str().unwrap()).await.status, StatusCode::OK);
}
