//! Notifications in: events from this service and from the messaging service become one
//! feed entry per recipient, each recorded once however often the event is delivered. A type
//! whose interval is immediate is emailed at once; the others wait for their digest.

use std::collections::{BTreeMap, HashMap};

use chrono::Duration;
use serde::Serialize;

use crate::auth::secret;
use crate::domain::notification::{Audience, Event, EventInput, NotificationKind};
use crate::domain::{DigestTime, EmailType, Interval, OrgId, Timezone, UserId, next_due, next_due_after};
use crate::error::{Error, Result};
use crate::mail::queue::EmailJob;
use crate::service::Ctx;
use crate::service::notify::compose::{Composer, Recipient, Scope};
use crate::store::{
    FeedRecord, MemberStatus, MembershipRecord, NewNotification, NotificationRecord, OrgStatus, Recorded,
    UnsubscribeRecord, UserRecord, notification_partition, shard_key, shard_of,
};

/// How long an unsubscribe link works.
pub const UNSUBSCRIBE_DAYS: i64 = 60;
/// Recipients of one event, at most (an inbox or the admins of a very large organization).
const MAX_RECIPIENTS: usize = 2_000;
/// Message content is kept this long past its digest's due time, for a late run.
const CONTENT_GRACE_DAYS: i64 = 2;

/// Where events go to be recorded: the SQS events queue the notifications worker drains (the
/// messaging service writes to it too), or this process.
#[derive(Clone)]
pub enum EventQueue {
    Sqs { client: crate::aws::SqsClient, url: String },
    InProcess,
}

/// What one event became.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Ingested {
    /// People it was for who may receive it.
    pub recipients: usize,
    /// Feed entries recorded now.
    pub recorded: usize,
    /// Recipients who had it already (a redelivered event).
    pub duplicates: usize,
    /// Emails queued at once.
    pub emailed: usize,
}

/// Record an event of this service's own (after the change it tells of is stored). Through
/// the events queue in AWS; a failure is logged and the change stands.
pub async fn emit(ctx: &Ctx, event: Event) {
    let outcome = match &ctx.events {
        EventQueue::Sqs { client, url } => {
            crate::aws::send_json(client, url, &event, crate::error::Error::Internal).await
        }
        EventQueue::InProcess => crate::aws::as_function("notifications-worker", ingest(ctx, &event)).await.map(|_| ()),
    };
    if let Err(e) = outcome {
        tracing::warn!(error = %e, kind = event.kind.key(), "notification event not recorded");
    }
}

/// An event of this service: for `audience` in `org`, keyed by what it is about.
pub fn internal(ctx: &Ctx, org: &OrgId, kind: NotificationKind, audience: Audience, key: String) -> Event {
    Event {
        org_id: org.clone(),
        kind,
        audience,
        key: crate::domain::notification::IdempotencyKey::derived(&key),
        at: ctx.now(),
        inbox_id: None,
        conversation: None,
        subject: None,
        content: None,
        link: None,
        actor: None,
        emailed: false,
        details: Default::default(),
    }
}

/// Tell the organization's admins (but not whoever did it) of a change to the team.
pub(crate) async fn tell_admins(
    ctx: &Ctx,
    org: &OrgId,
    kind: NotificationKind,
    actor: &UserId,
    subject: String,
    activity_id: &str,
) {
    let mut e = internal(ctx, org, kind, Audience::Admins, format!("{}|{activity_id}", kind.key()));
    e.actor = Some(actor.clone());
    e.subject = Some(subject);
    e.link = Some("/admin/users".into());
    emit(ctx, e).await
}

/// Tell one person something about their own login or work here.
pub(crate) fn tell(ctx: &Ctx, org: &OrgId, user: &UserId, kind: NotificationKind, key: &str) -> Event {
    internal(ctx, org, kind, Audience::People { user_ids: vec![user.clone()] }, format!("{}|{key}", kind.key()))
}

/// A queue message: an event of this service (already parsed, so trusted) or one from the
/// messaging service (parsed here).
pub async fn ingest_message(ctx: &Ctx, body: &str) -> Result<Ingested> {
    if let Ok(event) = serde_json::from_str::<Event>(body) {
        return ingest(ctx, &event).await;
    }
    let input: EventInput = serde_json::from_str(body)
        .map_err(|e| Error::validation("invalid_event", "body", format!("is not a notification event: {e}")))?;
    ingest(ctx, &input.parse()?).await
}

/// The organization an event belongs to, with what its emails need.
struct OrgView {
    scope: Scope,
    content_in_emails: bool,
    timezone: Timezone,
}

