//! Company settings: inheritance and locks down the tree, ETag/If-Match, the policy document,
//! company domains verified against a real DNS server, finding and joining a company,
//! policies enforced at login and on every request, created users, SMS codes, and the
//! messaging service's email-to-SMS sender lookup.

use e2e::{Engine, TestApp, User};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

both_engines!(settings_inherit_lock_and_need_if_match, created_users_and_mobile_codes);
dynoxide_only!(
    default_language_reaches_new_members_and_orgs,
    company_domains_find_and_join,
    join_requests_are_approved_or_denied,
    company_search_is_limited_per_client_address,
    two_factor_and_client_policies_are_enforced,
    email_to_sms_domains_resolve_for_the_messaging_service,
);

async fn patch(
    app: &TestApp,
    token: &str,
    org: &str,
    etag: Option<&str>,
    body: Value,
) -> (StatusCode, Value, Option<String>) {
    let mut req = app.http.patch(format!("{}/v1/orgs/{org}/settings", app.base)).bearer_auth(token).json(&body);
    if let Some(e) = etag {
        req = req.header("If-Match", e);
    }
    let r = TestApp::reply(req.send().await.expect("patch")).await;
    let etag = r.headers.get("etag").and_then(|v| v.to_str().ok()).map(str::to_owned);
    (r.status, r.body, etag)
}

async fn etag(app: &TestApp, token: &str, org: &str) -> String {
    let r = app.get(&format!("/v1/orgs/{org}/settings"), token).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    r.body["etag"].as_str().expect("etag").to_owned()
}

