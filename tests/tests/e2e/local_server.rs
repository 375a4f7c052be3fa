//! The embedded default keeps its data (and its signing keys) across restarts.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use local::cli::Command;
use local::{DataDir, app, open, serve};
use reqwest::StatusCode;
use serde_json::json;
use switchboard::clock::ManualClock;
use switchboard::config::Config;
use switchboard::domain::OrgId;

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
        outbox = e2e::files_in(&dir.outbox()).len();
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

/// A local server on `listener` over `dir`, its clock standing where the test puts it.
async fn serve_at(dir: &DataDir, config: Config, listener: tokio::net::TcpListener, at: &str) -> Running {
    let clock = Arc::new(ManualClock::new(instant(at)));
    let l = local::open_with(dir, config, 0, clock, false).await.expect("open local");
    let server = tokio::spawn(serve(listener, app(l.ctx.clone())));
    Running { server, local: l }
}

struct Running {
    server: tokio::task::JoinHandle<std::io::Result<()>>,
    local: local::Local,
}

impl Running {
    async fn stop(self) {
        self.server.abort();
        let _ = self.server.await;
        drop(self.local.ctx);
        self.local.engine.shutdown().await.expect("engine stops");
    }
}

fn instant(at: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(at).expect("time").to_utc()
}

/// The emails in the outbox, oldest first.
fn outbox(dir: &DataDir) -> Vec<String> {
    e2e::files_in(&dir.outbox()).iter().map(|p| std::fs::read_to_string(p).unwrap_or_default()).collect()
}

/// `local run <job> --at …`, as typed: the job's report.
async fn run(dir: &DataDir, port: u16, job: &str, at: &str) -> serde_json::Value {
    let words = ["run", job, "--at", at, "--data-dir", &dir.0.to_string_lossy(), "--port", &port.to_string()];
    let Ok(Command::Run { job, at, data, config }) = Command::parse(words.map(String::from)) else {
        panic!("local run {job} --at {at} does not parse")
    };
    serde_json::to_value(local::run_at(&data, *config, job, at).await.expect("run")).expect("report")
}

