//! Purge benchmark: `cargo bench -p e2e --bench purge`.
//!
//! A closed organization past its 30 days holding ITEMS (20,000) items — contacts in groups,
//! activity, members each with notifications — in a table that also holds another
//! organization of the same size, purged by the scheduled run's code on in-process dynoxide.
//! Prints items per second and DynamoDB calls per item; then again with GROWTH (5) times the
//! items: the cost per item must not move, and the other organization must be untouched.

use std::time::Instant;

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{Duration, Utc};
use futures::StreamExt;
use std::sync::Arc;
use switchboard::clock::{ManualClock, OsRandom};
use switchboard::domain::{GroupId, OrgId, UserId};
use switchboard::service::Ctx;
use switchboard::store::{OrgRecord, Store};

type Item = std::collections::HashMap<String, AttributeValue>;

fn env(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.replace('_', "").parse().ok()).unwrap_or(default)
}

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn item(pk: String, sk: String, extra: &[(&str, AttributeValue)]) -> Item {
    let mut i: Item = [("pk".to_owned(), s(pk)), ("sk".to_owned(), s(sk))].into_iter().collect();
    for (k, v) in extra {
        i.insert((*k).to_owned(), v.clone());
    }
    i
}

async fn write_all(store: &Store, items: Vec<Item>) {
    let chunks: Vec<Vec<Item>> = items.chunks(500).map(<[Item]>::to_vec).collect();
    futures::stream::iter(chunks)
        .map(|c| async move { store.batch_write(c, Vec::new()).await.expect("batch write") })
        .buffer_unordered(8)
        .collect::<Vec<()>>()
        .await;
}

/// An organization of about `n` items; closed (due for purge at `due`) when `closed`.
async fn organization(store: &Store, n: usize, closed: Option<chrono::DateTime<Utc>>) -> OrgId {
    let org = OrgId::new(ulid::Ulid::new());
    let now = Utc::now();
    let owner = UserId::new(ulid::Ulid::new());
    let mut record = OrgRecord {
        org_id: org.clone(),
        name: format!("Bench {org}"),
        parent_id: None,
        root_id: org.clone(),
        ancestors: Vec::new(),
        depth: 0,
        plan: switchboard::store::Plan::Active,
        trial_ends_at: None,
        status: switchboard::store::OrgStatus::Active,
        owner_id: owner.clone(),
        created_at: now,
        version: 1,
        language: Default::default(),
        login_domain: None,
        closure: None,
        company: Default::default(),
    };
    if let Some(due) = closed {
        record.status = switchboard::store::OrgStatus::Closed;
        record.closure = Some(switchboard::store::Closure {
            closed_at: now,
            closed_by: owner,
            purge_after: due,
            previous: switchboard::store::OrgStatus::Active,
        });
    }
    let mut org_item: Item = serde_dynamo::to_item(&record).expect("org");
    org_item.insert("pk".into(), s(OrgRecord::pk(&org)));
    org_item.insert("sk".into(), s(OrgRecord::SK));
    org_item.insert("gsi1pk".into(), s(format!("TREE#{org}")));
    org_item.insert("gsi1sk".into(), s(format!("{org}/")));
    if let Some(due) = closed {
        org_item.insert("gsi3pk".into(), s("PURGE"));
        org_item.insert("gsi3sk".into(), s(switchboard::store::due_sk(due)));
    }
    let mut items = vec![org_item];
    // Half contacts (in groups of 1,000), a fifth activity, the rest members with notifications.
    let contacts = n / 2;
    for g in 0..contacts.div_ceil(1000) {
        let gid = GroupId::new(ulid::Ulid::new());
        items.push(item(OrgRecord::pk(&org), format!("CGROUP#{gid}"), &[("org_id", s(org.as_str()))]));
        for c in 0..1000.min(contacts - g * 1000) {
            items.push(item(format!("CGROUP#{gid}"), format!("C#+6421{c:07}"), &[("name", s("Contact"))]));
        }
    }
    for a in 0..n / 5 {
        items.push(item(format!("FEED#{org}"), format!("ACT#{:026}", a), &[("org_id", s(org.as_str()))]));
    }
    for _ in 0..(n - contacts - n / 5) / 6 {
        let u = UserId::new(ulid::Ulid::new());
        items.push(item(
            format!("USER#{u}"),
            format!("MEMBER#{org}"),
            &[
                ("user_id", s(u.as_str())),
                ("org_id", s(org.as_str())),
                ("roles", AttributeValue::L(vec![s("agent")])),
                ("joined_at", s(now.to_rfc3339())),
                ("gsi1pk", s(format!("ORG#{org}"))),
                ("gsi1sk", s(format!("MEMBER#{u}"))),
            ],
        ));
        for k in 0..5 {
            items.push(item(format!("NOTIF#{u}#{org}"), format!("N#{k:026}"), &[]));
        }
    }
    write_all(store, items).await;
    org
}

