//! Foundation benchmark: `cargo bench -p e2e --bench foundation`.
//!
//! Runs the local server (file-backed dynoxide, exactly as `cargo run -p local`) in-process
//! and prints:
//! - login latency divided by the cost of one argon2id verify;
//! - authenticated `GET /v1/me` requests per second next to the trivial `GET /.well-known/jwks.json`;
//! - DynamoDB round trips per operation, counted by the SDK interceptor.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use switchboard::clock::OsRandom;
use switchboard::config::Config;
use switchboard::domain::Password;

const LOGIN_SAMPLES: usize = 30;
const LOAD_SECONDS: u64 = 5;
const CONCURRENCY: usize = 16;

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

async fn post(http: &reqwest::Client, url: String, body: Value, token: Option<&str>) -> (u16, Value) {
    let mut req = http.post(url).json(&body);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let r = req.send().await.expect("request");
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// Requests per second that `CONCURRENCY` clients get from `GET url` in `LOAD_SECONDS`.
async fn throughput(http: &reqwest::Client, url: &str, token: &str) -> f64 {
    let deadline = Instant::now() + Duration::from_secs(LOAD_SECONDS);
    let mut tasks = Vec::new();
    for _ in 0..CONCURRENCY {
        let (http, url, token) = (http.clone(), url.to_owned(), token.to_owned());
        tasks.push(tokio::spawn(async move {
            let mut n = 0u64;
            while Instant::now() < deadline {
                let r = http.get(&url).bearer_auth(&token).send().await.expect("get");
                assert!(r.status().is_success(), "{}", r.status());
                let _ = r.bytes().await;
                n += 1;
            }
            n
        }));
    }
    let mut total = 0;
    for t in tasks {
        total += t.await.expect("task");
    }
    total as f64 / LOAD_SECONDS as f64
}

#[tokio::main]
async fn main() {
    let dir = local::DataDir(std::env::temp_dir().join(format!("switchboard-bench-{}", ulid::Ulid::new())));
    let local = local::open(&dir, Config::default(), 0).await.expect("open local");
    let ctx = local.ctx.clone();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(local::serve(listener, local::app(ctx.clone())));
    let http = reqwest::Client::new();
    let calls = || ctx.store.calls();
    let mut trips: Vec<(&str, u64, f64)> = Vec::new();
    let units = || ctx.store.capacity_units();

    // Round trips per operation.
    let email = format!("bench-{}@example.com", ulid::Ulid::new().to_string().to_lowercase());
    let password = "benchmark passphrase";
    let (c0, u0) = (calls(), units());
    let (s, _) = post(
        &http,
        format!("{base}/v1/auth/register"),
        json!({"email": email, "password": password,
        "first_name": "B", "last_name": "M", "organization_name": "Bench"}),
        None,
    )
    .await;
    assert_eq!(s, 202);
    trips.push(("register", calls() - c0, units() - u0));
    let login_body = json!({"email": email, "password": password, "client": "web"});
    let (c0, u0) = (calls(), units());
    let (s, pair) = post(&http, format!("{base}/v1/auth/login"), login_body.clone(), None).await;
    assert_eq!(s, 200);
    trips.push(("login", calls() - c0, units() - u0));
    let (c0, u0) = (calls(), units());
    let (s, _) = post(
        &http,
        format!("{base}/v1/auth/login"),
        json!({"email": email, "password": "wrong password", "client": "web"}),
        None,
    )
    .await;
    assert_eq!(s, 401);
    trips.push(("login (wrong password)", calls() - c0, units() - u0));
    let access = pair["access_token"].as_str().expect("access").to_owned();
    let (c0, u0) = (calls(), units());
    let r = http.get(format!("{base}/v1/me")).bearer_auth(&access).send().await.expect("me");
    assert!(r.status().is_success());
    trips.push(("GET /v1/me", calls() - c0, units() - u0));
    let (c0, u0) = (calls(), units());
    let (s, pair2) =
        post(&http, format!("{base}/v1/auth/refresh"), json!({"refresh_token": pair["refresh_token"]}), None).await;
    assert_eq!(s, 200);
    trips.push(("refresh", calls() - c0, units() - u0));
    let (c0, u0) = (calls(), units());
    let (s, _) = post(&http, format!("{base}/v1/auth/logout"), json!({}), pair2["access_token"].as_str()).await;
    assert_eq!(s, 204);
    trips.push(("logout", calls() - c0, units() - u0));
    for _ in 0..3 {
        post(&http, format!("{base}/v1/auth/login"), login_body.clone(), None).await;
    }
    let (_, pair3) = post(&http, format!("{base}/v1/auth/login"), login_body.clone(), None).await;
    let (c0, u0) = (calls(), units());
    let (s, _) = post(&http, format!("{base}/v1/auth/logout-all"), json!({}), pair3["access_token"].as_str()).await;
    assert_eq!(s, 200);
    trips.push(("logout-all (4 sessions)", calls() - c0, units() - u0));

    // Argon2 verify alone, off the executor as the service runs it.
    let pw = Password::parse_attempt(password, "p").expect("pw");
    let stored = ctx.hasher.hash(&pw, &OsRandom).await.expect("hash");
    let mut verify = Vec::new();
    for _ in 0..LOGIN_SAMPLES {
        let t = Instant::now();
        ctx.hasher.verify(&pw, Some(&stored), &OsRandom).await.expect("verify");
        verify.push(t.elapsed());
    }
    let mut logins = Vec::new();
    let mut wrong = Vec::new();
    let mut unknown = Vec::new();
    for i in 0..LOGIN_SAMPLES {
        let t = Instant::now();
        let (s, _) = post(&http, format!("{base}/v1/auth/login"), login_body.clone(), None).await;
        assert_eq!(s, 200);
        logins.push(t.elapsed());
        // Few enough failures per round that the throttle never engages.
        if i % 5 == 0 {
            let t = Instant::now();
            post(
                &http,
                format!("{base}/v1/auth/login"),
                json!({"email": email, "password": "wrong password", "client": "web"}),
                None,
            )
            .await;
            wrong.push(t.elapsed());
            let (s, _) = post(&http, format!("{base}/v1/auth/login"), login_body.clone(), None).await;
            assert_eq!(s, 200);
            let t = Instant::now();
            post(
                &http,
                format!("{base}/v1/auth/login"),
                json!({"email": format!("nobody{i}@example.com"), "password": "wrong password", "client": "web"}),
                None,
            )
            .await;
            unknown.push(t.elapsed());
        }
    }
    let (v, l) = (median(verify), median(logins));

    // logout-all ended the first sessions: load with a fresh one.
    let (_, pair) = post(&http, format!("{base}/v1/auth/login"), login_body.clone(), None).await;
    let access = pair["access_token"].as_str().expect("access").to_owned();
    let me_rps = throughput(&http, &format!("{base}/v1/me"), &access).await;
    let jwks_rps = throughput(&http, &format!("{base}/.well-known/jwks.json"), &access).await;

    println!("Switchboard foundation benchmark (local server, file-backed dynoxide, {CONCURRENCY} clients)");
    println!("argon2id verify (m=19456,t=2,p=1)  median {:>8.2} ms", v.as_secs_f64() * 1e3);
    println!(
        "login (correct password)            median {:>8.2} ms  = {:.2} x one verify",
        l.as_secs_f64() * 1e3,
        l.as_secs_f64() / v.as_secs_f64()
    );
    println!("login (wrong password)              median {:>8.2} ms", median(wrong).as_secs_f64() * 1e3);
    println!("login (unknown email)               median {:>8.2} ms", median(unknown).as_secs_f64() * 1e3);
    println!("GET /v1/me (authenticated)          {me_rps:>8.0} req/s");
    println!("GET /.well-known/jwks.json          {jwks_rps:>8.0} req/s  (trivial endpoint, same server)");
    println!("DynamoDB round trips (and capacity units consumed) per operation:");
    for (op, n, u) in trips {
        println!("  {op:<28} {n}  ({u:.1} units)");
    }

    // Inviting 100 people in one request on the local server.
    let (_, pair) = post(&http, format!("{base}/v1/auth/login"), login_body.clone(), None).await;
    let token = pair["access_token"].as_str().expect("access").to_owned();
    let org = pair["organization_id"].as_str().expect("org").to_owned();
    let (s, _) = post(&http, format!("{base}/v1/orgs/{org}/seats/purchase"), json!({"count": 100}), Some(&token)).await;
    assert_eq!(s, 200);
    let tag = ulid::Ulid::new().to_string().to_lowercase();
    let entries: Vec<Value> =
        (0..100).map(|i| json!({"email": format!("invitee{i}-{tag}@example.com"), "roles": ["agent"]})).collect();
    let outbox_before = e2e::files_in(&dir.outbox()).len();
    let (c0, u0) = (calls(), units());
    let t = Instant::now();
    let (s, report) =
        post(&http, format!("{base}/v1/orgs/{org}/invitations"), json!({"invitations": entries}), Some(&token)).await;
    let invite_time = t.elapsed();
    let (invite_calls, invite_units) = (calls() - c0, units() - u0);
    assert_eq!((s, report["invited"].as_u64()), (200, Some(100)));
    while e2e::files_in(&dir.outbox()).len() < outbox_before + 100 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let all_sent = t.elapsed();
    let (c0, u0) = (calls(), units());
    let (s, _) = post(
        &http,
        format!("{base}/v1/orgs/{org}/invitations"),
        json!({"invitations": [{"email": format!("one-{tag}@example.com"), "roles": ["agent"]}]}),
        Some(&token),
    )
    .await;
    assert_eq!(s, 200);
    let (one_calls, one_units) = (calls() - c0, units() - u0);
    println!(
        "invite 100 people in one request: {:.0} ms (response), {:.0} ms until all 100 emails were in the outbox",
        invite_time.as_secs_f64() * 1e3,
        all_sent.as_secs_f64() * 1e3
    );
    println!(
        "  DynamoDB round trips: {invite_calls} ({invite_units:.0} units) for 100 (request overhead and the in-process mail worker included); {one_calls} ({one_units:.0} units) for a request inviting one"
    );
    let _ = std::fs::remove_dir_all(&dir.0);
}
