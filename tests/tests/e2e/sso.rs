//! SAML single sign-on through HTTP, against responses signed by signxml (Python; an
//! XML-signature implementation independent of this project's, `tests/saml/idp.py`): a
//! provider added from metadata, the sign-in request read back as a provider reads it, a
//! signed response posted to the assertion consumer service, the code exchanged for a
//! session; every attacked response refused; just-in-time membership on a verified domain;
//! two-factor kept unless the provider's sign-in counts.

use std::path::PathBuf;

use e2e::{Engine, TestApp, User};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use switchboard::access::{Manage, Scope};
use switchboard::domain::Role;

both_engines!(saml_sign_in_end_to_end_and_attacks);
dynoxide_only!(saml_just_in_time_members_and_second_factor, a_provider_vouches_for_its_organization_only);

const IDP: &str = "http://www.okta.com/exk1example";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn python() -> PathBuf {
    let p = root().join(".venv/bin/python");
    assert!(
        p.exists(),
        "{} is missing: run scripts/test.sh (it creates .venv with signxml), or \
         `python3 -m venv .venv && .venv/bin/pip install -r scripts/requirements-test.txt`",
        p.display()
    );
    p
}

fn idp(args: &[&str]) -> String {
    let out = std::process::Command::new(python())
        .arg(root().join("tests/saml/idp.py"))
        .args(args)
        .output()
        .expect("run tests/saml/idp.py");
    assert!(out.status.success(), "idp.py failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

fn testdata(name: &str) -> String {
    root().join("shared/src/saml/testdata").join(name).display().to_string()
}

pub(crate) struct Provider {
    pub(crate) name: String,
    acs: String,
    sp: String,
}

pub(crate) async fn add_provider(app: &TestApp, owner: &User, name: &str, extra: Value) -> Provider {
    let mut body = json!({
        "title": "Okta", "name": name, "entity_id": IDP,
        "metadata_xml": std::fs::read_to_string(testdata("metadata-okta.xml")).unwrap(),
    });
    body.as_object_mut().unwrap().extend(extra.as_object().cloned().unwrap_or_default());
    let r = app.post_auth(&format!("/v1/orgs/{}/sso-providers", owner.org), &owner.access, body).await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let sp = &r.body["service_provider"];
    Provider {
        name: name.into(),
        acs: sp["acs_url"].as_str().unwrap().into(),
        sp: sp["entity_id"].as_str().unwrap().into(),
    }
}

/// A sign-in started in a browser: the request's ID as the provider reads it, and the
/// cookie that binds the answer to that browser.
pub(crate) struct Begun {
    pub(crate) id: String,
    pub(crate) cookie: String,
}

/// Start a sign-in at `url` (the provider's login path with its query).
pub(crate) async fn start_at(app: &TestApp, p: &Provider, url: &str) -> Begun {
    let r = app.no_redirects().get(url).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::FOUND);
    let set = r.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(set.contains("HttpOnly") && set.contains("Path=/v1/sso/"), "{set}");
    let cookie = set.split(';').next().unwrap().to_owned();
    let location = r.headers()["location"].to_str().unwrap().to_owned();
    assert!(location.starts_with("https://example.okta.com/app/exk1example/sso/saml?SAMLRequest="), "{location}");
    let req: Value = serde_json::from_str(&idp(&["--parse-request", &location])).unwrap();
    assert_eq!((req["acs"].as_str(), req["issuer"].as_str()), (Some(p.acs.as_str()), Some(p.sp.as_str())));
    let id = req["id"].as_str().unwrap().to_owned();
    assert!(id.len() == 33 && id.starts_with('_'), "128 random bits: {id}");
    Begun { id, cookie }
}

pub(crate) async fn start(app: &TestApp, p: &Provider, client: &str) -> Begun {
    start_at(app, p, &format!("{}/v1/sso/{}/login?client={client}", app.base, p.name)).await
}

pub(crate) fn signed(app: &TestApp, p: &Provider, request: &str, name_id: &str, attack: &str, key: &str) -> String {
    let params = json!({
        "acs": p.acs, "audience": p.sp, "issuer": IDP, "in_response_to": request, "name_id": name_id,
        "victim": name_id, "now": app.clock_now(), "attack": attack,
        "attributes": {"givenName": ["Nina"], "sn": ["Newcomer"]},
    });
    idp(&[&testdata(&format!("{key}.key")), &testdata(&format!("{key}.crt")), &params.to_string()])
}

/// The provider's answer posted by a browser holding `cookie` (none: another browser).
pub(crate) async fn post_acs(
    app: &TestApp,
    p: &Provider,
    saml_response: &str,
    cookie: Option<&str>,
) -> reqwest::Response {
    let body = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("SAMLResponse", saml_response)
        .append_pair("RelayState", &p.name)
        .finish();
    let mut r = app.no_redirects().post(&p.acs).header("content-type", "application/x-www-form-urlencoded");
    if let Some(c) = cookie {
        r = r.header("cookie", c);
    }
    r.body(body).send().await.unwrap()
}

pub(crate) fn code_of(r: &reqwest::Response) -> String {
    let location = r.headers()["location"].to_str().unwrap().to_owned();
    let code = location.split_once("/sso/callback?code=").map(|(_, c)| c.to_owned());
    code.unwrap_or_else(|| panic!("{location}"))
}

/// A full sign-in; the code the callback receives, or the refusal.
pub(crate) async fn sign_in(
    app: &TestApp,
    p: &Provider,
    name_id: &str,
    attack: &str,
    key: &str,
) -> Result<String, e2e::Reply> {
    let begun = start(app, p, "web").await;
    let r = post_acs(app, p, &signed(app, p, &begun.id, name_id, attack, key), Some(&begun.cookie)).await;
    if r.status() != StatusCode::SEE_OTHER {
        return Err(TestApp::reply(r).await);
    }
    Ok(code_of(&r))
}

/// `who` links the provider from their own session, the provider naming `name_id`; the
/// code the callback receives, or the refusal.
pub(crate) async fn link_as(app: &TestApp, p: &Provider, who: &User, name_id: &str) -> Result<String, e2e::Reply> {
    let r = app.post_auth(&format!("/v1/sso/{}/link", p.name), &who.access, json!({})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let url = r.body["url"].as_str().unwrap().to_owned();
    // The service's public address, as configured; the test reaches it at its own base.
    let path = url.split_once("/v1/sso/").map(|(_, rest)| format!("/v1/sso/{rest}")).unwrap_or_default();
    assert!(path.starts_with(&format!("/v1/sso/{}/login?link=", p.name)), "{url}");
    let begun = start_at(app, p, &format!("{}{path}", app.base)).await;
    let r = post_acs(app, p, &signed(app, p, &begun.id, name_id, "valid", "idp-a"), Some(&begun.cookie)).await;
    if r.status() != StatusCode::SEE_OTHER {
        return Err(TestApp::reply(r).await);
    }
    Ok(code_of(&r))
}

async fn saml_sign_in_end_to_end_and_attacks(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let owner = app.signup("sso", "web").await;
    let other = app.signup("sso-other", "web").await;
    let p = add_provider(&app, &owner, "acme", json!({})).await;

    // The provider is listed with its certificate, and this service's metadata is public.
    let list = app.get(&format!("/v1/orgs/{}/sso-providers", owner.org), &owner.access).await;
    assert_eq!(
        list.body.as_array().map(|l| l.iter().map(|p| p["name"].clone()).collect::<Vec<_>>()),
        Some(vec![json!("acme")])
    );
    let r = app.get(&format!("/v1/orgs/{}/sso-providers/acme", owner.org), &owner.access).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["certificates"].as_array().map(Vec::len), Some(1));
    assert_eq!(r.body["certificates"][0]["expired"], false);
    let md = app.http.get(format!("{}/v1/sso/acme/metadata", app.base)).send().await.unwrap();
    assert_eq!(md.headers()["content-type"], "application/samlmetadata+xml");
    let md = md.text().await.unwrap();
    assert!(md.contains(&format!("entityID=\"{}\"", p.sp)) && md.contains(&format!("Location=\"{}\"", p.acs)), "{md}");
    // Names are unique across organizations; another organization cannot see or change it.
    let taken = json!({"title": "x", "name": "acme", "entity_id": IDP, "metadata_xml": std::fs::read_to_string(testdata("metadata-okta.xml")).unwrap()});
    let r = app.post_auth(&format!("/v1/orgs/{}/sso-providers", other.org), &other.access, taken).await;
    assert_eq!((r.status, r.code()), (StatusCode::CONFLICT, "provider_name_taken"));
    let r = app.get(&format!("/v1/orgs/{}/sso-providers/acme", other.org), &other.access).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);

    // The owner's address is not on a verified company domain of the organization: the
    // provider may not vouch for it until the owner links it from their own session.
    let r = sign_in(&app, &p, &owner.email, "valid", "idp-a").await.expect_err("not linked");
    assert_eq!((r.status, r.code()), (StatusCode::FORBIDDEN, "sso_not_a_member"), "{:?}", r.body);
    assert!(r.body["detail"].as_str().unwrap_or_default().contains("link"), "{:?}", r.body);
    // Linking is for oneself: the provider naming someone else is refused.
    let r = link_as(&app, &p, &owner, &other.email).await.expect_err("someone else");
    assert_eq!((r.status, r.code()), (StatusCode::BAD_REQUEST, "saml_response_rejected"), "{:?}", r.body);
    link_as(&app, &p, &owner, &owner.email).await.expect("linked");
    // A ticket is used once.
    let r = app.post_auth("/v1/sso/acme/link", &owner.access, json!({})).await;
    let url = format!("{}/v1/sso/{}", app.base, r.body["url"].as_str().unwrap().split_once("/v1/sso/").unwrap().1);
    start_at(&app, &p, &url).await;
    let again = app.no_redirects().get(&url).send().await.unwrap();
    assert_eq!(again.status(), StatusCode::BAD_REQUEST, "a link ticket is used once");

    // A real sign-in: code, then tokens in the provider's organization.
    let code = sign_in(&app, &p, &owner.email, "valid", "idp-a").await.unwrap();
    let r = app.post("/v1/auth/sso/token", json!({"code": code})).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["organization_id"].as_str(), Some(owner.org.as_str()));
    let access = r.body["access_token"].as_str().unwrap().to_owned();
    assert_eq!(app.get("/v1/me", &access).await.body["user"]["id"].as_str(), Some(owner.id.as_str()));
    let again = app.post("/v1/auth/sso/token", json!({"code": code})).await;
    assert_eq!((again.status, again.code()), (StatusCode::BAD_REQUEST, "invalid_token"), "a code works once");

    // Round trips of a member's sign-in, measured in the service: start, the provider's
    // answer, the code exchange.
    let name = switchboard::domain::sso::ProviderName::parse("acme", "n").unwrap();
    let web = switchboard::domain::ClientType::Web;
    let (started, start_calls) = switchboard::store::count_calls(switchboard::service::federation::sso::login::start(
        &app.ctx, &name, web, None,
    ))
    .await;
    let started = started.unwrap();
    let switchboard::service::federation::sso::login::Started::Redirect(location) = started.started else {
        panic!("redirect binding")
    };
    let req: Value = serde_json::from_str(&idp(&["--parse-request", &location])).unwrap();
    let response = signed(&app, &p, req["id"].as_str().unwrap(), &owner.email, "valid", "idp-a");
    let browser = Some(started.browser_secret.as_str());
    let (done, acs_calls) = switchboard::store::count_calls(switchboard::service::federation::sso::login::consume(
        &app.ctx, &name, &response, browser,
    ))
    .await;
    let code = done.unwrap().redirect_to.split_once("code=").unwrap().1.to_owned();
    let (_, exchange_calls) =
        switchboard::store::count_calls(switchboard::service::federation::sso::login::exchange(&app.ctx, &code, "ua"))
            .await;
    println!("round trips: start {}, ACS {}, exchange {}", start_calls.calls, acs_calls.calls, exchange_calls.calls);
    assert_eq!(
        (start_calls.calls, acs_calls.calls),
        (2, 8),
        "start: provider, request; ACS: provider, request, consume, login and organization (side by side), \
         the member's link (an address off the verified domains), membership, code"
    );

    // A sign-in started in one browser cannot be finished in another (a response planted in
    // a victim's browser): without the starting browser's cookie, or with another's, it is
    // refused, and the request stays for its own browser.
    let begun = start(&app, &p, "web").await;
    let elsewhere = start(&app, &p, "web").await;
    let response = signed(&app, &p, &begun.id, &owner.email, "valid", "idp-a");
    for cookie in [None, Some(elsewhere.cookie.as_str()), Some("sb_saml=not-a-secret")] {
        let r = TestApp::reply(post_acs(&app, &p, &response, cookie).await).await;
        assert_eq!(
            (r.status, r.code()),
            (StatusCode::BAD_REQUEST, "saml_response_rejected"),
            "{cookie:?}: {:?}",
            r.body
        );
    }
    // The same response posted again: its request is used up.
    let done = post_acs(&app, &p, &response, Some(&begun.cookie)).await;
    assert_eq!(done.status(), StatusCode::SEE_OTHER);
    assert!(done.headers()["set-cookie"].to_str().unwrap().contains("Max-Age=0"), "the cookie is spent");
    let replay = TestApp::reply(post_acs(&app, &p, &response, Some(&begun.cookie)).await).await;
    assert_eq!(
        (replay.status, replay.code()),
        (StatusCode::BAD_REQUEST, "saml_response_rejected"),
        "{:?}",
        replay.body
    );

    // Every attack is refused, and none opens a session for anyone.
    for (attack, key, why) in [
        ("tampered", "idp-a", "digest"),
        ("other_key", "idp-b", "certificates"),
        ("wrap_duplicate_id", "idp-a", "more than one assertion"),
        ("extra_assertion", "idp-a", "more than one assertion"),
        ("expired", "idp-a", "still valid"),
        ("wrong_audience", "idp-a", "audience"),
        ("unsigned", "idp-a", "signed"),
        ("sha1", "idp-a", "SHA-256"),
    ] {
        let r = sign_in(&app, &p, &owner.email, attack, key).await.expect_err(attack);
        assert_eq!((r.status, r.code()), (StatusCode::BAD_REQUEST, "saml_response_rejected"), "{attack}: {:?}", r.body);
        assert!(r.body["detail"].as_str().unwrap_or_default().contains(why), "{attack}: {:?}", r.body);
    }
    // A comment inside the NameID does not make it read as the owner's address.
    let r = sign_in(&app, &p, &owner.email, "comment", "idp-a").await.expect_err("comment");
    assert_eq!((r.status, r.code()), (StatusCode::FORBIDDEN, "sso_not_a_member"), "{:?}", r.body);
    // A response for a request never made (or another provider's) is refused.
    let forged = signed(&app, &p, "_00000000000000000000000000000000", &owner.email, "valid", "idp-a");
    let r = TestApp::reply(post_acs(&app, &p, &forged, Some(&elsewhere.cookie)).await).await;
    assert_eq!((r.status, r.code()), (StatusCode::BAD_REQUEST, "saml_response_rejected"));
    // Someone the provider knows who is not a member (and no provisioning): refused.
    let r = sign_in(&app, &p, &other.email, "valid", "idp-a").await.expect_err("stranger");
    assert_eq!((r.status, r.code()), (StatusCode::FORBIDDEN, "sso_not_a_member"));

    // Switched off, the provider takes no sign-ins; the ETag guards changes.
    let path = format!("/v1/orgs/{}/sso-providers/acme", owner.org);
    let etag = app.get(&path, &owner.access).await.body["etag"].as_str().unwrap().to_owned();
    let patch = |tag: String| {
        app.http
            .request(Method::PATCH, format!("{}{path}", app.base))
            .bearer_auth(&owner.access)
            .header("If-Match", tag)
            .json(&json!({"enabled": false}))
    };
    assert_eq!(patch("\"p99\"".into()).send().await.unwrap().status(), StatusCode::PRECONDITION_FAILED);
    assert_eq!(patch(etag).send().await.unwrap().status(), StatusCode::OK);
    let r = app.no_redirects().get(format!("{}/v1/sso/acme/login", app.base)).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let (_, start_calls) = switchboard::store::count_calls(switchboard::service::federation::sso::login::start(
        &app.ctx, &name, web, None,
    ))
    .await;
    assert_eq!(start_calls.calls, 1, "a disabled provider is one read");
}