async fn settings_inherit_lock_and_need_if_match(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let owner = app.signup("settings", "web").await;
    let sub = app.sub_account(&owner.access, &owner.org, "Location").await;
    let root_tag = etag(&app, &owner.access, &owner.org).await;

    let (s, b, _) = patch(&app, &owner.access, &owner.org, None, json!({"like_messages": false})).await;
    assert_eq!((s, b["code"].as_str()), (StatusCode::PRECONDITION_REQUIRED, Some("precondition_required")));
    let change = json!({"like_messages": false, "disclaimer": "Calls are recorded.", "default_language": "nl",
        "details": {"street": "Damrak", "number": "1a", "zip": "1012 LG", "city": "Amsterdam", "country": "nl", "phone": "+31 20 123 4567"},
        "locks": ["like_messages"]});
    let (s, b, new_tag) = patch(&app, &owner.access, &owner.org, Some(&root_tag), change.clone()).await;
    assert_eq!(s, StatusCode::OK, "{b:?}");
    assert_eq!(
        (b["own"]["details"]["country"].as_str(), b["own"]["details"]["phone"].as_str()),
        (Some("NL"), Some("+31201234567"))
    );
    assert_ne!(new_tag.as_deref(), Some(root_tag.as_str()));
    // The ETag read before the change is stale now: nothing is overwritten silently.
    let (s, b, _) = patch(&app, &owner.access, &owner.org, Some(&root_tag), json!({"like_messages": true})).await;
    assert_eq!((s, b["code"].as_str()), (StatusCode::PRECONDITION_FAILED, Some("precondition_failed")));

    // The sub-account inherits, and cannot change what the parent locked.
    let r = app.get(&format!("/v1/orgs/{sub}/settings"), &owner.access).await;
    assert_eq!(r.body["effective"]["like_messages"], false);
    assert_eq!(r.body["effective"]["default_language"], "nl");
    assert_eq!(r.body["inherited_from"]["disclaimer"], owner.org.as_str());
    assert_eq!(r.body["locked_by"]["like_messages"], owner.org.as_str());
    let sub_tag = r.body["etag"].as_str().unwrap().to_owned();
    let (s, b, _) = patch(&app, &owner.access, &sub, Some(&sub_tag), json!({"like_messages": true})).await;
    assert_eq!(
        (s, b["code"].as_str(), b["field"].as_str()),
        (StatusCode::FORBIDDEN, Some("setting_locked"), Some("like_messages"))
    );
    let (s, b, _) = patch(&app, &owner.access, &sub, Some(&sub_tag), json!({"disclaimer": "Local text."})).await;
    assert_eq!((s, b["effective"]["disclaimer"].as_str()), (StatusCode::OK, Some("Local text.")), "{b:?}");

    // Bad input names the field; nothing is written.
    let tag = etag(&app, &owner.access, &owner.org).await;
    for (body, code, field) in [
        (json!({"details": {"country": "XX"}}), "invalid_country", "details.country"),
        (json!({"contact": {"phone": "12"}}), "invalid_phone", "contact.phone"),
        (json!({"disclaimer": "x".repeat(2001)}), "invalid_disclaimer", "disclaimer"),
        (json!({"min_password_length": 200}), "invalid_password_length", "min_password_length"),
        (json!({"no_such_policy": true}), "invalid_field", "no_such_policy"),
    ] {
        let (s, b, _) = patch(&app, &owner.access, &owner.org, Some(&tag), body).await;
        assert_eq!(
            (s, b["code"].as_str(), b["field"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some(code), Some(field))
        );
    }
    assert_eq!(etag(&app, &owner.access, &owner.org).await, tag, "refused changes wrote nothing");

    // Members read the policy document; revalidation answers 304.
    let agent = app.signup("agent", "web").await;
    app.add_member(&agent.id, &sub, &[switchboard::domain::Role::Agent], Default::default(), Default::default()).await;
    let r = app.get(&format!("/v1/orgs/{sub}/policy"), &agent.access).await;
    assert_eq!(
        (r.status, r.body["like_messages"].as_bool(), r.body["disclaimer"].as_str()),
        (StatusCode::OK, Some(false), Some("Local text."))
    );
    let tag = r.headers.get("etag").unwrap().to_str().unwrap().to_owned();
    let again = app
        .http
        .get(format!("{}/v1/orgs/{sub}/policy", app.base))
        .bearer_auth(&agent.access)
        .header("If-None-Match", &tag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
    let r = app.get(&format!("/v1/orgs/{sub}/settings"), &agent.access).await;
    assert_eq!((r.status, r.code()), (StatusCode::FORBIDDEN, "forbidden"), "agents do not read the admin document");
    let act = app.get(&format!("/v1/orgs/{}/activity", owner.org), &owner.access).await;
    let actions: Vec<&str> =
        act.body["activity"].as_array().unwrap().iter().filter_map(|a| a["action"].as_str()).collect();
    assert_eq!(actions.iter().filter(|a| **a == "organization.settings_changed").count(), 2, "{actions:?}");
}

async fn default_language_reaches_new_members_and_orgs(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let owner = app.signup("lang", "web").await;
    let r = app.post_auth("/v1/orgs", &owner.access, json!({"name": "Duits GmbH", "language": "de"})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let de_org = r.body["id"].as_str().unwrap().to_owned();
    let r = app.get(&format!("/v1/orgs/{de_org}/policy"), &owner.access).await;
    assert_eq!(r.body["default_language"], "de");

    let tag = etag(&app, &owner.access, &owner.org).await;
    let (s, _, _) = patch(&app, &owner.access, &owner.org, Some(&tag), json!({"default_language": "nl"})).await;
    assert_eq!(s, StatusCode::OK);
    let invitee = e2e::unique_email("nieuw");
    let r = app
        .post_auth(
            &format!("/v1/orgs/{}/invitations", owner.org),
            &owner.access,
            json!({"invitations": [{"email": invitee, "roles": ["agent"]}]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    app.run_mail_worker().await;
    let mail = app.wait_emails_to(&invitee, 1).await;
    let link = mail[0].link("token=").expect("invitation link");
    let token = link.split("token=").nth(1).unwrap().to_owned();
    let r = app.post("/v1/invitations/accept", json!({"token": token, "first_name": "Nina", "last_name": "Bakker", "password": "correct horse battery staple"})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let tokens = app.login(&invitee, "correct horse battery staple", "web").await;
    let me = app.get("/v1/me", tokens["access_token"].as_str().unwrap()).await;
    assert_eq!(me.body["user"]["language"], "nl", "{:?}", me.body);
}

pub(crate) async fn verified_person(app: &TestApp, email: &str) -> User {
    let password = "correct horse battery staple";
    let r = app.post("/v1/auth/register", json!({"email": email, "password": password, "first_name": "Jo", "last_name": "Visser", "organization_name": "Jo's"})).await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{:?}", r.body);
    app.run_mail_worker().await;
    let mails = app.wait_emails_to(email, 1).await;
    let link = mails[0].link("/verify-email?token=").expect("verify link");
    let token = link.split("token=").nth(1).unwrap();
    assert_eq!(app.post("/v1/auth/verify-email", json!({"token": token})).await.status, StatusCode::NO_CONTENT);
    let t = app.login(email, password, "web").await;
    User {
        email: email.to_owned(),
        password: password.to_owned(),
        id: String::new(),
        org: t["organization_id"].as_str().unwrap_or_default().to_owned(),
        access: t["access_token"].as_str().unwrap().to_owned(),
    }
}

async fn company_domains_find_and_join(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let owner = app.signup("acme", "web").await;
    let rival = app.signup("rival", "web").await;
    let domain = format!("acme-{}.test", ulid::Ulid::new().to_string().to_lowercase());
    let path = format!("/v1/orgs/{}/domains", owner.org);
    let r = app.post_auth(&path, &owner.access, json!({"domain": "gmail.com"})).await;
    assert_eq!((r.status, r.code()), (StatusCode::UNPROCESSABLE_ENTITY, "public_domain"));
    let r = app.post_auth(&path, &owner.access, json!({"domain": "*.acme.test"})).await;
    assert_eq!((r.status, r.code()), (StatusCode::UNPROCESSABLE_ENTITY, "invalid_domain"));
    let r = app.post_auth(&path, &owner.access, json!({"domain": domain.to_uppercase()})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let record = r.body["verification"]["record_name"].as_str().unwrap().to_owned();
    let value = r.body["verification"]["value"].as_str().unwrap().to_owned();
    assert_eq!(record, format!("_switchboard-challenge.{domain}"));
    let verify = format!("{path}/{domain}/verify");
    let r = app.post_auth(&verify, &owner.access, json!({})).await;
    assert_eq!((r.status, r.code()), (StatusCode::UNPROCESSABLE_ENTITY, "domain_unverified"));
    // Published split into two strings, beside an unrelated record.
    let (a, b) = value.split_at(10);
    app.dns.add_txt(&record, &["v=spf1 -all"]).await;
    app.dns.add_txt(&record, &[a, b]).await;
    let r = app.post_auth(&verify, &owner.access, json!({})).await;
    assert_eq!((r.status, r.body["verified"].as_bool()), (StatusCode::OK, Some(true)), "{:?}", r.body);

    // A rival who also publishes its own token cannot take the domain.
    let rpath = format!("/v1/orgs/{}/domains", rival.org);
    let r = app.post_auth(&rpath, &rival.access, json!({"domain": domain})).await;
    app.dns.add_txt(&record, &[r.body["verification"]["value"].as_str().unwrap()]).await;
    let r = app.post_auth(&format!("{rpath}/{domain}/verify"), &rival.access, json!({})).await;
    assert_eq!((r.status, r.code()), (StatusCode::CONFLICT, "domain_taken"));

    // Joining: automatic, with an alias found accent- and case-insensitively.
    let tag = etag(&app, &owner.access, &owner.org).await;
    let (s, b, tag) = patch(
        &app,
        &owner.access,
        &owner.org,
        Some(&tag),
        json!({"join_mode": "automatic", "coworkers_on_company_domains_only": true}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{b:?}");
    let r = app
        .http
        .put(format!("{}/v1/orgs/{}/aliases", app.base, owner.org))
        .bearer_auth(&owner.access)
        .header("If-Match", tag.unwrap())
        .json(&json!({"aliases": ["Ácmé Holding"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let person = verified_person(&app, &format!("jo@{domain}")).await;
    let found = app.get("/v1/directory/organizations", &person.access).await;
    assert_eq!(found.body["organizations"][0]["organization_id"], owner.org.as_str(), "{:?}", found.body);
    assert_eq!(found.body["organizations"][0]["domain_match"], true);
    let found = app.get("/v1/directory/organizations?name=acme%20HOL", &person.access).await;
    let names: Vec<&str> =
        found.body["organizations"].as_array().unwrap().iter().filter_map(|o| o["matched_alias"].as_str()).collect();
    assert_eq!(names, vec!["Ácmé Holding"], "{:?}", found.body);
    // Replacing the aliases replaces their search entries.
    let tag = app.get(&format!("/v1/orgs/{}/settings", owner.org), &owner.access).await.body["etag"].clone();
    let r = app
        .http
        .put(format!("{}/v1/orgs/{}/aliases", app.base, owner.org))
        .bearer_auth(&owner.access)
        .header("If-Match", tag.as_str().unwrap())
        .json(&json!({"aliases": ["Acme Group"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let found = app.get("/v1/directory/organizations?name=acme%20hol", &person.access).await;
    // Still found by the person's domain, but no longer by the old alias.
    assert_eq!(found.body["organizations"][0]["matched_alias"], Value::Null, "the old alias is gone: {:?}", found.body);
    let found = app.get("/v1/directory/organizations?name=ACME%20gr", &person.access).await;
    assert_eq!(found.body["organizations"][0]["matched_alias"], "Acme Group");
    let r = app.get("/v1/directory/organizations?name=ab", &person.access).await;
    assert_eq!(r.code(), "query_too_short");
    let outsider = verified_person(&app, &e2e::unique_email("out")).await;
    let r =
        app.post_auth(&format!("/v1/directory/organizations/{}/join", owner.org), &outsider.access, json!({})).await;
    assert_eq!((r.status, r.code()), (StatusCode::FORBIDDEN, "join_not_allowed"));
    let r = app.post_auth(&format!("/v1/directory/organizations/{}/join", owner.org), &person.access, json!({})).await;
    assert_eq!((r.status, r.body["outcome"].as_str()), (StatusCode::OK, Some("joined")), "{:?}", r.body);
    let members = app.get(&format!("/v1/orgs/{}/members?q=visser", owner.org), &owner.access).await;
    assert_eq!(members.body["members"][0]["roles"], json!(["agent"]));
    // Coworkers only on approved domains: invitations elsewhere are refused per address.
    let r = app.post_auth(&format!("/v1/orgs/{}/invitations", owner.org), &owner.access,
        json!({"invitations": [{"email": "x@elsewhere.example", "roles": ["agent"]}, {"email": format!("y@{domain}"), "roles": ["agent"]}]})).await;
    let codes: Vec<Value> = r.body["results"].as_array().unwrap().iter().map(|o| o["code"].clone()).collect();
    assert_eq!(codes, vec![json!("domain_not_approved"), Value::Null], "{:?}", r.body);
    // Removing frees the domain for the rival.
    let r = app.call(Method::DELETE, &format!("{path}/{domain}"), Some(&owner.access), None).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let r = app.post_auth(&format!("{rpath}/{domain}/verify"), &rival.access, json!({})).await;
    assert_eq!((r.status, r.body["verified"].as_bool()), (StatusCode::OK, Some(true)), "{:?}", r.body);
}

async fn two_factor_and_client_policies_are_enforced(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let owner = app.signup("policy", "web").await;
    let agent = app.signup("member", "web").await;
    app.add_member(&agent.id, &owner.org, &[switchboard::domain::Role::Agent], Default::default(), Default::default())
        .await;
    // The web client works in the owner's organization from now on.
    let r = app.post_auth("/v1/auth/switch", &agent.access, json!({"organization_id": owner.org})).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let tag = etag(&app, &owner.access, &owner.org).await;
    let (s, _, tag) = patch(&app, &owner.access, &owner.org, Some(&tag), json!({"disabled_clients": ["mobile"]})).await;
    assert_eq!(s, StatusCode::OK);
    // Switching in on a disabled client is refused; admins keep every client.
    let mobile = app.login(&agent.email, &agent.password, "mobile").await;
    let token = mobile["access_token"].as_str().unwrap();
    let r = app.post_auth("/v1/auth/switch", token, json!({"organization_id": owner.org})).await;
    assert_eq!((r.status, r.code()), (StatusCode::FORBIDDEN, "client_disabled"), "{:?}", r.body);
    let r = app.get(&format!("/v1/orgs/{}/members", owner.org), token).await;
    assert_eq!(r.code(), "client_disabled");
    let admin_mobile = app.login(&owner.email, &owner.password, "mobile").await;
    let r = app.get(&format!("/v1/orgs/{}/members", owner.org), admin_mobile["access_token"].as_str().unwrap()).await;
    assert_eq!(r.status, StatusCode::OK);

    // Two-factor required: on the next request, for admins too, until they enrol.
    let (s, _, _) =
        patch(&app, &owner.access, &owner.org, Some(&tag.unwrap()), json!({"two_factor_required": true})).await;
    assert_eq!(s, StatusCode::OK);
    let r = app.get(&format!("/v1/orgs/{}/members", owner.org), &agent.access).await;
    assert_eq!((r.status, r.code()), (StatusCode::FORBIDDEN, "two_factor_required"));
    let r = app.get(&format!("/v1/orgs/{}/settings", owner.org), &owner.access).await;
    assert_eq!(r.code(), "two_factor_required");
    let again = app.login(&agent.email, &agent.password, "web").await;
    assert_eq!(again["refused"], json!({"organization_id": owner.org, "code": "two_factor_required"}), "{again:?}");
    assert_ne!(again["organization_id"], owner.org.as_str(), "{again:?}");
    let r = app.get(&format!("/v1/orgs/{}/members", owner.org), again["access_token"].as_str().unwrap()).await;
    assert_eq!(r.code(), "two_factor_required", "a fresh password-only session is refused too");
}

async fn created_users_and_mobile_codes(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let owner = app.signup("creator", "web").await;
    // Addresses on a verified company domain become members at once (others are invited).
    let domain = crate::takeover::verified_domain(&app, &owner, "created").await;
    let email = format!("cas@{domain}");
    let phone = format!("+3161{:07}", ulid::Ulid::new().random() % 10_000_000);
    // Passwords that meet the organization's rule: at least 20 characters here.
    let tag = etag(&app, &owner.access, &owner.org).await;
    let (s, _, _) = patch(&app, &owner.access, &owner.org, Some(&tag), json!({"min_password_length": 20})).await;
    assert_eq!(s, StatusCode::OK);
    let r = app
        .post_auth(
            &format!("/v1/orgs/{}/users", owner.org),
            &owner.access,
            json!({"first_name": "Bo", "last_name": "Short", "email": format!("bo@{domain}"), "password": "only fifteen ch"}),
        )
        .await;
    assert_eq!(
        (r.status, r.code(), r.body["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, "password_too_short", Some("password"))
    );
    let r = app
        .post_auth(
            &format!("/v1/orgs/{}/users", owner.org),
            &owner.access,
            json!({"first_name": "Cas", "last_name": "Jansen", "email": email, "mobile": phone}),
        )
        .await;
    assert_eq!((r.status, r.body["outcome"].as_str()), (StatusCode::CREATED, Some("added")), "{:?}", r.body);
    app.run_mail_worker().await;
    let mail = app.wait_emails_to(&email, 1).await;
    // Their own email, not a reset they never asked for: who made the login, and a week to
    // choose a password, so the link still works days later (a reset's lasts an hour).
    assert!(mail[0].subject.contains("made you a Switchboard login"), "{}", mail[0].subject);
    assert!(mail[0].text.contains("valid for 7 days") && !mail[0].text.contains("did not ask"), "{}", mail[0].text);
    let token = mail[0].link("token=").expect("set-password link").split("token=").nth(1).unwrap().to_owned();
    app.clock.advance(chrono::Duration::days(6));
    let owner_access =
        app.login(&owner.email, &owner.password, "web").await["access_token"].as_str().unwrap().to_owned();
    let short = app.post("/v1/auth/reset-password", json!({"token": token, "password": "only fifteen ch"})).await;
    assert_eq!(short.code(), "password_too_short", "the member's organizations set the rule");
    assert_eq!(
        app.post("/v1/auth/reset-password", json!({"token": token, "password": "a brand new passphrase"})).await.status,
        StatusCode::NO_CONTENT
    );
    let t = app.login(&email, "a brand new passphrase", "web").await;
    assert_eq!(t["organization_id"], owner.org.as_str());
    let access = t["access_token"].as_str().unwrap();
    // The link went to the address: setting the password through it verified the address.
    assert_eq!(app.get("/v1/me", access).await.body["user"]["email_verified"], true);
    let r = app
        .post_auth(
            "/v1/me/password",
            access,
            json!({"current_password": "a brand new passphrase", "new_password": "only fifteen ch"}),
        )
        .await;
    assert_eq!((r.code(), r.body["field"].as_str()), ("password_too_short", Some("new_password")));
    let r = app
        .post_auth(
            &format!("/v1/orgs/{}/users", owner.org),
            &owner_access,
            json!({"first_name": "Cas", "last_name": "Jansen", "email": email}),
        )
        .await;
    assert_eq!((r.status, r.code()), (StatusCode::CONFLICT, "already_member"));

    let r = app.post_auth("/v1/me/mobile/verification", access, json!({})).await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{:?}", r.body);
    let sms = app.sms_to(&phone).await;
    assert_eq!(sms.len(), 1, "{sms:?}");
    let code: String = sms[0].chars().filter(char::is_ascii_digit).take(6).collect();
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let r = app.post_auth("/v1/me/mobile/verify", access, json!({"code": wrong})).await;
    assert_eq!(r.code(), "invalid_code");
    assert_eq!(app.get("/v1/me", access).await.body["user"]["mobile_verified"], false);
    let r = app.post_auth("/v1/me/mobile/verify", access, json!({"code": code})).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{:?}", r.body);
    assert_eq!(app.get("/v1/me", access).await.body["user"]["mobile_verified"], true, "the profile says so");
    let r = app.post_auth("/v1/me/mobile/verify", access, json!({"code": code})).await;
    assert_eq!(r.code(), "invalid_code", "a code is used once");
}

async fn email_to_sms_domains_resolve_for_the_messaging_service(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let owner = app.signup("e2s", "web").await;
    let domain = format!("sender-{}.test", ulid::Ulid::new().to_string().to_lowercase());
    let path = format!("/v1/orgs/{}/email-to-sms-domains", owner.org);
    let r = app.post_auth(&path, &owner.access, json!({"domain": "outlook.com"})).await;
    assert_eq!(r.code(), "public_domain");
    let r = app.post_auth(&path, &owner.access, json!({"domain": domain})).await;
    app.dns
        .add_txt(
            r.body["verification"]["record_name"].as_str().unwrap(),
            &[r.body["verification"]["value"].as_str().unwrap()],
        )
        .await;
    let r = app.post_auth(&format!("{path}/{domain}/verify"), &owner.access, json!({})).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    // Whitelisted on one account only: another that proves the domain too is refused.
    let other = app.signup("e2s-other", "web").await;
    let opath = format!("/v1/orgs/{}/email-to-sms-domains", other.org);
    let r = app.post_auth(&opath, &other.access, json!({"domain": domain})).await;
    let v = &r.body["verification"];
    app.dns.add_txt(v["record_name"].as_str().unwrap(), &[v["value"].as_str().unwrap()]).await;
    let r = app.post_auth(&format!("{opath}/{domain}/verify"), &other.access, json!({})).await;
    assert_eq!((r.status, r.code()), (StatusCode::CONFLICT, "domain_taken"));
    let lookup = format!("{}/internal/v1/email-to-sms/senders/{domain}", app.base);
    let r = TestApp::reply(
        app.http.get(&lookup).header("x-switchboard-service-token", &app.service_token).send().await.unwrap(),
    )
    .await;
    assert_eq!(
        (r.status, r.body["organization_id"].as_str(), r.body["status"].as_str()),
        (StatusCode::OK, Some(owner.org.as_str()), Some("active"))
    );
    let r = TestApp::reply(app.http.get(&lookup).bearer_auth(&owner.access).send().await.unwrap()).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "a user token is not the messaging service");
    let d = switchboard::domain::DomainName::parse(&domain, "domain").unwrap();
    let (found, n) =
        switchboard::store::count_calls(switchboard::service::orgs::domains::email_to_sms_account(&app.ctx, &d)).await;
    assert_eq!(found.unwrap().organization_id.as_str(), owner.org);
    assert_eq!(n.calls, 2, "a top-level account's sender domain: its guard and the organization");
    // Closed, the account says so: the messaging service routes nothing into it.
    let version =
        app.get(&format!("/v1/orgs/{}", owner.org), &owner.access).await.body["organization"]["version"].clone();
    let r = app.post_auth(&format!("/v1/orgs/{}/close", owner.org), &owner.access, json!({"version": version})).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let r = TestApp::reply(
        app.http.get(&lookup).header("x-switchboard-service-token", &app.service_token).send().await.unwrap(),
    )
    .await;
    assert_eq!(r.body["status"].as_str(), Some("closed"), "{:?}", r.body);
}

async fn join_requests_are_approved_or_denied(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let owner = app.signup("requests", "web").await;
    let domain = crate::takeover::verified_domain(&app, &owner, "req").await;
    let tag = etag(&app, &owner.access, &owner.org).await;
    let (s, _, _) =
        patch(&app, &owner.access, &owner.org, Some(&tag), json!({"join_mode": "request", "join_role": "viewer"}))
            .await;
    assert_eq!(s, StatusCode::OK);
    let ann = verified_person(&app, &format!("ann@{domain}")).await;
    let bob = verified_person(&app, &format!("bob@{domain}")).await;
    for p in [&ann, &bob] {
        let r = app.post_auth(&format!("/v1/directory/organizations/{}/join", owner.org), &p.access, json!({})).await;
        assert_eq!((r.status, r.body["outcome"].as_str()), (StatusCode::OK, Some("requested")), "{:?}", r.body);
    }
    let list = app.get(&format!("/v1/orgs/{}/join-requests", owner.org), &owner.access).await;
    let requests = list.body["requests"].as_array().unwrap().clone();
    assert_eq!(requests.len(), 2, "{:?}", list.body);
    let id_of =
        |email: &str| requests.iter().find(|r| r["email"] == email).unwrap()["user_id"].as_str().unwrap().to_owned();
    let (ann_id, bob_id) = (id_of(&ann.email), id_of(&bob.email));
    let approve = format!("/v1/orgs/{}/join-requests/{ann_id}/approve", owner.org);
    assert_eq!(app.post_auth(&approve, &owner.access, json!({})).await.status, StatusCode::NO_CONTENT);
    let r = app.post_auth(&approve, &owner.access, json!({})).await;
    assert_eq!((r.status, r.code()), (StatusCode::NOT_FOUND, "not_found"), "a request is answered once");
    let r = app
        .call(Method::DELETE, &format!("/v1/orgs/{}/join-requests/{bob_id}", owner.org), Some(&owner.access), None)
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let members = app.get(&format!("/v1/orgs/{}/members?q=visser", owner.org), &owner.access).await;
    let members = members.body["members"].as_array().unwrap();
    assert_eq!(members.len(), 1, "only the approved person joined: {members:?}");
    assert_eq!((members[0]["user_id"].as_str(), &members[0]["roles"]), (Some(ann_id.as_str()), &json!(["viewer"])));
    let left = app.get(&format!("/v1/orgs/{}/join-requests", owner.org), &owner.access).await;
    assert_eq!(left.body["requests"], json!([]));
}

async fn company_search_is_limited_per_client_address(engine: Engine) {
    let config = switchboard::config::Config { directory_searches_per_client_hour: 3, ..Default::default() };
    let app = TestApp::spawn_with(engine, config).await;
    let person = verified_person(&app, &e2e::unique_email("prober")).await;
    for _ in 0..3 {
        let r = app.get("/v1/directory/organizations?name=abc", &person.access).await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    }
    let r = app.get("/v1/directory/organizations?name=abd", &person.access).await;
    assert_eq!((r.status, r.code()), (StatusCode::TOO_MANY_REQUESTS, "too_many_attempts"));
    assert!(r.headers.contains_key("retry-after"));
}
