//! Taking over someone's login where features meet (issue 32, item 1): an admin adding an
//! existing login to their own organization, then signing that person in through their own
//! identity provider. Adding a login is an invitation the person accepts unless the
//! organization controls the address (a verified company domain); the answer never tells
//! whether the address had a login; a provider vouches only for its verified domains, or for
//! someone who linked it from their own session.

use e2e::{Engine, TestApp, User};
use reqwest::StatusCode;
use serde_json::json;

use crate::sso::{add_provider, link_as, sign_in};

dynoxide_only!(adding_a_login_is_an_invitation_they_accept, a_verified_domain_adds_and_tells);

/// Register `email` and sign in on the web.
async fn signup_as(app: &TestApp, email: &str) -> User {
    let password = "correct horse battery staple";
    let r = app
        .post(
            "/v1/auth/register",
            json!({"email": email, "password": password, "first_name": "Ann", "last_name": "Smith",
                   "organization_name": "Own Inc"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{:?}", r.body);
    let t = app.login(email, password, "web").await;
    let access = t["access_token"].as_str().unwrap().to_owned();
    let me = app.get("/v1/me", &access).await;
    User {
        email: email.to_owned(),
        password: password.to_owned(),
        id: me.body["user"]["id"].as_str().unwrap().to_owned(),
        org: t["organization_id"].as_str().unwrap().to_owned(),
        access,
    }
}

/// A company domain `owner`'s organization proves through the test DNS server.
pub(crate) async fn verified_domain(app: &TestApp, owner: &User, tag: &str) -> String {
    let domain = format!("{tag}-{}.test", ulid::Ulid::new().to_string().to_lowercase());
    let dpath = format!("/v1/orgs/{}/domains", owner.org);
    let r = app.post_auth(&dpath, &owner.access, json!({"domain": domain})).await;
    let v = &r.body["verification"];
    app.dns.add_txt(v["record_name"].as_str().unwrap(), &[v["value"].as_str().unwrap()]).await;
    let r = app.post_auth(&format!("{dpath}/{domain}/verify"), &owner.access, json!({})).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    domain
}

async fn member_ids(app: &TestApp, admin: &User) -> String {
    app.get(&format!("/v1/orgs/{}/members", admin.org), &admin.access).await.body.to_string()
}

/// The attack as reported: O adds D's address to his organization A, then has his own
/// provider (which he says counts as a second factor) sign D in.
async fn adding_a_login_is_an_invitation_they_accept(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let o = app.signup("take-o", "web").await;
    let d = app.signup("take-d", "web").await;
    let fresh = e2e::unique_email("take-fresh");
    let users = format!("/v1/orgs/{}/users", o.org);
    let taken =
        app.post_auth(&users, &o.access, json!({"first_name": "Dee", "last_name": "V", "email": d.email})).await;
    let new = app.post_auth(&users, &o.access, json!({"first_name": "Fay", "last_name": "F", "email": fresh})).await;
    assert_eq!(
        (taken.status, new.status),
        (StatusCode::CREATED, StatusCode::CREATED),
        "{:?} {:?}",
        taken.body,
        new.body
    );
    assert_eq!(taken.body, new.body, "the answer does not tell a registered address from a new one");
    assert_eq!(taken.body, json!({"outcome": "invited", "user_id": null}));
    assert!(!member_ids(&app, &o).await.contains(&d.id), "D is not a member of A without accepting");
    // D is told: the invitation, to accept or ignore.
    app.run_mail_worker().await;
    let told = app.wait_link(&d.email, "accept-invitation?token=").await;
    assert!(told.is_some(), "D receives the invitation");
    // A password for someone else's address would make a login the admin holds: refused.
    let r = app
        .post_auth(
            &users,
            &o.access,
            json!({"first_name": "P", "last_name": "W", "email": e2e::unique_email("take-pw"), "password": "an admin's chosen passphrase"}),
        )
        .await;
    assert_eq!(
        (r.status, r.code(), r.body["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, "password_not_allowed", Some("password"))
    );
    // An import does the same: D's row and a new address's are both invitations.
    let csv = format!("email,first_name,last_name\n{},Dee,V\n{},New,Person\n", d.email, e2e::unique_email("take-csv"));
    let upload = crate::imports::upload(&app, &o, csv.into_bytes()).await;
    let mapping = json!({"email": "A", "first_name": "B", "last_name": "C"});
    let r = app
        .post_auth(
            &format!("/v1/orgs/{}/imports", o.org),
            &o.access,
            json!({"upload_id": upload, "mapping": mapping, "start_row": 2}),
        )
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{:?}", r.body);
    let done = crate::imports::wait_done(&app, &o, r.body["job_id"].as_str().unwrap()).await;
    // D was invited already by the request above; the new address is invited now.
    assert_eq!(done["counts"], json!({"created": 0, "invited": 1, "added": 0, "skipped": 1, "failed": 0}), "{done:?}");
    assert!(!member_ids(&app, &o).await.contains(&d.id));

    // O's provider cannot vouch for D: D's address is not on A's verified domains and D
    // never linked it. O cannot link it for D either: linking needs D's own session, and
    // from O's session the provider must name O.
    let p = add_provider(&app, &o, "takeco", json!({"counts_as_second_factor": true, "jit_provisioning": true})).await;
    let r = sign_in(&app, &p, &d.email, "valid", "idp-a").await.expect_err("no session as D");
    assert_eq!((r.status, r.code()), (StatusCode::FORBIDDEN, "sso_not_a_member"), "{:?}", r.body);
    let r = link_as(&app, &p, &o, &d.email).await.expect_err("O links as D");
    assert_eq!((r.status, r.code()), (StatusCode::BAD_REQUEST, "saml_response_rejected"), "{:?}", r.body);
    let r = sign_in(&app, &p, &d.email, "valid", "idp-a").await.expect_err("still no session as D");
    assert_eq!(r.code(), "sso_not_a_member");
    // A session a provider opened cannot consent to another provider.
    link_as(&app, &p, &o, &o.email).await.expect("O links his own provider");
    let code = sign_in(&app, &p, &o.email, "valid", "idp-a").await.expect("O through his provider");
    let t = app.post("/v1/auth/sso/token", json!({"code": code})).await;
    let r = app.post_auth("/v1/sso/takeco/link", t.body["access_token"].as_str().unwrap(), json!({})).await;
    assert_eq!((r.status, r.code()), (StatusCode::FORBIDDEN, "session_confined"), "{:?}", r.body);
}

/// On a verified company domain the organization controls the address: a login there is
/// added at once, and told; a new one is made and sent a link. Both answers look alike, and
/// the member list shows the name the admin typed.
async fn a_verified_domain_adds_and_tells(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let o = app.signup("domain-o", "web").await;
    let domain = verified_domain(&app, &o, "addco").await;
    let d = signup_as(&app, &format!("dora@{domain}")).await;
    let users = format!("/v1/orgs/{}/users", o.org);
    let r =
        app.post_auth(&users, &o.access, json!({"first_name": "Typed", "last_name": "Name", "email": d.email})).await;
    assert_eq!((r.status, &r.body), (StatusCode::CREATED, &json!({"outcome": "added", "user_id": d.id})));
    let fresh = format!("fresh@{domain}");
    let r = app.post_auth(&users, &o.access, json!({"first_name": "New", "last_name": "One", "email": fresh})).await;
    assert_eq!((r.status, r.body["outcome"].as_str()), (StatusCode::CREATED, Some("added")), "{:?}", r.body);
    let members = app.get(&format!("/v1/orgs/{}/members", o.org), &o.access).await.body;
    let dora = members["members"].as_array().unwrap().iter().find(|m| m["user_id"] == d.id.as_str());
    assert_eq!(dora.map(|m| m["name"].clone()), Some(json!("Typed Name")), "{members}");
    app.run_mail_worker().await;
    let notice = app.wait_emails_to(&d.email, 2).await;
    let subjects: Vec<&str> = notice.iter().map(|m| m.subject.as_str()).collect();
    assert!(notice.iter().any(|m| m.text.contains("made your login a member")), "D is told: {subjects:?}");
    assert!(app.wait_link(&fresh, "token=").await.is_some(), "the new login is sent a link to set its password");

    // A provider of the organization vouches for its own domain, without a link.
    let p = add_provider(&app, &o, "domainco", json!({})).await;
    let code = sign_in(&app, &p, &d.email, "valid", "idp-a").await.expect("on the verified domain");
    let t = app.post("/v1/auth/sso/token", json!({"code": code})).await;
    assert_eq!(t.body["organization_id"].as_str(), Some(o.org.as_str()), "{:?}", t.body);
}