async fn org_view(ctx: &Ctx, org: &OrgId) -> Result<Option<OrgView>> {
    let Some(record) = ctx.store.get_org(org).await? else { return Ok(None) };
    if record.status != OrgStatus::Active {
        return Ok(None);
    }
    let scope = Scope::resolve(ctx, &record).await?;
    let e = crate::service::orgs::settings::effective(&scope.org, &scope.ancestors);
    Ok(Some(OrgView {
        content_in_emails: e.values.message_content_in_emails.unwrap_or(true),
        timezone: e.values.default_timezone.unwrap_or_default(),
        scope,
    }))
}

/// Active members among the audience, less the actor.
async fn audience(ctx: &Ctx, event: &Event) -> Result<Vec<MembershipRecord>> {
    let org = &event.org_id;
    let mut members: Vec<MembershipRecord> = match &event.audience {
        Audience::People { user_ids } => {
            // A BatchGet takes each key once; a person named twice is one recipient.
            let unique: Vec<UserId> =
                user_ids.iter().cloned().collect::<std::collections::BTreeSet<_>>().into_iter().collect();
            ctx.store.members_among(org, &unique).await?
        }
        Audience::Inbox { inbox_id } => {
            let ids: Vec<UserId> =
                ctx.store.inbox_members(org, inbox_id).await?.into_iter().map(|m| m.user_id).collect();
            ctx.store.members_among(org, &ids).await?
        }
        Audience::Admins => admins(ctx, org).await?,
    };
    members.retain(|m| m.status == MemberStatus::Active && Some(&m.user_id) != event.actor.as_ref());
    let seen_already =
        matches!(&event.audience, Audience::Inbox { inbox_id } if Some(inbox_id) == event.inbox_id.as_ref());
    if let Some(inbox) = event.inbox_id.as_ref().filter(|_| !seen_already) {
        let seeing: Vec<UserId> = ctx.store.inbox_members(org, inbox).await?.into_iter().map(|m| m.user_id).collect();
        members.retain(|m| seeing.contains(&m.user_id));
    }
    members.truncate(MAX_RECIPIENTS);
    Ok(members)
}

/// The owners and admins of `org`, from their own index.
async fn admins(ctx: &Ctx, org: &OrgId) -> Result<Vec<MembershipRecord>> {
    ctx.store.org_admins(org).await
}

/// When `user`'s digests come in this organization.
pub(crate) fn digest_time(feed: &FeedRecord) -> DigestTime {
    let mut t = DigestTime::DEFAULT;
    if let Some(h) = feed.digest_hour.filter(|h| *h < 24) {
        t.hour = h;
    }
    if let Some(w) = feed.digest_weekday.as_deref().and_then(|w| w.parse::<chrono::Weekday>().ok()) {
        t.weekday = w;
    }
    t
}

/// Whether the person switched `ty` off for themselves, and may.
pub(crate) fn opted_out(scope: &Scope, feed: &FeedRecord, ty: EmailType) -> bool {
    feed.off.contains(&ty) && !crate::service::notify::notification_prefs::locked(scope, ty)
}

/// Record `event` for each of its recipients and email those whose type goes out at once.
pub async fn ingest(ctx: &Ctx, event: &Event) -> Result<Ingested> {
    let Some(org) = org_view(ctx, &event.org_id).await? else {
        tracing::info!(org = %event.org_id, "event for an unknown or closed organization dropped");
        return Ok(Ingested::default());
    };
    let members = audience(ctx, event).await?;
    if members.is_empty() {
        return Ok(Ingested::default());
    }
    let ids: Vec<UserId> = members.iter().map(|m| m.user_id.clone()).collect();
    let users: HashMap<UserId, UserRecord> =
        ctx.store.get_users(&ids).await?.into_iter().map(|u| (u.user_id.clone(), u)).collect();
    let pairs: Vec<(UserId, OrgId)> = ids.iter().map(|u| (u.clone(), event.org_id.clone())).collect();
    let feeds = ctx.store.feeds(&pairs).await?;
    let ty = event.kind.email_type();
    let view = crate::service::notify::email_settings::resolve_type(&org.scope.org, &org.scope.ancestors, ty);
    let guard = secret::hash(&format!("{}|{}", event.org_id, event.key.as_str()));
    let now = ctx.now();
    let mut batch = Vec::new();
    let mut windows = Vec::new();
    let mut immediate = Vec::new();
    for user in ids.iter().filter_map(|id| users.get(id)).filter(|u| u.merged_into.is_none()) {
        let feed = feeds.get(&(user.user_id.clone(), event.org_id.clone())).cloned().unwrap_or_default();
        let wanted = view.enabled && !opted_out(&org.scope, &feed, ty);
        let digest = (wanted && view.interval != Interval::Immediate).then_some(view.interval);
        let window = digest.map(|_| Window { tz: user.timezone.unwrap_or(org.timezone), time: digest_time(&feed) });
        let due = digest.zip(window).and_then(|(iv, w)| next_due(iv, now, w.tz, w.time));
        let keep_content = org.content_in_emails && event.kind.carries_content() && due.is_some();
        let record = NotificationRecord {
            notification_id: String::new(),
            kind: event.kind,
            at: event.at,
            conversation_id: event.conversation.as_ref().map(|c| c.id.clone()),
            conversation_name: event.conversation.as_ref().and_then(|c| c.name.clone()),
            subject: event.subject.clone(),
            link: event.link.clone(),
            digest: due.and(digest),
            read_at: None,
        };
        batch.push(NewNotification {
            user_id: user.user_id.clone(),
            org_id: event.org_id.clone(),
            record,
            guard: guard.clone(),
            content: event
                .content
                .clone()
                .filter(|_| keep_content)
                .zip(due.map(|d| d + Duration::days(CONTENT_GRACE_DAYS))),
            due: due.map(|d| (shard_key(shard_of(&user.user_id, &event.org_id)), d)),
            now,
        });
        windows.push(window);
        immediate.push(wanted && view.interval == Interval::Immediate && !event.emailed);
    }
    let outcomes = record_all(ctx, &mut batch, &windows).await?;
    let mut out = Ingested { recipients: batch.len(), ..Ingested::default() };
    let mut to_email = Vec::new();
    for ((n, outcome), send) in batch.iter().zip(&outcomes).zip(&immediate) {
        match outcome {
            Recorded::New => {
                out.recorded += 1;
                if *send && let Some(u) = users.get(&n.user_id) {
                    to_email.push(u);
                }
            }
            Recorded::Duplicate => out.duplicates += 1,
            // `record_all` fails the event rather than hand one back.
            Recorded::Stale => {}
        }
    }
    out.emailed = email_now(ctx, &org.scope, event, &to_email).await?;
    Ok(out)
}

