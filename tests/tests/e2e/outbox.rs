//! Every email is an outbox item first, written with the change it tells of, its link's
//! secret sealed. In AWS the table's stream hands each new item to the email queue
//! (`EmailOutboxPipe`); here the test plays the stream, with the record shape the Pipe
//! forwards, and delivers each record twice, as a stream and a queue may.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use e2e::{Engine, TestApp, unique_email};
use reqwest::StatusCode;
use serde_json::{Value, json};
use switchboard::config::Config;
use switchboard::mail::queue::Received;

both_engines!(every_email_waits_sealed_in_the_outbox_and_goes_out_once);
both_engines!(an_email_request_delivered_again_sends_one_email);

/// The table's outbox items, as stored.
async fn outbox_items(app: &TestApp) -> Vec<HashMap<String, AttributeValue>> {
    let is_mail = |i: &HashMap<String, AttributeValue>| attr(i, "pk").is_some_and(|pk| pk.starts_with("MAILOUT#"));
    app.all_items().await.into_iter().filter(is_mail).collect()
}

fn attr(item: &HashMap<String, AttributeValue>, name: &str) -> Option<String> {
    item.get(name).and_then(|v| v.as_s().ok()).cloned()
}

/// An INSERT record of DynamoDB Streams (NEW_IMAGE), as EventBridge Pipes hands it to SQS.
fn stream_record(item: &HashMap<String, AttributeValue>) -> String {
    let image: serde_json::Map<String, Value> = item
        .iter()
        .filter_map(|(k, v)| match v {
            AttributeValue::S(s) => Some((k.clone(), json!({ "S": s }))),
            AttributeValue::N(n) => Some((k.clone(), json!({ "N": n }))),
            _ => None,
        })
        .collect();
    json!({
        "eventID": ulid::Ulid::new().to_string(),
        "eventName": "INSERT",
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": "us-east-1",
        "dynamodb": {
            "Keys": {"pk": image["pk"], "sk": image["sk"]},
            "NewImage": image,
            "SequenceNumber": "100000000000000000001",
            "SizeBytes": 1024,
            "StreamViewType": "NEW_IMAGE"
        },
        "eventSourceARN": "arn:aws:dynamodb:us-east-1:000000000000:table/t/stream/2026-12-01T00:00:00.000"
    })
    .to_string()
}

/// Queue an email to `to` straight onto the email queue, behind whatever is queued already.
async fn queue_marker(app: &TestApp, to: &str) {
    let message = e2e::plain_email(to, "Marker", "marker");
    app.ctx.queue.enqueue(vec![switchboard::mail::queue::EmailJob::new(message)]).await.expect("queued");
}

/// What the mail worker returns to the queue after one batch (run on a task of its own).
async fn mail_worker(app: &TestApp, bodies: &[String]) -> Vec<String> {
    let batch: Vec<Received> = bodies
        .iter()
        .enumerate()
        .map(|(i, b)| Received { id: format!("m{i}"), body: b.clone(), receive_count: 1 })
        .collect();
    let ctx = app.ctx.clone();
    let work = async move { switchboard::service::notify::email_requests::process_batch(&ctx, batch).await };
    tokio::spawn(switchboard::aws::as_function("mail-worker", work)).await.expect("mail worker")
}

