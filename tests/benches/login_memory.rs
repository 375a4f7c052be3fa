//! Peak memory of concurrent logins on the local server: `cargo bench -p e2e --bench login_memory`.
//!
//! Runs the local server in-process (as `cargo run -p local`), then sends 64 logins for
//! addresses without a login at once (each costs one argon2id verify against the stand-in
//! hash, 19 MiB), and reports the process's peak resident memory (`VmHWM`) before and after,
//! and how long the batch took. Hashing runs at most one per core, whatever the entry point.

use std::time::Instant;

use serde_json::json;
use switchboard::config::Config;

const CONCURRENT: usize = 64;

fn hwm_kib() -> u64 {
    e2e::lambda_host::peak_rss_kib(std::process::id()).expect("VmHWM")
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let dir = local::DataDir(std::env::temp_dir().join(format!("switchboard-logins-{}", ulid::Ulid::new())));
    let l = local::open(&dir, Config::default(), 0).await.expect("open local");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(local::serve(listener, local::app(l.ctx.clone())));
    let http = reqwest::Client::new();
    // One login first: the runtime, the engine and one hash's memory are the baseline.
    let login = |i: usize| {
        let http = http.clone();
        let url = format!("{base}/v1/auth/login");
        async move {
            let body =
                json!({"email": format!("nobody-{i}@example.com"), "password": "not the password", "client": "web"});
            http.post(url).json(&body).send().await.expect("login").status().as_u16()
        }
    };
    assert_eq!(login(usize::MAX).await, 401);
    let before = hwm_kib();
    let t = Instant::now();
    let statuses = futures::future::join_all((0..CONCURRENT).map(login)).await;
    let took = t.elapsed();
    let after = hwm_kib();
    assert!(statuses.iter().all(|s| *s == 401 || *s == 429), "{statuses:?}");
    let refused = statuses.iter().filter(|s| **s == 401).count();
    println!(
        "{CONCURRENT} concurrent logins for unknown addresses ({refused} answered 401 after a verify): peak RSS {:.1} MiB before, {:.1} MiB after (+{:.1} MiB), {:.2} s, {} hashing slots",
        before as f64 / 1024.0,
        after as f64 / 1024.0,
        (after - before) as f64 / 1024.0,
        took.as_secs_f64(),
        switchboard::auth::password::hashing_slots(),
    );
}