/// Where a gathered notification's window ends are found (its interval is the record's
/// `digest`): the person's zone and digest time.
#[derive(Debug, Clone, Copy)]
struct Window {
    tz: Timezone,
    time: DigestTime,
}

/// Rounds of recording above the marks another machine set meanwhile, before the event is
/// handed back to be delivered again.
const RECORD_ROUNDS: usize = 4;

/// Record the batch. A notification refused as `Stale` (its id or window end does not come
/// after what a machine whose clock is ahead already marked: a read mark, a claimed window, a
/// later id) is recorded again above those marks, read fresh each round; it is never dropped.
/// Should other machines keep moving the marks past it, the whole event fails, to be
/// delivered again (the recipients already recorded then count as duplicates).
async fn record_all(ctx: &Ctx, batch: &mut [NewNotification], windows: &[Option<Window>]) -> Result<Vec<Recorded>> {
    for n in batch.iter_mut() {
        n.record.notification_id = ctx.ulid().to_string();
    }
    let mut outcomes = ctx.store.record_notifications(batch).await?;
    for _ in 0..RECORD_ROUNDS {
        let stale: Vec<usize> = (0..batch.len()).filter(|i| outcomes[*i] == Recorded::Stale).collect();
        if stale.is_empty() {
            return Ok(outcomes);
        }
        above_marks(ctx, batch, &stale, windows).await?;
        let round: Vec<NewNotification> = stale.iter().map(|i| batch[*i].clone()).collect();
        for (i, r) in stale.iter().zip(ctx.store.record_notifications(&round).await?) {
            outcomes[*i] = r;
        }
    }
    if outcomes.contains(&Recorded::Stale) {
        return Err(crate::error::Error::busy("notifications kept being overtaken; deliver the event again"));
    }
    Ok(outcomes)
}

/// Give each `stale` notification an id after every mark in its feed and, opening a window,
/// an end after the last window claimed; the marks of all of them in one read.
async fn above_marks(
    ctx: &Ctx,
    batch: &mut [NewNotification],
    stale: &[usize],
    windows: &[Option<Window>],
) -> Result<()> {
    let wanted: Vec<_> =
        stale.iter().map(|i| (&batch[*i].user_id, &batch[*i].org_id, batch[*i].record.digest)).collect();
    let marks = ctx.store.feed_marks(&wanted).await?;
    for i in stale {
        let n = &mut batch[*i];
        let (feed, state) = marks.get(&notification_partition(&n.user_id, &n.org_id)).cloned().unwrap_or_default();
        let (since, last_id, last_due) = state.map(|s| (s.since, s.last_id, s.last_due)).unwrap_or_default();
        let floor = [feed.read_before, since, last_id]
            .into_iter()
            .flatten()
            .filter_map(|m| ulid::Ulid::from_string(&m).ok())
            .max();
        n.record.notification_id = floor.map_or_else(|| ctx.ulid(), |f| ctx.ulid_after(f)).to_string();
        let last = last_due.as_deref().and_then(|d| chrono::DateTime::parse_from_rfc3339(d).ok()).map(|d| d.to_utc());
        if let (Some(w), Some(interval), Some((_, due))) =
            (windows.get(*i).copied().flatten(), n.record.digest, n.due.as_mut())
            && let Some(end) = next_due_after(interval, n.now, last, w.tz, w.time)
        {
            *due = end;
            if let Some((_, until)) = n.content.as_mut() {
                *until = end + Duration::days(CONTENT_GRACE_DAYS);
            }
        }
    }
    Ok(())
}

