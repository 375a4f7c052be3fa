//! Soak benchmark: `cargo bench -p e2e --bench soak` (`SOAK_USERS`, default 8, and
//! `SOAK_SECONDS`, default 60). Loopback only; stops by itself.
//!
//! `SOAK_TARGET=lambda` runs the same people against the function binaries as Lambda runs
//! them, on moto: an API Gateway on loopback (`e2e::lambda_gateway`) hands each request to
//! its function's instances (2 each, started on first use) through the Lambda Runtime API;
//! the mail worker's batch code drains moto's SQS and sends through moto's SES. It needs
//! `MOTO_ENDPOINT` and the `bootstrap` binary (`LAMBDA_BIN`, default
//! `target/release/bootstrap`: `cargo build --release -p functions --bin bootstrap`).
//!
//! Otherwise it runs the local server (file-backed dynoxide, as `cargo run -p local`) in-process and lets
//! simulated people work it at once, each in a loop: sign in, read their profile, switch
//! between their organization and its sub-account, refresh, list members, read settings,
//! invite a newcomer who accepts from the email's link and signs in. Prints per operation the count,
//! p50 and p99, the answers that were the server's fault (must be none), and the process's
//! resident memory over time (flat: nothing kept per request).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use switchboard::config::Config;

#[derive(Default)]
struct Tally {
    /// Latencies by operation.
    times: BTreeMap<&'static str, Vec<Duration>>,
    /// Answers that were not the client's fault (5xx) or not the expected ones, by operation.
    errors: BTreeMap<&'static str, Vec<String>>,
}

type Shared = Arc<Mutex<Tally>>;

struct Client {
    http: reqwest::Client,
    base: String,
    tally: Shared,
    inbox: Inbox,
}

type Seen = (std::collections::HashSet<std::path::PathBuf>, std::collections::HashMap<String, String>);

/// Invitation links by recipient, read from the outbox folder as new files appear, or from
/// moto's SES after the mail worker ran.
struct Inbox {
    dir: std::path::PathBuf,
    state: tokio::sync::Mutex<Seen>,
    moto: Option<Arc<e2e::TestApp>>,
}

impl Inbox {
    async fn token_for(&self, to: &str) -> Option<String> {
        if let Some(app) = &self.moto {
            for _ in 0..120 {
                app.run_mail_worker().await;
                if let Some(link) = app.emails_to(to).await.iter().find_map(|m| m.link("/accept-invitation?token=")) {
                    return Some(link.split("token=").nth(1).unwrap_or_default().to_owned());
                }
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            return None;
        }
        // Up to 30 s: the mail worker sends at SES's pace, behind everyone else's emails.
        for _ in 0..1200 {
            let mut st = self.state.lock().await;
            for path in e2e::files_in(&self.dir) {
                if st.0.insert(path.clone())
                    && let Some(m) = std::fs::read(&path).ok().and_then(|b| e2e::parse_email(&b))
                    && let Some(link) = m.link("/accept-invitation?token=")
                {
                    let token = link.split("token=").nth(1).unwrap_or_default().to_owned();
                    st.1.insert(m.to.clone(), token);
                }
            }
            if let Some(t) = st.1.remove(to) {
                return Some(t);
            }
            drop(st);
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        None
    }
}

impl Client {
    async fn call(
        &self,
        op: &'static str,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Value {
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let t = Instant::now();
        let resp = req.send().await;
        let elapsed = t.elapsed();
        let (status, body) = match resp {
            Ok(r) => {
                let s = r.status();
                (s, r.json::<Value>().await.unwrap_or(Value::Null))
            }
            Err(e) => (reqwest::StatusCode::BAD_GATEWAY, json!({"transport": e.to_string()})),
        };
        if let Ok(mut t) = self.tally.lock() {
            t.times.entry(op).or_default().push(elapsed);
            if !status.is_success() {
                t.errors.entry(op).or_default().push(format!("{status} {body}"));
            }
        }
        body
    }
}

fn percentile(v: &mut [Duration], p: f64) -> f64 {
    v.sort();
    let i = ((v.len() as f64 - 1.0) * p).round() as usize;
    v.get(i).map_or(0.0, |d| d.as_secs_f64() * 1e3)
}

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("VmRSS:")).map(str::to_owned))
        .and_then(|l| l.split_whitespace().nth(1).and_then(|n| n.parse().ok()))
        .unwrap_or(0)
}

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

