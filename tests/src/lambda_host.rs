//! A Lambda host on loopback for benchmarks: the Runtime API a function's runtime polls
//! (`/2018-06-01/runtime/invocation/next`, `…/response`, `…/error`, `…/init/error`), the
//! environment Lambda sets, and a TCP proxy that counts the connections a function opens.
//! It starts real release binaries as child processes, as Lambda would.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, HeaderValue};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use tokio::net::TcpListener;
use tokio::sync::{Mutex, Notify, mpsc};

/// What the host saw the function do, with when.
#[derive(Debug)]
pub enum Seen {
    /// A `GET …/invocation/next`: the runtime is ready for an event (the first ends init).
    Poll(Instant),
    Response {
        at: Instant,
        id: String,
        body: String,
    },
    Error {
        at: Instant,
        body: String,
    },
}

struct Host {
    queue: Mutex<VecDeque<(String, String)>>,
    queued: Notify,
    seen: mpsc::UnboundedSender<Seen>,
    ids: AtomicU64,
    /// Invocations awaited by [`RuntimeApi::call`], by request id: their answer goes there.
    waiting: std::sync::Mutex<std::collections::HashMap<String, tokio::sync::oneshot::Sender<Result<String, String>>>>,
}

impl Host {
    fn answer(&self, id: &str, outcome: Result<String, String>) -> Option<Result<String, String>> {
        let waiter = self.waiting.lock().ok().and_then(|mut w| w.remove(id));
        match waiter {
            Some(tx) => {
                let _ = tx.send(outcome);
                None
            }
            None => Some(outcome),
        }
    }
}

pub struct RuntimeApi {
    addr: SocketAddr,
    host: Arc<Host>,
    pub seen: mpsc::UnboundedReceiver<Seen>,
    task: tokio::task::JoinHandle<()>,
}

async fn next(State(host): State<Arc<Host>>) -> impl IntoResponse {
    let _ = host.seen.send(Seen::Poll(Instant::now()));
    let (id, body) = loop {
        let notified = host.queued.notified();
        if let Some(ev) = host.queue.lock().await.pop_front() {
            break ev;
        }
        notified.await;
    };
    let deadline = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default() + Duration::from_secs(30);
    let mut headers = HeaderMap::new();
    let mut set = |k: &'static str, v: String| {
        if let Ok(v) = HeaderValue::from_str(&v) {
            headers.insert(k, v);
        }
    };
    set("lambda-runtime-aws-request-id", id);
    set("lambda-runtime-deadline-ms", deadline.as_millis().to_string());
    set("lambda-runtime-invoked-function-arn", "arn:aws:lambda:us-east-1:123456789012:function:bench".into());
    set("lambda-runtime-trace-id", "Root=1-00000000-000000000000000000000000;Sampled=0".into());
    set("content-type", "application/json".into());
    (headers, body)
}

async fn response(State(host): State<Arc<Host>>, UrlPath(id): UrlPath<String>, body: String) -> impl IntoResponse {
    if let Some(Ok(body)) = host.answer(&id, Ok(body)) {
        let _ = host.seen.send(Seen::Response { at: Instant::now(), id, body });
    }
    axum::http::StatusCode::ACCEPTED
}

async fn invocation_error(
    State(host): State<Arc<Host>>,
    UrlPath(id): UrlPath<String>,
    body: String,
) -> impl IntoResponse {
    if let Some(Err(body)) = host.answer(&id, Err(body)) {
        let _ = host.seen.send(Seen::Error { at: Instant::now(), body });
    }
    axum::http::StatusCode::ACCEPTED
}

async fn error(State(host): State<Arc<Host>>, body: String) -> impl IntoResponse {
    let _ = host.seen.send(Seen::Error { at: Instant::now(), body });
    axum::http::StatusCode::ACCEPTED
}

