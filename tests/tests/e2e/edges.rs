//! How a request is judged, in order (issue 33): who is asking before what they sent, one
//! answer for a body too large however it arrives, and If-Match compared strongly.

use e2e::{Engine, TestApp};
use reqwest::StatusCode;
use serde_json::json;

both_engines!(a_listing_that_ends_says_so);
dynoxide_only!(
    requests_are_judged_in_order,
    company_domains_match_in_their_ascii_form,
    a_domain_not_yet_verified_can_be_claimed_again,
    settings_merge_nested_objects_member_by_member,
    an_existing_login_is_invited_in_their_own_language,
);

async fn requests_are_judged_in_order(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let owner = app.signup("edges", "web").await;
    let url = format!("{}/v1/orgs", app.base);

    // No token and a malformed key: 401, as without the key.
    for key in ["", &"k".repeat(300)] {
        let r = app.http.post(&url).header("Idempotency-Key", key).json(&json!({"name": "X"})).send().await.unwrap();
        let r = TestApp::reply(r).await;
        assert_eq!((r.status, r.code()), (StatusCode::UNAUTHORIZED, "unauthenticated"), "{key:?}: {:?}", r.body);
    }
    // With a token, the key is judged.
    let r = app.http.post(&url).bearer_auth(&owner.access).header("Idempotency-Key", "").json(&json!({"name": "X"}));
    let r = TestApp::reply(r.send().await.unwrap()).await;
    assert_eq!((r.status, r.code()), (StatusCode::UNPROCESSABLE_ENTITY, "invalid_idempotency_key"));

    // Too large: 413, with a key or without; with a key also past what the key's layer reads
    // (1 MiB). Just past it, so the server has read nearly all the body before it answers.
    for (size, keys) in [(100 * 1024, vec![None, Some("too-large")]), (1024 * 1024 + 512, vec![Some("too-large")])] {
        let body = format!("{{\"name\": \"{}\"}}", "x".repeat(size));
        for key in keys {
            let mut req = app.http.post(&url).bearer_auth(&owner.access).header("content-type", "application/json");
            if let Some(k) = key {
                req = req.header("Idempotency-Key", format!("{k}-{size}"));
            }
            let r = TestApp::reply(req.body(body.clone()).send().await.unwrap()).await;
            assert_eq!((r.status, r.code()), (StatusCode::PAYLOAD_TOO_LARGE, "body_too_large"), "{size} {key:?}");
        }
    }

    // If-Match compares strongly: the current tag, weakened, does not match.
    let path = format!("{}/v1/orgs/{}/settings", app.base, owner.org);
    let got = app.http.get(&path).bearer_auth(&owner.access).send().await.unwrap();
    let tag = got.headers()["etag"].to_str().unwrap().to_owned();
    let patch = |if_match: String| {
        app.http
            .patch(&path)
            .bearer_auth(&owner.access)
            .header("If-Match", if_match)
            .json(&json!({"default_language": "nl"}))
    };
    let r = TestApp::reply(patch(format!("W/{tag}")).send().await.unwrap()).await;
    assert_eq!((r.status, r.code()), (StatusCode::PRECONDITION_FAILED, "precondition_failed"), "{:?}", r.body);
    assert_eq!(patch(tag).send().await.unwrap().status(), StatusCode::OK);
}

