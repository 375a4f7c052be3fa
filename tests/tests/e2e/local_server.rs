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
