//! The embedded default: the whole API in one process, on a DynamoDB engine (dynoxide)
//! served over HTTP on loopback inside the same process, so the one storage code path
//! (aws-sdk-dynamodb) is exactly the one used in AWS.

#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::unreachable))]
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use aws_config::SdkConfig;
use axum::extract::{ConnectInfo, Request};
use axum::middleware::Next;
use switchboard::api::{self, Function, extract::ClientAddr};
use switchboard::auth::jwt::KeysConfig;
use switchboard::clock::{Clock, OsRandom, Random, SystemClock};
use switchboard::config::Config;
use switchboard::mail::{Mailer, OutboxMailer};
use switchboard::service::Ctx;
use switchboard::store::Store;
use tokio::net::TcpListener;

pub mod cli;

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A dynoxide engine served on loopback inside this process.
pub struct Engine {
    pub endpoint: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<Result<(), String>>,
}

impl Engine {
    /// Stop serving and wait until every connection (and so every database handle) is gone.
    pub async fn shutdown(mut self) -> Result<(), BoxError> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        (&mut self.task).await??;
        Ok(())
    }
}

/// Serve a dynoxide database on a loopback port (0 = any free one).
pub async fn serve_dynoxide(db: dynoxide::Database, port: u16) -> Result<Engine, BoxError> {
    let listener = TcpListener::bind(("127.0.0.1", port)).await?;
    let addr = listener.local_addr()?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(dynoxide::server::serve_with_shutdown(listener, db, async move {
        let _ = stopped.await;
    }));
    Ok(Engine { endpoint: format!("http://{addr}"), stop: Some(stop), task })
}

/// SDK configuration for a local endpoint: fixed region and dummy credentials, so the SDK
/// never probes instance metadata.
pub async fn local_sdk_config(endpoint: &str) -> SdkConfig {
    switchboard::aws::local_sdk_config(endpoint)
}

/// Load the signing keys kept in `path`, creating them on first run.
pub fn load_or_create_keys(path: &Path, random: &dyn Random) -> Result<KeysConfig, BoxError> {
    if let Ok(text) = std::fs::read_to_string(path) {
        return Ok(serde_json::from_str(&text)?);
    }
    let keys = KeysConfig::generate(random)?;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    write_private(path, &serde_json::to_string_pretty(&keys)?)?;
    Ok(keys)
}

#[cfg(unix)]
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path)?;
    f.write_all(text.as_bytes())
}

#[cfg(not(unix))]
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    std::fs::write(path, text)
}

/// Where the local server keeps its state.
#[derive(Debug, Clone)]
pub struct DataDir(pub PathBuf);

impl DataDir {
    pub fn database(&self) -> PathBuf {
        self.0.join("dynamodb.sqlite")
    }
    pub fn outbox(&self) -> PathBuf {
        self.0.join("outbox")
    }
    pub fn keys(&self) -> PathBuf {
        self.0.join("signing-keys.json")
    }
    pub fn uploads(&self) -> PathBuf {
        self.0.join("uploads")
    }
    /// Import jobs not over yet, one message each (see `Spool`).
    pub fn imports(&self) -> PathBuf {
        self.0.join("queues").join("imports")
    }
    /// Text messages (mobile codes), one file each.
    pub fn sms(&self) -> PathBuf {
        self.0.join("sms")
    }
}

/// Everything needed to serve: the context plus the endpoints it talks to.
pub struct Local {
    pub ctx: Arc<Ctx>,
    pub engine: Engine,
}

/// Open (or create) the local data folder and build the API context on it.
pub async fn open(data: &DataDir, config: Config, dynamo_port: u16) -> Result<Local, BoxError> {
    open_with(data, config, dynamo_port, Arc::new(SystemClock), false).await
}

/// An email queue that sends at once, for one-shot commands that exit when done.
struct InlineQueue {
    store: Store,
    files: switchboard::files::FileStore,
    mailer: Arc<dyn Mailer>,
    sealer: switchboard::mail::seal::Sealer,
    clock: Arc<dyn Clock>,
}