async fn person(c: Arc<Client>, id: usize, deadline: Instant) -> usize {
    use reqwest::Method;
    let tag = format!("{}-{id}", ulid::Ulid::new().to_string().to_lowercase());
    let email = format!("soak-{tag}@example.com");
    let password = "soak test passphrase";
    let creds = json!({"email": email, "password": password, "client": "web"});
    c.call("register", Method::POST, "/v1/auth/register", None,
        Some(json!({"email": email, "password": password, "first_name": "Soak", "last_name": "Owner", "organization_name": format!("Soak {id}")}))).await;
    let pair = c.call("login", Method::POST, "/v1/auth/login", None, Some(creds.clone())).await;
    let (Some(access), Some(org)) = (pair["access_token"].as_str(), pair["organization_id"].as_str()) else {
        panic!("the person could not sign in: {pair}");
    };
    let (access, org) = (access.to_owned(), org.to_owned());
    c.call(
        "seats",
        Method::POST,
        &format!("/v1/orgs/{org}/seats/purchase"),
        Some(&access),
        Some(json!({"count": 1000})),
    )
    .await;
    let sub = c
        .call(
            "create sub-account",
            Method::POST,
            &format!("/v1/orgs/{org}/sub-accounts"),
            Some(&access),
            Some(json!({"name": "Branch"})),
        )
        .await;
    let sub = sub["id"].as_str().unwrap_or_default().to_owned();
    let mut rounds = 0;
    while Instant::now() < deadline {
        let pair = c.call("login", Method::POST, "/v1/auth/login", None, Some(creds.clone())).await;
        let mut access = pair["access_token"].as_str().unwrap_or_default().to_owned();
        c.call("me", Method::GET, "/v1/me", Some(&access), None).await;
        let to = if rounds % 2 == 0 { &sub } else { &org };
        let switched = c
            .call("switch", Method::POST, "/v1/auth/switch", Some(&access), Some(json!({"organization_id": to})))
            .await;
        let refresh =
            switched["refresh_token"].as_str().or(pair["refresh_token"].as_str()).unwrap_or_default().to_owned();
        let pair =
            c.call("refresh", Method::POST, "/v1/auth/refresh", None, Some(json!({"refresh_token": refresh}))).await;
        if let Some(a) = pair["access_token"].as_str() {
            access = a.to_owned();
        }
        c.call("list members", Method::GET, &format!("/v1/orgs/{org}/members?limit=50"), Some(&access), None).await;
        c.call("settings", Method::GET, &format!("/v1/orgs/{org}/settings"), Some(&access), None).await;
        // A newcomer: invited, accepts from the email's link choosing a password, signs in.
        let newcomer = format!("soak-new-{tag}-{rounds}@example.com");
        let invite = json!({"invitations": [{"email": newcomer, "roles": ["agent"]}]});
        c.call("invite", Method::POST, &format!("/v1/orgs/{org}/invitations"), Some(&access), Some(invite)).await;
        let Some(token) = c.inbox.token_for(&newcomer).await else {
            if let Ok(mut t) = c.tally.lock() {
                t.errors.entry("invitation email").or_default().push(format!("no email to {newcomer}"));
            }
            continue;
        };
        let accept = json!({"token": token, "first_name": "New", "last_name": "Comer", "password": password});
        c.call("accept", Method::POST, "/v1/invitations/accept", None, Some(accept)).await;
        let theirs = json!({"email": newcomer, "password": password, "client": "web"});
        c.call("login", Method::POST, "/v1/auth/login", None, Some(theirs)).await;
        rounds += 1;
    }
    rounds
}

