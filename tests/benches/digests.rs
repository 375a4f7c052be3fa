//! Digest benchmark: `cargo bench -p e2e --bench digests`.
//!
//! A table with ITEMS (1,000,000) notification items that are not due, and DUE (10,000)
//! people whose daily digest is due, each with one pending notification. One digest pass
//! (the scheduled function's code, on in-process dynoxide) prints the DynamoDB round trips
//! and the time per 1,000 recipients. Then the items that are not due grow GROWTH (10)
//! times, another DUE people become due, and the same pass runs again: what it costs must
//! not move, because it reads only the due index.
//!
//! The items that are not due are feed entries of people whose digests went out (no due
//! entry) and, one in ten, digests due next week (in the index, but after the run's time).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Duration, Utc};
use futures::StreamExt;
use switchboard::clock::{ManualClock, OsRandom};
use switchboard::domain::notification::{Audience, Event, IdempotencyKey, NotificationKind};
use switchboard::domain::{Interval, LoginKey, OrgId, Role, UserId};
use switchboard::mail::SendFuture;
use switchboard::mail::queue::{EmailJob, EmailQueue};
use switchboard::service::Ctx;
use switchboard::store::{DigestState, MembershipRecord, NotificationRecord, Store, UserRecord};

type Item = std::collections::HashMap<String, AttributeValue>;

fn env(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.replace('_', "").parse().ok()).unwrap_or(default)
}

/// Counts the emails a run queues (SQS in AWS; not what is measured here).
#[derive(Default)]
struct CountingQueue(AtomicUsize);

impl EmailQueue for CountingQueue {
    fn enqueue<'a>(&'a self, jobs: Vec<EmailJob>) -> SendFuture<'a> {
        self.0.fetch_add(jobs.len(), Ordering::Relaxed);
        Box::pin(async { Ok(()) })
    }
}

fn item<T: serde::Serialize>(record: &T, pk: String, sk: String) -> Item {
    let mut i: Item = serde_dynamo::to_item(record).expect("item");
    i.insert("pk".into(), AttributeValue::S(pk));
    i.insert("sk".into(), AttributeValue::S(sk));
    i
}

/// Write `items` in parallel batches.
async fn write_all(store: &Store, items: Vec<Item>) {
    let chunks: Vec<Vec<Item>> = items.chunks(500).map(<[Item]>::to_vec).collect();
    futures::stream::iter(chunks)
        .map(|c| async move { store.batch_write(c, Vec::new()).await.expect("batch write") })
        .buffer_unordered(8)
        .collect::<Vec<()>>()
        .await;
}

/// `n` items that are not due, for people `from..from+n/10` of organization `org`.
async fn fill(store: &Store, org: &OrgId, n: usize, from: usize, now: DateTime<Utc>) {
    let mut batch = Vec::with_capacity(50_000);
    for i in 0..n {
        let person = UserId::new(ulid::Ulid::from_parts(1, (from + i / 10) as u128));
        let pk = switchboard::store::notification_partition(&person, org);
        if i % 10 == 9 {
            let mut state = item(
                &serde_json::json!({"user_id": person, "org_id": org, "interval": "weekly", "pending": 1}),
                pk,
                DigestState::sk(Interval::Weekly),
            );
            state.insert("gsi3pk".into(), AttributeValue::S(switchboard::store::shard_key((i % 8) as u32)));
            state.insert(
                "gsi3sk".into(),
                AttributeValue::S((now + Duration::days(7)).format("%Y-%m-%dT%H:%M:%SZ").to_string()),
            );
            batch.push(state);
        } else {
            let id = ulid::Ulid::from_parts((now - Duration::days(3)).timestamp_millis() as u64, i as u128).to_string();
            let n = NotificationRecord {
                notification_id: id.clone(),
                kind: NotificationKind::NewMessage,
                at: now,
                conversation_id: Some(format!("c{i}")),
                conversation_name: Some(format!("Conversation {i}")),
                subject: None,
                link: None,
                digest: None,
                read_at: None,
            };
            batch.push(item(&n, pk, NotificationRecord::sk(&id)));
        }
        if batch.len() == 50_000 {
            write_all(store, std::mem::take(&mut batch)).await;
        }
    }
    write_all(store, batch).await;
}

/// `n` members of `org` (profiles and memberships), numbered from `from`.
async fn members(ctx: &Ctx, org: &switchboard::store::OrgRecord, n: usize, from: usize) -> Vec<UserId> {
    let mut ids = Vec::with_capacity(n);
    let mut items = Vec::with_capacity(2 * n);
    for i in from..from + n {
        let id = UserId::new(ulid::Ulid::new());
        let email = switchboard::domain::Email::parse(&format!("digest-{i}@bench.example"), "e").expect("email");
        let user = UserRecord::new(
            id.clone(),
            &LoginKey::Email(email),
            "Bench",
            "Person",
            Default::default(),
            true,
            ctx.now(),
        );
        items.push(item(&user, UserRecord::pk(&id), UserRecord::SK.into()));
        let m = MembershipRecord::new(&id, org, vec![Role::Agent], Default::default(), ctx.now());
        items.push(item(&m, MembershipRecord::pk(&id), MembershipRecord::sk(&org.org_id)));
        ids.push(id);
    }
    write_all(&ctx.store, items).await;
    ids
}