/// The variables of a type's email, from the event.
fn event_vars(ctx: &Ctx, event: &Event, ty: EmailType) -> serde_json::Map<String, serde_json::Value> {
    let conversation = event.conversation.as_ref().map(|c| c.name.clone().unwrap_or_else(|| c.id.clone()));
    let subject = event.subject.clone().unwrap_or_default();
    let link = absolute_link(ctx, event.link.as_deref());
    let mut known: BTreeMap<&str, String> = BTreeMap::new();
    known.insert("count", "1".into());
    known.insert("conversation", conversation.unwrap_or_default());
    known.insert("link", link);
    for name in ["by", "caller", "member_name", "file_name", "summary", "client"] {
        known.insert(name, subject.clone());
    }
    known.insert("time", event.at.format("%Y-%m-%d %H:%M UTC").to_string());
    for (k, v) in &event.details {
        known.insert(k.as_str(), v.clone());
    }
    ty.variables()
        .filter(|v| v.name != "first_name" && v.name != "org_name")
        .map(|v| (v.name.to_owned(), known.get(v.name).cloned().unwrap_or_default().into()))
        .collect()
}

pub(crate) fn absolute_link(ctx: &Ctx, path: Option<&str>) -> String {
    format!("{}{}", ctx.config.public_url.trim_end_matches('/'), path.unwrap_or("/notifications"))
}

/// A new unsubscribe link for `types`: its secret (for the URL) and its record.
pub(crate) fn unsubscribe_link(
    ctx: &Ctx,
    user: &UserId,
    org: &OrgId,
    types: Vec<EmailType>,
) -> (Unsubscribe, String, UnsubscribeRecord) {
    let (secret, hash) = secret::new_secret(ctx.random.as_ref());
    let url = format!("{}/v1/unsubscribe/{secret}", ctx.config.api_url.trim_end_matches('/'));
    let record = UnsubscribeRecord {
        user_id: user.clone(),
        org_id: org.clone(),
        types,
        expires_at: ctx.now() + Duration::days(UNSUBSCRIBE_DAYS),
    };
    (Unsubscribe { url, secret }, hash, record)
}

/// A one-click unsubscribe link and the secret in it (sealed when its email is recorded).
pub(crate) struct Unsubscribe {
    url: String,
    secret: String,
}

impl Unsubscribe {
    /// `job` with this link as its `List-Unsubscribe`.
    pub(crate) fn on(self, mut job: EmailJob) -> EmailJob {
        job.message.unsubscribe = Some(self.url);
        job.with_secret(&self.secret)
    }
}

/// Email the event at once to `users`, each with a one-click link that switches the type off.
async fn email_now(ctx: &Ctx, scope: &Scope, event: &Event, users: &[&UserRecord]) -> Result<usize> {
    if users.is_empty() {
        return Ok(0);
    }
    let ty = event.kind.email_type();
    let composer = Composer::new(ctx, scope, ty).await?;
    if !composer.enabled {
        return Ok(0);
    }
    let mut jobs: Vec<EmailJob> = Vec::new();
    let mut links = Vec::new();
    for u in users {
        let Ok(r) = Recipient::user(u, event_vars(ctx, event, ty)) else { continue };
        let mut job = composer.render(r)?;
        if ty.can_switch_off() {
            let (link, hash, record) = unsubscribe_link(ctx, &u.user_id, &event.org_id, vec![ty]);
            job = link.on(job);
            links.push((hash, record));
        }
        jobs.push(job);
    }
    ctx.store.put_unsubscribe_links(&links).await?;
    let n = jobs.len();
    crate::service::notify::outbox::send(ctx, jobs).await?;
    Ok(n)
}

/// The notifications worker's batch from the events queue: the ids to hand back for a later
/// try. A message that can never be recorded (malformed, invalid) is dropped loudly.
pub async fn process_events(ctx: &Ctx, batch: Vec<crate::mail::queue::Received>) -> Vec<String> {
    let mut retry = Vec::new();
    for m in batch {
        match ingest_message(ctx, &m.body).await {
            Ok(_) => {}
            Err(e @ (Error::Validation { .. } | Error::MalformedBody(_))) => {
                tracing::error!(error = %e, id = %m.id, "invalid notification event dropped")
            }
            Err(e) => {
                tracing::warn!(error = %e, id = %m.id, "notification event returned to the queue");
                retry.push(m.id);
            }
        }
    }
    retry
}
