//! The scheduled digest function, invoked with EventBridge's scheduled-event payload at
//! chosen clock times: hourly, daily and weekly windows in three timezones (one across the
//! end of summer time), two overlapping runs, a late run, runs that die before and after
//! queuing, and the "show message content in emails" policy.

use std::sync::Arc;

use chrono::{DateTime, Datelike, Utc};
use e2e::{Engine, ReceivedEmail, TestApp, User};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use switchboard::access::{Manage, Scope};
use switchboard::clock::{Clock, ManualClock};
use switchboard::domain::Role;
use switchboard::mail::SendFuture;
use switchboard::mail::queue::{EmailJob, EmailQueue};
use switchboard::service::Ctx;

use crate::notifications::{message_event, notification_emails, post_event};

both_engines!(clocks_that_disagree_drop_nothing);
dynoxide_only!(windows_follow_each_persons_clock, late_dying_and_private_runs, hourly_across_the_autumn_clock_change);

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).expect("time").with_timezone(&Utc)
}

/// Set the organization's interval for some types (email settings, with If-Match).
async fn intervals(app: &TestApp, owner: &User, types: Value) {
    let path = format!("/v1/orgs/{}/email-settings", owner.org);
    let tag = app.get(&path, &owner.access).await.body["etag"].as_str().expect("etag").to_owned();
    let r = app
        .http
        .patch(format!("{}{path}", app.base))
        .bearer_auth(&owner.access)
        .header("If-Match", tag)
        .json(&json!({ "types": types }))
        .send()
        .await
        .expect("patch");
    assert_eq!(r.status(), StatusCode::OK, "{:?}", TestApp::reply(r).await.body);
}

/// A member of `owner`'s organization living in `tz`.
async fn member_in(app: &TestApp, owner: &User, tag: &str, tz: &str) -> User {
    let u = app.signup(tag, "web").await;
    app.add_member(&u.id, &owner.org, &[Role::Agent], Scope::Subtree, Manage::All).await;
    let r = app.call(Method::PATCH, "/v1/me", Some(&u.access), Some(json!({ "timezone": tz }))).await;
    assert_eq!((r.status, r.body["timezone"].as_str()), (StatusCode::OK, Some(tz)), "{:?}", r.body);
    u
}

fn event(org: &str, kind: &str, user: &str, key: &str, when: &str) -> Value {
    json!({"organization_id": org, "type": kind, "recipients": {"user_ids": [user]}, "idempotency_key": key,
           "occurred_at": when, "subject": "+61 2 5550 1234"})
}

