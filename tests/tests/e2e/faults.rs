//! The service under injected faults: a proxy between the SDK and the engine answers chosen
//! requests with throttling, conflicts, internal errors, timeouts and dropped connections
//! (tests/src/fault_proxy.rs). What must hold: nothing half-written, every effect once, and
//! an error the client can act on (`503` problem+json with `Retry-After`) when retrying helps.

use std::time::Duration;

use e2e::fault_proxy::{Fault, Rule};
use e2e::{Engine, Reply, TestApp, User};
use reqwest::StatusCode;
use serde_json::{Value, json};

both_engines!(
    bulk_invitations_keep_every_outcome_under_faults,
    seat_purchases_charge_once_under_faults,
    acceptance_makes_one_membership_under_conflicts,
    switching_and_settings_survive_faults,
    digest_run_sends_each_digest_once_under_faults,
    imports_import_each_row_once_under_faults,
    a_merge_moves_everything_or_nothing_under_faults,
);

/// moto only: its SQS is the queue that can fail (the embedded default's is a channel).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_import_whose_emails_could_not_be_recorded_or_queued_sends_each_once() {
    let app = TestApp::spawn_faulty(Engine::Moto).await;
    let owner = app.signup("owed", "web").await;
    app.post_auth(&format!("/v1/orgs/{}/seats/purchase", owner.org), &owner.access, json!({"count": 5})).await;
    let org = switchboard::domain::OrgId::parse(&owner.org, "org").unwrap();

    // The move of a chunk's emails into the outbox fails: the chunk's record keeps them.
    let first: Vec<String> = (0..2).map(|i| e2e::unique_email(&format!("owed{i}"))).collect();
    let recorded = app.count_items("MAILOUT#").await;
    app.faults().inject(Rule::new("TransactWriteItems", Fault::Internal).containing("MAILOUT#"));
    let job = start_import(&app, &owner, &first).await;
    let done = crate::imports::wait_done(&app, &owner, &job).await;
    assert_eq!(done["counts"]["invited"], 2, "{done:?}");
    assert_eq!(app.count_items("IMPORTMAIL#").await, 1, "the chunk's emails are owed");
    assert_eq!(app.count_items("MAILOUT#").await, recorded, "and none is half recorded");
    app.faults().heal();
    // SQS delivers the job message again, after the first run's hold on the record (5
    // minutes): the run records them, with fresh links. Twice, as a redelivery would.
    app.clock.advance(chrono::Duration::seconds(301));
    for _ in 0..2 {
        switchboard::service::members::imports::run_job(&app.ctx, &org, &job, None).await.expect("run again");
    }
    app.run_mail_worker().await;
    assert_eq!(app.count_items("IMPORTMAIL#").await, 0, "nothing owed any more");

    // The queue refuses every send after the emails were recorded: the relay hands them on.
    let second: Vec<String> = (0..2).map(|i| e2e::unique_email(&format!("unqueued{i}"))).collect();
    app.faults().inject(Rule::new("SendMessageBatch", Fault::Internal));
    let job = start_import(&app, &owner, &second).await;
    crate::imports::wait_done(&app, &owner, &job).await;
    app.faults().heal();
    app.run_mail_worker().await;
    for a in &second {
        assert!(app.emails_to(a).await.is_empty(), "nothing was queued for {a}");
    }
    app.clock.advance(chrono::Duration::seconds(61));
    assert_eq!(app.relay_emails().await, 2, "the relay hands on the two recorded emails");
    assert_eq!(app.relay_emails().await, 0, "sent emails leave the relay's index");
    for a in first.iter().chain(&second) {
        let mails = app.wait_emails_to(a, 1).await;
        assert_eq!(mails.len(), 1, "one invitation to {a}");
        let link = mails[0].link("/accept-invitation?token=").expect("link");
        let preview = app.post("/v1/invitations/preview", json!({"token": link.split("token=").nth(1).unwrap()})).await;
        assert_eq!(preview.status, StatusCode::OK, "the link works: {:?}", preview.body);
    }
    println!(
        "Moto | import | the outbox move's TransactWriteItems 500, then the job delivered twice | emails owed in one record, each recorded once with a working link"
    );
    println!(
        "Moto | import | SQS SendMessageBatch 500 after the emails were recorded | the relay hands each on once; a second relay finds none"
    );
}

