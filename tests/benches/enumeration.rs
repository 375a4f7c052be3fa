//! Enumeration benchmark: `cargo bench -p e2e --bench enumeration`.
//!
//! Runs the local server in-process (file-backed dynoxide, as `cargo run -p local`) and times,
//! alternating, 50 "forgot password" requests for an address with a login and 50 for one
//! without, then 50 registrations with new addresses and 50 with a taken one. Each pair's
//! medians must be within 10% of each other: neither the answer nor its time may tell
//! whether an address exists.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use switchboard::config::Config;

const SAMPLES: usize = 50;

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

async fn post(http: &reqwest::Client, url: &str, body: Value) -> (u16, Duration) {
    let t = Instant::now();
    let r = http.post(url).json(&body).send().await.expect("request");
    let status = r.status().as_u16();
    let _ = r.bytes().await;
    (status, t.elapsed())
}

fn report(what: &str, a: (&str, Vec<Duration>), b: (&str, Vec<Duration>)) -> f64 {
    let (ma, mb) = (median(a.1), median(b.1));
    let ratio = ma.as_secs_f64() / mb.as_secs_f64();
    println!(
        "{what:<16} {:>8}: median {:>7.3} ms   {:>8}: median {:>7.3} ms   ratio {ratio:.3}",
        a.0,
        ma.as_secs_f64() * 1e3,
        b.0,
        mb.as_secs_f64() * 1e3
    );
    ratio
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let dir = local::DataDir(std::env::temp_dir().join(format!("switchboard-enum-{}", ulid::Ulid::new())));
    let config = Config { email_requests_per_client_hour: 10_000, ..Config::default() };
    let local = local::open(&dir, config, 0).await.expect("open local");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(local::serve(listener, local::app(local.ctx.clone())));
    let http = reqwest::Client::new();
    let fresh = || format!("enum-{}@example.com", ulid::Ulid::new().to_string().to_lowercase());
    let register = |email: &str| {
        json!({"email": email, "password": "benchmark passphrase", "first_name": "B", "last_name": "M",
               "organization_name": "Bench"})
    };
    let taken = fresh();
    assert_eq!(post(&http, &format!("{base}/v1/auth/register"), register(&taken)).await.0, 202);

    let forgot = format!("{base}/v1/auth/forgot-password");
    // Warm the connection and the server's paths once.
    post(&http, &forgot, json!({"email": taken})).await;
    post(&http, &forgot, json!({"email": fresh()})).await;
    let (mut known, mut unknown) = (Vec::new(), Vec::new());
    for _ in 0..SAMPLES {
        let (s, d) = post(&http, &forgot, json!({"email": taken})).await;
        assert_eq!(s, 202);
        known.push(d);
        let (s, d) = post(&http, &forgot, json!({"email": fresh()})).await;
        assert_eq!(s, 202);
        unknown.push(d);
    }
    let (mut new, mut existing) = (Vec::new(), Vec::new());
    let reg = format!("{base}/v1/auth/register");
    for _ in 0..SAMPLES {
        let (s, d) = post(&http, &reg, register(&fresh())).await;
        assert_eq!(s, 202);
        new.push(d);
        let (s, d) = post(&http, &reg, register(&taken)).await;
        assert_eq!(s, 202);
        existing.push(d);
    }
    println!("Switchboard enumeration benchmark ({SAMPLES} requests each, alternating; local server)");
    let r1 = report("forgot-password", ("known", known), ("unknown", unknown));
    let r2 = report("register", ("new", new), ("taken", existing));
    for (what, r) in [("forgot-password", r1), ("register", r2)] {
        let within = (0.9..=1.1).contains(&r);
        println!("{what}: {}", if within { "within 10%" } else { "NOT within 10%" });
    }
}
