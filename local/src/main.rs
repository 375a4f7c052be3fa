//! `cargo run --release -p local`: the whole Switchboard API on http://127.0.0.1:3000, with
//! data in `.local/`, outgoing email as `.eml` files in `.local/outbox/` and text messages in
//! `.local/sms/`.
//!
//! Options: `--port N` (3000), `--dynamodb-port N` (0 = any free port), `--data-dir DIR`
//! (`.local`). `local keygen` prints a new signing-key set for AWS Secrets Manager.
//!
//! `local run <job> --at 2026-12-07T08:00:00+01:00 [--data-dir DIR] [--port N]` runs one of
//! the scheduled jobs (`digests`, `purge`, `email-relay`, `mobile-reminders`) once, as of that time, against the
//! local data, with the server stopped (the server runs each on its own schedule). `--port`
//! and `SWITCHBOARD_PUBLIC_URL` / `SWITCHBOARD_API_URL` are the server's, so the links in the
//! emails it sends lead there. `local digests --at …` is `local run digests --at …`.

use local::cli::Command;
use local::{app, open, run_at, serve};
use switchboard::auth::jwt::KeysConfig;
use switchboard::clock::OsRandom;

#[tokio::main]
async fn main() -> Result<(), local::BoxError> {
    let command = Command::parse(std::env::args().skip(1)).unwrap_or_else(|usage| {
        eprintln!("{usage}");
        std::process::exit(2)
    });
    match command {
        Command::Keygen => println!("{}", serde_json::to_string(&KeysConfig::generate(&OsRandom)?)?),
        Command::Run { job, at, data, config } => {
            switchboard::telemetry::init();
            let report = run_at(&data, *config, job, at).await?;
            println!("{}", serde_json::to_string_pretty(&report)?);
            println!("outbox (email)      {}", data.outbox().display());
        }
        Command::Serve { port, dynamo_port, data, config } => {
            switchboard::telemetry::init();
            let local = open(&data, *config, dynamo_port).await?;
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
            local::start_import_redelivery(local.ctx.clone());
            serve(listener, app(local.ctx)).await?;
        }
    }
    Ok(())
}