/// The `period` digests `to` received, waiting (a few seconds at most) for `n` of them: the
/// embedded default's mail worker delivers in the background.
async fn digests(app: &TestApp, to: &str, period: &str, n: usize) -> Vec<ReceivedEmail> {
    let word = format!("Your {period} summary");
    for _ in 0..100 {
        let got: Vec<_> =
            notification_emails(app, to, 0).await.into_iter().filter(|m| m.subject.contains(&word)).collect();
        if got.len() >= n {
            return got;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    Vec::new()
}

async fn windows_follow_each_persons_clock(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let owner = app.signup("digest-owner", "web").await;
    let org = owner.org.clone();
    intervals(
        &app,
        &owner,
        json!({"mentions": {"interval": "hourly"}, "new_messages": {"interval": "daily"},
                                   "missed_calls": {"interval": "weekly"}}),
    )
    .await;
    let ams = member_in(&app, &owner, "digest-ams", "Europe/Amsterdam").await;
    let syd = member_in(&app, &owner, "digest-syd", "Australia/Sydney").await;
    let ny = member_in(&app, &owner, "digest-ny", "America/New_York").await;

    // Saturday 24 October 2026, 10:00 UTC: noon in Amsterdam (summer time ends tomorrow at
    // 03:00), 21:00 in Sydney (summer time since 4 October), 06:00 in New York.
    app.clock.set(at("2026-10-24T10:00:00Z"));
    for u in [&ams, &syd, &ny] {
        let r =
            post_event(&app, message_event(&org, &[&u.id], &format!("m-{}", u.id), "1", "Where is parcel 1?")).await;
        assert_eq!(r.body["recorded"], 1, "{:?}", r.body);
    }
    post_event(&app, event(&org, "mention", &ams.id, "mention-1", "2026-10-24T10:00:00Z")).await;
    for u in [&syd, &ny] {
        post_event(&app, event(&org, "missed_call", &u.id, &format!("call-{}", u.id), "2026-10-24T10:00:00Z")).await;
    }
    app.run_mail_worker().await;
    assert!(notification_emails(&app, &ams.email, 0).await.is_empty(), "gathered types wait for their digest");

    // Hourly: the next full hour.
    let r = app.run_digests_at(at("2026-10-24T10:59:59Z")).await;
    assert_eq!(r.claimed, 0, "{r:?}");
    let r = app.run_digests_at(at("2026-10-24T11:00:00Z")).await;
    assert_eq!(r.claimed, 1, "{r:?}");
    let hourly = digests(&app, &ams.email, "hourly", 1).await;
    assert_eq!(hourly.len(), 1);
    assert!(hourly[0].text.contains("1 mention"), "{}", hourly[0].text);
    assert_eq!(hourly[0].list_unsubscribe_post.as_deref(), Some("List-Unsubscribe=One-Click"));

    // Daily at 08:00 where each person lives. New York's comes first (12:00 UTC), and two
    // runs fired at once send it once.
    let noon = at("2026-10-24T12:00:00Z");
    let (a, b) = tokio::join!(Box::pin(app.run_digests_at(noon)), Box::pin(app.run_digests_at(noon)));
    assert_eq!(a.claimed + b.claimed, 1, "{a:?} {b:?}");
    let ny_daily = digests(&app, &ny.email, "daily", 1).await;
    assert_eq!(ny_daily.len(), 1);
    assert!(ny_daily[0].text.contains("Conversation 1: 1 new message"), "{}", ny_daily[0].text);
    assert!(ny_daily[0].text.contains("Where is parcel 1?"), "content shown where the policy allows");
    // Sydney: Sunday 08:00 AEDT is Saturday 21:00 UTC.
    let r = app.run_digests_at(at("2026-10-24T20:59:00Z")).await;
    assert_eq!(r.claimed, 0, "{r:?}");
    app.run_digests_at(at("2026-10-24T21:00:00Z")).await;
    assert_eq!(digests(&app, &syd.email, "daily", 1).await.len(), 1);
    // Amsterdam: 06:00 UTC would be 08:00 under summer time, which ended at 01:00 UTC.
    let r = app.run_digests_at(at("2026-10-25T06:00:00Z")).await;
    assert_eq!(r.claimed, 0, "not at the old offset: {r:?}");
    let r = app.run_digests_at(at("2026-10-25T07:00:00Z")).await;
    assert_eq!(r.claimed, 1, "{r:?}");
    assert_eq!(digests(&app, &ams.email, "daily", 1).await.len(), 1);

    // Weekly on Monday 08:00 local: Sunday 21:00 UTC for Sydney, not Monday in UTC.
    let r = app.run_digests_at(at("2026-10-25T20:59:00Z")).await;
    assert_eq!(r.claimed, 0, "{r:?}");
    let r = app.run_digests_at(at("2026-10-25T21:00:00Z")).await;
    assert_eq!(r.claimed, 1, "{r:?}");
    let weekly = digests(&app, &syd.email, "weekly", 1).await;
    assert_eq!(weekly.len(), 1);
    assert!(weekly[0].text.contains("1 missed call"), "{}", weekly[0].text);
    let sydney_weekday = at("2026-10-25T21:00:00Z").with_timezone(&chrono_tz::Australia::Sydney).weekday();
    assert_eq!(sydney_weekday, chrono::Weekday::Mon);
    let r = app.run_digests_at(at("2026-10-26T11:59:00Z")).await;
    assert_eq!(r.claimed, 0, "{r:?}");
    let r = app.run_digests_at(at("2026-10-26T12:00:00Z")).await;
    assert_eq!(r.claimed, 1, "{r:?}");
    assert_eq!(digests(&app, &ny.email, "weekly", 1).await.len(), 1);

    // Nothing is left, and nothing goes out twice: a week of runs later, each person has
    // exactly the emails they should.
    let r = app.run_digests_at(at("2026-11-02T12:00:00Z")).await;
    assert_eq!((r.claimed, r.taken_over), (0, 0), "{r:?}");
    assert_eq!(notification_emails(&app, &ams.email, 2).await.len(), 2, "hourly + daily");
    assert_eq!(notification_emails(&app, &syd.email, 2).await.len(), 2, "daily + weekly");
    assert_eq!(notification_emails(&app, &ny.email, 2).await.len(), 2, "daily + weekly");
}

/// A queue that always fails, as one does when its process dies before queueing.
struct DyingQueue;

impl EmailQueue for DyingQueue {
    fn enqueue<'a>(&'a self, _jobs: Vec<EmailJob>) -> SendFuture<'a> {
        Box::pin(async move { Err(switchboard::error::Error::internal("the run died")) })
    }
}

