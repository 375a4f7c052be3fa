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

/// The `local` binary of this build (`cargo test --workspace` builds it beside the tests).
fn local_bin() -> PathBuf {
    let exe = std::env::current_exe().expect("test binary");
    let dir = exe.parent().and_then(|d| d.parent()).expect("target dir");
    let bin = dir.join("local");
    assert!(
        bin.exists(),
        "{} is missing: run `cargo build -p local` (cargo test --workspace builds it)",
        bin.display()
    );
    bin
}

struct Server {
    child: Child,
    base: String,
    data: PathBuf,
    port: u16,
}

impl Server {
    async fn start(data: PathBuf, port: u16) -> Server {
        let log = std::fs::File::create(data.with_extension("log")).expect("log");
        let child = Command::new(local_bin())
            .args(["--port", &port.to_string(), "--data-dir", data.to_str().expect("utf-8 path")])
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("start local");
        // Owned at once, so a failure below still kills and reaps it (`Drop`).
        let server = Server { child, base: format!("http://127.0.0.1:{port}"), data, port };
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
        Server::start(self.data.clone(), self.port).await
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
    let r = http
        .post(format!("{base}/v1/auth/login"))
        .json(&json!({"email": email, "password": password, "client": "web"}))
        .send()
        .await
        .map_err(|e| format!("no answer: {e:?}"))?;
    let status = r.status();
    let body: Value = r.json().await.map_err(|e| format!("{status}: unreadable body: {e}"))?;
    body["access_token"].as_str().map(str::to_owned).ok_or_else(|| format!("{status}: {body}"))
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