impl RuntimeApi {
    pub async fn start() -> std::io::Result<RuntimeApi> {
        let (tx, rx) = mpsc::unbounded_channel();
        let host = Arc::new(Host {
            queue: Mutex::new(VecDeque::new()),
            queued: Notify::new(),
            seen: tx,
            ids: AtomicU64::new(0),
            waiting: Default::default(),
        });
        let app = axum::Router::new()
            .route("/2018-06-01/runtime/invocation/next", get(next))
            .route("/2018-06-01/runtime/invocation/{id}/response", post(response))
            .route("/2018-06-01/runtime/invocation/{id}/error", post(invocation_error))
            .route("/2018-06-01/runtime/init/error", post(error))
            .with_state(host.clone());
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(RuntimeApi { addr, host, seen: rx, task })
    }

    /// `AWS_LAMBDA_RUNTIME_API`.
    pub fn address(&self) -> String {
        self.addr.to_string()
    }

    /// Queue one event; returns its request id.
    pub async fn invoke(&self, event: &serde_json::Value) -> String {
        let id = format!("bench-{}", self.host.ids.fetch_add(1, Ordering::Relaxed));
        self.host.queue.lock().await.push_back((id.clone(), event.to_string()));
        self.host.queued.notify_waiters();
        id
    }

    /// Invoke and wait for this invocation's answer, however many others are in flight (the
    /// function may run several instances polling this API). `Err`: the function reported
    /// an error, or nothing came within `wait`.
    pub async fn call(&self, event: &serde_json::Value, wait: Duration) -> Result<String, String> {
        let id = format!("call-{}", self.host.ids.fetch_add(1, Ordering::Relaxed));
        let (tx, rx) = tokio::sync::oneshot::channel();
        if let Ok(mut w) = self.host.waiting.lock() {
            w.insert(id.clone(), tx);
        }
        self.host.queue.lock().await.push_back((id.clone(), event.to_string()));
        self.host.queued.notify_waiters();
        match tokio::time::timeout(wait, rx).await {
            Ok(Ok(outcome)) => outcome,
            Ok(Err(_)) => Err("runtime API closed".into()),
            Err(_) => Err(format!("no answer to {id} within {wait:?}")),
        }
    }

    /// The next thing the function did, or an error after `wait`.
    pub async fn seen(&mut self, wait: Duration) -> Result<Seen, String> {
        match tokio::time::timeout(wait, self.seen.recv()).await {
            Ok(Some(s)) => Ok(s),
            Ok(None) => Err("runtime API closed".into()),
            Err(_) => Err(format!("nothing from the function within {wait:?}")),
        }
    }

    /// Wait for the response to `id`, skipping polls; an error report fails.
    pub async fn response_to(&mut self, id: &str, wait: Duration) -> Result<(Instant, String), String> {
        loop {
            match self.seen(wait).await? {
                Seen::Poll(_) => continue,
                Seen::Response { at, id: got, body } if got == id => return Ok((at, body)),
                Seen::Response { id: got, .. } => return Err(format!("response to {got}, expected {id}")),
                Seen::Error { body, .. } => return Err(format!("the function reported an error: {body}")),
            }
        }
    }
}

impl Drop for RuntimeApi {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A TCP proxy to `upstream` that counts the connections made through it.
pub struct CountingProxy {
    pub addr: SocketAddr,
    opened: Arc<AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

impl CountingProxy {
    pub async fn start(upstream: SocketAddr) -> std::io::Result<CountingProxy> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let opened = Arc::new(AtomicU64::new(0));
        let count = opened.clone();
        let task = tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                count.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(async move {
                    if let Ok(mut outbound) = tokio::net::TcpStream::connect(upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
            }
        });
        Ok(CountingProxy { addr, opened, task })
    }