/// One new message for each of `people`, through the ingestion code (100 per event).
async fn pending(ctx: &Ctx, org: &OrgId, people: &[UserId], round: &str) {
    for (n, chunk) in people.chunks(100).enumerate() {
        let event = Event {
            org_id: org.clone(),
            kind: NotificationKind::NewMessage,
            audience: Audience::People { user_ids: chunk.to_vec() },
            key: IdempotencyKey::parse(&format!("{round}-{n}"), "k").expect("key"),
            at: ctx.now(),
            inbox_id: None,
            conversation: None,
            subject: Some("+31 20 123 4567".into()),
            content: Some("Is my parcel on its way?".into()),
            link: None,
            actor: None,
            emailed: false,
            details: Default::default(),
        };
        let got = switchboard::service::notify::notifications::ingest(ctx, &event).await.expect("ingest");
        assert_eq!(got.recorded, chunk.len());
    }
}

/// The engine's own cost of one round trip at this table size: a GetItem of the organization,
/// median of 1,001, so a change in the pass's time can be told from a change in its reads.
async fn engine_probe(store: &Store, org: &OrgId) -> f64 {
    let mut took = Vec::with_capacity(1001);
    for _ in 0..1001 {
        let t = Instant::now();
        store.get_org(org).await.expect("get").expect("org");
        took.push(t.elapsed().as_secs_f64() * 1e6);
    }
    took.sort_by(f64::total_cmp);
    took[500]
}

async fn pass(ctx: &Ctx, queue: &CountingQueue, org: &OrgId, at: DateTime<Utc>, label: &str, expect: usize) {
    let probe = engine_probe(&ctx.store, org).await;
    let calls = ctx.store.calls();
    let queued = queue.0.load(Ordering::Relaxed);
    let started = Instant::now();
    let report = switchboard::service::notify::digests::run(ctx, at).await.expect("run");
    let took = started.elapsed();
    let calls = ctx.store.calls() - calls;
    let sent = queue.0.load(Ordering::Relaxed) - queued;
    assert_eq!((report.claimed, sent), (expect, expect), "{report:?}");
    let per_k = 1000.0 / expect as f64;
    println!(
        "{label}: {expect} digests in {:.1} s; per 1,000 recipients {:.0} DynamoDB round trips and {:.2} s \
         ({:.2} round trips per recipient); the engine's GetItem at this size: {probe:.0} µs (median)",
        took.as_secs_f64(),
        calls as f64 * per_k,
        took.as_secs_f64() * per_k,
        calls as f64 / expect as f64,
    );
}

#[tokio::main]
async fn main() {
    let items = env("ITEMS", 1_000_000);
    let due = env("DUE", 10_000);
    let growth = env("GROWTH", 10);
    let db = dynoxide::Database::memory().expect("dynoxide");
    let engine = local::serve_dynoxide(db, 0).await.expect("serve");
    let sdk = local::local_sdk_config(&engine.endpoint).await;
    let config = switchboard::config::Config { table: "digest-bench".into(), ..Default::default() };
    let store = Store::new(&sdk, &config.table, None);
    store.create_table_if_missing().await.expect("table");
    let start = chrono::DateTime::parse_from_rfc3339("2026-12-01T09:00:00Z").expect("t").with_timezone(&Utc);
    let clock = ManualClock::new(start);
    let queue = Arc::new(CountingQueue::default());
    let mailer: Arc<dyn switchboard::mail::Mailer> =
        Arc::new(switchboard::mail::OutboxMailer::new(std::env::temp_dir().join("digest-bench"), "bench@example.com"));
    let mail = switchboard::service::Mail {
        mailer,
        queue: Some(queue.clone()),
        files: switchboard::files::FileStore::Disk { dir: std::env::temp_dir() },
    };
    let keys = switchboard::auth::jwt::KeysConfig::generate(&OsRandom).expect("keys");
    let ctx = Ctx::new(config, store.clone(), mail, &keys, Arc::new(clock.clone()), Arc::new(OsRandom)).expect("ctx");

    // One organization whose new-message emails are daily.
    let owner = UserId::new(ulid::Ulid::new());
    let org_id = OrgId::new(ulid::Ulid::new());
    let mut org = switchboard::store::OrgRecord {
        org_id: org_id.clone(),
        name: "Bench Logistics".into(),
        parent_id: None,
        root_id: org_id.clone(),
        ancestors: Vec::new(),
        depth: 0,
        plan: switchboard::store::Plan::Active,
        trial_ends_at: None,
        status: switchboard::store::OrgStatus::Active,
        owner_id: owner,
        created_at: start,
        version: 1,
        language: Default::default(),
        login_domain: None,
        closure: None,
        company: Default::default(),
    };
    org.company.email_types.insert(
        switchboard::domain::EmailType::NewMessages,
        switchboard::domain::TypeSetting { enabled: true, interval: Interval::Daily },
    );
    write_all(
        &store,
        vec![item(&org, switchboard::store::OrgRecord::pk(&org_id), switchboard::store::OrgRecord::SK.into())],
    )
    .await;

    let t = Instant::now();
    fill(&store, &org_id, items, 0, start).await;
    println!("{items} items that are not due written in {:.0} s", t.elapsed().as_secs_f64());
    let people = members(&ctx, &org, due, 0).await;
    pending(&ctx, &org_id, &people, "first").await;
    pass(&ctx, &queue, &org_id, start + Duration::days(1), &format!("{items} not due"), due).await;

    let t = Instant::now();
    fill(&store, &org_id, items * (growth - 1), items / 10 + 1, start).await;
    println!("{} more items that are not due written in {:.0} s", items * (growth - 1), t.elapsed().as_secs_f64());
    clock.set(start + Duration::days(1) + Duration::hours(1));
    let more = members(&ctx, &org, due, due).await;
    pending(&ctx, &org_id, &more, "second").await;
    pass(&ctx, &queue, &org_id, start + Duration::days(2), &format!("{} not due", items * growth), due).await;
    engine.shutdown().await.expect("shutdown");
}