/// The app's context with another email queue (same table, clock and mailer).
fn with_queue(app: &TestApp, queue: Arc<dyn EmailQueue>) -> Ctx {
    other_machine(app, queue, app.ctx.clock.clone())
}

/// Another machine working on the same table, with its own queue and clock.
fn other_machine(app: &TestApp, queue: Arc<dyn EmailQueue>, clock: Arc<dyn Clock>) -> Ctx {
    let c = &app.ctx;
    let mail = switchboard::service::Mail { mailer: c.mailer.clone(), queue: Some(queue), files: c.files.clone() };
    Ctx::new(c.config.clone(), c.store.clone(), mail, &app.keys, clock, c.random.clone()).expect("ctx")
}

async fn late_dying_and_private_runs(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let owner = app.signup("digest-late", "web").await;
    let org = owner.org.clone();
    intervals(&app, &owner, json!({"new_messages": {"interval": "daily"}})).await;
    let settings = app.get(&format!("/v1/orgs/{org}/settings"), &owner.access).await;
    let tag = settings.body["etag"].as_str().expect("etag").to_owned();
    let r = app
        .http
        .patch(format!("{}/v1/orgs/{org}/settings", app.base))
        .bearer_auth(&owner.access)
        .header("If-Match", tag)
        .json(&json!({"message_content_in_emails": false}))
        .send()
        .await
        .expect("patch");
    assert_eq!(r.status(), StatusCode::OK);
    let member = member_in(&app, &owner, "digest-late-m", "UTC").await;

    // Twelve conversations on Tuesday; the run does not come until Saturday.
    app.clock.set(at("2026-12-01T09:00:00Z"));
    for i in 0..12 {
        post_event(
            &app,
            message_event(&org, &[&member.id], &format!("late-{i}"), &i.to_string(), &format!("secret text {i}")),
        )
        .await;
    }
    let r = app.run_digests_at(at("2026-12-05T10:00:00Z")).await;
    assert_eq!(r.claimed, 1, "a late run catches up with one email, not one per missed day: {r:?}");
    let late = digests(&app, &member.email, "daily", 1).await;
    assert_eq!(late.len(), 1);
    assert!(!late[0].text.contains("secret text"), "policy off: no message content: {}", late[0].text);
    assert!(late[0].text.contains("new message"), "a neutral line instead");
    assert!(late[0].text.contains("And 2 more."), "ten groups listed, the rest counted: {}", late[0].text);
    assert!(late[0].subject.contains("12 notification"), "{}", late[0].subject);
    let r = app.run_digests_at(at("2026-12-05T10:00:00Z")).await;
    assert_eq!(r.claimed, 0, "a re-run sends nothing twice");

    // Saturday's message is due Sunday 08:00. The run's queue fails: its email is recorded in
    // the outbox all the same, and the relay hands it on a minute later, once.
    app.clock.set(at("2026-12-05T11:00:00Z"));
    post_event(&app, message_event(&org, &[&member.id], "late-sat", "99", "x")).await;
    app.clock.set(at("2026-12-06T08:00:00Z"));
    let dead = with_queue(&app, Arc::new(DyingQueue));
    let r = switchboard::service::notify::digests::run(&dead, at("2026-12-06T08:00:00Z")).await;
    assert!(matches!(&r, Ok(r) if r.claimed == 1 && r.queued == 1), "a failing queue costs nothing: {r:?}");
    app.run_mail_worker().await;
    assert!(digests(&app, &member.email, "daily", 2).await.is_empty(), "nothing was handed on yet");
    app.clock.set(at("2026-12-06T08:00:59Z"));
    assert_eq!(app.relay_emails().await, 0, "the relay leaves what has waited under a minute");
    app.clock.set(at("2026-12-06T08:01:01Z"));
    assert_eq!(app.relay_emails().await, 1, "the recorded email is relayed");
    assert_eq!(digests(&app, &member.email, "daily", 2).await.len(), 2, "the window's email went out");
    // A queue that hands it on and then fails: handed on once, relayed again, sent once.
    app.clock.set(at("2026-12-06T08:20:00Z"));
    let r = app.run_digests_at(at("2026-12-06T08:40:00Z")).await;
    assert_eq!((r.claimed, r.taken_over), (0, 0), "the window is closed: {r:?}");
    assert_eq!(app.relay_emails().await, 0, "a sent email leaves the relay's index");
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert_eq!(digests(&app, &member.email, "daily", 2).await.len(), 2, "each window's email once");
    let r = app.run_digests_at(at("2026-12-07T09:00:00Z")).await;
    assert_eq!((r.claimed, r.taken_over), (0, 0), "{r:?}");
}

