//! Memory of an export at scale: `cargo bench -p e2e --bench export_memory` (50,000 members;
//! `EXPORT_MEMBERS=n` for another size).
//!
//! Runs the local server in-process, gives one organization that many members (written
//! directly in storage, each with a name and an address), exports it through the API and
//! waits for the job, then reports the file's size, the process's peak resident memory
//! (`VmHWM`) and its resident memory (`VmRSS`) before and after. The export streams each
//! section page by page into the file, a part at a time, so neither grows with the
//! organization.

use futures::StreamExt;
use serde_json::{Value, json};
use switchboard::access::Scope;
use switchboard::config::Config;
use switchboard::domain::{Email, OrgId, Role, UserId};

fn status_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let line = status.lines().find(|l| l.starts_with(field)).expect("field");
    line.split_whitespace().nth(1).and_then(|n| n.parse().ok()).expect("kB")
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let members: usize = std::env::var("EXPORT_MEMBERS").ok().and_then(|v| v.parse().ok()).unwrap_or(50_000);
    let dir = local::DataDir(std::env::temp_dir().join(format!("switchboard-export-{}", ulid::Ulid::new())));
    let l = local::open(&dir, Config::default(), 0).await.expect("open local");
    let ctx = l.ctx.clone();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(local::serve(listener, local::app(l.ctx.clone())));
    let http = reqwest::Client::new();
    let email = format!("exporter-{}@example.com", ulid::Ulid::new());
    let password = "an exporting passphrase";
    let r = http
        .post(format!("{base}/v1/auth/register"))
        .json(&json!({"email": email, "password": password, "first_name": "Ex", "last_name": "Porter", "organization_name": "Large"}))
        .send()
        .await
        .expect("register");
    assert_eq!(r.status().as_u16(), 202);
    let login: Value = http
        .post(format!("{base}/v1/auth/login"))
        .json(&json!({"email": email, "password": password, "client": "web"}))
        .send()
        .await
        .expect("login")
        .json()
        .await
        .expect("json");
    let token = login["access_token"].as_str().expect("token").to_owned();
    let org = login["organization_id"].as_str().expect("org").to_owned();
    let record = ctx.store.get_org(&OrgId::parse(&org, "org").expect("id")).await.expect("read").expect("org");
    let t = std::time::Instant::now();
    let put = |i: usize| {
        let address = Email::parse(&format!("member{i}.large@example.com"), "email").expect("email");
        let m = switchboard::store::MembershipRecord::new(
            &UserId::new(ulid::Ulid::new()),
            &record,
            vec![Role::Agent],
            Scope::Subtree,
            ctx.now(),
        )
        .described(&address, &format!("Member {i} Large"));
        let ctx = &ctx;
        async move { ctx.store.put_membership(&m).await.expect("put") }
    };
    futures::stream::iter(0..members).map(put).buffer_unordered(16).collect::<Vec<()>>().await;
    println!("{members} members written in {:.1} s", t.elapsed().as_secs_f64());
    let (hwm_before, rss_before) = (status_kib("VmHWM:"), status_kib("VmRSS:"));
    let t = std::time::Instant::now();
    let r: Value = http
        .post(format!("{base}/v1/orgs/{org}/exports"))
        .bearer_auth(&token)
        .json(&json!({}))
        .send()
        .await
        .expect("export")
        .json()
        .await
        .expect("json");
    let id = r["export_id"].as_str().expect("export id").to_owned();
    let job = loop {
        let job: Value = http
            .get(format!("{base}/v1/orgs/{org}/exports/{id}"))
            .bearer_auth(&token)
            .send()
            .await
            .expect("status")
            .json()
            .await
            .expect("json");
        if job["status"] == "done" || job["status"] == "failed" {
            break job;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    };
    assert_eq!(job["status"], "done", "{job}");
    let took = t.elapsed();
    let (hwm_after, rss_after) = (status_kib("VmHWM:"), status_kib("VmRSS:"));
    let mib = |k: u64| k as f64 / 1024.0;
    println!(
        "export of {members} members: {:.1} MiB file, {} records, {:.1} s; peak RSS {:.1} -> {:.1} MiB (+{:.1}), RSS {:.1} -> {:.1} MiB after (+{:.1})",
        job["size"].as_u64().unwrap_or(0) as f64 / 1048576.0,
        job["items"],
        took.as_secs_f64(),
        mib(hwm_before),
        mib(hwm_after),
        mib(hwm_after.saturating_sub(hwm_before)),
        mib(rss_before),
        mib(rss_after),
        mib(rss_after.saturating_sub(rss_before)),
    );
    let _ = std::fs::remove_dir_all(&dir.0);
}