/// A company domain written in Unicode is kept as punycode; an address on it, written either
/// way, is on the company's domain.
async fn company_domains_match_in_their_ascii_form(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let owner = app.signup("idna", "web").await;
    let domain = format!("bücher-{}.test", ulid::Ulid::new().to_string().to_lowercase());
    let dpath = format!("/v1/orgs/{}/domains", owner.org);
    let r = app.post_auth(&dpath, &owner.access, json!({"domain": domain})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let v = &r.body["verification"];
    app.dns.add_txt(v["record_name"].as_str().unwrap(), &[v["value"].as_str().unwrap()]).await;
    let ascii = r.body["domain"].as_str().unwrap().to_owned();
    assert!(ascii.starts_with("xn--"), "{ascii}");
    let r = app.post_auth(&format!("{dpath}/{ascii}/verify"), &owner.access, json!({})).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let path = format!("{}/v1/orgs/{}/settings", app.base, owner.org);
    let tag = app.http.get(&path).bearer_auth(&owner.access).send().await.unwrap().headers()["etag"].clone();
    let r = app
        .http
        .patch(&path)
        .bearer_auth(&owner.access)
        .header("If-Match", tag)
        .json(&json!({"coworkers_on_company_domains_only": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let r = app
        .post_auth(
            &format!("/v1/orgs/{}/invitations", owner.org),
            &owner.access,
            json!({"invitations": [
                {"email": format!("anna@{domain}"), "roles": ["agent"]},
                {"email": format!("ben@{ascii}"), "roles": ["agent"]},
                {"email": "cas@elsewhere.example", "roles": ["agent"]},
            ]}),
        )
        .await;
    let statuses: Vec<&str> =
        r.body["results"].as_array().unwrap().iter().map(|o| o["code"].as_str().unwrap_or("invited")).collect();
    assert_eq!(statuses, vec!["invited", "invited", "domain_not_approved"], "{:?}", r.body);
}

/// A page that holds the rest of a listing has no cursor: none leads to an empty page.
async fn a_listing_that_ends_says_so(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let owner = app.signup("pages", "web").await;
    let members = format!("/v1/orgs/{}/members", owner.org);
    let r = app.get(&format!("{members}?limit=1"), &owner.access).await;
    assert_eq!(
        (r.body["members"].as_array().map(Vec::len), &r.body["next_cursor"]),
        (Some(1), &json!(null)),
        "{:?}",
        r.body
    );
    let other = app.signup("pages-other", "web").await;
    app.add_member(&other.id, &owner.org, &[switchboard::domain::Role::Agent], Default::default(), Default::default())
        .await;
    let first = app.get(&format!("{members}?limit=1"), &owner.access).await;
    let cursor = first.body["next_cursor"].as_str().expect("a second page").to_owned();
    let second = app.get(&format!("{members}?limit=1&cursor={cursor}"), &owner.access).await;
    assert_eq!(
        (second.body["members"].as_array().map(Vec::len), &second.body["next_cursor"]),
        (Some(1), &json!(null)),
        "{:?}",
        second.body
    );
    let r = app.get(&format!("{members}?limit=2"), &owner.access).await;
    assert_eq!((r.body["members"].as_array().map(Vec::len), &r.body["next_cursor"]), (Some(2), &json!(null)));
}

/// A claim whose token was lost is claimed again: a new token, which verifies; the first no
/// longer does. Once verified, claiming again is refused.
async fn a_domain_not_yet_verified_can_be_claimed_again(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let owner = app.signup("reclaim", "web").await;
    for kind in ["domains", "email-to-sms-domains"] {
        let domain = format!("reclaim-{}.test", ulid::Ulid::new().to_string().to_lowercase());
        let dpath = format!("/v1/orgs/{}/{kind}", owner.org);
        let first = app.post_auth(&dpath, &owner.access, json!({"domain": domain})).await;
        assert_eq!(first.status, StatusCode::CREATED, "{:?}", first.body);
        let again = app.post_auth(&dpath, &owner.access, json!({"domain": domain})).await;
        assert_eq!(again.status, StatusCode::CREATED, "{kind}: {:?}", again.body);
        let (old, new) = (&first.body["verification"], &again.body["verification"]);
        assert_ne!(old["value"], new["value"], "{kind}: a new token");
        app.dns.add_txt(old["record_name"].as_str().unwrap(), &[old["value"].as_str().unwrap()]).await;
        let r = app.post_auth(&format!("{dpath}/{domain}/verify"), &owner.access, json!({})).await;
        assert_ne!(
            r.body["verified"].as_bool(),
            Some(true),
            "{kind}: the lost token no longer proves it: {:?}",
            r.body
        );
        app.dns.add_txt(new["record_name"].as_str().unwrap(), &[new["value"].as_str().unwrap()]).await;
        let r = app.post_auth(&format!("{dpath}/{domain}/verify"), &owner.access, json!({})).await;
        assert_eq!((r.status, r.body["verified"].as_bool()), (StatusCode::OK, Some(true)), "{kind}: {:?}", r.body);
        let r = app.post_auth(&dpath, &owner.access, json!({"domain": domain})).await;
        assert_eq!((r.status, r.code()), (StatusCode::CONFLICT, "domain_already_verified"), "{kind}");
    }
}

/// A merge patch of settings merges nested objects member by member (RFC 7396 §2), sent as
/// `application/merge-patch+json` or plain JSON.
async fn settings_merge_nested_objects_member_by_member(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let owner = app.signup("merge-patch", "web").await;
    let path = format!("{}/v1/orgs/{}/settings", app.base, owner.org);
    let patch = |body: serde_json::Value, kind: &'static str| {
        let app = &app;
        let (path, access) = (path.clone(), owner.access.clone());
        async move {
            let tag = app.http.get(&path).bearer_auth(&access).send().await.unwrap().headers()["etag"].clone();
            let r = app
                .http
                .patch(&path)
                .bearer_auth(&access)
                .header("If-Match", tag)
                .header("content-type", kind)
                .body(body.to_string())
                .send()
                .await
                .unwrap();
            TestApp::reply(r).await
        }
    };
    let full = json!({
        "contact": {"first_name": "Ann", "last_name": "Smith", "email": "ann@acme.example", "phone": "+31201234567"},
        "details": {"street": "Main", "number": "1", "zip": "1000 AA", "city": "Amsterdam", "country": "NL", "phone": "+31207654321"},
    });
    let r = patch(full, "application/json").await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let r = patch(json!({"contact": {"job_title": "Director"}}), "application/merge-patch+json").await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let contact = &r.body["own"]["contact"];
    assert_eq!(
        (contact["first_name"].as_str(), contact["email"].as_str(), contact["job_title"].as_str()),
        (Some("Ann"), Some("ann@acme.example"), Some("Director")),
        "{:?}",
        r.body
    );
    let r = patch(json!({"details": {"phone": null}}), "application/merge-patch+json").await;
    let details = &r.body["own"]["details"];
    assert_eq!((details["city"].as_str(), &details["phone"]), (Some("Amsterdam"), &json!(null)), "{:?}", r.body);
    // The whole object set to null clears it.
    let r = patch(json!({"contact": null}), "application/merge-patch+json").await;
    assert_eq!(r.body["own"]["contact"], json!(null), "{:?}", r.body);
}

/// An English organization invites someone who has a login in Dutch: the invitation is Dutch;
/// a new address gets the organization's language.
async fn an_existing_login_is_invited_in_their_own_language(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let owner = app.signup("lang-owner", "web").await;
    let dutch = app.signup("lang-dutch", "web").await;
    let r = app.send(reqwest::Method::PATCH, "/v1/me", &dutch.access, None, Some(json!({"language": "nl"}))).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let fresh = e2e::unique_email("lang-fresh");
    let r = app
        .post_auth(
            &format!("/v1/orgs/{}/invitations", owner.org),
            &owner.access,
            json!({"invitations": [{"email": dutch.email, "roles": ["agent"]}, {"email": fresh, "roles": ["agent"]}]}),
        )
        .await;
    assert_eq!(r.body["invited"], 2, "{:?}", r.body);
    app.run_mail_worker().await;
    let to_dutch = app.wait_link(&dutch.email, "accept-invitation").await;
    assert!(to_dutch.is_some());
    let mails = app.emails_to(&dutch.email).await;
    let invitation = mails.iter().find(|m| m.link("accept-invitation").is_some()).expect("the invitation");
    assert_eq!(invitation.language.as_deref(), Some("nl"), "{}", invitation.subject);
    let mails = app.wait_emails_to(&fresh, 1).await;
    assert_eq!(mails[0].language.as_deref(), Some("en"));
}