async fn count(store: &Store, needle: &str) -> usize {
    let mut n = 0;
    let mut start = None;
    loop {
        let out = store
            .client()
            .scan()
            .table_name(store.table_name())
            .set_exclusive_start_key(start)
            .send()
            .await
            .expect("scan");
        n += out.items().iter().filter(|i| i.values().any(|v| v.as_s().is_ok_and(|x| x.contains(needle)))).count();
        match out.last_evaluated_key {
            Some(k) => start = Some(k),
            None => return n,
        }
    }
}

#[tokio::main]
async fn main() {
    let items = env("ITEMS", 20_000);
    let growth = env("GROWTH", 5);
    let db = dynoxide::Database::memory().expect("dynoxide");
    let engine = local::serve_dynoxide(db, 0).await.expect("serve");
    let sdk = local::local_sdk_config(&engine.endpoint).await;
    let config = switchboard::config::Config { table: "purge-bench".into(), ..Default::default() };
    let store = Store::new(&sdk, &config.table, None);
    store.create_table_if_missing().await.expect("table");
    let clock = ManualClock::new(Utc::now());
    let dir = std::env::temp_dir().join(format!("purge-bench-{}", ulid::Ulid::new()));
    let mailer: Arc<dyn switchboard::mail::Mailer> =
        Arc::new(switchboard::mail::OutboxMailer::new(dir.join("outbox"), "bench@example.com"));
    let files = switchboard::files::FileStore::Disk { dir: dir.join("uploads") };
    let mail = switchboard::service::Mail { mailer, queue: None, files };
    let keys = switchboard::auth::jwt::KeysConfig::generate(&OsRandom).expect("keys");
    let ctx = Ctx::new(config, store.clone(), mail, &keys, Arc::new(clock.clone()), Arc::new(OsRandom)).expect("ctx");

    println!("items in the organization | items deleted | seconds | items/s | DynamoDB calls per item");
    let mut rates = Vec::new();
    for n in [items, items * growth] {
        let due = Utc::now() - Duration::days(1);
        let bystander = organization(&store, n, None).await;
        let before = count(&store, bystander.as_str()).await;
        let doomed = organization(&store, n, Some(due)).await;
        let calls = store.calls();
        let t = Instant::now();
        let report = switchboard::service::orgs::lifecycle::purge_due(
            &ctx,
            Utc::now(),
            Instant::now() + std::time::Duration::from_secs(3600),
        )
        .await
        .expect("purge");
        let secs = t.elapsed().as_secs_f64();
        let used = store.calls() - calls;
        assert!(report.finished && report.organizations == 1, "{report:?}");
        assert_eq!(count(&store, doomed.as_str()).await, 0, "the purged organization left items");
        assert_eq!(count(&store, bystander.as_str()).await, before, "another organization lost items");
        let per_item = used as f64 / report.deleted.items as f64;
        println!(
            "{n:>25} | {:>13} | {secs:>7.2} | {:>7.0} | {per_item:.3}",
            report.deleted.items,
            report.deleted.items as f64 / secs
        );
        rates.push(per_item);
    }
    assert!(rates[1] <= rates[0] * 1.25, "calls per item grew with size: {rates:?}");
    engine.shutdown().await.expect("shutdown");
}
