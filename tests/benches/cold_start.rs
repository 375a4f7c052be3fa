//! Cold starts, side by side in one run: a hello-world `lambda_http` function and the shared
//! `bootstrap` binary under every handler, each started as Lambda starts it (a fresh process
//! polling a Runtime API on loopback). Prints init (process start → first poll for an event),
//! the ratio to hello-world, the first request's latency, peak memory, the connections the
//! function opened to DynamoDB during init and during its first request, and the zipped size.
//!
//! `scripts/lambda-bench.sh` builds the release binaries (timing the build) and runs this:
//! `cargo bench -p e2e --bench cold_start --profile dev` with `LAMBDA_BIN_DIR` (default
//! `target/release`), `RUNS` (default 7), and `BUILD_SECONDS`/`REBUILD_SECONDS` to print.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use e2e::lambda_host::{CountingProxy, RuntimeApi, Seen, http_event, lambda_env, peak_rss_kib, spawn};
use functions::Handler;
use switchboard::api::Function;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

const WAIT: Duration = Duration::from_secs(20);
const ID: &str = "01JD0000000000000000000000";

struct Sample {
    init: Duration,
    first: Duration,
    status: String,
    rss_kib: u64,
    conns_init: u64,
    conns_first: u64,
}

/// The event a handler's first invocation gets: its first documented route, unauthenticated
/// (so no set-up is needed), with placeholders for path ids; the refresh function gets a
/// well-formed token that is looked up in the table.
fn first_event(handler: Handler) -> serde_json::Value {
    let function = match handler {
        Handler::Api(f) => f,
        _ => return serde_json::json!({ "Records": [] }),
    };
    if function == Function::Refresh {
        let token = format!("usr_{ID}.ses_{ID}.{}", "a".repeat(43));
        return http_event(
            "POST",
            "/v1/auth/refresh",
            Some(&serde_json::json!({ "refresh_token": token }).to_string()),
        );
    }
    let doc = switchboard::api::openapi(&[function]);
    let Some((path, item)) = doc.paths.paths.iter().next() else {
        return http_event("GET", "/", None);
    };
    let path: String = path
        .split('/')
        .map(|seg| match seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
            Some(name) => format!("{}_{ID}", &name[..3.min(name.len())]),
            None => seg.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("/");
    let (method, body) = if item.get.is_some() {
        ("GET", None)
    } else if item.post.is_some() {
        ("POST", Some("{}"))
    } else if item.put.is_some() {
        ("PUT", Some("{}"))
    } else if item.patch.is_some() {
        ("PATCH", Some("{}"))
    } else {
        ("DELETE", None)
    };
    http_event(method, &path, body)
}

fn status_of(body: &str) -> String {
    match serde_json::from_str::<serde_json::Value>(body) {
        Ok(v) if v.get("statusCode").is_some() => v["statusCode"].to_string(),
        Ok(v) if v.get("batchItemFailures").is_some() => "batch ok".into(),
        _ => "?".into(),
    }
}

struct Bench {
    proxy: CountingProxy,
    keys: String,
    table: String,
    logs: PathBuf,
}

impl Bench {
    async fn run_once(&self, binary: &Path, handler: Option<Handler>, warm_up: bool) -> Result<Sample, BoxError> {
        let mut api = RuntimeApi::start().await?;
        let name = handler.map(Handler::name).unwrap_or("hello");
        let event = match handler {
            Some(h) => first_event(h),
            None => http_event("GET", "/", None),
        };
        let id = api.invoke(&event).await;
        let mut env = lambda_env(&api.address(), name, 1024);
        env.extend(e2e::lambda_host::stand_ins(name));
        env.extend(
            [
                ("AWS_ENDPOINT_URL", format!("http://{}", self.proxy.addr)),
                ("SWITCHBOARD_TABLE", self.table.clone()),
                ("SWITCHBOARD_SIGNING_KEYS", self.keys.clone()),
                ("SWITCHBOARD_WARM_UP", if warm_up { "on" } else { "off" }.into()),
                ("RUST_LOG", "info".into()),
            ]
            .map(|(k, v)| (k.to_owned(), v)),
        );
        let before = self.proxy.opened();
        let started = Instant::now();
        let mut child = spawn(binary, &env, &self.logs.join(format!("{name}.log")))?;
        let result = async {
            let polled = match api.seen(WAIT).await? {
                Seen::Poll(at) => at,
                Seen::Error { body, .. } => return Err(format!("{name}: init failed: {body}")),
                Seen::Response { .. } => return Err(format!("{name}: answered before polling")),
            };
            let conns_init = self.proxy.opened() - before;
            let (answered, body) = api.response_to(&id, WAIT).await?;
            Ok(Sample {
                init: polled - started,
                first: answered - polled,
                status: status_of(&body),
                rss_kib: peak_rss_kib(child.id()).unwrap_or_default(),
                conns_init,
                conns_first: self.proxy.opened() - before - conns_init,
            })
        }
        .await;
        let _ = child.kill();
        let _ = child.wait();
        Ok(result?)
    }

    async fn median(
        &self,
        binary: &Path,
        handler: Option<Handler>,
        warm_up: bool,
        runs: usize,
    ) -> Result<Sample, BoxError> {
        let mut samples = Vec::with_capacity(runs);
        for _ in 0..runs {
            samples.push(self.run_once(binary, handler, warm_up).await?);
        }
        samples.sort_by_key(|s| s.init);
        let mut firsts: Vec<Duration> = samples.iter().map(|s| s.first).collect();
        firsts.sort();
        let mid = samples.len() / 2;
        let mut m = samples.swap_remove(mid);
        m.first = firsts[mid];
        Ok(m)
    }
}

fn zipped_size(binary: &Path) -> Result<u64, BoxError> {
    let bytes = std::fs::read(binary)?;
    let mut buf = std::io::Cursor::new(Vec::new());
    let mut zip = zip::ZipWriter::new(&mut buf);
    let opts = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    zip.start_file("bootstrap", opts)?;
    zip.write_all(&bytes)?;
    zip.finish()?;
    Ok(buf.into_inner().len() as u64)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let dir = PathBuf::from(std::env::var("LAMBDA_BIN_DIR").unwrap_or_else(|_| "../target/release".into()));
    let runs: usize = std::env::var("RUNS").ok().and_then(|r| r.parse().ok()).unwrap_or(7);
    let bootstrap = dir.join("bootstrap");
    let hello = dir.join("examples/hello");
    for b in [&bootstrap, &hello] {
        if !b.exists() {
            return Err(format!(
                "{} is missing: run scripts/lambda-bench.sh, or cargo build --release -p functions --bin bootstrap --example hello",
                b.display()
            )
            .into());
        }
    }
    let engine = local::serve_dynoxide(dynoxide::Database::memory()?, 0).await?;
    let upstream = engine.endpoint.trim_start_matches("http://").parse()?;
    let table = "switchboard-bench".to_owned();
    let sdk = local::local_sdk_config(&engine.endpoint).await;
    switchboard::store::Store::new(&sdk, &table, None).create_table_if_missing().await?;
    let keys = serde_json::to_string(&switchboard::auth::jwt::KeysConfig::generate(&switchboard::clock::OsRandom)?)?;
    let logs = std::env::temp_dir().join("switchboard-cold-start");
    std::fs::create_dir_all(&logs)?;
    let bench = Bench { proxy: CountingProxy::start(upstream).await?, keys, table, logs };

    println!("cold starts: median of {runs} runs each, this machine, release binaries in {}", dir.display());
    if let Ok(s) = std::env::var("BUILD_SECONDS") {
        println!("release build of every function from a clean target directory: {s} s");
    }
    if let Ok(s) = std::env::var("REBUILD_SECONDS") {
        println!("release rebuild after a change in shared/: {s} s");
    }
    let (hello_size, boot_size) = (zipped_size(&hello)?, zipped_size(&bootstrap)?);
    println!(
        "sizes: bootstrap {:.1} MiB, zipped {:.2} MiB (one artifact for every function); hello {:.1} MiB, zipped {:.2} MiB",
        mib(std::fs::metadata(&bootstrap)?.len()),
        mib(boot_size),
        mib(std::fs::metadata(&hello)?.len()),
        mib(hello_size)
    );
    let base = bench.median(&hello, None, false, runs).await?;
    println!(
        "\n{:<22} {:>9} {:>7} {:>12} {:>10} {:>9} {:>13}   {:>16} {:>7}",
        "handler", "init ms", "ratio", "1st req ms", "status", "RSS MiB", "conns init/1st", "init ms, no warm", "ratio"
    );
    let line = |name: &str, s: &Sample, cold: Option<&Sample>| {
        let cold =
            cold.map(|c| format!("{:>16.2} {:>7.2}", ms(c.init), ms(c.init) / ms(base.init))).unwrap_or_default();
        println!(
            "{:<22} {:>9.2} {:>7.2} {:>12.2} {:>10} {:>9.1} {:>10}/{}   {cold}",
            name,
            ms(s.init),
            ms(s.init) / ms(base.init),
            ms(s.first),
            s.status,
            s.rss_kib as f64 / 1024.0,
            s.conns_init,
            s.conns_first
        )
    };
    line("hello (lambda_http)", &base, None);
    let (mut worst, mut worst_cold): (f64, f64) = (0.0, 0.0);
    for handler in Handler::all() {
        let s = bench.median(&bootstrap, Some(handler), true, runs).await?;
        let c = bench.median(&bootstrap, Some(handler), false, runs).await?;
        worst = worst.max(ms(s.init) / ms(base.init));
        worst_cold = worst_cold.max(ms(c.init) / ms(base.init));
        line(handler.name(), &s, Some(&c));
    }
    println!("\nworst init ratio to hello-world: {worst:.2} with the DynamoDB warm-up, {worst_cold:.2} without");
    println!("\nthe first DynamoDB call, with and without opening the connection during init (refresh):");
    for warm in [false, true] {
        let s = bench.median(&bootstrap, Some(Handler::Api(Function::Refresh)), warm, runs).await?;
        line(if warm { "refresh, warm-up on" } else { "refresh, warm-up off" }, &s, None);
    }
    engine.shutdown().await?;
    Ok(())
}
