//! Invitations, seats and the member lifecycle.

use e2e::{Engine, TestApp, User, unique_email};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

both_engines!(seats_are_never_oversold, concurrent_acceptance_creates_one_membership);
dynoxide_only!(
    invite_many_then_accept_as_new_and_existing_logins,
    pending_invitations_resend_edit_revoke,
    member_lifecycle,
    forgot_password_answers_alike_and_resets,
    reset_emails_are_limited_per_address_and_per_client,
    shared_accounts_are_acted_as_by_linked_people,
);

fn token_from(link: &str) -> String {
    link.split("token=").nth(1).unwrap().to_owned()
}

async fn invite(app: &TestApp, admin: &User, org: &str, entries: Value) -> (StatusCode, Value) {
    let r = app.post_auth(&format!("/v1/orgs/{org}/invitations"), &admin.access, json!({"invitations": entries})).await;
    (r.status, r.body)
}

async fn invitation_token(app: &TestApp, to: &str) -> String {
    let mails = app.wait_emails_to(to, 1).await;
    let last = mails.last().unwrap_or_else(|| panic!("no invitation email to {to}"));
    token_from(&last.link("/accept-invitation?token=").expect("accept link"))
}

async fn invite_many_then_accept_as_new_and_existing_logins(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let owner = app.signup("acme", "web").await;
    let existing = app.signup("existing", "web").await;
    let newbie = unique_email("newbie");
    let (status, body) = invite(
        &app,
        &owner,
        &owner.org,
        json!([
            {"email": newbie, "roles": ["agent"]},
            {"email": existing.email.to_uppercase(), "roles": ["admin", "viewer"]},
            {"email": "not-an-address", "roles": ["agent"]},
            {"email": newbie, "roles": ["viewer"]},
            {"email": unique_email("x"), "roles": ["superuser"]},
            {"email": unique_email("y"), "roles": ["owner"]},
            {"email": owner.email, "roles": ["agent"]},
        ]),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body:?}");
    let statuses: Vec<(&str, Option<&str>)> = body["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["status"].as_str().unwrap(), r["code"].as_str()))
        .collect();
    assert_eq!(
        statuses,
        vec![
            ("invited", None),
            ("invited", None),
            ("failed", Some("invalid_email")),
            ("failed", Some("duplicate_in_request")),
            ("failed", Some("invalid_role")),
            ("failed", Some("invalid_role")),
            ("already_member", None),
        ]
    );
    assert_eq!(body["invited"], 2);
    let again = invite(&app, &owner, &owner.org, json!([{"email": newbie, "roles": ["agent"]}])).await.1;
    assert_eq!(again["results"][0]["status"], "already_invited");
    let seats = app.get(&format!("/v1/orgs/{}/seats", owner.org), &owner.access).await.body;
    assert_eq!(
        (seats["purchased"].as_u64(), seats["used"].as_u64(), seats["pending"].as_u64(), seats["free"].as_u64()),
        (Some(5), Some(2), Some(2), Some(3))
    );

    // The email: in the organization's language, naming the inviter and the organization.
    let mails = app.wait_emails_to(&newbie, 1).await;
    assert_eq!(mails.len(), 1);
    assert!(mails[0].subject.contains("Ann Smith") && mails[0].subject.contains("acme Inc"), "{}", mails[0].subject);
    let token = token_from(&mails[0].link("/accept-invitation?token=").unwrap());

    // A new person picks a name and password and becomes a member.
    let weak = app
        .post(
            "/v1/invitations/accept",
            json!({"token": token, "first_name": "N", "last_name": "B", "password": "password"}),
        )
        .await;
    assert_eq!((weak.status, weak.code()), (StatusCode::UNPROCESSABLE_ENTITY, "weak_password"));
    let r = app
        .post(
            "/v1/invitations/accept",
            json!({"token": token, "first_name": "Nina", "last_name": "Brown", "password": "a brand new passphrase"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    assert_eq!(r.body["roles"], json!(["agent"]));
    let reuse = app
        .post(
            "/v1/invitations/accept",
            json!({"token": token, "first_name": "N", "last_name": "B", "password": "a brand new passphrase"}),
        )
        .await;
    assert_eq!((reuse.status, reuse.code()), (StatusCode::BAD_REQUEST, "invalid_token"));
    let nina = app.login(&newbie, "a brand new passphrase", "web").await;
    assert_eq!(nina["organization_id"], owner.org);
    assert_eq!(nina["roles"], json!(["agent"]));

    // An existing login must accept signed in, as the invited address.
    let token = invitation_token(&app, &existing.email).await;
    let anon = app
        .post(
            "/v1/invitations/accept",
            json!({"token": token, "first_name": "E", "last_name": "X", "password": "another passphrase"}),
        )
        .await;
    assert_eq!((anon.status, anon.code()), (StatusCode::CONFLICT, "login_required"));
    let wrong =
        app.post_auth("/v1/invitations/accept", nina["access_token"].as_str().unwrap(), json!({"token": token})).await;
    assert_eq!((wrong.status, wrong.code()), (StatusCode::FORBIDDEN, "email_mismatch"));
    let ok = app.post_auth("/v1/invitations/accept", &existing.access, json!({"token": token})).await;
    assert_eq!(ok.status, StatusCode::CREATED, "{:?}", ok.body);
    let mine = app.get("/v1/me/organizations", &existing.access).await;
    let orgs: Vec<&str> = mine.body["organizations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["organization"]["id"].as_str().unwrap())
        .collect();
    assert!(
        orgs.contains(&owner.org.as_str()) && orgs.contains(&existing.org.as_str()),
        "both organizations in one list"
    );

    let seats = app.get(&format!("/v1/orgs/{}/seats", owner.org), &owner.access).await.body;
    assert_eq!((seats["used"].as_u64(), seats["pending"].as_u64()), (Some(2), Some(0)));
    let members = app.get(&format!("/v1/orgs/{}/members?q=brown", owner.org), &owner.access).await;
    let found: Vec<&str> =
        members.body["members"].as_array().unwrap().iter().map(|m| m["email"].as_str().unwrap()).collect();
    assert_eq!(found, vec![newbie.as_str()]);

    // Too many at once is refused whole.
    let many: Vec<Value> =
        (0..101).map(|i| json!({"email": format!("p{i}@example.com"), "roles": ["viewer"]})).collect();
    let (status, body) = invite(&app, &owner, &owner.org, json!(many)).await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("too_many_invitations")));
}

async fn seats_are_never_oversold(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let owner = app.signup("seats", "web").await;
    let q = app.post_auth(&format!("/v1/orgs/{}/seats/quote", owner.org), &owner.access, json!({"count": 2})).await;
    assert_eq!(
        (q.body["seats"].as_u64(), q.body["total_cents"].as_u64()),
        (Some(2), Some(2 * q.body["unit_price_cents"].as_u64().unwrap()))
    );
    let bought =
        app.post_auth(&format!("/v1/orgs/{}/seats/purchase", owner.org), &owner.access, json!({"count": 2})).await;
    assert_eq!(bought.status, StatusCode::OK);
    assert_eq!(app.count_items(&format!("ORG#{}", owner.org)).await, 3, "organization, seats, one billing event");
    let free = 7;
    let attempts = 50;
    let path = format!("/v1/orgs/{}/invitations", owner.org);
    let requests = (0..attempts).map(|i| {
        app.post_auth(
            &path,
            &owner.access,
            json!({"invitations": [{"email": format!("racer{i}@example.com"), "roles": ["agent"]}]}),
        )
    });
    let results = futures::future::join_all(requests).await;
    let invited = results.iter().filter(|r| r.body["results"][0]["status"] == "invited").count();
    let refused: Vec<&Value> =
        results.iter().filter(|r| r.body["results"][0]["code"] == "no_free_seats").map(|r| &r.body).collect();
    println!(
        "{engine:?}: seats race: {attempts} concurrent invitations, {free} free seats -> {invited} invited, {} refused",
        refused.len()
    );
    assert_eq!((invited, refused.len()), (free, attempts - free));
    assert_eq!(refused[0]["seats_to_buy"], 1);
    assert!(refused[0]["results"][0]["reason"].as_str().unwrap().contains("buy 1"));
    let seats = app.get(&format!("/v1/orgs/{}/seats", owner.org), &owner.access).await.body;
    assert_eq!(
        (seats["used"].as_u64(), seats["pending"].as_u64(), seats["free"].as_u64()),
        (Some(7), Some(7), Some(0))
    );
    let pending = app.get(&format!("/v1/orgs/{}/invitations?limit=200", owner.org), &owner.access).await;
    assert_eq!(pending.body["invitations"].as_array().unwrap().len(), free);

    // Only unassigned seats can be removed.
    let r = app.post_auth(&format!("/v1/orgs/{}/seats/remove", owner.org), &owner.access, json!({"count": 1})).await;
    assert_eq!((r.status, r.code()), (StatusCode::CONFLICT, "seats_in_use"));
    let r = app
        .call(
            Method::DELETE,
            &format!("/v1/orgs/{}/invitations/racer0@example.com", owner.org),
            Some(&owner.access),
            None,
        )
        .await;
    let revoked_one = r.status == StatusCode::NO_CONTENT;
    assert!(revoked_one || r.status == StatusCode::NOT_FOUND);
    let some = pending.body["invitations"][0]["email"].as_str().unwrap();
    app.call(Method::DELETE, &format!("/v1/orgs/{}/invitations/{some}", owner.org), Some(&owner.access), None).await;
    let r = app.post_auth(&format!("/v1/orgs/{}/seats/remove", owner.org), &owner.access, json!({"count": 1})).await;
    assert_eq!((r.status, r.body["purchased"].as_u64(), r.body["free"].as_u64()), (StatusCode::OK, Some(6), Some(0)));
}

async fn pending_invitations_resend_edit_revoke(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let owner = app.signup("pending", "web").await;
    let who = unique_email("invitee");
    invite(&app, &owner, &owner.org, json!([{"email": who, "roles": ["viewer"]}])).await;
    let first = invitation_token(&app, &who).await;
    let list = app.get(&format!("/v1/orgs/{}/invitations?q=invitee", owner.org), &owner.access).await;
    let inv = &list.body["invitations"][0];
    assert_eq!(
        (inv["email"].as_str(), inv["invited_by_name"].as_str(), inv["expired"].as_bool()),
        (Some(who.as_str()), Some("Ann Smith"), Some(false))
    );
    let expires = chrono::DateTime::parse_from_rfc3339(inv["expires_at"].as_str().unwrap()).unwrap();
    let sent = chrono::DateTime::parse_from_rfc3339(inv["sent_at"].as_str().unwrap()).unwrap();
    assert_eq!((expires - sent).num_days(), 7);
    assert_eq!(
        app.get(&format!("/v1/orgs/{}/invitations?q=nobody", owner.org), &owner.access).await.body["invitations"],
        json!([])
    );

    let path = format!("/v1/orgs/{}/invitations/{who}", owner.org);
    let r = app.call(Method::PATCH, &path, Some(&owner.access), Some(json!({"roles": ["agent", "viewer"]}))).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let r = app.post_auth(&format!("{path}/resend"), &owner.access, json!({})).await;
    assert_eq!(r.status, StatusCode::ACCEPTED);
    let mails = app.wait_emails_to(&who, 2).await;
    assert_eq!(mails.len(), 2);
    let second = token_from(&mails[1].link("/accept-invitation?token=").unwrap());
    assert_ne!(first, second);
    let body = |t: &str| json!({"token": t, "first_name": "I", "last_name": "V", "password": "invited passphrase"});
    let old = app.post("/v1/invitations/accept", body(&first)).await;
    assert_eq!((old.status, old.code()), (StatusCode::BAD_REQUEST, "invalid_token"), "resending retires the old link");

    // Revoked: the link stops working and the seat is free again.
    let r = app.call(Method::DELETE, &path, Some(&owner.access), None).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let r = app.post("/v1/invitations/accept", body(&second)).await;
    assert_eq!((r.status, r.code()), (StatusCode::BAD_REQUEST, "invalid_token"));
    let seats = app.get(&format!("/v1/orgs/{}/seats", owner.org), &owner.access).await.body;
    assert_eq!((seats["used"].as_u64(), seats["free"].as_u64()), (Some(0), Some(5)));

    // Expired invitations cannot be accepted.
    invite(&app, &owner, &owner.org, json!([{"email": who, "roles": ["viewer"]}])).await;
    let token = invitation_token(&app, &who).await;
    app.clock.advance(chrono::Duration::days(8));
    let r = app.post("/v1/invitations/accept", body(&token)).await;
    assert_eq!((r.status, r.code()), (StatusCode::BAD_REQUEST, "invalid_token"));
    let fresh = app.login(&owner.email, &owner.password, "web").await;
    let list = app.get(&format!("/v1/orgs/{}/invitations", owner.org), fresh["access_token"].as_str().unwrap()).await;
    assert_eq!(list.body["invitations"][0]["expired"], true);
}

async fn join(app: &TestApp, owner: &User, roles: &[&str]) -> User {
    let who = unique_email("member");
    invite(app, owner, &owner.org, json!([{"email": who, "roles": roles}])).await;
    let token = invitation_token(app, &who).await;
    let r = app
        .post(
            "/v1/invitations/accept",
            json!({"token": token, "first_name": "Mo", "last_name": "Member", "password": "member passphrase"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let tokens = app.login(&who, "member passphrase", "web").await;
    User {
        email: who,
        password: "member passphrase".into(),
        id: r.body["user_id"].as_str().unwrap().into(),
        org: owner.org.clone(),
        access: tokens["access_token"].as_str().unwrap().into(),
    }
}

async fn member_lifecycle(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let owner = app.signup("life", "web").await;
    let mo = join(&app, &owner, &["agent"]).await;
    let base = format!("/v1/orgs/{}/members/{}", owner.org, mo.id);

    // Promote, then demote.
    let r = app.call(Method::PATCH, &base, Some(&owner.access), Some(json!({"roles": ["admin", "agent"]}))).await;
    assert_eq!((r.status, r.body["roles"].clone()), (StatusCode::OK, json!(["admin", "agent"])));
    assert_eq!(app.get(&format!("/v1/orgs/{}/activity", owner.org), &mo.access).await.status, StatusCode::OK);
    let r = app.call(Method::PATCH, &base, Some(&owner.access), Some(json!({"roles": ["agent"]}))).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(app.get(&format!("/v1/orgs/{}/activity", owner.org), &mo.access).await.status, StatusCode::FORBIDDEN);
    let r = app.call(Method::PATCH, &base, Some(&owner.access), Some(json!({"roles": ["owner"]}))).await;
    assert_eq!(r.code(), "invalid_role", "ownership moves by transfer only");

    // Deactivate: their session in this organization ends, and they cannot come back in.
    let r = app.post_auth(&format!("{base}/deactivate"), &owner.access, json!({})).await;
    assert_eq!((r.status, r.body["status"].as_str()), (StatusCode::OK, Some("deactivated")));
    assert_eq!(app.get("/v1/me", &mo.access).await.code(), "session_ended");
    let again = app.login(&mo.email, &mo.password, "web").await;
    assert_ne!(again["organization_id"], owner.org);
    let r = app
        .post_auth("/v1/auth/switch", again["access_token"].as_str().unwrap(), json!({"organization_id": owner.org}))
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = app.post_auth(&format!("{base}/reactivate"), &owner.access, json!({})).await;
    assert_eq!(r.body["status"], "active");
    let back = app.login(&mo.email, &mo.password, "mobile").await;
    assert_eq!(back["organization_id"], owner.org);

    // Sign out: every session begun so far (the web one elsewhere, the mobile one here) loses
    // this organization.
    let r = app.post_auth(&format!("{base}/sign-out"), &owner.access, json!({})).await;
    assert_eq!(r.body["sessions_ended"], 2);
    assert_eq!(app.get("/v1/me", back["access_token"].as_str().unwrap()).await.code(), "session_ended");

    // Reset password: the member gets a link; the admin never sets it.
    let r = app.post_auth(&format!("{base}/reset-password"), &owner.access, json!({})).await;
    assert_eq!(r.status, StatusCode::ACCEPTED);
    let link = app.wait_link(&mo.email, "/reset-password?token=").await.expect("reset link");
    let r = app
        .post("/v1/auth/reset-password", json!({"token": token_from(&link), "password": "a fresh member passphrase"}))
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    app.login(&mo.email, "a fresh member passphrase", "web").await;

    // The owner cannot be deleted, deactivated or demoted; ownership moves to an active member.
    let owner_path = format!("/v1/orgs/{}/members/{}", owner.org, owner.id);
    let r = app
        .call(Method::DELETE, &owner_path, Some(&owner.access), Some(json!({"reassign_to": mo.id, "seat": "keep"})))
        .await;
    assert_eq!((r.status, r.code()), (StatusCode::CONFLICT, "owner_protected"));
    let r = app.post_auth(&format!("{owner_path}/deactivate"), &owner.access, json!({})).await;
    assert_eq!(r.code(), "owner_protected");
    let r = app
        .post_auth(&format!("/v1/orgs/{}/transfer-ownership", owner.org), &owner.access, json!({"user_id": mo.id}))
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{:?}", r.body);
    let list = app.get(&format!("/v1/orgs/{}/members", owner.org), &owner.access).await;
    let roles_of = |id: &str| {
        list.body["members"].as_array().unwrap().iter().find(|m| m["user_id"] == id).unwrap()["roles"].clone()
    };
    assert_eq!(roles_of(&mo.id), json!(["owner", "admin", "agent"]));
    assert_eq!(roles_of(&owner.id), json!(["admin"]));
    let r = app
        .post_auth(&format!("/v1/orgs/{}/transfer-ownership", owner.org), &owner.access, json!({"user_id": owner.id}))
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "only the owner transfers");

    // Delete a member, reassigning to someone else, and remove the seat.
    let zed = join(&app, &owner, &["viewer"]).await;
    let before = app.get(&format!("/v1/orgs/{}/seats", owner.org), &owner.access).await.body;
    let zpath = format!("/v1/orgs/{}/members/{}", owner.org, zed.id);
    let r = app
        .call(Method::DELETE, &zpath, Some(&owner.access), Some(json!({"reassign_to": zed.id, "seat": "remove"})))
        .await;
    assert_eq!(r.code(), "invalid_reassignment");
    let r = app
        .call(Method::DELETE, &zpath, Some(&owner.access), Some(json!({"reassign_to": owner.id, "seat": "remove"})))
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{:?}", r.body);
    let after = app.get(&format!("/v1/orgs/{}/seats", owner.org), &owner.access).await.body;
    assert_eq!(after["purchased"].as_u64().unwrap(), before["purchased"].as_u64().unwrap() - 1);
    assert_eq!(after["used"].as_u64().unwrap(), before["used"].as_u64().unwrap() - 1);
    assert_eq!(app.get(&format!("/v1/orgs/{}", owner.org), &zed.access).await.code(), "session_ended");
    let zed_again = app.login(&zed.email, &zed.password, "web").await;
    assert_eq!(zed_again["organization_id"], Value::Null, "no organization left to reopen");
    let r = app.get(&format!("/v1/orgs/{}", owner.org), zed_again["access_token"].as_str().unwrap()).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(app.count_items("OUTBOX#").await, 1, "the reassignment event for the messaging service");
}

async fn concurrent_acceptance_creates_one_membership(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let owner = app.signup("twice", "web").await;
    let who = unique_email("double");
    invite(&app, &owner, &owner.org, json!([{"email": who, "roles": ["agent"]}])).await;
    let token = invitation_token(&app, &who).await;
    let body = json!({"token": token, "first_name": "D", "last_name": "C", "password": "double click passphrase"});
    let results = futures::future::join_all((0..8).map(|_| app.post("/v1/invitations/accept", body.clone()))).await;
    let created = results.iter().filter(|r| r.status == StatusCode::CREATED).count();
    assert_eq!(created, 1, "{:?}", results.iter().map(|r| (r.status, r.code().to_owned())).collect::<Vec<_>>());
    assert_eq!(app.count_items("EMAIL#").await, 2, "the owner's login and exactly one new one");
    let members = app.get(&format!("/v1/orgs/{}/members", owner.org), &owner.access).await;
    assert_eq!(members.body["members"].as_array().unwrap().len(), 2);
}

async fn forgot_password_answers_alike_and_resets(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let ann = app.signup("forgot", "web").await;
    let known = app.post("/v1/auth/forgot-password", json!({"email": ann.email})).await;
    let unknown = app.post("/v1/auth/forgot-password", json!({"email": unique_email("ghost")})).await;
    assert_eq!((known.status, &known.body), (unknown.status, &unknown.body));
    assert_eq!(known.status, StatusCode::ACCEPTED);
    let mails = app.wait_emails_to(&ann.email, 2).await;
    let link = mails.iter().find_map(|m| m.link("/reset-password?token=")).expect("reset link");
    let token = token_from(&link);
    let r = app.post("/v1/auth/reset-password", json!({"token": token, "password": "short"})).await;
    assert_eq!(r.code(), "weak_password");
    let r = app.post("/v1/auth/reset-password", json!({"token": token, "password": "my new secret phrase"})).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert_eq!(app.get("/v1/me", &ann.access).await.code(), "session_ended", "a reset ends every session");
    let r = app.post("/v1/auth/reset-password", json!({"token": token, "password": "yet another phrase"})).await;
    assert_eq!(r.code(), "invalid_token", "single use");
    app.login(&ann.email, "my new secret phrase", "web").await;
}

async fn reset_emails_are_limited_per_address_and_per_client(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let ann = app.signup("bomb", "web").await;
    app.wait_emails_to(&ann.email, 1).await;
    // Eight requests for one address in a burst: the answers are alike, at most three emails go out.
    for _ in 0..8 {
        assert_eq!(
            app.post("/v1/auth/forgot-password", json!({"email": ann.email})).await.status,
            StatusCode::ACCEPTED
        );
    }
    let limit = switchboard::service::notify::email_requests::PER_ADDRESS_PER_HOUR as usize;
    app.wait_emails_to(&ann.email, 1 + limit).await;
    // Every request decided and every email recorded sent: nothing more is on its way.
    app.mail_settled().await;
    let resets = app.emails_to(&ann.email).await.iter().filter(|m| m.link("/reset-password?token=").is_some()).count();
    assert_eq!(resets, limit);
    // An hour later the address may ask again.
    app.clock.advance(chrono::Duration::minutes(61));
    app.post("/v1/auth/forgot-password", json!({"email": ann.email})).await;
    let mails = app.wait_emails_to(&ann.email, 2 + limit).await;
    assert_eq!(mails.iter().filter(|m| m.link("/reset-password?token=").is_some()).count(), limit + 1);
    // One client address asking for many addresses is stopped with 429, known or not.
    let limit = app.ctx.config.email_requests_per_client_hour as usize;
    let mut statuses = Vec::new();
    for _ in 0..limit + 2 {
        statuses.push(app.post("/v1/auth/forgot-password", json!({"email": unique_email("spray")})).await.status);
    }
    let refused = statuses.iter().filter(|s| **s == StatusCode::TOO_MANY_REQUESTS).count();
    assert_eq!(refused, 3, "{limit} an hour, one of them used just above: {statuses:?}");
}

async fn shared_accounts_are_acted_as_by_linked_people(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let owner = app.signup("service", "web").await;
    let webcare = join(&app, &owner, &["admin"]).await;
    let alice = join(&app, &owner, &["agent"]).await;
    let bob = join(&app, &owner, &["agent"]).await;
    let m = format!("/v1/orgs/{}/members/{}", owner.org, webcare.id);

    let r = app.post_auth(&format!("{m}/links"), &owner.access, json!({"user_id": alice.id})).await;
    assert_eq!(r.code(), "not_shared", "only shared accounts take links");
    let r = app.call(Method::PUT, &format!("{m}/shared"), Some(&owner.access), Some(json!({"shared": true}))).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let r = app.post_auth(&format!("{m}/links"), &owner.access, json!({"user_id": alice.id})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let mine = app.get("/v1/me/shared-accounts", &alice.access).await;
    assert_eq!(mine.body["links"][0]["shared_user_id"], webcare.id);

    // Bob is not linked; Alice switches into the shared account without its password.
    let r = app
        .post_auth("/v1/auth/switch", &bob.access, json!({"organization_id": owner.org, "act_as": webcare.id}))
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = app
        .post_auth("/v1/auth/switch", &alice.access, json!({"organization_id": owner.org, "act_as": webcare.id}))
        .await;
    assert_eq!((r.status, r.body["acting_as"].as_str()), (StatusCode::OK, Some(webcare.id.as_str())), "{:?}", r.body);
    assert_eq!(r.body["roles"], json!(["admin"]), "the shared account's roles apply");
    let acting = r.body["access_token"].as_str().unwrap().to_owned();
    let claims = app.ctx.keys.verify(&acting, app.clock_now()).unwrap();
    assert_eq!(claims.act_as.map(|a| a.to_string()), Some(webcare.id.clone()));

    // Acting in its name: allowed what the shared account may do, and recorded with both names.
    let r = app.post_auth(&format!("/v1/orgs/{}/inboxes", owner.org), &acting, json!({"name": "Webcare"})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let inbox = r.body["inbox_id"].as_str().unwrap().to_owned();
    let r = app.post_auth(&format!("/v1/orgs/{}/seats/quote", owner.org), &acting, json!({"count": 1})).await;
    assert_eq!(r.status, StatusCode::OK);
    // The shared account joins the inbox to read its feed (admins see inbox activity as members only).
    app.post_auth(&format!("/v1/orgs/{}/inboxes/{inbox}/members", owner.org), &acting, json!({"user_id": webcare.id}))
        .await;
    let feed = app.get(&format!("/v1/orgs/{}/inboxes/{inbox}/activity", owner.org), &acting).await;
    let created =
        feed.body["activity"].as_array().unwrap().iter().find(|a| a["action"] == "inbox.created").cloned().unwrap();
    assert_eq!(
        (created["actor_id"].as_str(), created["real_actor_id"].as_str()),
        (Some(webcare.id.as_str()), Some(alice.id.as_str()))
    );

    // Unlinking takes effect on the next request.
    let r = app.call(Method::DELETE, &format!("{m}/links/{}", alice.id), Some(&owner.access), None).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let r = app.post_auth(&format!("/v1/orgs/{}/seats/quote", owner.org), &acting, json!({"count": 1})).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
}