#[tokio::main]
async fn main() {
    let users = env_or("SOAK_USERS", 8) as usize;
    let seconds = env_or("SOAK_SECONDS", 60);
    let dir = local::DataDir(std::env::temp_dir().join(format!("switchboard-soak-{}", ulid::Ulid::new())));
    let lambda = std::env::var("SOAK_TARGET").as_deref() == Ok("lambda");
    let (base, moto, gateway) = if lambda {
        let (base, app, gateway) = lambda_target(&dir).await;
        (base, Some(app), Some(gateway))
    } else {
        let local = local::open(&dir, Config::default(), 0).await.expect("open local");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        tokio::spawn(local::serve(listener, local::app(local.ctx.clone())));
        (base, None, None)
    };
    let tally: Shared = Arc::default();
    let inbox = Inbox { dir: dir.outbox(), state: Default::default(), moto };
    let client = Arc::new(Client { http: reqwest::Client::new(), base, tally: tally.clone(), inbox });
    let start = Instant::now();
    let deadline = start + Duration::from_secs(seconds);
    let samples = Arc::new(Mutex::new(vec![(0u64, rss_kib())]));
    let function_samples: Arc<Mutex<BTreeMap<String, Vec<u64>>>> = Arc::default();
    let gateway = gateway.map(Arc::new);
    let sampler = {
        let samples = samples.clone();
        let function_samples = function_samples.clone();
        let gateway = gateway.clone();
        tokio::spawn(async move {
            while Instant::now() < deadline {
                tokio::time::sleep(Duration::from_secs(5)).await;
                if let Ok(mut s) = samples.lock() {
                    s.push((start.elapsed().as_secs(), rss_kib()));
                }
                if let Some(g) = &gateway {
                    for (name, pid) in g.pids().await {
                        let kib = rss_of(pid);
                        if let Ok(mut f) = function_samples.lock() {
                            f.entry(format!("{name}/{pid}")).or_default().push(kib);
                        }
                    }
                }
            }
        })
    };
    let people: Vec<_> = (0..users).map(|i| tokio::spawn(person(client.clone(), i, deadline))).collect();
    let mut rounds = 0;
    for p in people {
        rounds += p.await.expect("person");
    }
    let _ = sampler.await;
    let elapsed = start.elapsed().as_secs_f64();
    let mut t = std::mem::take(&mut *tally.lock().expect("tally"));
    let total: usize = t.times.values().map(Vec::len).sum();
    let target = if lambda { "the Lambda handlers on moto" } else { "the local server" };
    println!(
        "Soak: {users} people for {seconds} s against {target}: {rounds} rounds, {total} requests ({:.0}/s)",
        total as f64 / elapsed
    );
    println!("{:<20} {:>7} {:>9} {:>9} {:>7}", "operation", "count", "p50 ms", "p99 ms", "errors");
    let errors = std::mem::take(&mut t.errors);
    for (op, times) in t.times.iter_mut() {
        let n = times.len();
        let (p50, p99) = (percentile(times, 0.5), percentile(times, 0.99));
        let e = errors.get(op).map_or(0, Vec::len);
        println!("{op:<20} {n:>7} {p50:>9.1} {p99:>9.1} {e:>7}");
    }
    for (op, e) in &errors {
        println!("  {op}: first error: {}", e[0].chars().take(300).collect::<String>());
    }
    let line: Vec<String> =
        samples.lock().expect("samples").iter().map(|(s, k)| format!("{s}s {:.1}", *k as f64 / 1024.0)).collect();
    if lambda {
        println!("function instances, resident memory (MiB) at the first and the last sample:");
        for (f, kib) in function_samples.lock().expect("samples").iter() {
            let (first, last) = (kib.first().copied().unwrap_or(0), kib.last().copied().unwrap_or(0));
            println!("  {f:<32} {:>7.1} {:>7.1}", first as f64 / 1024.0, last as f64 / 1024.0);
        }
    } else {
        println!("resident memory (MiB): {}", line.join(", "));
    }
    if let Some(g) = &gateway {
        g.stop().await;
    }
    let _ = std::fs::remove_dir_all(&dir.0);
    let failures: usize = errors.values().map(Vec::len).sum();
    assert_eq!(failures, 0, "answers that were not the client's fault");
}

/// Resident memory of a process, in KiB (`VmRSS`).
fn rss_of(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// moto with the table, queues, SES identity and bucket a test app makes, and the gateway in
/// front of the function binaries configured against them.
async fn lambda_target(dir: &local::DataDir) -> (String, Arc<e2e::TestApp>, e2e::lambda_gateway::Gateway) {
    let app = Arc::new(e2e::TestApp::spawn(e2e::Engine::Moto).await);
    let binary = std::env::var("LAMBDA_BIN")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/release/bootstrap"));
    assert!(binary.exists(), "no {}: cargo build --release -p functions --bin bootstrap", binary.display());
    let c = &app.ctx.config;
    let (email_queue, events_queue) = app.queue_urls();
    // Every function of the gateway starts with the same environment, so it holds what any
    // of them needs (the import and export queues' stand-ins are never sent to here).
    let stand_ins = ["import-users", "exports", "mail-worker"].into_iter().flat_map(e2e::lambda_host::stand_ins);
    let env: Vec<(String, String)> = stand_ins
        .chain(
            [
                ("AWS_ENDPOINT_URL", app.dynamodb_endpoint().unwrap_or_default()),
                ("SWITCHBOARD_TABLE", c.table.clone()),
                ("SWITCHBOARD_SIGNING_KEYS", serde_json::to_string(&app.keys).expect("keys")),
                ("SWITCHBOARD_PUBLIC_URL", c.public_url.clone()),
                ("SWITCHBOARD_API_URL", c.api_url.clone()),
                ("SWITCHBOARD_SENDER", c.sender.clone()),
                ("SWITCHBOARD_EMAIL_QUEUE_URL", email_queue.unwrap_or_default()),
                ("SWITCHBOARD_EVENTS_QUEUE_URL", events_queue.unwrap_or_default()),
                ("SWITCHBOARD_UPLOADS_BUCKET", c.table.clone()),
                ("SWITCHBOARD_WARM_UP", "off".into()),
                ("RUST_LOG", "warn".into()),
            ]
            .into_iter()
            // A queue the app has none of keeps its stand-in rather than an empty value.
            .filter(|(_, v)| !v.is_empty())
            .map(|(k, v)| (k.to_owned(), v)),
        )
        .collect();
    let gateway = e2e::lambda_gateway::Gateway::start(binary, env, dir.0.join("function-logs"), 2).await;
    (gateway.base.clone(), app, gateway)
}