impl switchboard::mail::queue::EmailQueue for InlineQueue {
    fn enqueue<'a>(&'a self, jobs: Vec<switchboard::mail::queue::EmailJob>) -> switchboard::mail::SendFuture<'a> {
        Box::pin(async move {
            for job in jobs {
                let d = switchboard::mail::queue::Delivery {
                    store: &self.store,
                    files: &self.files,
                    mailer: self.mailer.as_ref(),
                    sealer: &self.sealer,
                    clock: self.clock.as_ref(),
                };
                switchboard::mail::queue::deliver(d, &job, true).await?;
            }
            Ok(())
        })
    }
}

/// [`open`] with a chosen clock; `inline_mail` sends emails before `enqueue` returns.
pub async fn open_with(
    data: &DataDir,
    config: Config,
    dynamo_port: u16,
    clock: Arc<dyn Clock>,
    inline_mail: bool,
) -> Result<Local, BoxError> {
    std::fs::create_dir_all(&data.0)?;
    let db = dynoxide::Database::new(&data.database().to_string_lossy())?;
    let engine = serve_dynoxide(db, dynamo_port).await?;
    let sdk = local_sdk_config(&engine.endpoint).await;
    let store = Store::new(&sdk, &config.table, None);
    store.create_table_if_missing().await?;
    let random: Arc<dyn Random> = Arc::new(OsRandom);
    let keys = load_or_create_keys(&data.keys(), random.as_ref())?;
    let mailer: Arc<dyn Mailer> = Arc::new(OutboxMailer::new(data.outbox(), &config.sender));
    // Uploads and logos on disk (the local server answers the presigned PUTs).
    let files = switchboard::files::FileStore::Disk { dir: data.uploads() };
    let queue: Option<Arc<dyn switchboard::mail::queue::EmailQueue>> = match inline_mail {
        true => Some(Arc::new(InlineQueue {
            store: store.clone(),
            files: files.clone(),
            mailer: mailer.clone(),
            sealer: switchboard::mail::seal::Sealer::from_config(&keys)?,
            clock: clock.clone(),
        })),
        false => None,
    };
    let mail = switchboard::service::Mail { mailer, queue, files };
    let mut ctx = Ctx::new(config, store, mail, &keys, clock, random)?;
    ctx.sms = switchboard::sms::SmsSender::Outbox { dir: data.sms() };
    // The system resolver, or the DNS server named for local domain checks.
    ctx.dns = switchboard::dns::Dns::from_vars(&switchboard::config::ProcessEnv)?;
    // Import jobs outlive the process that started them, as SQS messages do in AWS.
    ctx.imports = switchboard::service::members::imports::ImportQueue::Spool(
        switchboard::service::members::imports::Spool::open(data.imports())?,
    );
    Ok(Local { ctx: Arc::new(ctx), engine })
}

async fn peer_addr(mut req: Request, next: Next) -> axum::response::Response {
    if let Some(ConnectInfo(addr)) = req.extensions().get::<ConnectInfo<SocketAddr>>().copied() {
        req.extensions_mut().insert(ClientAddr(addr.ip().to_string()));
    }
    next.run(req).await
}

/// The router of every function, plus `/openapi.json`, as the local server serves it.
pub fn app(ctx: Arc<Ctx>) -> axum::Router {
    let doc = api::openapi(&Function::ALL);
    api::router(ctx, &Function::ALL)
        .route("/openapi.json", axum::routing::get(move || async move { axum::Json(doc) }))
        .layer(axum::middleware::from_fn(peer_addr))
}

/// A client has this long to send a request's headers, the first or the next one on a kept
/// connection: one sending a byte every few seconds is cut off, not kept for minutes.
pub const HEADER_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Serve `app` on `listener`, HTTP/1.1 with a header timeout ([`HEADER_TIMEOUT`]); never
/// returns but for a listener error that is not one connection's.
pub async fn serve(listener: TcpListener, app: axum::Router) -> std::io::Result<()> {
    serve_with(listener, app, HEADER_TIMEOUT).await
}