async fn every_email_waits_sealed_in_the_outbox_and_goes_out_once(engine: Engine) {
    // As in AWS: requests record emails and hand none on; the stream does.
    let app = TestApp::spawn_with(engine, Config { email_from_stream: true, ..Config::default() }).await;
    let owner = app.signup("outbox", "web").await;
    let invitee = unique_email("outbox-invitee");
    let r = app
        .post_auth(
            &format!("/v1/orgs/{}/invitations", owner.org),
            &owner.access,
            json!({"invitations": [{"email": invitee, "roles": ["agent"]}]}),
        )
        .await;
    assert_eq!(r.body["results"][0]["status"], "invited", "{:?}", r.body);
    // A marker queued now goes out after anything the request had queued (one worker, in order).
    let marker = unique_email("outbox-marker");
    queue_marker(&app, &marker).await;
    app.run_mail_worker().await;
    app.wait_emails_to(&marker, 1).await;
    assert!(app.emails_to(&invitee).await.is_empty(), "the request handed nothing to the queue itself");

    // Two items wait: the owner's verification and the invitation, each sealed.
    let items = outbox_items(&app).await;
    assert_eq!(items.len(), 2, "{items:?}");
    for item in &items {
        assert_eq!(attr(item, "entity").as_deref(), Some("email"), "the Pipe's filter matches it");
        let job = attr(item, "job").expect("the job waits with the item");
        assert!(job.contains(switchboard::mail::seal::MARK), "the link holds the mark: {job}");
        assert!(attr(item, "gsi3pk").is_some_and(|k| k.starts_with("MAILDUE#")), "in the relay's index");
    }

    // The stream hands each record over twice.
    let records: Vec<String> = items.iter().map(stream_record).collect();
    for _ in 0..2 {
        let retry = mail_worker(&app, &records).await;
        assert!(retry.is_empty(), "nothing handed back: {retry:?}");
    }
    let invitations = app.wait_emails_to(&invitee, 1).await;
    assert_eq!(invitations.len(), 1, "one invitation, however often the record came");
    let link = invitations[0].link("/accept-invitation?token=").expect("link");
    let token = link.split("token=").nth(1).expect("token").to_owned();
    let preview = app.post("/v1/invitations/preview", json!({ "token": token })).await;
    assert_eq!(preview.status, StatusCode::OK, "the opened link works: {:?}", preview.body);
    let verification = app.wait_emails_to(&owner.email, 1).await;
    assert_eq!(verification.len(), 1, "one verification email");
    let verify_token = verification[0].link("token=").expect("verification link");
    let verify_token = verify_token.split("token=").nth(1).expect("token");
    for item in &items {
        let stored = format!("{item:?}");
        assert!(!stored.contains(&token) && !stored.contains(verify_token), "a secret was stored in the clear");
    }

    // Sent: out of the relay's index, content gone, outcome kept.
    app.clock.advance(chrono::Duration::seconds(61));
    assert_eq!(app.relay_emails().await, 0, "nothing left to relay");
    for item in outbox_items(&app).await {
        assert_eq!(attr(&item, "status").as_deref(), Some("sent"), "{item:?}");
        assert!(attr(&item, "job").is_none() && attr(&item, "gsi3pk").is_none(), "{item:?}");
    }
    // The worker sends a batch's emails before it returns.
    let again = mail_worker(&app, &records).await;
    assert!(again.is_empty());
    assert_eq!(app.emails_to(&invitee).await.len(), 1, "a late duplicate is dropped too");
    println!(
        "{engine:?} | outbox | every stream record delivered twice | each email sent once, its secret sealed at rest"
    );
}

/// "Forgot password" and the notice to a registered address are requests the mail worker
/// decides; SQS may hand one over more than once, and the SDK may send it twice.
async fn an_email_request_delivered_again_sends_one_email(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let (email, _, _) = app.register("request-twice").await;
    let count = |mails: &[e2e::ReceivedEmail], needle: &str| mails.iter().filter(|m| m.link(needle).is_some()).count();

    // A request with its id, as `submit` sends it now, three times.
    let id = ulid::Ulid::new().to_string();
    let reset = json!({"request": {"kind": "password_reset", "email": email}, "id": id}).to_string();
    for _ in 0..3 {
        assert!(mail_worker(&app, std::slice::from_ref(&reset)).await.is_empty());
    }
    // A request queued before ids existed: the queue's message id (the same on each
    // redelivery) stands in.
    let notice = json!({"request": {"kind": "registration_attempt", "email": email}}).to_string();
    for _ in 0..2 {
        assert!(mail_worker(&app, std::slice::from_ref(&notice)).await.is_empty());
    }
    app.run_mail_worker().await;
    app.clock.advance(chrono::Duration::seconds(61));
    app.relay_emails().await;
    // The verification, the reset and the notice; then a moment for any extra to land.
    app.wait_emails_to(&email, 3).await;
    app.mail_settled().await;
    let mails = app.emails_to(&email).await;
    assert_eq!(count(&mails, "/reset-password?token="), 1, "one reset email: {:?}", subjects(&mails));
    assert_eq!(count(&mails, "/forgot-password"), 1, "one notice: {:?}", subjects(&mails));
    let tokens = outbox_items(&app).await.iter().filter(|i| attr(i, "id").as_deref() == Some(id.as_str())).count();
    assert_eq!(tokens, 1, "the request's email is one outbox item, under the request's id");

    // A new request (a new id) is a new email.
    let again = json!({"request": {"kind": "password_reset", "email": email}, "id": ulid::Ulid::new().to_string()});
    assert!(mail_worker(&app, &[again.to_string()]).await.is_empty());
    let mails = app.wait_emails_to(&email, mails.len() + 1).await;
    assert_eq!(count(&mails, "/reset-password?token="), 2, "{:?}", subjects(&mails));
    println!("{engine:?} | email requests | a request delivered 3 times, an id-less one twice | one email each");
}

fn subjects(mails: &[e2e::ReceivedEmail]) -> Vec<&str> {
    mails.iter().map(|m| m.subject.as_str()).collect()
}