pub(crate) async fn start_import(app: &TestApp, owner: &User, addresses: &[String]) -> String {
    let mut csv = String::from("email,first_name,last_name\n");
    for a in addresses {
        csv.push_str(&format!("{a},Imke,Jong\n"));
    }
    let upload = crate::imports::upload(app, owner, csv.into_bytes()).await;
    let start =
        json!({"upload_id": upload, "mapping": {"email": "A", "first_name": "B", "last_name": "C"}, "start_row": 2});
    let r = app.post_auth(&format!("/v1/orgs/{}/imports", owner.org), &owner.access, start).await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{:?}", r.body);
    r.body["job_id"].as_str().unwrap().to_owned()
}

async fn imports_import_each_row_once_under_faults(engine: Engine) {
    let app = TestApp::spawn_faulty(engine).await;
    let owner = app.signup("import-faults", "web").await;
    app.post_auth(&format!("/v1/orgs/{}/seats/purchase", owner.org), &owner.access, json!({"count": 40})).await;
    let addresses: Vec<String> = (0..30).map(|i| e2e::unique_email(&format!("imp{i}"))).collect();
    app.faults().inject(Rule::new(TX, Fault::ProvisionedThroughput).every(4).times(8));
    app.faults().inject(Rule::new(TX, Fault::TransactionConflict).every(7).times(3));
    app.faults().inject(Rule::new("BatchGetItem", Fault::Throttling).every(2).times(3));
    let job = start_import(&app, &owner, &addresses).await;
    let done = crate::imports::wait_done(&app, &owner, &job).await;
    app.faults().heal();
    assert_eq!(done["status"], "done", "{done:?}");
    assert_eq!(done["counts"]["invited"], 30, "{done:?}");
    assert!(app.faults().injected(TX) >= 8, "faults were injected: {}", app.faults().injected(TX));
    let csv = app
        .http
        .get(format!("{}/v1/orgs/{}/imports/{job}/report.csv", app.base, owner.org))
        .bearer_auth(&owner.access)
        .send()
        .await
        .expect("report")
        .text()
        .await
        .expect("report text");
    for a in &addresses {
        assert_eq!(csv.lines().filter(|l| l.contains(a.as_str())).count(), 1, "{a} once in the report:\n{csv}");
    }
    let s = app.get(&format!("/v1/orgs/{}/seats", owner.org), &owner.access).await.body;
    assert_eq!(s["pending"], 30, "a pending seat per invitation: {s:?}");
    for a in &addresses {
        assert_eq!(app.wait_emails_to(a, 1).await.len(), 1, "one invitation to {a}");
    }
    assert_eq!(app.count_items("IMPORTMAIL#").await, 0, "nothing owed");
    println!(
        "{engine:?} | import (30 rows) | TX throttled x8 + conflicts x3, BatchGetItem throttled x3 | done, 30 invited once, 30 pending seats, 30 emails, nothing owed"
    );
}

pub(crate) const TX: &str = "TransactWriteItems";

/// The SDK's standard mode makes 3 attempts: this many consecutive faults outlast it.
pub(crate) const OUTLASTS_SDK: u32 = 3;

pub(crate) fn assert_retryable(r: &Reply) {
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{:?}", r.body);
    assert_eq!(r.code(), "temporarily_unavailable", "{:?}", r.body);
    assert_eq!(
        r.headers.get("content-type").and_then(|v| v.to_str().ok()),
        Some("application/problem+json"),
        "a problem document"
    );
    assert_eq!(r.headers.get("retry-after").and_then(|v| v.to_str().ok()), Some("1"), "Retry-After");
    let detail = r.body["detail"].as_str().unwrap_or_default();
    assert!(!detail.contains("Exception") && !detail.contains("dynamodb"), "no engine detail leaks: {detail}");
}

async fn seats(app: &TestApp, owner: &User) -> (u64, u64, u64) {
    let s = app.get(&format!("/v1/orgs/{}/seats", owner.org), &owner.access).await.body;
    (s["purchased"].as_u64().unwrap(), s["used"].as_u64().unwrap(), s["pending"].as_u64().unwrap())
}