/// An app whose organization gathers `ty` into hourly digests, and one member living in `tz`.
async fn hourly_team(engine: Engine, tag: &str, ty: &str, tz: &str) -> (TestApp, String, User) {
    let app = TestApp::spawn(engine).await;
    let owner = app.signup(tag, "web").await;
    intervals(&app, &owner, json!({ ty: {"interval": "hourly"} })).await;
    let member = member_in(&app, &owner, &format!("{tag}-m"), tz).await;
    (app, owner.org, member)
}

/// Hourly digests in Amsterdam across the end of summer time (25 October 2026: at 01:00 UTC,
/// 03:00 CEST becomes 02:00 CET, so the wall clock shows 02:00–03:00 twice). Each window ends
/// after its messages at a full hour of the wall clock, and a second window in the repeated
/// hour goes out like any other.
async fn hourly_across_the_autumn_clock_change(engine: Engine) {
    let (app, org, ams) = hourly_team(engine, "digest-autumn", "new_messages", "Europe/Amsterdam").await;
    let message = |key: &str, conversation: &str| message_event(&org, &[&ams.id], key, conversation, "hello");

    // 02:30 CEST, the first pass: the next full hour is 02:00 CET, at 01:00 UTC.
    app.clock.set(at("2026-10-25T00:30:00Z"));
    assert_eq!(post_event(&app, message("autumn-1", "1")).await.body["recorded"], 1);
    let r = app.run_digests_at(at("2026-10-25T00:59:59Z")).await;
    assert_eq!((r.claimed, r.lost), (0, 0), "{r:?}");
    let r = app.run_digests_at(at("2026-10-25T01:00:00Z")).await;
    assert_eq!((r.claimed, r.lost), (1, 0), "{r:?}");
    assert_eq!(digests(&app, &ams.email, "hourly", 1).await.len(), 1);

    // 02:30:05 CET, the repeated hour: due at 03:00 CET (02:00 UTC), after the messages, and
    // a second message in that hour joins the same window.
    app.clock.set(at("2026-10-25T01:30:05Z"));
    assert_eq!(post_event(&app, message("autumn-2", "2")).await.body["recorded"], 1);
    let r = app.run_digests_at(at("2026-10-25T01:30:06Z")).await;
    assert_eq!((r.claimed, r.lost), (0, 0), "not before the message's own hour is over: {r:?}");
    app.clock.set(at("2026-10-25T01:45:00Z"));
    assert_eq!(post_event(&app, message("autumn-3", "3")).await.body["recorded"], 1);
    let r = app.run_digests_at(at("2026-10-25T01:59:59Z")).await;
    assert_eq!((r.claimed, r.lost), (0, 0), "{r:?}");
    let r = app.run_digests_at(at("2026-10-25T02:00:00Z")).await;
    assert_eq!((r.claimed, r.lost), (1, 0), "{r:?}");
    let sent = digests(&app, &ams.email, "hourly", 2).await;
    assert_eq!(sent.len(), 2);
    assert!(sent.iter().any(|m| m.text.contains("Conversation 2") && m.text.contains("Conversation 3")));

    // And the hours after it go on as every hour does.
    app.clock.set(at("2026-10-25T02:10:00Z"));
    assert_eq!(post_event(&app, message("autumn-4", "4")).await.body["recorded"], 1);
    let r = app.run_digests_at(at("2026-10-25T03:00:00Z")).await;
    assert_eq!((r.claimed, r.lost), (1, 0), "{r:?}");
    assert_eq!(digests(&app, &ams.email, "hourly", 3).await.len(), 3);
}