async fn saml_just_in_time_members_and_second_factor(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let owner = app.signup("jit", "web").await;
    let domain = crate::takeover::verified_domain(&app, &owner, "jit").await;
    let r = app.post_auth(&format!("/v1/orgs/{}/sso-providers", owner.org), &owner.access, json!({"title": "t", "name": "jitadmin", "entity_id": IDP, "metadata_xml": "<x/>", "jit_provisioning": true, "jit_role": "admin"})).await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid_jit_role"),
        "provisioning never hands out admin"
    );
    let p = add_provider(&app, &owner, "jitco", json!({"jit_provisioning": true})).await;

    // Someone new on the verified domain becomes an agent, with the provider's name for them.
    let newbie = format!("nina@{domain}");
    let (code, calls) = {
        let begun = start(&app, &p, "mobile").await;
        let response = signed(&app, &p, &begun.id, &newbie, "valid", "idp-a");
        let name = switchboard::domain::sso::ProviderName::parse("jitco", "n").unwrap();
        let secret = begun.cookie.split_once('=').unwrap().1.to_owned();
        let (out, calls) = switchboard::store::count_calls(switchboard::service::federation::sso::login::consume(
            &app.ctx,
            &name,
            &response,
            Some(&secret),
        ))
        .await;
        let to = out.unwrap().redirect_to;
        (to.split_once("code=").unwrap().1.to_owned(), calls.calls)
    };
    println!("round trips: ACS with just-in-time membership {calls}");
    let (tokens, exchange_calls) = switchboard::store::count_calls(
        switchboard::service::federation::sso::login::exchange(&app.ctx, &code, "test"),
    )
    .await;
    println!("round trips: code exchange {}", exchange_calls.calls);
    let tokens = match tokens.unwrap() {
        switchboard::service::LoginOutcome::Tokens(t) => t,
        _ => panic!("no second factor for a new member"),
    };
    assert_eq!(tokens.organization_id.as_ref().map(|o| o.as_str()), Some(owner.org.as_str()));
    assert_eq!(tokens.roles, vec![switchboard::domain::Role::Agent]);
    let me = app.get("/v1/me", &tokens.access_token).await;
    assert_eq!(
        (me.body["user"]["first_name"].as_str(), me.body["user"]["email"].as_str()),
        (Some("Nina"), Some(newbie.as_str()))
    );
    // Known now: the next sign-in finds the membership.
    assert!(sign_in(&app, &p, &newbie, "valid", "idp-a").await.is_ok());
    // Not on a verified domain: no membership.
    let r = sign_in(&app, &p, "someone@elsewhere.test", "valid", "idp-a").await.expect_err("foreign domain");
    assert_eq!((r.status, r.code()), (StatusCode::FORBIDDEN, "sso_not_a_member"));

    // Two-factor on: the provider's sign-in alone does not open a session...
    link_as(&app, &p, &owner, &owner.email).await.expect("the owner links the provider");
    let r = app.post_auth("/v1/me/2fa", &owner.access, json!({})).await;
    let secret = r.body["secret"].as_str().unwrap().to_owned();
    let bytes = totp_rs::Secret::Encoded(secret).to_bytes().unwrap();
    let totp = totp_rs::TOTP::new(totp_rs::Algorithm::SHA1, 6, 1, 30, bytes).unwrap();
    let r = app
        .post_auth("/v1/me/2fa/confirm", &owner.access, json!({"code": totp.generate(app.clock_now() as u64)}))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let code = sign_in(&app, &p, &owner.email, "valid", "idp-a").await.unwrap();
    let r = app.post("/v1/auth/sso/token", json!({"code": code})).await;
    assert_eq!((r.status, r.body["mfa_required"].as_bool()), (StatusCode::OK, Some(true)), "{:?}", r.body);
    let r = app
        .post(
            "/v1/auth/login/2fa",
            json!({"mfa_token": r.body["mfa_token"], "code": totp.generate(app.clock_now() as u64 + 30)}),
        )
        .await;
    assert_eq!(
        (r.status, r.body["organization_id"].as_str()),
        (StatusCode::OK, Some(owner.org.as_str())),
        "{:?}",
        r.body
    );
    // ...unless the organization says the provider's sign-in counts as the second factor.
    let path = format!("/v1/orgs/{}/sso-providers/jitco", owner.org);
    let etag = app.get(&path, &owner.access).await.body["etag"].as_str().unwrap().to_owned();
    let r = app
        .http
        .patch(format!("{}{path}", app.base))
        .bearer_auth(&owner.access)
        .header("If-Match", etag)
        .json(&json!({"counts_as_second_factor": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let code = sign_in(&app, &p, &owner.email, "valid", "idp-a").await.unwrap();
    let r = app.post("/v1/auth/sso/token", json!({"code": code})).await;
    assert!(r.body["access_token"].is_string(), "{:?}", r.body);
}

/// O runs organization A with his own identity provider, which he says counts as a second
/// factor; D owns B and is a member of A. A's provider signing D in opens a session that
/// works in A (and beneath it) only: it cannot switch to B, read B, or refresh its way there.
/// D's own sign-in works everywhere as before.
async fn a_provider_vouches_for_its_organization_only(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let o = app.signup("confine-o", "web").await;
    let d = app.signup("confine-d", "web").await;
    app.add_member(&d.id, &o.org, &[Role::Agent], Scope::Subtree, Manage::All).await;
    let sub = app.sub_account(&o.access, &o.org, "A's branch").await;
    let p = add_provider(&app, &o, "confineco", json!({"counts_as_second_factor": true})).await;
    // D's address is not on A's verified domains: D consents to A's provider, from D's own session.
    link_as(&app, &p, &d, &d.email).await.expect("D links A's provider");

    let code = sign_in(&app, &p, &d.email, "valid", "idp-a").await.expect("signed in at A");
    let r = app.post("/v1/auth/sso/token", json!({"code": code})).await;
    assert_eq!((r.status, r.body["organization_id"].as_str()), (StatusCode::OK, Some(o.org.as_str())), "{:?}", r.body);
    let (access, refresh) = (r.body["access_token"].as_str().unwrap(), r.body["refresh_token"].as_str().unwrap());

    let r = app.post_auth("/v1/auth/switch", access, json!({"organization_id": d.org})).await;
    assert_eq!((r.status, r.code()), (StatusCode::FORBIDDEN, "session_confined"), "{:?}", r.body);
    for path in [format!("/v1/orgs/{}/members", d.org), format!("/v1/orgs/{}/settings", d.org)] {
        let r = app.get(&path, access).await;
        assert_eq!((r.status, r.code()), (StatusCode::FORBIDDEN, "session_confined"), "{path}: {:?}", r.body);
    }
    let r = app.post_auth(&format!("/v1/orgs/{}/invitations", d.org), access, json!({"emails": [o.email]})).await;
    assert_eq!((r.status, r.code()), (StatusCode::FORBIDDEN, "session_confined"), "{:?}", r.body);
    // What D's membership of A reaches is open to it.
    let r = app.post_auth("/v1/auth/switch", access, json!({"organization_id": sub})).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let r = app.post("/v1/auth/refresh", json!({"refresh_token": refresh})).await;
    assert_eq!((r.status, r.body["organization_id"].as_str()), (StatusCode::OK, Some(sub.as_str())), "{:?}", r.body);
    let refresh = r.body["refresh_token"].as_str().unwrap().to_owned();
    // D leaves A: the session has nowhere to work, and a refresh does not carry it to B,
    // where D is the owner.
    let r = app
        .call(
            Method::DELETE,
            &format!("/v1/orgs/{}/members/{}", o.org, d.id),
            Some(&o.access),
            Some(json!({"reassign_to": o.id, "seat": "keep"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{:?}", r.body);
    let r = app.post("/v1/auth/refresh", json!({"refresh_token": refresh})).await;
    assert_eq!((r.status, &r.body["organization_id"]), (StatusCode::OK, &Value::Null), "{:?}", r.body);

    // D's own password: everywhere, as before.
    let own = app.login(&d.email, &d.password, "web").await;
    let r = app
        .post_auth("/v1/auth/switch", own["access_token"].as_str().unwrap(), json!({"organization_id": d.org}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
}
