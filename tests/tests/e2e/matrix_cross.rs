//! The authorization matrix's cross-organization rows: a session opened in one organization,
//! by whatever means, against every organization route of every other organization. The
//! person is an admin of M (beneath P, beside S, above C and G) and the owner of their own
//! organization X, so every refusal below is the session's, not the person's.
//!
//! - single sign-on through M's provider: as the matrix's admin column inside M and beneath
//!   it; refused (403) in S, P, the unrelated U and in X, where the person is the owner;
//! - an OAuth access token (client credentials of an application of X): no session, 401 on
//!   every route of every organization, X included;
//! - the person's own password session: X answers as to its owner (the control).
//!
//! `leave` is left out: it would end the membership the rows stand on (the main matrix
//! visits it last). These rows run on dynoxide: they test sessions, not storage, and the
//! main matrix covers both engines.

use std::collections::HashMap;

use e2e::{Engine, TestApp, User};
use reqwest::StatusCode;
use serde_json::json;
use switchboard::access::{Manage, Scope};
use switchboard::domain::Role;

use crate::matrix::{MATRIX, request};
use crate::sso::{add_provider, link_as, sign_in};

const TARGETS: [&str; 7] = ["own", "child", "grandchild", "sibling", "parent", "unrelated", "elsewhere"];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_stay_in_the_organization_they_were_opened_in() {
    let app = TestApp::spawn(Engine::Dynoxide).await;
    let (founder, parent, own, sibling, child, grandchild, unrelated) = crate::matrix::tree(&app, "cross").await;
    let person = app.signup("x-person", "web").await;
    app.add_member(&person.id, &own, &[Role::Admin], Scope::Subtree, Manage::All).await;
    let target: HashMap<&str, &String> = HashMap::from([
        ("own", &own),
        ("child", &child),
        ("grandchild", &grandchild),
        ("sibling", &sibling),
        ("parent", &parent),
        ("unrelated", &unrelated),
        ("elsewhere", &person.org),
    ]);

    // A session through M's provider (which says it counts as a second factor).
    let m_admin = User { org: own.clone(), ..founder.clone() };
    let p = add_provider(&app, &m_admin, "crossco", json!({"counts_as_second_factor": true})).await;
    link_as(&app, &p, &person, &person.email).await.expect("the person links M's provider");
    let code = sign_in(&app, &p, &person.email, "valid", "idp-a").await.expect("signed in at M");
    let t = app.post("/v1/auth/sso/token", json!({"code": code})).await;
    assert_eq!(t.body["organization_id"].as_str(), Some(own.as_str()), "{:?}", t.body);
    let sso = User { access: t.body["access_token"].as_str().unwrap().to_owned(), ..person.clone() };

    // An OAuth access token of an application of X.
    let r = app
        .post_auth(
            &format!("/v1/orgs/{}/applications", person.org),
            &person.access,
            json!({"name": "Sync", "redirect_uris": ["https://app.example/cb"], "resources": ["members:read"]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let (id, secret) = (r.body["client_id"].as_str().unwrap(), r.body["client_secret"].as_str().unwrap());
    let r = app
        .http
        .post(format!("{}/v1/oauth/token", app.base))
        .basic_auth(id, Some(secret))
        .form(&[("grant_type", "client_credentials"), ("scope", "members:read")])
        .send()
        .await
        .unwrap();
    let token: serde_json::Value = r.json().await.unwrap();
    let oauth =
        User { access: token["access_token"].as_str().expect("client credentials token").to_owned(), ..person.clone() };

    let mut checked = 0;
    let mut failures = Vec::new();
    for line in MATRIX.lines().skip(2).filter(|l| !l.trim().is_empty()) {
        let cols: Vec<&str> = line.split_whitespace().collect();
        let route = cols[0];
        if route == "leave" {
            continue;
        }
        // What the person's own credentials may do in X. X is a top-level organization, whose
        // owner may close it (a sub-account is closed from above: the matrix's `-`).
        let owner_may = cols[1].contains('O') || route == "close" || route == "restore";
        for (i, t) in TARGETS.iter().enumerate() {
            // The single sign-on session: M's rules for its admin inside M's subtree; refused
            // everywhere else, X (the person's own) included.
            let allowed = i < 3 && cols[i + 1].contains('A');
            let (status, code) = request(&app, &sso, route, target[t], &founder.id).await;
            let denied = status == StatusCode::FORBIDDEN && (code == "forbidden" || code == "session_confined");
            let ok = if allowed {
                !denied && status != StatusCode::UNAUTHORIZED && !status.is_server_error()
            } else {
                denied
            };
            // Where the owner could act in X, the refusal must be the session's.
            if *t == "elsewhere" && owner_may && code != "session_confined" {
                failures.push(format!(
                    "{route} in X through single sign-on: expected session_confined, got {status} {code}"
                ));
            } else if !ok {
                let want = if allowed { "allow" } else { "403" };
                failures.push(format!("{route} {t} through single sign-on: expected {want}, got {status} {code}"));
            }
            // The OAuth token is no session anywhere.
            let (status, code) = request(&app, &oauth, route, target[t], &founder.id).await;
            if status != StatusCode::UNAUTHORIZED {
                failures.push(format!("{route} {t} with an OAuth token: expected 401, got {status} {code}"));
            }
            checked += 2;
        }
        // The control: the person's own password session in X, as its owner.
        let (status, code) = request(&app, &person, route, &person.org, &founder.id).await;
        let allowed = owner_may;
        let denied = status == StatusCode::FORBIDDEN;
        if allowed == denied || status == StatusCode::UNAUTHORIZED || status.is_server_error() {
            failures.push(format!("{route} in X with the person's password: allowed {allowed}, got {status} {code}"));
        }
        checked += 1;
    }
    assert!(failures.is_empty(), "{} of {checked} cells wrong:\n{}", failures.len(), failures.join("\n"));
    let rows = MATRIX.lines().skip(2).filter(|l| !l.trim().is_empty()).count() - 1;
    assert_eq!(checked, rows * (TARGETS.len() * 2 + 1));
}
