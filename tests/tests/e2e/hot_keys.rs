//! How writes spread over partition keys. DynamoDB takes at most 1,000 write units a second
//! on one partition (and one item is always on one). The fault proxy, forwarding everything,
//! records the partition keys of every write; a bulk invitation burst and an import show
//! which keys take a write per invitation or per row, so their peak rate in AWS is the
//! operation's rate times that share. Those shares are what the paces of bulk invitations
//! (150 a second per request) and imports (400 rows a second per job) are derived from. Run
//! with `--nocapture` for the table.

use e2e::fault_proxy::KeyWrites;
use e2e::{Engine, TestApp};
use serde_json::json;

/// The key with its organization or job ids folded into a pattern, for the table.
fn pattern(key: &str, org: &str, job: Option<&str>) -> String {
    let k = key.replace(org, "o");
    match job {
        Some(j) => k.replace(j, "job"),
        None => k,
    }
}

fn show(what: &str, rows: &[KeyWrites], per: usize, org: &str, job: Option<&str>) {
    println!(
        "{what}: {per} operations, {} writes over {} keys",
        rows.iter().map(|r| r.writes).sum::<usize>(),
        rows.len()
    );
    for r in rows.iter().take(6) {
        println!(
            "  {:<28} {:>6} writes ({:.2} per operation), peak {} in one second",
            pattern(&r.key, org, job),
            r.writes,
            r.writes as f64 / per as f64,
            r.peak_per_second
        );
    }
}

/// On dynoxide only: which keys a write touches does not depend on the engine, and moto's
/// serial server would take minutes over the burst.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_per_partition_key_in_an_invitation_burst_and_an_import() {
    let engine = Engine::Dynoxide;
    // `HOT_KEYS_REQUESTS` (of 100 addresses each) and `HOT_KEYS_ROWS` scale it up for a
    // manual run (e.g. 100 and 100000); the suite runs 5 and 150.
    let scale = |name: &str, default: usize| std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default);
    let (requests_n, rows) = (scale("HOT_KEYS_REQUESTS", 5), scale("HOT_KEYS_ROWS", 150));
    let invites = requests_n * 100;
    let app = TestApp::spawn_faulty_paced(engine).await;
    let owner = app.signup("hot", "web").await;
    // A purchase buys at most 1,000 seats.
    let mut seats = invites + rows + 50;
    while seats > 0 {
        let count = seats.min(1000);
        let path = format!("/v1/orgs/{}/seats/purchase", owner.org);
        let r = app.post_auth(&path, &owner.access, json!({ "count": count })).await;
        assert_eq!(r.status, reqwest::StatusCode::OK, "{:?}", r.body);
        seats -= count;
    }

    // A burst: requests of 100 addresses, 2 at a time.
    app.faults().reset_writes();
    let path = format!("/v1/orgs/{}/invitations", owner.org);
    let requests: Vec<serde_json::Value> = (0..requests_n)
        .map(|r| {
            let list: Vec<_> = (0..100)
                .map(|i| json!({"email": e2e::unique_email(&format!("hot{r}-{i}")), "roles": ["agent"]}))
                .collect();
            json!({ "invitations": list })
        })
        .collect();
    for pair in requests.chunks(2) {
        let sent = futures::future::join_all(pair.iter().map(|b| app.post_auth(&path, &owner.access, b.clone()))).await;
        for r in sent {
            assert_eq!(r.body["invited"], 100, "{:?}", r.body);
        }
    }
    app.run_mail_worker().await;
    let burst = app.faults().writes_by_key();
    show(&format!("{engine:?} invitation burst"), &burst, invites, &owner.org, None);

    // An import of new people.
    app.faults().reset_writes();
    let people: Vec<String> = (0..rows).map(|i| e2e::unique_email(&format!("hotimp{i}"))).collect();
    let job = crate::faults::start_import(&app, &owner, &people).await;
    let mut done = serde_json::Value::Null;
    // Up to 30 s, plus 25 ms a row (the pace's 2.5 and a slow engine's share).
    for _ in 0..(600 + rows / 2) {
        done = app.get(&format!("/v1/orgs/{}/imports/{job}", owner.org), &owner.access).await.body;
        if done["status"] == "done" || done["status"] == "failed" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(done["counts"]["invited"], rows, "{done:?}");
    app.run_mail_worker().await;
    let import = app.faults().writes_by_key();
    show(&format!("{engine:?} import"), &import, rows, &owner.org, Some(&job));

    // Per invitation: the organization's partition takes the seat and the invitation (and,
    // once the worker sent it, the email status); its activity feed takes the entry. Nothing
    // else takes a share of every invitation but the outbox's 16 shards.
    let org_pk = format!("ORG#{}", owner.org);
    let feed_pk = format!("FEED#{}", owner.org);
    let per = |rows: &[KeyWrites], key: &str| rows.iter().find(|r| r.key == key).map_or(0, |r| r.writes);
    let top: Vec<String> = burst.iter().take(4).map(|r| format!("{} {}", r.key, r.writes)).collect();
    assert!((2 * invites..=3 * invites).contains(&per(&burst, &org_pk)), "{top:?}");
    assert_eq!(per(&burst, &feed_pk), invites, "{top:?}");
    let shared: Vec<&str> = burst
        .iter()
        .filter(|r| r.writes > invites / 10 && r.key != org_pk && r.key != feed_pk)
        .map(|r| r.key.as_str())
        .collect();
    assert!(shared.is_empty(), "only the organization and its feed take a share of every invitation: {shared:?}");
    assert!(burst.iter().filter(|r| r.key.starts_with("gsi3:MAILDUE#")).count() == 16, "{top:?}");
    // Per imported row: its result under the job's partition, once.
    let top: Vec<String> = import.iter().take(4).map(|r| format!("{} {}", r.key, r.writes)).collect();
    assert_eq!(per(&import, &format!("IMPORTROW#{job}")), rows, "{top:?}");
    // The paces hold whatever the engine's speed: no key took over 1,000 writes in a second.
    let peak = burst.iter().chain(&import).map(|r| r.peak_per_second).max().unwrap_or(0);
    println!("{engine:?}: the busiest key's peak: {peak} writes in one second");
    assert!(peak <= 1000, "a partition key took {peak} writes in one second");
}