async fn bulk_invitations_keep_every_outcome_under_faults(engine: Engine) {
    let app = TestApp::spawn_faulty(engine).await;
    let owner = app.signup("faulty", "web").await;
    app.post_auth(&format!("/v1/orgs/{}/seats/purchase", owner.org), &owner.access, json!({"count": 20})).await;
    let before = seats(&app, &owner).await;
    let addresses: Vec<String> = (0..10).map(|i| e2e::unique_email(&format!("bulk{i}"))).collect();
    let body =
        json!({"invitations": addresses.iter().map(|a| json!({"email": a, "roles": ["agent"]})).collect::<Vec<_>>()});
    let path = format!("/v1/orgs/{}/invitations", owner.org);

    // Throttling the SDK absorbs, and one address (the fourth) whose transaction fails
    // through every attempt while the others' run beside it.
    app.faults().inject(Rule::new("BatchGetItem", Fault::ProvisionedThroughput).times(2));
    app.faults().inject(Rule::new(TX, Fault::Internal).containing(&addresses[3]).times(OUTLASTS_SDK));
    let r = app.post_auth(&path, &owner.access, body.clone()).await;
    app.faults().heal();
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let injected = (app.faults().injected(TX), app.faults().injected("BatchGetItem"));
    assert_eq!(injected, (OUTLASTS_SDK as usize, 2), "the faults were injected");
    let outcomes: Vec<(&str, Option<&str>)> = r.body["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| (o["status"].as_str().unwrap(), o["code"].as_str()))
        .collect();
    let mut expected = vec![("invited", None); 10];
    expected[3] = ("failed", Some("temporarily_unavailable"));
    assert_eq!(outcomes, expected);
    assert_eq!(r.headers.get("retry-after").and_then(|v| v.to_str().ok()), Some("1"));
    assert_eq!(
        seats(&app, &owner).await,
        (before.0, before.1 + 9, before.2 + 9),
        "a seat per invitation written, none for the failed one"
    );

    // The same request again: the failed address is invited, the others are not twice.
    let again = app.post_auth(&path, &owner.access, body).await;
    let statuses: Vec<&str> =
        again.body["results"].as_array().unwrap().iter().map(|o| o["status"].as_str().unwrap()).collect();
    let mut expected = vec!["already_invited"; 10];
    expected[3] = "invited";
    assert_eq!(statuses, expected);
    assert_eq!(seats(&app, &owner).await, (before.0, before.1 + 10, before.2 + 10));
    for a in &addresses {
        assert_eq!(app.wait_emails_to(a, 1).await.len(), 1, "one invitation email to {a}");
    }
    // Every recorded email has gone out (a positive signal, not a pause).
    app.mail_settled().await;
    for a in &addresses {
        assert_eq!(app.emails_to(a).await.len(), 1, "still one invitation email to {a}");
    }
    println!(
        "{engine:?} | bulk invitations | BatchGetItem throttled x2 + one address's TX 500 x3 | 9 invited, 1 failed temporarily_unavailable + Retry-After; resend invites it; 10 emails, each once"
    );
}

async fn billing_events(app: &TestApp, org: &str) -> usize {
    let page = app.ctx.store.partition_items(&format!("ORG#{org}"), 500, None).await.expect("partition");
    page.items
        .iter()
        .filter(|i| i.get("sk").and_then(|v| v.as_s().ok()).is_some_and(|s| s.starts_with("BILLING#")))
        .count()
}

async fn seat_purchases_charge_once_under_faults(engine: Engine) {
    let app = TestApp::spawn_faulty(engine).await;
    let owner = app.signup("charge", "web").await;
    let path = format!("/v1/orgs/{}/seats/purchase", owner.org);
    let start = seats(&app, &owner).await.0;

    // Throttled twice, then through: the SDK's backoff hides it.
    app.inject_fault(Rule::new(TX, Fault::ProvisionedThroughput).times(2)).await;
    let r = app.post_auth(&path, &owner.access, json!({"count": 2})).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!((seats(&app, &owner).await.0, billing_events(&app, &owner.org).await), (start + 2, 1));

    // A timeout, then through.
    app.inject_fault(Rule::new(TX, Fault::Timeout).times(1)).await;
    let r = app.post_auth(&path, &owner.access, json!({"count": 1})).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!((seats(&app, &owner).await.0, billing_events(&app, &owner.org).await), (start + 3, 2));

    // Failing through every attempt: nothing charged, nothing added, and told to retry.
    app.inject_fault(Rule::new(TX, Fault::Internal).times(OUTLASTS_SDK)).await;
    let r = app.post_auth(&path, &owner.access, json!({"count": 4})).await;
    assert_retryable(&r);
    assert_eq!((seats(&app, &owner).await.0, billing_events(&app, &owner.org).await), (start + 3, 2));

    if engine == Engine::Dynoxide {
        // Applied, but the answer lost: the SDK's retry carries the same ClientRequestToken,
        // so the engine replays its answer instead of charging again. (moto ignores the
        // token, so this row is dynoxide's; DynamoDB honours it for ten minutes.)
        app.inject_fault(Rule::new(TX, Fault::DropAfterApply).times(1)).await;
        let r = app.post_auth(&path, &owner.access, json!({"count": 1})).await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
        assert_eq!((seats(&app, &owner).await.0, billing_events(&app, &owner.org).await), (start + 4, 3));
    }
    println!(
        "{engine:?} | seat purchase | TX throttled x2; TX timeout x1; TX 500 x3; (dynoxide) TX answer lost | 200, 200, 503+Retry-After with nothing charged, 200 charged once"
    );
}

async fn acceptance_makes_one_membership_under_conflicts(engine: Engine) {
    let app = TestApp::spawn_faulty(engine).await;
    let owner = app.signup("accept", "web").await;
    let invitee = app.signup("invitee", "web").await;
    let path = format!("/v1/orgs/{}/invitations", owner.org);
    let r = app
        .post_auth(&path, &owner.access, json!({"invitations": [{"email": invitee.email, "roles": ["agent"]}]}))
        .await;
    assert_eq!(r.body["invited"], 1, "{:?}", r.body);
    let link = app.wait_link(&invitee.email, "/accept-invitation?token=").await.expect("invitation");
    let token = link.split("token=").nth(1).unwrap().to_owned();
    let before = seats(&app, &owner).await;

    // Conflicting transactions for longer than our retries: told to retry, nothing moved.
    app.faults().inject(Rule::new(TX, Fault::TransactionConflict).times(50));
    let r = app.post_auth("/v1/invitations/accept", &invitee.access, json!({"token": token})).await;
    app.faults().heal();
    assert_retryable(&r);
    assert_eq!(seats(&app, &owner).await, before, "no seat moved");
    let orgs = app.get("/v1/me/organizations", &invitee.access).await.body;
    assert_eq!(orgs["organizations"].as_array().unwrap().len(), 1, "not a member yet");

    // Two conflicts, then through; then the same token twice at once: one membership.
    app.faults().inject(Rule::new(TX, Fault::TransactionConflict).times(2));
    let body = json!({"token": token});
    let (a, b) = tokio::join!(
        app.post_auth("/v1/invitations/accept", &invitee.access, body.clone()),
        app.post_auth("/v1/invitations/accept", &invitee.access, body.clone())
    );
    let mut statuses = [a.status, b.status];
    statuses.sort();
    assert_eq!(statuses[0], StatusCode::CREATED, "{:?} {:?}", a.body, b.body);
    assert!(statuses[1].is_client_error(), "the second acceptance is refused: {:?} {:?}", a.body, b.body);
    let orgs = app.get("/v1/me/organizations", &invitee.access).await.body;
    assert_eq!(orgs["organizations"].as_array().unwrap().len(), 2, "one membership");
    // The invitation held its seat; accepting turns the pending seat into the member's.
    assert_eq!(seats(&app, &owner).await, (before.0, before.1, before.2 - 1));
    println!(
        "{engine:?} | acceptance | TX conflict x50; TX conflict x2 + a concurrent duplicate | 503+Retry-After, nothing moved; 201 once, the duplicate 4xx, one membership, the pending seat becomes the member's"
    );
}

async fn switching_and_settings_survive_faults(engine: Engine) {
    let app = TestApp::spawn_faulty(engine).await;
    let owner = app.signup("switch", "web").await;
    let sub = app.sub_account(&owner.access, &owner.org, "Branch").await;

    app.faults().inject(Rule::new("GetItem", Fault::Throttling).every(2).times(3));
    app.faults().inject(Rule::new("UpdateItem", Fault::Drop).times(1));
    let r = app.post_auth("/v1/auth/switch", &owner.access, json!({"organization_id": sub})).await;
    app.faults().heal();
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let access = r.body["access_token"].as_str().unwrap().to_owned();
    let me = app.get("/v1/me", &access).await;
    assert_eq!(me.body["active_organization"], sub.as_str(), "{:?}", me.body);

    let settings = format!("{}/v1/orgs/{}/settings", app.base, owner.org);
    let etag = app.get(&format!("/v1/orgs/{}/settings", owner.org), &owner.access).await.body["etag"]
        .as_str()
        .unwrap()
        .to_owned();
    let patch = |tag: String, body: Value| {
        let req = app.http.patch(&settings).bearer_auth(&owner.access).header("If-Match", tag).json(&body);
        async move { TestApp::reply(req.send().await.expect("patch")).await }
    };
    app.faults().inject(Rule::new(TX, Fault::Internal).times(OUTLASTS_SDK));
    let r = patch(etag.clone(), json!({"disclaimer": "Calls are recorded."})).await;
    assert_retryable(&r);
    let now = app.get(&format!("/v1/orgs/{}/settings", owner.org), &owner.access).await.body;
    assert_eq!((now["etag"].as_str(), now["own"].get("disclaimer")), (Some(etag.as_str()), None), "unchanged");
    // The client retries with the same ETag (nothing changed), through a conflict.
    app.faults().inject(Rule::new(TX, Fault::TransactionConflict).times(1));
    let r = patch(etag.clone(), json!({"disclaimer": "Calls are recorded."})).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["own"]["disclaimer"], "Calls are recorded.");
    println!(
        "{engine:?} | switch; settings change | GetItem throttled x3 + UpdateItem connection dropped; TX 500 x3, then a conflict | 200; 503+Retry-After and unchanged (same ETag), the retry 200"
    );
}

