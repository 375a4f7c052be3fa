//! Every way an access token must be refused.

use base64::Engine as _;
use e2e::{Engine, TestApp};
use reqwest::StatusCode;
use switchboard::auth::KeySet;
use switchboard::auth::jwt::{AccessClaims, KeysConfig};
use switchboard::clock::OsRandom;

dynoxide_only!(tokens_are_refused_when_they_should_be, jwks_lets_others_verify_tokens);

fn b64(v: &serde_json::Value) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
}

async fn tokens_are_refused_when_they_should_be(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let (email, password, _) = app.register("tok").await;
    let pair = app.login(&email, &password, "api").await;
    let good = pair["access_token"].as_str().unwrap().to_owned();
    assert_eq!(app.get("/v1/me", &good).await.status, StatusCode::OK);
    let claims = app.ctx.keys.verify(&good, app.clock_now()).unwrap();
    let cfg = &app.ctx.config;

    let refused = |label: &'static str, token: String| {
        let app = &app;
        async move {
            let r = app.get("/v1/me", &token).await;
            assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{label}: {:?}", r.body);
            assert!(r.headers.get("www-authenticate").is_some(), "{label}");
        }
    };

    // Signed by another key (its kid is unknown here).
    let other = KeySet::from_config(&KeysConfig::generate(&OsRandom).unwrap(), &cfg.issuer, &cfg.audience).unwrap();
    refused("other key", other.sign(&claims).unwrap()).await;

    // Another key under our kid: the signature does not verify.
    let mut forged_cfg = KeysConfig::generate(&OsRandom).unwrap();
    let our_kid = jsonwebtoken_kid(&good);
    forged_cfg.keys[0].kid = our_kid.clone();
    let forged = KeySet::from_config(&forged_cfg, &cfg.issuer, &cfg.audience).unwrap();
    refused("same kid, wrong key", forged.sign(&claims).unwrap()).await;

    // Unknown kid, alg none, HS256 with the public key as secret.
    let parts: Vec<&str> = good.split('.').collect();
    let header = |h: serde_json::Value| format!("{}.{}.{}", b64(&h), parts[1], parts[2]);
    refused("unknown kid", header(serde_json::json!({"alg": "EdDSA", "kid": "nope", "typ": "at+jwt"}))).await;
    refused("alg none", format!("{}.{}.", b64(&serde_json::json!({"alg": "none", "kid": our_kid})), parts[1])).await;
    let jwks = app.ctx.keys.jwks().clone();
    let x = jwks["keys"][0]["x"].as_str().unwrap().to_owned();
    let mut hs = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    hs.kid = Some(our_kid.clone());
    let hs_token = jsonwebtoken::encode(&hs, &claims, &jsonwebtoken::EncodingKey::from_secret(x.as_bytes())).unwrap();
    refused("HS256 confusion", hs_token).await;

    // Tampered payload.
    let mut tampered: serde_json::Value =
        serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    tampered["roles"] = serde_json::json!(["owner"]);
    refused("tampered", format!("{}.{}.{}", parts[0], b64(&tampered), parts[2])).await;

    // Wrong issuer, wrong audience, wrong token type: all correctly signed by our key.
    let sign = |c: AccessClaims| app.ctx.keys.sign(&c).unwrap();
    refused("wrong iss", sign(AccessClaims { iss: "https://evil.example".into(), ..claims.clone() })).await;
    refused("wrong aud", sign(AccessClaims { aud: "another-api".into(), ..claims.clone() })).await;
    refused("refresh typ", sign(AccessClaims { typ: "refresh".into(), ..claims.clone() })).await;

    // The refresh token itself presented as an access token.
    refused("refresh as access", pair["refresh_token"].as_str().unwrap().to_owned()).await;
    refused("garbage", "not-a-jwt".into()).await;

    // Expired: move the clock past the access lifetime.
    app.clock.advance(cfg.access_ttl + chrono::Duration::seconds(1));
    refused("expired", good.clone()).await;

    // A valid, unexpired token whose session was revoked.
    let pair = app.login(&email, &password, "web").await;
    let live = pair["access_token"].as_str().unwrap().to_owned();
    assert_eq!(app.get("/v1/me", &live).await.status, StatusCode::OK);
    let c = app.ctx.keys.verify(&live, app.clock_now()).unwrap();
    app.ctx.store.delete_session(&c.sub, &c.sid).await.unwrap();
    refused("revoked session", live).await;

    // No header at all, and a non-bearer scheme.
    let r = app.http.get(format!("{}/v1/me", app.base)).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let r = app.http.get(format!("{}/v1/me", app.base)).basic_auth("a", Some("b")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
}

fn jsonwebtoken_kid(token: &str) -> String {
    jsonwebtoken::decode_header(token).unwrap().kid.unwrap()
}

/// A third party with only the published JWKS verifies our tokens (and checks iss/aud).
async fn jwks_lets_others_verify_tokens(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    // The third party checks expiry by its own clock: the service's stands at the real now.
    app.clock.set(chrono::Utc::now());
    let (email, password, _) = app.register("jwks").await;
    let token = app.login(&email, &password, "web").await["access_token"].as_str().unwrap().to_owned();
    let jwks: jsonwebtoken::jwk::JwkSet =
        app.http.get(format!("{}/.well-known/jwks.json", app.base)).send().await.unwrap().json().await.unwrap();
    let kid = jsonwebtoken_kid(&token);
    let jwk = jwks.find(&kid).expect("kid published");
    let key = jsonwebtoken::DecodingKey::from_jwk(jwk).unwrap();
    let mut v = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::EdDSA);
    v.set_issuer(&[&app.ctx.config.issuer]);
    v.set_audience(&[&app.ctx.config.audience]);
    let data = jsonwebtoken::decode::<serde_json::Value>(&token, &key, &v).expect("verifies with the JWKS");
    assert_eq!(data.claims["typ"], "access");
    assert_eq!(data.header.alg, jsonwebtoken::Algorithm::EdDSA);
    let lifetime = data.claims["exp"].as_i64().unwrap() - data.claims["iat"].as_i64().unwrap();
    assert!((300..=900).contains(&lifetime), "access tokens live 5-15 minutes, got {lifetime}s");
}