/// [`serve`] with another header timeout (tests).
pub async fn serve_with(
    listener: TcpListener,
    app: axum::Router,
    header_timeout: std::time::Duration,
) -> std::io::Result<()> {
    use tower::ServiceExt;
    // Connections end with the server: when this future is dropped, so is `_open`, and every
    // connection's `closed` resolves.
    let (_open, closed) = tokio::sync::watch::channel(());
    loop {
        let (socket, remote) = match listener.accept().await {
            Ok(c) => c,
            // One connection's trouble (reset before accept, out of descriptors for a moment).
            Err(e) if is_connection_error(&e) => {
                tracing::warn!(error = %e, "accept failed");
                continue;
            }
            Err(e) => return Err(e),
        };
        let app = app.clone();
        let mut closed = closed.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |mut req: hyper::Request<hyper::body::Incoming>| {
                req.extensions_mut().insert(axum::extract::ConnectInfo(remote));
                app.clone().oneshot(req.map(axum::body::Body::new))
            });
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(header_timeout)
                .serve_connection(hyper_util::rt::TokioIo::new(socket), service);
            tokio::select! {
                served = conn => if let Err(e) = served {
                    tracing::debug!(error = %e, "connection ended");
                },
                _ = closed.changed() => {}
            }
        });
    }
}

fn is_connection_error(e: &std::io::Error) -> bool {
    use std::io::ErrorKind::*;
    matches!(e.kind(), ConnectionAborted | ConnectionReset | Interrupted | WouldBlock)
        || e.raw_os_error().is_some_and(|c| c == 24 || c == 23)
}

/// Run the digest schedule in this process: one pass (digests, then mobile reminders) at the
/// start of every minute, as the EventBridge rule does in AWS.
pub fn start_digest_schedule(ctx: Arc<Ctx>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(switchboard::aws::as_function("digests", async move {
        loop {
            let now = chrono::Utc::now();
            let wait = 60 - now.timestamp().rem_euclid(60);
            tokio::time::sleep(std::time::Duration::from_secs(wait as u64)).await;
            let at = ctx.now();
            match switchboard::service::notify::digests::run(&ctx, at).await {
                Ok(r) if r.claimed + r.taken_over > 0 => tracing::info!(?r, "digest run"),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "digest run failed; the next minute tries again"),
            }
            match switchboard::service::identity::reminders::run(&ctx, at).await {
                Ok(r) if r.sent + r.dropped > 0 => tracing::info!(?r, "mobile reminders run"),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "mobile reminders failed; the next minute tries again"),
            }
        }
    }))
}

/// Relay recorded emails that waited over a minute (their request stopped between its commit
/// and the queue) to the in-process worker, every 30 seconds, and at start every one an
/// earlier process left; in AWS the table's stream carries every one.
pub fn start_mail_relay(ctx: Arc<Ctx>) -> tokio::task::JoinHandle<()> {
    // In AWS the digest schedule runs the relay; attributed to it for the IAM check.
    tokio::spawn(switchboard::aws::as_function("digests", async move {
        // What a process before this one recorded and left unsent goes out now, not a minute on.
        match switchboard::service::notify::outbox::relay_after_restart(&ctx, ctx.now()).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(relayed = n, "emails left by the previous run handed to the worker"),
            Err(e) => tracing::warn!(error = %e, "email relay failed; it runs again in 30 seconds"),
        }
        loop {
            match switchboard::service::notify::outbox::relay(&ctx).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(relayed = n, "waiting emails handed to the worker"),
                Err(e) => tracing::warn!(error = %e, "email relay failed; it runs again in 30 seconds"),
            }
            tokio::time::sleep(std::time::Duration::from_secs(30)).await;
        }
    }))
}

/// Deliver import jobs that are not over again, at start and then every half lease (at most
/// 30 s), as SQS redelivers a message whose worker went silent: a job whose process was
/// killed resumes once its lease runs out, after its last checkpoint.
pub fn start_import_redelivery(ctx: Arc<Ctx>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let switchboard::service::members::imports::ImportQueue::Spool(spool) = &ctx.imports else { return };
        let every = std::time::Duration::from_secs((ctx.config.import_lease_secs / 2).clamp(1, 30) as u64);
        loop {
            let n = spool.redeliver(&ctx);
            if n > 0 {
                tracing::debug!(jobs = n, "import jobs delivered again");
            }
            tokio::time::sleep(every).await;
        }
    })
}