    pub fn opened(&self) -> u64 {
        self.opened.load(Ordering::SeqCst)
    }
}

impl Drop for CountingProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The variables Lambda sets for a function (those `lambda_runtime` requires among them).
pub fn lambda_env(runtime_api: &str, name: &str, memory_mb: u32) -> Vec<(String, String)> {
    [
        ("AWS_LAMBDA_RUNTIME_API", runtime_api.to_owned()),
        ("AWS_LAMBDA_FUNCTION_NAME", format!("bench-{name}")),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", memory_mb.to_string()),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST".into()),
        ("AWS_LAMBDA_LOG_GROUP_NAME", format!("/aws/lambda/bench-{name}")),
        ("AWS_LAMBDA_LOG_STREAM_NAME", "bench".into()),
        ("AWS_REGION", "us-east-1".into()),
        ("AWS_ACCESS_KEY_ID", "bench".into()),
        ("AWS_SECRET_ACCESS_KEY", "bench".into()),
        ("AWS_SESSION_TOKEN", "bench".into()),
        ("_HANDLER", name.to_owned()),
        ("PATH", "/usr/bin:/bin".into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

/// Start `binary` with exactly `env` (nothing inherited), output to `log`.
pub fn spawn(binary: &Path, env: &[(String, String)], log: &Path) -> std::io::Result<Child> {
    let out = std::fs::File::create(log)?;
    Command::new(binary)
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(out.try_clone()?)
        .stderr(out)
        .spawn()
}

/// Peak resident memory of a running process, in KiB (`VmHWM`).
pub fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status.lines().find(|l| l.starts_with("VmHWM:"))?.split_whitespace().nth(1)?.parse().ok()
}

/// An API Gateway HTTP API (payload 2.0) event.
pub fn http_event(method: &str, path: &str, body: Option<&str>) -> serde_json::Value {
    let mut headers = serde_json::json!({ "accept": "application/json", "user-agent": "bench" });
    if body.is_some() {
        headers["content-type"] = "application/json".into();
    }
    serde_json::json!({
        "version": "2.0",
        "routeKey": format!("{method} {path}"),
        "rawPath": path,
        "rawQueryString": "",
        "headers": headers,
        "requestContext": {
            "accountId": "123456789012", "apiId": "bench", "domainName": "bench.local",
            "domainPrefix": "bench", "requestId": "bench", "routeKey": format!("{method} {path}"),
            "stage": "$default", "time": "01/Dec/2026:00:00:00 +0000", "timeEpoch": 1_796_083_200_000u64,
            "http": { "method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1", "userAgent": "bench" }
        },
        "body": body,
        "isBase64Encoded": false
    })
}

/// Values for the variables a function refuses to start without (those every function needs
/// and its handler's own) that a bench does not exercise: queue URLs nobody drains, a bucket,
/// a configuration set. A bench's own values come after these and replace them.
pub fn stand_ins(handler: &str) -> Vec<(String, String)> {
    let needs = functions::Handler::parse(handler).map(|h| h.needs()).unwrap_or_default();
    let queue = |name: &str| format!("https://sqs.us-east-1.amazonaws.com/123456789012/{name}");
    let mut out: Vec<(String, String)> = [
        ("SWITCHBOARD_PUBLIC_URL", "https://app.example.com".to_owned()),
        ("SWITCHBOARD_API_URL", "https://api.example.com".to_owned()),
        ("SWITCHBOARD_SENDER", "Switchboard <no-reply@example.com>".to_owned()),
        ("SWITCHBOARD_EMAIL_QUEUE_URL", queue("email")),
        ("SWITCHBOARD_EVENTS_QUEUE_URL", queue("events")),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    for need in needs {
        let value = match need {
            switchboard::config::Need::UploadsBucket => "bench-uploads".to_owned(),
            switchboard::config::Need::ImportQueue => queue("imports"),
            switchboard::config::Need::ExportQueue => queue("exports"),
            switchboard::config::Need::SesConfigurationSet => "bench".to_owned(),
        };
        out.push((need.variable().to_owned(), value));
    }
    out
}
