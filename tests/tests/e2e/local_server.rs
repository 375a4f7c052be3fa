//! The embedded default keeps its data (and its signing keys) across restarts.

use local::{DataDir, app, open, serve};
use reqwest::StatusCode;
use serde_json::json;
use switchboard::config::Config;

async fn start(dir: &DataDir) -> (String, local::Engine, std::sync::Arc<switchboard::service::Ctx>) {
    let l = open(dir, Config::default(), 0).await.expect("open local");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let server = tokio::spawn(serve(listener, app(l.ctx.clone())));
    drop(server);
    (base, l.engine, l.ctx)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_survives_a_restart() {
    let dir = DataDir(std::env::temp_dir().join(format!("switchboard-local-{}", ulid::Ulid::new())));
    let http = reqwest::Client::new();
    let (base, engine, ctx) = start(&dir).await;
    let email = e2e::unique_email("restart");
    let r = http
        .post(format!("{base}/v1/auth/register"))
        .json(&json!({"email": email, "password": "survives restarts", "first_name": "R", "last_name": "S",
                      "organization_name": "Durable"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let jwks_before: serde_json::Value =
        http.get(format!("{base}/.well-known/jwks.json")).send().await.unwrap().json().await.unwrap();
    // The email queue's worker writes it shortly after the answer.
    let mut outbox = 0;
    for _ in 0..100 {
        outbox = std::fs::read_dir(dir.outbox()).map(|d| d.count()).unwrap_or(0);
        if outbox > 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(outbox, 1, "verification email in the outbox");
    drop(ctx);
    engine.shutdown().await.unwrap();

    let (base, _engine, _ctx) = start(&dir).await;
    let r = http
        .post(format!("{base}/v1/auth/login"))
        .json(&json!({"email": email, "password": "survives restarts", "client": "desktop"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let jwks_after: serde_json::Value =
        http.get(format!("{base}/.well-known/jwks.json")).send().await.unwrap().json().await.unwrap();
    assert_eq!(jwks_before, jwks_after, "signing keys persisted");
    let doc: serde_json::Value = http.get(format!("{base}/openapi.json")).send().await.unwrap().json().await.unwrap();
    assert!(doc["paths"]["/v1/auth/login"].is_object());
    let _ = std::fs::remove_dir_all(&dir.0);
}

/// `local digests --at`: a pass as of any time over the local data, emails in the outbox.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_digest_pass_runs_as_of_a_given_time() {
    let dir = DataDir(std::env::temp_dir().join(format!("switchboard-local-{}", ulid::Ulid::new())));
    let config = Config { service_token: Some("local-service-token".into()), ..Config::default() };
    let l = open(&dir, config.clone(), 0).await.expect("open local");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let server = tokio::spawn(serve(listener, app(l.ctx.clone())));
    let http = reqwest::Client::new();
    let email = e2e::unique_email("localdigest");
    let body = json!({"email": email, "password": "digests on demand", "first_name": "D", "last_name": "G",
                      "organization_name": "Local Digest"});
    assert_eq!(
        http.post(format!("{base}/v1/auth/register")).json(&body).send().await.unwrap().status(),
        StatusCode::ACCEPTED
    );
    let login: serde_json::Value = http
        .post(format!("{base}/v1/auth/login"))
        .json(&json!({"email": email, "password": "digests on demand", "client": "web"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let (token, org) = (login["access_token"].as_str().unwrap(), login["organization_id"].as_str().unwrap());
    let me: serde_json::Value =
        http.get(format!("{base}/v1/me")).bearer_auth(token).send().await.unwrap().json().await.unwrap();
    let path = format!("{base}/v1/orgs/{org}/email-settings");
    let doc: serde_json::Value = http.get(&path).bearer_auth(token).send().await.unwrap().json().await.unwrap();
    let r = http
        .patch(&path)
        .bearer_auth(token)
        .header("If-Match", doc["etag"].as_str().unwrap())
        .json(&json!({"types": {"missed_calls": {"interval": "weekly"}}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let event = json!({"organization_id": org, "type": "missed_call", "recipients": {"user_ids": [me["user"]["id"]]},
                       "idempotency_key": "call-1", "occurred_at": "2026-12-01T10:00:00Z", "subject": "+31 20 555 0100"});
    let r = http
        .post(format!("{base}/internal/v1/notification-events"))
        .header("x-switchboard-service-token", "local-service-token")
        .json(&event)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let files = || std::fs::read_dir(dir.outbox()).map(|d| d.count()).unwrap_or(0);
    // The verification email, written by the server's worker shortly after registering.
    for _ in 0..100 {
        if files() > 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    server.abort();
    drop(l.ctx);
    l.engine.shutdown().await.unwrap();

    let before = files();
    assert_eq!(before, 1, "only the verification email so far: missed calls wait for the weekly digest");
    // Monday 7 December, 08:00 UTC (the organization's default timezone).
    let at = chrono::DateTime::parse_from_rfc3339("2026-12-07T08:00:00+00:00").unwrap().with_timezone(&chrono::Utc);
    let early = local::digests_at(&dir, config.clone(), at - chrono::Duration::minutes(1)).await.expect("pass");
    assert_eq!(early.claimed, 0);
    let report = local::digests_at(&dir, config, at).await.expect("pass");
    assert_eq!((report.claimed, report.queued), (1, 1), "{report:?}");
    assert_eq!(files(), before + 1, "the weekly digest is in the outbox when the command returns");
    let _ = std::fs::remove_dir_all(&dir.0);
}