/// `local run <job> --at`: the scheduled jobs as of any time over the local data, with the
/// server's addresses in their links. The server's clock stands still (Monday 30 November
/// 2026, 10:00 UTC) whatever day the test runs, and behind the runs, as the clock of a server
/// is behind a run made days ahead: what it records after such a run is not lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scheduled_jobs_run_as_of_a_given_time() {
    let dir = DataDir(std::env::temp_dir().join(format!("switchboard-local-{}", ulid::Ulid::new())));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let base = format!("http://127.0.0.1:{port}");
    let Ok(Command::Serve { config, .. }) = Command::parse(["--port".to_owned(), port.to_string()]) else {
        panic!("serve")
    };
    let config = Config { service_token: Some("local-service-token".into()), ..*config };
    let t0 = "2026-11-30T10:00:00Z";
    let server = serve_at(&dir, config.clone(), listener, t0).await;
    let http = reqwest::Client::new();
    let signup = |tag: &'static str| {
        let (http, base) = (http.clone(), base.clone());
        async move {
            let email = e2e::unique_email(tag);
            let body = json!({"email": email, "password": "digests on demand", "first_name": "D", "last_name": "G",
                              "organization_name": "Local Digest"});
            let r = http.post(format!("{base}/v1/auth/register")).json(&body).send().await.unwrap();
            assert_eq!(r.status(), StatusCode::ACCEPTED);
            let login: serde_json::Value = http
                .post(format!("{base}/v1/auth/login"))
                .json(&json!({"email": email, "password": "digests on demand", "client": "web"}))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            let token = login["access_token"].as_str().unwrap().to_owned();
            let me: serde_json::Value =
                http.get(format!("{base}/v1/me")).bearer_auth(&token).send().await.unwrap().json().await.unwrap();
            (
                token,
                login["organization_id"].as_str().unwrap().to_owned(),
                me["user"]["id"].as_str().unwrap().to_owned(),
            )
        }
    };
    let (token, org, user) = signup("localdigest").await;
    let path = format!("{base}/v1/orgs/{org}/email-settings");
    let doc: serde_json::Value = http.get(&path).bearer_auth(&token).send().await.unwrap().json().await.unwrap();
    let r = http
        .patch(&path)
        .bearer_auth(&token)
        .header("If-Match", doc["etag"].as_str().unwrap())
        .json(&json!({"types": {"missed_calls": {"interval": "weekly"}}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let call = |key: &str| {
        json!({"organization_id": org, "type": "missed_call", "recipients": {"user_ids": [user]},
               "idempotency_key": key, "occurred_at": t0, "subject": "+31 20 555 0100"})
    };
    let post = |event: serde_json::Value| {
        let (http, base) = (http.clone(), base.clone());
        async move {
            let r = http
                .post(format!("{base}/internal/v1/notification-events"))
                .header("x-switchboard-service-token", "local-service-token")
                .json(&event)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), StatusCode::ACCEPTED);
            r.json::<serde_json::Value>().await.unwrap()
        }
    };
    assert_eq!(post(call("call-1")).await["recorded"], 1);
    // The verification email, written by the server's worker shortly after registering.
    for _ in 0..100 {
        if !outbox(&dir).is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    server.stop().await;
    assert_eq!(outbox(&dir).len(), 1, "only the verification email: missed calls wait for the weekly digest");

    // Monday 7 December 08:00 UTC (the organization's default timezone).
    assert_eq!(run(&dir, port, "digests", "2026-12-07T07:59:00Z").await["claimed"], 0);
    let report = run(&dir, port, "digests", "2026-12-07T09:00:00+01:00").await;
    assert_eq!((&report["claimed"], &report["queued"]), (&json!(1), &json!(1)), "{report}");
    let sent = outbox(&dir);
    assert_eq!(sent.len(), 2, "the weekly digest is in the outbox when the run returns");
    assert!(sent[1].contains(&format!("{base}/")), "links lead to the server on --port");
    assert!(!sent[1].contains("127.0.0.1:3000"), "not to the default port");

    // The server again, its clock a week behind that run: a new event is recorded, in the
    // next week's window.
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await.unwrap();
    let server = serve_at(&dir, config.clone(), listener, t0).await;
    let r = post(call("call-2")).await;
    assert_eq!((&r["recorded"], &r["duplicates"]), (&json!(1), &json!(0)), "{r}");
    // Someone closes their organization today; it is purged once its 30 days are over.
    let (closer, closed, _) = signup("localclose").await;
    let version =
        server.local.ctx.store.get_org(&OrgId::parse(&closed, "org").unwrap()).await.unwrap().unwrap().version;
    let r = http
        .post(format!("{base}/v1/orgs/{closed}/close"))
        .bearer_auth(&closer)
        .json(&json!({"version": version}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    server.stop().await;

    let report = run(&dir, port, "digests", "2026-12-14T08:00:00Z").await;
    assert_eq!((&report["claimed"], &report["queued"], &report["lost"]), (&json!(1), &json!(1), &json!(0)), "{report}");
    let purge = run(&dir, port, "purge", "2026-12-29T10:00:00Z").await;
    assert_eq!((&purge["organizations"], &purge["finished"]), (&json!(0), &json!(true)), "day 29: {purge}");
    let purge = run(&dir, port, "purge", "2026-12-30T11:00:00Z").await;
    assert_eq!(purge["organizations"], 1, "day 30: {purge}");
    let emails = outbox(&dir).len();
    let relay = run(&dir, port, "email-relay", "2027-01-01T00:00:00Z").await;
    assert_eq!((&relay["relayed"], outbox(&dir).len()), (&json!(0), emails), "every email went out once already");
    // The reminders to confirm a mobile number, a day after each login was made: the two
    // logins of this server (made at its t0), once.
    let early = run(&dir, port, "mobile-reminders", "2026-12-01T09:59:00Z").await;
    assert_eq!(early["sent"], 0, "a minute short of a day: {early}");
    let due = run(&dir, port, "mobile-reminders", "2026-12-01T10:00:00Z").await;
    assert_eq!((&due["sent"], outbox(&dir).len()), (&json!(2), emails + 2), "{due}");
    let again = run(&dir, port, "mobile-reminders", "2027-01-01T00:00:00Z").await;
    assert_eq!((&again["sent"], &again["dropped"], outbox(&dir).len()), (&json!(0), &json!(0), emails + 2), "{again}");
    let _ = std::fs::remove_dir_all(&dir.0);
}

/// A client that sends its request headers a byte at a time is cut off at the header timeout
/// (one second here), not kept: the connection closes while it is still trickling. An idle
/// connection is closed after the same time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_trickling_its_headers_is_cut_off() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let dir = DataDir(std::env::temp_dir().join(format!("switchboard-slow-{}", ulid::Ulid::new())));
    let l = open(&dir, Config::default(), 0).await.expect("open local");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(local::serve_with(listener, app(l.ctx.clone()), std::time::Duration::from_secs(1)));
    let mut socket = tokio::net::TcpStream::connect(addr).await.unwrap();
    let started = std::time::Instant::now();
    let request = b"GET /.well-known/jwks.json HTTP/1.1\r\nHost: x\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n";
    let mut closed = false;
    for b in request {
        if socket.write_all(&[*b]).await.is_err() {
            closed = true;
            break;
        }
        // Between bytes, wait for the server to answer or close, for 200 ms at most.
        let mut buf = [0u8; 256];
        match tokio::time::timeout(std::time::Duration::from_millis(200), socket.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => {
                closed = true;
                break;
            }
            Ok(Ok(n)) => panic!("answered a trickled request: {:?}", String::from_utf8_lossy(&buf[..n])),
            Err(_) => {}
        }
    }
    assert!(closed, "the connection outlived {} s of trickling", started.elapsed().as_secs());
    assert!(started.elapsed() < std::time::Duration::from_secs(5), "cut off at the timeout: {:?}", started.elapsed());
    // A connection that sends nothing is closed after the same time: it is the idle timeout.
    let mut idle = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut buf = [0u8; 16];
    let read = tokio::time::timeout(std::time::Duration::from_secs(5), idle.read(&mut buf)).await;
    assert!(matches!(read, Ok(Ok(0)) | Ok(Err(_))), "an idle connection is closed: {read:?}");
    // A client that sends its request at once is served as before.
    let r = reqwest::get(format!("http://{addr}/.well-known/jwks.json")).await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["x-content-type-options"], "nosniff", "every answer says nosniff");
}