/// Two machines whose clocks are a day apart. The one ahead claims a person's window; the
/// other then records an event for that person, whose id sorts before the window claimed: it
/// is recorded all the same, in the next window (which ends after the one claimed), and the
/// machine behind, claiming that window, reaches the ids the machine ahead made.
async fn clocks_that_disagree_drop_nothing(engine: Engine) {
    let (app, org, member) = hourly_team(engine, "digest-skew", "mentions", "UTC").await;
    let mention = |key: &str, when: &str| event(&org, "mention", &member.id, key, when);
    // The unread mentions in the member's feed (signed in afresh: the clock moves by hours).
    let mentions = || async {
        let token = app.login(&member.email, &member.password, "web").await["access_token"].clone();
        let feed = app.get(&format!("/v1/orgs/{org}/notifications"), token.as_str().unwrap_or_default()).await;
        feed.body["items"].as_array().map_or(0, |i| i.iter().filter(|n| n["type"] == "mention").count())
    };

    let start = at("2026-11-02T09:10:00Z");
    app.clock.set(start);
    assert_eq!(post_event(&app, mention("skew-1", "2026-11-02T09:10:00Z")).await.body["recorded"], 1);
    let ahead_at = start + chrono::Duration::days(1);
    let ahead = other_machine(&app, app.ctx.queue.clone(), Arc::new(ManualClock::new(ahead_at)));
    let r = switchboard::service::notify::digests::run(&ahead, ahead_at).await.expect("run ahead");
    assert_eq!((r.claimed, r.lost), (1, 0), "{r:?}");
    assert_eq!(digests(&app, &member.email, "hourly", 1).await.len(), 1);

    // This machine's clock still says 09:10.
    let r = post_event(&app, mention("skew-2", "2026-11-02T09:10:30Z")).await;
    assert_eq!((r.status, &r.body["recorded"], &r.body["duplicates"]), (StatusCode::ACCEPTED, &json!(1), &json!(0)));
    assert_eq!(mentions().await, 2, "both in the feed");
    let r = app.run_digests_at(at("2026-11-02T10:00:00Z")).await;
    assert_eq!((r.claimed, r.lost), (0, 0), "10:00 is the window claimed already: {r:?}");
    let r = app.run_digests_at(at("2026-11-02T11:00:00Z")).await;
    assert_eq!((r.claimed, r.lost), (1, 0), "{r:?}");
    let sent = digests(&app, &member.email, "hourly", 2).await;
    assert_eq!(sent.len(), 2);
    assert!(sent.iter().all(|m| m.text.contains("1 mention")), "one each: {:?}", sent.iter().map(|m| &m.text));

    // The windows after go on, each once.
    app.clock.set(at("2026-11-02T11:05:00Z"));
    assert_eq!(post_event(&app, mention("skew-3", "2026-11-02T11:05:00Z")).await.body["recorded"], 1);
    let r = app.run_digests_at(at("2026-11-02T12:00:00Z")).await;
    assert_eq!((r.claimed, r.lost), (1, 0), "{r:?}");
    assert_eq!(digests(&app, &member.email, "hourly", 3).await.len(), 3);
    assert_eq!(mentions().await, 3);
}
