//! Memory sizes from measurement. Lambda gives a function CPU in proportion to its memory (one
//! vCPU at 1,769 MB); this bench runs the release `bootstrap` under a CFS quota of that share
//! (a cgroup-v1 `cpu` group, so it needs root) and measures, per size: one argon2id verify at
//! the production parameters (the release `verify_cost` example), and warm request latency of
//! login (a verify on every call) and two everyday reads.
//!
//! `cargo bench -p e2e --bench memory_size --profile dev` after
//! `cargo build --release -p functions --bin bootstrap --example verify_cost`; `LAMBDA_BIN_DIR`,
//! `REQUESTS`.

use std::path::{Path, PathBuf};
use std::process::Child;
use std::time::{Duration, Instant};

use e2e::lambda_host::{RuntimeApi, Seen, http_event, lambda_env, peak_rss_kib};
use e2e::{Engine, TestApp};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Lambda's documented point of one full vCPU.
const MB_PER_VCPU: f64 = 1769.0;
/// Short enough that a request of a few milliseconds feels the quota as Lambda's does.
const PERIOD_US: u64 = 20_000;
const SIZES: [u32; 7] = [128, 256, 512, 768, 1024, 1536, 1769];
const CGROUP: &str = "/sys/fs/cgroup/cpu/switchboard-bench";

/// A CPU-quota group standing for one memory size.
struct Quota {
    dir: PathBuf,
}

impl Quota {
    fn new(memory_mb: u32) -> Result<Quota, BoxError> {
        let dir = PathBuf::from(format!("{CGROUP}-{memory_mb}"));
        std::fs::create_dir_all(&dir).map_err(|e| {
            format!("cannot create {}: {e} (needs root and the cgroup-v1 cpu controller)", dir.display())
        })?;
        let quota = ((memory_mb as f64 / MB_PER_VCPU).min(1.0) * PERIOD_US as f64) as u64;
        std::fs::write(dir.join("cpu.cfs_period_us"), PERIOD_US.to_string())?;
        std::fs::write(dir.join("cpu.cfs_quota_us"), quota.max(1000).to_string())?;
        Ok(Quota { dir })
    }
}

impl Drop for Quota {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir(&self.dir);
    }
}

/// Start `binary` inside the group before it runs an instruction of its own: a shell joins
/// the group, then becomes the binary.
fn spawn_in(quota: &Quota, binary: &Path, env: &[(String, String)], log: &Path) -> std::io::Result<Child> {
    let out = std::fs::File::create(log)?;
    std::process::Command::new("/bin/sh")
        .arg("-c")
        .arg(r#"echo $$ > "$1" && exec "$2""#)
        .arg("sh")
        .arg(quota.dir.join("cgroup.procs"))
        .arg(binary)
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdout(out.try_clone()?)
        .stderr(out)
        .spawn()
}

/// The median verify, in ms, of the release `verify_cost` example run under `quota`.
fn verify_ms(quota: &Quota, example: &Path) -> Result<f64, BoxError> {
    let log = std::env::temp_dir().join("switchboard-verify-cost.log");
    let child = spawn_in(quota, example, &[("PATH".into(), "/usr/bin:/bin".into())], &log)?;
    let out = child.wait_with_output()?;
    if !out.status.success() {
        return Err(format!("verify_cost failed: {}", std::fs::read_to_string(&log).unwrap_or_default()).into());
    }
    Ok(std::fs::read_to_string(&log)?.trim().parse()?)
}

struct Scenario {
    name: &'static str,
    handler: &'static str,
    event: serde_json::Value,
    requests: usize,
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i].as_secs_f64() * 1000.0
}

