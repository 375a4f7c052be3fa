//! `cargo run --release -p local`: the whole Switchboard API on http://127.0.0.1:3000, with
//! data in `.local/`, outgoing email as `.eml` files in `.local/outbox/` and text messages in
//! `.local/sms/`.
//!
//! Options: `--port N` (3000), `--dynamodb-port N` (0 = any free port), `--data-dir DIR`
//! (`.local`). `local keygen` prints a new signing-key set for AWS Secrets Manager.

use std::path::PathBuf;

use local::{DataDir, app, open, serve};
use switchboard::auth::jwt::KeysConfig;
use switchboard::clock::OsRandom;
use switchboard::config::Config;

fn usage() -> ! {
    eprintln!("usage: local [--port N] [--dynamodb-port N] [--data-dir DIR] | local keygen");
    std::process::exit(2)
}

#[tokio::main]
async fn main() -> Result<(), local::BoxError> {
    let mut args = std::env::args().skip(1);
    let (mut port, mut dynamo_port, mut data) = (3000u16, 0u16, PathBuf::from(".local"));
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
            _ => usage(),
        }
    }
    switchboard::telemetry::init();
    let data = DataDir(data);
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
    serve(listener, app(local.ctx)).await?;
    Ok(())
}
