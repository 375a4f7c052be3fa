//! OAuth 2.1 for integrations through HTTP, driven by authlib (a Python OAuth client nobody
//! here wrote, `tests/oauth/client.py`): registration, the code flow with PKCE, refresh
//! rotation and reuse detection, revocation, client credentials; and the refusals: wrong
//! redirect, scope escalation, missing or wrong verifier, code and refresh reuse, another
//! organization's client, tokens of one kind spent as the other.

use std::path::PathBuf;

use e2e::{Engine, TestApp, User};
use reqwest::StatusCode;
use serde_json::{Value, json};

dynoxide_only!(oauth_code_flow_with_a_real_client, oauth_registration_and_refusals);

const REDIRECT: &str = "http://127.0.0.1:9/callback";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn authlib(params: Value) -> Value {
    let python = root().join(".venv/bin/python");
    assert!(python.exists(), "{} is missing: run scripts/test.sh (it installs authlib into .venv)", python.display());
    let out = std::process::Command::new(python)
        .arg(root().join("tests/oauth/client.py"))
        .arg(params.to_string())
        .output()
        .expect("run tests/oauth/client.py");
    assert!(out.status.success(), "client.py failed: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

async fn register(app: &TestApp, owner: &User, body: Value) -> e2e::Reply {
    app.post_auth(&format!("/v1/orgs/{}/applications", owner.org), &owner.access, body).await
}

async fn oauth_code_flow_with_a_real_client(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let owner = app.signup("oauth", "web").await;
    let r = register(
        &app,
        &owner,
        json!({"name": "CRM sync", "redirect_uris": [REDIRECT], "resources": ["profile", "members:read"]}),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let client_id = r.body["client_id"].as_str().unwrap().to_owned();
    let secret = r.body["client_secret"].as_str().unwrap().to_owned();
    assert_eq!(secret.len(), 43, "256 random bits");
    // A blocking client: run it off the async runtime that serves it.
    let params = json!({
        "api": app.base, "web": "https://app.switchboard.test", "user_token": owner.access,
        "client_id": client_id, "client_secret": secret, "redirect_uri": REDIRECT, "scope": "profile members:read",
    });
    let report = tokio::task::spawn_blocking(move || authlib(params)).await.unwrap();
    println!("authlib report: {report}");
    assert_eq!(report["metadata_pkce"], json!(["S256"]));
    assert_eq!(report["redirect_has_state_and_iss"], true);
    assert_eq!((report["scope"].as_str(), report["has_refresh"].as_bool()), (Some("profile members:read"), Some(true)));
    assert_eq!(report["userinfo"]["status"], 200);
    assert_eq!(report["userinfo"]["sub"].as_str(), Some(owner.id.as_str()));
    assert_eq!(report["userinfo"]["email"].as_str(), Some(owner.email.as_str()));
    assert_eq!(report["code_reuse"], "invalid_grant");
    assert_eq!(report["after_code_reuse_userinfo"], 401, "a reused code revokes what it gave");
    assert_eq!(report["refresh_rotated"], true);
    assert_eq!(report["refresh_escalation"], "invalid_scope");
    assert_eq!(report["refresh_reuse"], "invalid_grant");
    assert_eq!(report["after_refresh_reuse"], "invalid_grant", "reuse ends the whole family");
    assert_eq!(report["older_refresh_reuse"], "invalid_grant");
    assert_eq!(report["after_older_refresh_reuse"], "invalid_grant", "a token replaced twice ends the family too");
    assert_eq!(report["userinfo_without_profile"]["status"], 403);
    let challenge = report["userinfo_without_profile"]["www_authenticate"].as_str().unwrap_or_default();
    assert!(challenge.starts_with("Bearer error=\"insufficient_scope\""), "{challenge}");
    assert_eq!(report["missing_verifier"], "invalid_grant");
    assert_eq!(report["wrong_verifier"], "invalid_grant");
    assert_eq!(report["revoke"], json!({"status": 200, "before": 200, "after": 401}));
    assert_eq!(report["refresh_after_revoke"], "invalid_grant");
    assert_eq!(report["client_credentials"], json!({"scope": "members:read", "refresh": false}));
    assert_eq!(report["client_credentials_profile"], "invalid_scope");
    assert_eq!(report["wrong_secret"], "invalid_client");

    // The person sees what they authorized and can withdraw it.
    let list = app.get("/v1/me/applications", &owner.access).await;
    assert_eq!(list.body[0]["client_id"].as_str(), Some(client_id.as_str()), "{:?}", list.body);
    let r =
        app.call(reqwest::Method::DELETE, &format!("/v1/me/applications/{client_id}"), Some(&owner.access), None).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert_eq!(app.get("/v1/me/applications", &owner.access).await.body, json!([]));
}

fn query(url: &str) -> std::collections::HashMap<String, String> {
    url::Url::parse(url).unwrap().query_pairs().into_owned().collect()
}

async fn oauth_registration_and_refusals(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let owner = app.signup("oauth-refuse", "web").await;
    let stranger = app.signup("oauth-stranger", "web").await;
    for (body, code) in [
        (
            json!({"name": "x", "redirect_uris": ["http://app.example/cb"], "resources": ["profile"]}),
            "invalid_redirect_uri",
        ),
        (json!({"name": "x", "redirect_uris": [REDIRECT], "resources": ["admin"]}), "invalid_resource"),
        (json!({"name": "x", "redirect_uris": [REDIRECT], "resources": []}), "resources_required"),
    ] {
        let r = register(&app, &owner, body).await;
        assert_eq!((r.status, r.code()), (StatusCode::UNPROCESSABLE_ENTITY, code), "{:?}", r.body);
    }
    let r = register(&app, &owner, json!({"name": "App", "redirect_uris": [REDIRECT], "resources": ["profile"]})).await;
    let client_id = r.body["client_id"].as_str().unwrap().to_owned();
    let secret = r.body["client_secret"].as_str().unwrap().to_owned();
    let got = app.get(&format!("/v1/orgs/{}/applications/{client_id}", owner.org), &owner.access).await;
    assert!(got.body.get("client_secret").is_none(), "the secret is shown once");
    let listed = app.get(&format!("/v1/orgs/{}/applications", owner.org), &owner.access).await;
    assert_eq!(listed.body.as_array().map(Vec::len), Some(1));

    // RFC 7636 appendix B's verifier and challenge.
    let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
    let ask = |redirect: &str, scope: &str| {
        json!({"client_id": client_id, "redirect_uri": redirect, "response_type": "code", "scope": scope,
               "state": "s1", "code_challenge": challenge, "code_challenge_method": "S256", "decision": "allow"})
    };
    // A loopback redirect matches on any port (RFC 8252 §7.3): a native app's port is the
    // system's choice; only the port may differ.
    let r =
        app.post_auth("/v1/oauth/authorize", &owner.access, ask("http://127.0.0.1:51234/callback", "profile")).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert!(
        r.body["redirect_to"].as_str().unwrap().starts_with("http://127.0.0.1:51234/callback?code="),
        "{:?}",
        r.body
    );
    let r = app.post_auth("/v1/oauth/authorize", &owner.access, ask("http://127.0.0.1:51234/callbac", "profile")).await;
    assert_eq!((r.status, r.code()), (StatusCode::BAD_REQUEST, "invalid_request"), "{:?}", r.body);
    // An unregistered redirect is never followed: the error comes back, not a redirect.
    let r = app.post_auth("/v1/oauth/authorize", &owner.access, ask("http://127.0.0.1:9/other", "profile")).await;
    assert_eq!((r.status, r.code()), (StatusCode::BAD_REQUEST, "invalid_request"), "{:?}", r.body);
    // Scopes the application was not given: invalid_scope, back to the client.
    let r = app.post_auth("/v1/oauth/authorize", &owner.access, ask(REDIRECT, "profile members:read")).await;
    let q = query(r.body["redirect_to"].as_str().unwrap());
    assert_eq!(
        (q.get("error").map(String::as_str), q.get("state").map(String::as_str)),
        (Some("invalid_scope"), Some("s1"))
    );
    // Plain PKCE is refused.
    let mut plain = ask(REDIRECT, "profile");
    plain["code_challenge_method"] = json!("plain");
    let r = app.post_auth("/v1/oauth/authorize", &owner.access, plain).await;
    assert_eq!(
        query(r.body["redirect_to"].as_str().unwrap()).get("error").map(String::as_str),
        Some("invalid_request")
    );
    // Another organization's member cannot authorize this organization's application.
    let r = app.post_auth("/v1/oauth/authorize", &stranger.access, ask(REDIRECT, "profile")).await;
    assert_eq!((r.status, r.code()), (StatusCode::BAD_REQUEST, "access_denied"), "{:?}", r.body);
    // Denied: the client hears access_denied.
    let mut deny = ask(REDIRECT, "profile");
    deny["decision"] = json!("deny");
    let r = app.post_auth("/v1/oauth/authorize", &owner.access, deny).await;
    assert_eq!(query(r.body["redirect_to"].as_str().unwrap()).get("error").map(String::as_str), Some("access_denied"));

    // A code for this client, spent by another organization's client: refused.
    let r = app.post_auth("/v1/oauth/authorize", &owner.access, ask(REDIRECT, "profile")).await;
    let code = query(r.body["redirect_to"].as_str().unwrap())["code"].clone();
    let other =
        register(&app, &stranger, json!({"name": "Other", "redirect_uris": [REDIRECT], "resources": ["profile"]}))
            .await;
    let token = |id: &str, sec: &str, code: &str| {
        let form = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("grant_type", "authorization_code")
            .append_pair("code", code)
            .append_pair("redirect_uri", REDIRECT)
            .append_pair("code_verifier", verifier)
            .append_pair("client_id", id)
            .append_pair("client_secret", sec)
            .finish();
        app.http
            .post(format!("{}/v1/oauth/token", app.base))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form)
            .send()
    };
    let r = token(other.body["client_id"].as_str().unwrap(), other.body["client_secret"].as_str().unwrap(), &code)
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(r.json::<Value>().await.unwrap()["error"], "invalid_grant");
    // The rightful client still can (the thief did not burn it), once.
    let r = token(&client_id, &secret, &code).await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["cache-control"], "no-store");
    let tokens: Value = r.json().await.unwrap();
    let access = tokens["access_token"].as_str().unwrap().to_owned();

    // An integration's token is not a session's, nor the reverse.
    assert_eq!(app.get("/v1/me", &access).await.status, StatusCode::UNAUTHORIZED);
    let r = app.http.get(format!("{}/v1/oauth/userinfo", app.base)).bearer_auth(&owner.access).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    // The token names this service's accounts resource as its audience, and the organization.
    let claims: Value = {
        use base64::Engine;
        let part = access.split('.').nth(1).unwrap();
        serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
    };
    assert!(claims["aud"].as_str().unwrap().ends_with("/accounts") && claims["org"] == json!(owner.org), "{claims}");

    // Round trips of each grant and of userinfo, counted in the service.
    let r = app.post_auth("/v1/oauth/authorize", &owner.access, ask(REDIRECT, "profile")).await;
    let fresh = query(r.body["redirect_to"].as_str().unwrap())["code"].clone();
    let request = |grant: &str| switchboard::service::federation::oauth::tokens::TokenRequest {
        grant_type: grant.into(),
        client_id: Some(client_id.clone()),
        client_secret: Some(secret.clone()),
        ..Default::default()
    };
    let code_req = switchboard::service::federation::oauth::tokens::TokenRequest {
        code: Some(fresh),
        redirect_uri: Some(REDIRECT.into()),
        code_verifier: Some(verifier.into()),
        ..request("authorization_code")
    };
    let (t, code_calls) =
        switchboard::store::count_calls(switchboard::service::federation::oauth::tokens::token(&app.ctx, code_req))
            .await;
    let t = t.unwrap();
    let refresh_req = switchboard::service::federation::oauth::tokens::TokenRequest {
        refresh_token: t.refresh_token.clone(),
        ..request("refresh_token")
    };
    let (_, refresh_calls) =
        switchboard::store::count_calls(switchboard::service::federation::oauth::tokens::token(&app.ctx, refresh_req))
            .await;
    let (info, info_calls) =
        switchboard::store::count_calls(switchboard::service::federation::oauth::userinfo(&app.ctx, &t.access_token))
            .await;
    assert!(info.is_ok());
    println!("round trips: code {}, refresh {}, userinfo {}", code_calls.calls, refresh_calls.calls, info_calls.calls);
    assert_eq!(
        (code_calls.calls, refresh_calls.calls, info_calls.calls),
        (5, 4, 4),
        "code: app, code, spend, membership, grant; refresh: app, grant, membership, rotate; userinfo: grant, app, membership, profile"
    );

    // The messaging service asks whether a token is live (RFC 7662); only it may ask.
    let introspect = |token: String, service: bool| {
        let form = url::form_urlencoded::Serializer::new(String::new()).append_pair("token", &token).finish();
        let mut req = app
            .http
            .post(format!("{}/internal/v1/oauth/introspect", app.base))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form);
        if service {
            req = req.header("x-switchboard-service-token", &app.service_token);
        }
        req.send()
    };
    let r: Value = introspect(access.clone(), true).await.unwrap().json().await.unwrap();
    assert_eq!(
        (r["active"].as_bool(), r["client_id"].as_str(), r["org"].as_str()),
        (Some(true), Some(client_id.as_str()), Some(owner.org.as_str())),
        "{r}"
    );
    assert_eq!(introspect(access.clone(), false).await.unwrap().status(), StatusCode::FORBIDDEN);
    let r: Value = introspect(owner.access.clone(), true).await.unwrap().json().await.unwrap();
    assert_eq!(r, json!({"active": false}), "a session's token is no integration's");

    // A rotated secret stops the old one at once; a removed application's tokens stop at the next request.
    let r = app
        .post_auth(&format!("/v1/orgs/{}/applications/{client_id}/secret", owner.org), &owner.access, json!({}))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let r = token(&client_id, &secret, "x".repeat(43).as_str()).await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(r.json::<Value>().await.unwrap()["error"], "invalid_client");
    // A client of this API's own error format may ask for it.
    let form = format!("grant_type=client_credentials&client_id={client_id}&client_secret={secret}");
    let r = app
        .http
        .post(format!("{}/v1/oauth/token", app.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("accept", "application/problem+json")
        .body(form)
        .send()
        .await
        .unwrap();
    assert_eq!(
        (r.status(), r.headers()["content-type"].to_str().unwrap()),
        (StatusCode::UNAUTHORIZED, "application/problem+json")
    );
    assert_eq!(r.json::<Value>().await.unwrap()["code"], "invalid_client");
    let r = app
        .call(
            reqwest::Method::DELETE,
            &format!("/v1/orgs/{}/applications/{client_id}", owner.org),
            Some(&owner.access),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let r = app.http.get(format!("{}/v1/oauth/userinfo", app.base)).bearer_auth(&access).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let r: Value = introspect(access.clone(), true).await.unwrap().json().await.unwrap();
    assert_eq!(r, json!({"active": false}), "and the messaging service hears so on its next check");
}