async fn measure(
    app: &TestApp,
    binary: &Path,
    quota: &Quota,
    memory_mb: u32,
    s: &Scenario,
) -> Result<(f64, f64, u64), BoxError> {
    let mut api = RuntimeApi::start().await?;
    let mut env = lambda_env(&api.address(), s.handler, memory_mb);
    env.extend(e2e::lambda_host::stand_ins(s.handler));
    let keys = serde_json::to_string(&app.keys)?;
    env.extend(
        [
            ("AWS_ENDPOINT_URL", app.dynamodb_endpoint().unwrap_or_default()),
            ("SWITCHBOARD_TABLE", app.ctx.config.table.clone()),
            ("SWITCHBOARD_SIGNING_KEYS", keys),
            ("SWITCHBOARD_ISSUER", app.ctx.config.issuer.clone()),
            ("SWITCHBOARD_AUDIENCE", app.ctx.config.audience.clone()),
            ("RUST_LOG", "info".into()),
        ]
        .map(|(k, v)| (k.to_owned(), v)),
    );
    let log = std::env::temp_dir().join(format!("switchboard-memory-{}-{memory_mb}.log", s.handler));
    let mut child = spawn_in(quota, binary, &env, &log)?;
    let result = async {
        let mut times = Vec::with_capacity(s.requests);
        // One request first, so the cold start is not among the warm ones measured.
        for i in 0..=s.requests {
            // Wait until the runtime is polling, as a warm environment between requests is.
            loop {
                if let Seen::Poll(_) = api.seen(Duration::from_secs(30)).await? {
                    break;
                }
            }
            let sent = Instant::now();
            let id = api.invoke(&s.event).await;
            let (at, body) = api.response_to(&id, Duration::from_secs(30)).await?;
            let status = serde_json::from_str::<serde_json::Value>(&body).ok().and_then(|v| v["statusCode"].as_u64());
            if status != Some(200) {
                return Err(format!("{}: status {status:?}: {body}", s.name));
            }
            if i > 0 {
                times.push(at - sent);
            }
        }
        times.sort();
        Ok((percentile(&times, 0.5), percentile(&times, 0.99), peak_rss_kib(child.id()).unwrap_or_default()))
    }
    .await;
    let _ = child.kill();
    let _ = child.wait();
    Ok(result?)
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let dir = PathBuf::from(std::env::var("LAMBDA_BIN_DIR").unwrap_or_else(|_| "../target/release".into()));
    let binary = dir.join("bootstrap");
    if !binary.exists() {
        return Err(
            format!("{} is missing: cargo build --release -p functions --bin bootstrap", binary.display()).into()
        );
    }
    let requests: usize = std::env::var("REQUESTS").ok().and_then(|r| r.parse().ok()).unwrap_or(200);

    let example = dir.join("examples/verify_cost");
    if !example.exists() {
        return Err(format!(
            "{} is missing: cargo build --release -p functions --example verify_cost",
            example.display()
        )
        .into());
    }
    let app = TestApp::spawn(Engine::Dynoxide).await;
    let user = app.signup("sizing", "web").await;

    let bearer = |ev: serde_json::Value| {
        let mut ev = ev;
        ev["headers"]["authorization"] = format!("Bearer {}", user.access).into();
        ev
    };
    let login = serde_json::json!({ "email": user.email, "password": user.password, "client": "web" }).to_string();
    let scenarios = [
        Scenario {
            name: "login (argon2id)",
            handler: "login",
            event: http_event("POST", "/v1/auth/login", Some(&login)),
            requests: (requests / 5).max(20),
        },
        Scenario { name: "GET /v1/me", handler: "me", event: bearer(http_event("GET", "/v1/me", None)), requests },
        Scenario {
            name: "GET members",
            handler: "members",
            event: bearer(http_event("GET", &format!("/v1/orgs/{}/members", user.org), None)),
            requests,
        },
    ];

    println!(
        "one argon2id verify (production parameters, release build) under a CFS quota of M/{MB_PER_VCPU} of a core:"
    );
    println!("{:>7} {:>11} {:>22}", "MB", "verify ms", "1769-MB verify x 1769/M");
    let full = verify_ms(&Quota::new(MB_PER_VCPU as u32)?, &example)?;
    for &mb in &SIZES {
        let measured = verify_ms(&Quota::new(mb)?, &example)?;
        println!("{mb:>7} {measured:>11.2} {:>22.2}", full * MB_PER_VCPU / mb as f64);
    }
    println!(
        "a verify stays <= 25 ms from M = {:.0} MB (= {full:.2} ms x {MB_PER_VCPU} / 25)",
        (full * MB_PER_VCPU / 25.0).ceil()
    );
    println!("\nwarm requests under a CFS quota of M/{MB_PER_VCPU} of a core (period {} ms):", PERIOD_US / 1000);
    println!("{:<18} {:>7} {:>9} {:>9} {:>9}", "scenario", "MB", "p50 ms", "p99 ms", "RSS MiB");
    for s in &scenarios {
        for &mb in &SIZES {
            let quota = Quota::new(mb)?;
            let (p50, p99, rss) = measure(&app, &binary, &quota, mb, s).await?;
            println!("{:<18} {:>7} {:>9.2} {:>9.2} {:>9.1}", s.name, mb, p50, p99, rss as f64 / 1024.0);
        }
    }
    Ok(())
}