async fn digest_run_sends_each_digest_once_under_faults(engine: Engine) {
    let app = TestApp::spawn_faulty(engine).await;
    let owner = app.signup("digest", "web").await;
    let path = format!("/v1/orgs/{}/email-settings", owner.org);
    let tag = app.get(&path, &owner.access).await.body["etag"].as_str().expect("etag").to_owned();
    let r = app
        .send(
            reqwest::Method::PATCH,
            &path,
            &owner.access,
            Some(&tag),
            Some(json!({"types": {"mentions": {"interval": "hourly"}}})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let start = chrono::DateTime::parse_from_rfc3339("2026-12-01T10:00:00Z").unwrap().to_utc();
    app.clock.set(start);
    let event = json!({"organization_id": owner.org, "type": "mention", "recipients": {"user_ids": [owner.id]},
        "idempotency_key": "mention-1", "occurred_at": "2026-12-01T10:00:00Z", "subject": "+61 2 5550 1234"});
    assert_eq!(crate::notifications::post_event(&app, event).await.body["recorded"], 1);
    app.run_mail_worker().await;

    // The run is throttled and loses a connection; the scheduler then runs it again.
    app.faults().inject(Rule::new("Query", Fault::ProvisionedThroughput).every(2).times(3));
    app.faults().inject(Rule::new("UpdateItem", Fault::Drop).times(1));
    let hour = start + chrono::Duration::hours(1);
    let first = app.run_digests_at(hour).await;
    app.faults().heal();
    let again = app.run_digests_at(hour).await;
    assert_eq!(first.claimed + again.claimed, 1, "{first:?} {again:?}");
    // Everything the runs recorded has gone out: a second digest would be here by now.
    app.mail_settled().await;
    let digests: Vec<_> =
        app.emails_to(&owner.email).await.into_iter().filter(|m| m.subject.contains("hourly")).collect();
    assert_eq!(digests.len(), 1, "one digest for the window, however often the run goes");
    println!(
        "{engine:?} | digest run | Query throttled x3 + UpdateItem dropped, then the run repeated | one window claimed, one digest sent"
    );
}

async fn a_merge_moves_everything_or_nothing_under_faults(engine: Engine) {
    let app = TestApp::spawn_faulty(engine).await;
    let main = app.signup("merge-main", "web").await;
    let old = app.signup("merge-old", "web").await;
    let token = crate::merge::email_change_token(&app, &old, &main.email).await;

    // The merge's transaction fails through every attempt: nothing moved, told to retry.
    app.faults().inject(Rule::new(TX, Fault::Internal).times(OUTLASTS_SDK));
    let r = app.post_auth("/v1/me/email/confirm", &old.access, json!({"token": token})).await;
    assert_retryable(&r);
    let orgs = app.get("/v1/me/organizations", &old.access).await;
    assert_eq!(orgs.status, StatusCode::OK, "the old login still works: {:?}", orgs.body);
    assert_eq!(orgs.body["organizations"].as_array().unwrap().len(), 1);
    assert_eq!(app.get("/v1/me/organizations", &main.access).await.body["organizations"].as_array().unwrap().len(), 1);
    let combined = |mails: Vec<e2e::ReceivedEmail>| mails.iter().filter(|m| m.subject.contains("combined")).count();
    app.run_mail_worker().await;
    app.clock.advance(chrono::Duration::seconds(61));
    app.relay_emails().await;
    app.mail_settled().await;
    assert_eq!(combined(app.emails_to(&main.email).await), 0, "no merge notice without the merge");

    // The retry, through two conflicts: everything moves once. A notice written after the
    // merge's transaction would be lost to the failing batch write; it is in that transaction.
    app.faults().inject(Rule::new(TX, Fault::TransactionConflict).times(2));
    app.faults().inject(Rule::new("BatchWriteItem", Fault::Internal).times(OUTLASTS_SDK));
    let r = app.post_auth("/v1/me/email/confirm", &old.access, json!({"token": token})).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let mine = app.get("/v1/me/organizations", &main.access).await.body;
    let ids: Vec<&str> =
        mine["organizations"].as_array().unwrap().iter().map(|o| o["organization"]["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), 2, "{mine:?}");
    assert!(ids.contains(&old.org.as_str()) && ids.contains(&main.org.as_str()));
    let again = app.post_auth("/v1/me/email/confirm", &main.access, json!({"token": token})).await;
    assert!(again.status.is_client_error(), "the token is spent: {:?}", again.body);
    app.faults().heal();
    app.run_mail_worker().await;
    let mut notices = 0;
    for _ in 0..100 {
        notices = combined(app.emails_to(&main.email).await);
        if notices > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    app.clock.advance(chrono::Duration::seconds(61));
    app.relay_emails().await;
    app.mail_settled().await;
    assert_eq!((notices, combined(app.emails_to(&main.email).await)), (1, 1), "one merge notice, with the merge");
    println!(
        "{engine:?} | merge | TX 500 x3, then the retry through 2 conflicts and a failing BatchWriteItem | 503+Retry-After with nothing moved and no notice; then both organizations on the main login once, the token spent, one notice"
    );
}

/// moto only: SES is moto's (the embedded default writes files).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_mail_worker_retries_ses_and_sends_once() {
    let app = TestApp::spawn_faulty(Engine::Moto).await;
    let owner = app.signup("ses-faults", "web").await;
    let path = format!("/v1/orgs/{}/invitations", owner.org);
    let (a, b) = (e2e::unique_email("ses-a"), e2e::unique_email("ses-b"));

    // SES failing inside through the SDK's retries, then throttling: the worker backs off and
    // sends; the invitation records the email as sent.
    app.faults().inject(Rule::new("SendRawEmail", Fault::Internal).times(OUTLASTS_SDK));
    app.faults().inject(Rule::new("SendRawEmail", Fault::Throttling).times(2));
    let r = app.post_auth(&path, &owner.access, json!({"invitations": [{"email": a, "roles": ["agent"]}]})).await;
    assert_eq!(r.body["invited"], 1, "{:?}", r.body);
    assert_eq!(app.wait_emails_to(&a, 1).await.len(), 1);
    app.run_mail_worker().await;
    assert_eq!(app.emails_to(&a).await.len(), 1, "sent once");
    let pending = app.get(&format!("/v1/orgs/{}/invitations", owner.org), &owner.access).await.body;
    let status =
        pending["invitations"].as_array().unwrap().iter().find(|i| i["email"] == a.as_str()).unwrap()["email_status"]
            .clone();
    assert_eq!(status, "sent", "{pending:?}");

    // SES sent it but its answer was lost: SES has no idempotency token, so the SDK's retry
    // sends it again. Bounded: one retry's worth.
    app.faults().inject(Rule::new("SendRawEmail", Fault::DropAfterApply).times(1));
    app.post_auth(&path, &owner.access, json!({"invitations": [{"email": b, "roles": ["agent"]}]})).await;
    app.wait_emails_to(&b, 1).await;
    app.mail_settled().await;
    let got = app.emails_to(&b).await.len();
    assert_eq!(got, 2, "the SDK's one retry after the lost answer sends a second copy");
    println!(
        "Moto | mail worker | SendRawEmail 500 x3 + throttled x2; answer lost after sending | sent once, recorded sent; {got} copies (no SES idempotency)"
    );
}