/// Run the purge of closed organizations in this process, hourly as in AWS.
pub fn start_purge_schedule(ctx: Arc<Ctx>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(switchboard::aws::as_function("org-purge", async move {
        loop {
            tokio::time::sleep(std::time::Duration::from_secs(3600)).await;
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(600);
            match switchboard::service::orgs::lifecycle::purge_due(&ctx, ctx.now(), deadline).await {
                Ok(r) if r.organizations > 0 => tracing::info!(?r, "purge run"),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "purge run failed; the next hour tries again"),
            }
        }
    }))
}

/// The server's configuration: the environment's, with the public and API addresses at
/// `http://127.0.0.1:<port>` unless `SWITCHBOARD_PUBLIC_URL` / `SWITCHBOARD_API_URL` say
/// otherwise. The server and every `local run` use it, so links in the emails a run sends
/// lead to the server holding the data.
pub fn config_for_port(port: u16) -> Result<Config, switchboard::config::ConfigError> {
    let mut config = Config::from_env()?;
    if std::env::var("SWITCHBOARD_PUBLIC_URL").is_err() {
        config.public_url = format!("http://127.0.0.1:{port}");
        config.issuer = config.public_url.clone();
    }
    if std::env::var("SWITCHBOARD_API_URL").is_err() {
        config.api_url = format!("http://127.0.0.1:{port}");
    }
    Ok(config)
}

/// The scheduled work of the service, each run by `local run <job> --at <time>` as it runs
/// in AWS (or in the local server, on its own schedule) at that time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Job {
    /// The `digests` function (every five minutes): due digest windows, emailed.
    Digests,
    /// The `org-purge` function (hourly): closed organizations whose 30 days have passed.
    Purge,
    /// The email relay (with the digests in AWS, every 30 seconds locally): recorded emails
    /// nobody handed on.
    EmailRelay,
    /// With the digests in AWS: logins made long enough ago reminded to confirm a mobile number.
    MobileReminders,
}

impl Job {
    pub const ALL: [Job; 4] = [Job::Digests, Job::Purge, Job::EmailRelay, Job::MobileReminders];

    pub fn name(self) -> &'static str {
        match self {
            Job::Digests => "digests",
            Job::Purge => "purge",
            Job::EmailRelay => "email-relay",
            Job::MobileReminders => "mobile-reminders",
        }
    }

    pub fn parse(raw: &str) -> Option<Job> {
        Job::ALL.into_iter().find(|j| j.name() == raw)
    }
}

/// What one `local run` did, as the job reports it.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(untagged)]
pub enum JobReport {
    Digests(switchboard::service::notify::digests::RunReport),
    Purge(switchboard::service::orgs::lifecycle::PurgeReport),
    EmailRelay { relayed: usize },
    MobileReminders(switchboard::service::identity::reminders::ReminderReport),
}

/// `local run <job> --at <time>`: one run of `job` as of `at` against the data in `data`,
/// with the clock standing at `at` throughout; the emails it sends are in the outbox when it
/// returns. The server must not be running on the same data meanwhile.
pub async fn run_at(
    data: &DataDir,
    config: Config,
    job: Job,
    at: chrono::DateTime<chrono::Utc>,
) -> Result<JobReport, BoxError> {
    let clock = Arc::new(switchboard::clock::ManualClock::new(at));
    let local = open_with(data, config, 0, clock, true).await?;
    let ctx = &local.ctx;
    let report = match job {
        Job::Digests => switchboard::service::notify::digests::run(ctx, at).await.map(JobReport::Digests),
        Job::Purge => {
            // As long as it takes: a run here has no Lambda deadline to stop at.
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(24 * 3600);
            switchboard::service::orgs::lifecycle::purge_due(ctx, at, deadline).await.map(JobReport::Purge)
        }
        Job::EmailRelay => {
            switchboard::service::notify::outbox::relay(ctx).await.map(|relayed| JobReport::EmailRelay { relayed })
        }
        Job::MobileReminders => {
            switchboard::service::identity::reminders::run(ctx, at).await.map(JobReport::MobileReminders)
        }
    };
    drop(local.ctx);
    local.engine.shutdown().await?;
    Ok(report?)
}
