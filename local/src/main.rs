//! `cargo run --release -p local`: the whole Switchboard API on http://127.0.0.1:3000, with
//! data in `.local/`, outgoing email as `.eml` files in `.local/outbox/` and text messages in
//! `.local/sms/`.
//!
//! Options: `--port N` (3000), `--dynamodb-port N` (0 = any free port), `--data-dir DIR`
//! (`.local`). `local keygen` prints a new signing-key set for AWS Secrets Manager.
//! `local digests --at 2026-12-07T08:00:00+01:00 [--data-dir DIR]` runs one digest pass as
//! of that time against the local data (the server runs one every minute by itself).

use std::path::PathBuf;

use local::{DataDir, app, open, serve};
use switchboard::auth::jwt::KeysConfig;
use switchboard::clock::OsRandom;
use switchboard::config::Config;

fn usage() -> ! {
    eprintln!(
        "usage: local [--port N] [--dynamodb-port N] [--data-dir DIR] | local keygen \
         | local digests --at RFC3339 [--data-dir DIR]"
    );
    std::process::exit(2)
}

#[tokio::main]
async fn main() -> Result<(), local::BoxError> {
    let mut args = std::env::args().skip(1);
    let (mut port, mut dynamo_port, mut data) = (3000u16, 0u16, PathBuf::from(".local"));
    let (mut digests, mut at) = (false, None);
    while let Some(a) = args.next() {
        let mut value = || args.next().unwrap_or_else(|| usage());
        match a.as_str() {
            "keygen" => {
                println!("{}", serde_json::to_string(&KeysConfig::generate(&OsRandom)?)?);
                return Ok(());
            }
            "--port" => port = value().parse().unwrap_or_else(|_| usage()),
            "--dynamodb-port" => dynamo_port = value().parse().unwrap_or_else(|_| usage()),
            "--data-dir" => data = value().into(),
            "digests" => digests = true,
            "--at" => {
                let raw = value();
                at = Some(chrono::DateTime::parse_from_rfc3339(&raw).unwrap_or_else(|e| {
                    eprintln!("--at {raw}: {e} (an RFC 3339 time such as 2026-12-07T08:00:00+01:00)");
                    std::process::exit(2)
                }));
            }
            _ => usage(),
        }
    }
    switchboard::telemetry::init();
    let data = DataDir(data);
    if digests {
        let Some(at) = at else { usage() };
        return run_digests(&data, at.with_timezone(&chrono::Utc)).await;
    }
    let mut config = Config::from_env();
    if std::env::var("SWITCHBOARD_PUBLIC_URL").is_err() {
        config.public_url = format!("http://127.0.0.1:{port}");
        config.issuer = config.public_url.clone();
    }
    if std::env::var("SWITCHBOARD_API_URL").is_err() {
        config.api_url = format!("http://127.0.0.1:{port}");
    }
    let local = open(&data, config, dynamo_port).await?;
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    println!("Switchboard API     http://{}", listener.local_addr()?);
    println!("OpenAPI document    http://{}/openapi.json", listener.local_addr()?);
    println!("DynamoDB (dynoxide) {}  table {}", local.engine.endpoint, local.ctx.config.table);
    println!("data                {}", data.database().display());
    println!("outbox (email)      {}", data.outbox().display());
    println!("outbox (SMS)        {}", data.sms().display());
    local::start_digest_schedule(local.ctx.clone());
    local::start_purge_schedule(local.ctx.clone());
    local::start_mail_relay(local.ctx.clone());
    serve(listener, app(local.ctx)).await?;
    Ok(())
}

async fn run_digests(data: &DataDir, at: chrono::DateTime<chrono::Utc>) -> Result<(), local::BoxError> {
    let report = local::digests_at(data, Config::from_env(), at).await?;
    println!("{}", serde_json::to_string_pretty(&report)?);
    println!("outbox (email)      {}", data.outbox().display());
    Ok(())
}
