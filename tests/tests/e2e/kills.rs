//! Ending sessions survives a crash (issue 32, item 5): the local server (the `local` binary,
//! file-backed dynoxide) is killed (SIGKILL) at different moments of "sign out everywhere"
//! and of a new password that ends the other sessions, then started again on the same data.
//! Every time, either nothing happened or all of it did: no session outlives a committed
//! ending, none ends without it, and the password and the sessions agree.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

/// The `local` binary of this build. `cargo test` does not build it (the `local` package has
/// no integration tests), so `scripts/test.sh` runs `cargo build --workspace --all-targets` first.
fn local_bin() -> PathBuf {
    let exe = std::env::current_exe().expect("test binary");
    let dir = exe.parent().and_then(|d| d.parent()).expect("target dir");
    let bin = dir.join("local");
    assert!(bin.exists(), "{} is missing: run `cargo build -p local` first (scripts/test.sh does)", bin.display());
    bin
}

struct Server {
    child: Child,
    base: String,
    data: PathBuf,
    port: u16,
    env: Vec<(&'static str, &'static str)>,
}

impl Server {
    async fn start(data: PathBuf, port: u16) -> Server {
        Server::start_with(data, port, Vec::new()).await
    }

    /// With these variables set for the server (every start of it).
    async fn start_with(data: PathBuf, port: u16, env: Vec<(&'static str, &'static str)>) -> Server {
        let log = std::fs::OpenOptions::new().create(true).append(true).open(data.with_extension("log")).expect("log");
        let child = Command::new(local_bin())
            .envs(env.iter().copied())
            .args(["--port", &port.to_string(), "--data-dir", data.to_str().expect("utf-8 path")])
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("start local");
        // Owned at once, so a failure below still kills and reaps it (`Drop`).
        let server = Server { child, base: format!("http://127.0.0.1:{port}"), data, port, env };
        let http = client();
        for _ in 0..600 {
            let up = http.get(format!("{}/.well-known/jwks.json", server.base)).send().await;
            if up.is_ok_and(|r| r.status().is_success()) {
                return server;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("local did not start; see {}", server.data.with_extension("log").display());
    }

    /// SIGKILL, then the same data on the same port again.
    async fn crash_and_restart(mut self) -> Server {
        self.child.kill().expect("kill");
        self.child.wait().expect("reap");
        Server::start_with(self.data.clone(), self.port, std::mem::take(&mut self.env)).await
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port()
}

/// A session's access token, or what came back instead (so a failure says why).
async fn login(http: &reqwest::Client, base: &str, email: &str, password: &str) -> Result<String, String> {
    session(http, base, email, password).await.map(|s| s["access_token"].as_str().unwrap_or_default().to_owned())
}

/// A session (the login's answer: tokens and organization), or what came back instead.
async fn session(http: &reqwest::Client, base: &str, email: &str, password: &str) -> Result<Value, String> {
    let r = http
        .post(format!("{base}/v1/auth/login"))
        .json(&json!({"email": email, "password": password, "client": "web"}))
        .send()
        .await
        .map_err(|e| format!("no answer: {e:?}"))?;
    let status = r.status();
    let body: Value = r.json().await.map_err(|e| format!("{status}: unreadable body: {e}"))?;
    if body["access_token"].is_string() { Ok(body) } else { Err(format!("{status}: {body}")) }
}

/// The JSON answer to a signed-in GET.
async fn get_json(http: &reqwest::Client, url: String, token: &str) -> Value {
    http.get(url).bearer_auth(token).send().await.unwrap().json().await.unwrap()
}

/// Whether a password signs in: a session, or refused as wrong credentials; anything else
/// (no answer, a server error) fails the test rather than counting as "refused".
async fn works(http: &reqwest::Client, base: &str, email: &str, password: &str) -> bool {
    match login(http, base, email, password).await {
        Ok(_) => true,
        Err(e) if e.starts_with("401") => false,
        Err(e) => panic!("sign-in neither worked nor was refused: {e}"),
    }
}

/// No connection is kept between requests: one kept to the killed process would be reused
/// for the restarted one's first request and fail it, a failure of the test, not the service.
fn client() -> reqwest::Client {
    reqwest::Client::builder().pool_max_idle_per_host(0).build().expect("client")
}

async fn live(http: &reqwest::Client, base: &str, tokens: &[String]) -> usize {
    let mut n = 0;
    for t in tokens {
        let r = http.get(format!("{base}/v1/me")).bearer_auth(t).send().await.expect("me");
        match r.status() {
            StatusCode::OK => n += 1,
            StatusCode::UNAUTHORIZED => {}
            other => panic!("a session is neither live nor ended: {other}"),
        }
    }
    n
}

/// Rounds: sign out everywhere (`false`) or a password change ending the others (`true`), and
/// when to kill: `None` after the answer (which also times the request), else that fraction
/// of the request's time, so kills land before, around and after the commit (the clean-up of
/// session items comes after it).
const ROUNDS: [(bool, Option<f64>); 12] = [
    (false, None),
    (true, None),
    (false, Some(0.3)),
    (true, Some(0.3)),
    (false, Some(0.6)),
    (true, Some(0.6)),
    (false, Some(0.8)),
    (true, Some(0.8)),
    (false, Some(0.9)),
    (true, Some(0.9)),
    (false, Some(0.97)),
    (true, Some(0.97)),
];
const SESSIONS: usize = 40;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ending_sessions_is_all_or_nothing_when_the_process_is_killed() {
    let data = std::env::temp_dir().join(format!("switchboard-kill-{}", ulid::Ulid::new()));
    let mut server = Server::start(data, free_port()).await;
    let http = client();
    let email = e2e::unique_email("killed");
    let mut password = "the first passphrase".to_owned();
    let r = http
        .post(format!("{}/v1/auth/register", server.base))
        .json(&json!({"email": email, "password": password, "first_name": "K", "last_name": "Ill", "organization_name": "Crash"}))
        .send()
        .await
        .expect("register");
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let mut outcomes = Vec::new();
    // How long each kind of request took when it ran to the end.
    let mut took = [Duration::ZERO; 2];
    for (round, (changing, at)) in ROUNDS.iter().copied().enumerate() {
        let mut tokens = Vec::new();
        for _ in 0..SESSIONS {
            let token = login(&http, &server.base, &email, &password).await;
            tokens.push(token.unwrap_or_else(|e| panic!("round {round}: no session: {e}")));
        }
        let next = format!("passphrase number {round} of the kills");
        let request = if changing {
            http.post(format!("{}/v1/me/password", server.base))
                .bearer_auth(&tokens[0])
                .json(&json!({"current_password": password, "new_password": next, "end_other_sessions": true}))
        } else {
            http.post(format!("{}/v1/auth/logout-all", server.base)).bearer_auth(&tokens[0])
        };
        let started = std::time::Instant::now();
        let sent = tokio::spawn(request.send());
        let answered = match at {
            None => {
                let ok = sent.await.expect("join").is_ok_and(|r| r.status().is_success());
                took[usize::from(changing)] = started.elapsed();
                ok
            }
            Some(f) => {
                tokio::time::sleep(took[usize::from(changing)].mul_f64(f)).await;
                false
            }
        };
        let ms = started.elapsed().as_millis();
        server = server.crash_and_restart().await;
        let (others, me) =
            (live(&http, &server.base, &tokens[1..]).await, live(&http, &server.base, &tokens[..1]).await);
        let outcome = if changing {
            let new_works = works(&http, &server.base, &email, &next).await;
            let old_works = works(&http, &server.base, &email, &password).await;
            assert_ne!(new_works, old_works, "round {round}: exactly one password works");
            if new_works {
                assert_eq!((others, me), (0, 1), "round {round}: the new password ended every other session");
                password = next;
                "changed"
            } else {
                assert!(!answered, "round {round}: answered, yet nothing changed");
                assert_eq!((others, me), (SESSIONS - 1, 1), "round {round}: no session ended without the change");
                "untouched"
            }
        } else if me == 0 {
            assert_eq!(others, 0, "round {round}: signed out everywhere, every session");
            "ended"
        } else {
            assert!(!answered, "round {round}: answered, yet sessions live");
            assert_eq!(others, SESSIONS - 1, "round {round}: none ended without the others");
            "untouched"
        };
        let kind = if changing { "a password change" } else { "sign out everywhere" };
        println!("kill {ms} ms into {kind} ({at:?} of its time): {outcome} (answered: {answered})");
        if at.is_none() {
            assert_ne!(outcome, "untouched", "round {round}: an answered change survives the crash after it");
        }
        if outcome == "untouched" {
            // The next round starts from its own sessions only, so it takes as long as timed.
            let r = http.post(format!("{}/v1/auth/logout-all", server.base)).bearer_auth(&tokens[0]).send().await;
            assert!(r.is_ok_and(|r| r.status().is_success()));
        }
        outcomes.push(outcome);
    }
}

/// Rows of the killed import: several chunks of 100 at 400 rows a second.
const IMPORT_ROWS: usize = 1_200;

/// An import whose server is killed in the middle (issue 33) finishes after a restart: every
/// row once, the seats it reserved settled, every invitation emailed once. The server delivers
/// the job again, as SQS does in AWS, and takes it over once the dead worker's lease ran out
/// (two seconds here, five minutes by default).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_import_killed_midway_finishes_after_a_restart() {
    let data = std::env::temp_dir().join(format!("switchboard-kill-import-{}", ulid::Ulid::new()));
    let env = vec![("SWITCHBOARD_IMPORT_LEASE_SECS", "2"), ("SWITCHBOARD_INCLUDED_SEATS", "1500")];
    let server = Server::start_with(data.clone(), free_port(), env).await;
    let http = client();
    let email = e2e::unique_email("importer");
    let password = "an importing passphrase";
    let r = http
        .post(format!("{}/v1/auth/register", server.base))
        .json(&json!({"email": email, "password": password, "first_name": "Im", "last_name": "Port", "organization_name": "Killed import"}))
        .send()
        .await
        .expect("register");
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let session = session(&http, &server.base, &email, password).await.expect("a session");
    let (token, org) = (session["access_token"].as_str(), session["organization_id"].as_str());
    let (token, org) = (token.expect("a session").to_owned(), org.expect("an organization").to_owned());
    let people: Vec<String> = (0..IMPORT_ROWS).map(|i| e2e::unique_email(&format!("imported{i}"))).collect();
    let csv: String = std::iter::once("email,first_name\n".to_owned())
        .chain(people.iter().enumerate().map(|(i, p)| format!("{p},Person {i}\n")))
        .collect();
    let r = http
        .post(format!("{}/v1/orgs/{org}/imports/files", server.base))
        .bearer_auth(&token)
        .body(csv)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let upload: Value = r.json().await.unwrap();
    let start = json!({"upload_id": upload["upload_id"], "mapping": {"email": "A", "first_name": "B"}, "start_row": 2});
    let r = http.post(format!("{}/v1/orgs/{org}/imports", server.base)).bearer_auth(&token).json(&start).send().await;
    let r = r.unwrap();
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let job = r.json::<Value>().await.unwrap()["job_id"].as_str().expect("job").to_owned();
    let status_url = |server: &Server| format!("{}/v1/orgs/{org}/imports/{job}", server.base);
    // Killed once a few chunks are in, well before the end.
    let mut killed_at = 0;
    for _ in 0..2_000 {
        let s = get_json(&http, status_url(&server), &token).await;
        killed_at = s["done"].as_u64().unwrap_or(0);
        if killed_at >= 300 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let server = server.crash_and_restart().await;
    assert!((300..IMPORT_ROWS as u64).contains(&killed_at), "killed midway: {killed_at}");
    let token = login(&http, &server.base, &email, password).await.expect("a session after the restart");
    // Finished after the restart, without anyone asking.
    let mut done = Value::Null;
    for _ in 0..1_200 {
        done = get_json(&http, status_url(&server), &token).await;
        if done["status"] == "done" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!((&done["status"], &done["done"]), (&json!("done"), &json!(IMPORT_ROWS)), "{done}");
    assert_eq!(done["counts"]["invited"], IMPORT_ROWS, "each row once: {done}");
    let seats = get_json(&http, format!("{}/v1/orgs/{org}/seats", server.base), &token).await;
    assert_eq!((&seats["pending"], &seats["reserved"]), (&json!(IMPORT_ROWS), &json!(0)), "{seats}");
    // Every invited person's email, once (the emails a dead process left are sent at start).
    let outbox = data.join("outbox");
    let mut counts = std::collections::HashMap::new();
    for _ in 0..1_200 {
        counts.clear();
        for path in e2e::files_in(&outbox) {
            let Ok(bytes) = std::fs::read(path) else { continue };
            if let Some(m) = e2e::parse_email(&bytes) {
                *counts.entry(m.to).or_insert(0) += 1;
            }
        }
        if people.iter().all(|p| counts.contains_key(p)) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let missing = people.iter().filter(|p| !counts.contains_key(*p)).count();
    let twice: Vec<_> = people.iter().filter(|p| counts.get(*p).is_some_and(|n| *n > 1)).collect();
    assert_eq!((missing, twice.len()), (0, 0), "every invitation emailed once: {twice:?}");
    println!("killed at {killed_at} of {IMPORT_ROWS} rows; finished after the restart");
}
