//! The digest run: every schedule tick (and `local digests --at`) reads the due index up to
//! the run's time, claims each due window (the claim creates the window's record once ever
//! and moves the person's state past it, in one transaction), renders one email per window
//! and queues it. Two runs at once, a late run and a run after one that died all send each
//! window once: a second claim fails, a late run claims the one window that waited, and a
//! window whose run died is taken over when its lease ends (the mail worker then drops the
//! second copy, should the first have been queued after all).

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use futures::StreamExt;
use futures::future::BoxFuture;
use serde::Serialize;

use crate::domain::{EmailType, Interval, OrgId};
use crate::error::Result;
use crate::mail::digest::{Item, summary};
use crate::mail::queue::{EmailJob, WindowRef};
use crate::service::Ctx;
use crate::service::notify::compose::{Composer, Recipient, Scope};
use crate::service::notify::notifications::{Unsubscribe, absolute_link, opted_out, unsubscribe_link};
use crate::store::{DUE_SHARDS, DigestState, DigestWindow, Due, LEASE_MINUTES, MemberStatus, OrgStatus, WindowStatus};

/// Due entries read per query, and worked on at once.
const PAGE: i32 = 100;
const CONCURRENCY: usize = 8;
/// Notifications read per window for its email.
const ITEMS_READ: usize = 100;

/// What one run did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct RunReport {
    /// Windows claimed by this run.
    pub claimed: usize,
    /// Emails queued.
    pub queued: usize,
    /// Claimed windows with nothing left to send.
    pub skipped: usize,
    /// Windows of a run that died, taken over.
    pub taken_over: usize,
    /// Windows another run claimed first.
    pub lost: usize,
    /// The scheduled run's reminders to confirm a mobile number (`on_schedule` only).
    pub mobile_reminders: crate::service::identity::reminders::ReminderReport,
}

/// An organization as the digests of one run see it (read once per run).
struct OrgDigest {
    scope: Scope,
    composer: Composer,
    content_in_emails: bool,
    /// Each interval with the email types gathered into it (what its unsubscribe link
    /// switches off), resolved once rather than per window.
    gathered: Vec<(Interval, Vec<EmailType>)>,
}

type Orgs = HashMap<OrgId, Option<Arc<OrgDigest>>>;

async fn load_orgs(ctx: &Ctx, ids: Vec<OrgId>, cache: &mut Orgs) -> Result<()> {
    // A page names an organization once per recipient; a BatchGet takes each key once.
    let missing: Vec<OrgId> = ids
        .into_iter()
        .filter(|o| !cache.contains_key(o))
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    let found = ctx.store.get_orgs(&missing).await?;
    for org in found {
        if org.status != OrgStatus::Active {
            continue;
        }
        let scope = Scope::resolve(ctx, &org).await?;
        // Beneath a closed (or suspended) organization nobody works: no digests either.
        if scope.ancestors.iter().any(|a| a.status != OrgStatus::Active) {
            continue;
        }
        let e = crate::service::orgs::settings::effective(&scope.org, &scope.ancestors);
        let composer = Composer::new(ctx, &scope, EmailType::Digest).await?;
        let gathered = [Interval::Hourly, Interval::Daily, Interval::Weekly]
            .into_iter()
            .map(|iv| (iv, gathered_into(&scope, iv)))
            .collect();
        let content_in_emails = e.values.message_content_in_emails.unwrap_or(true);
        let view = OrgDigest { content_in_emails, scope, composer, gathered };
        cache.insert(org.org_id.clone(), Some(Arc::new(view)));
    }
    for o in missing {
        cache.entry(o).or_insert(None);
    }
    Ok(())
}

/// The types gathered into `interval`'s digests in this organization.
fn gathered_into(scope: &Scope, interval: Interval) -> Vec<EmailType> {
    EmailType::ALL
        .iter()
        .copied()
        .filter(|t| t.takes_interval())
        .filter(|t| {
            let v = crate::service::notify::email_settings::resolve_type(&scope.org, &scope.ancestors, *t);
            v.enabled && v.interval == interval
        })
        .collect()
}

fn types_of(org: &OrgDigest, interval: Interval) -> Vec<EmailType> {
    org.gathered.iter().find(|(iv, _)| *iv == interval).map(|(_, t)| t.clone()).unwrap_or_default()
}

enum Outcome {
    Send(Box<EmailJob>, DigestWindow),
    Skip(DigestWindow),
    Lost,
}

/// One digest pass as of `at`.
pub async fn run(ctx: &Ctx, at: DateTime<Utc>) -> Result<RunReport> {
    let mut report = RunReport::default();
    let mut orgs = Orgs::new();
    for shard in 0..DUE_SHARDS {
        let mut cursor = None;
        loop {
            let (due, next) = ctx.store.due_digests(shard, at, PAGE, cursor.as_ref()).await?;
            let ids = due
                .iter()
                .map(|d| match d {
                    Due::State(s) => s.org_id.clone(),
                    Due::Window { window, .. } => window.org_id.clone(),
                })
                .collect();
            load_orgs(ctx, ids, &mut orgs).await?;
            let orgs_ref = &orgs;
            // Boxed with a named lifetime: a closure returning `async` blocks that borrow is
            // not provably `Send` for every lifetime, which `tokio::spawn` requires.
            let work: Vec<BoxFuture<'_, Result<(Outcome, bool)>>> = due
                .into_iter()
                .map(|d| -> BoxFuture<'_, Result<(Outcome, bool)>> {
                    match d {
                        Due::State(s) => Box::pin(async move { Ok((claim(ctx, orgs_ref, &s, at).await?, false)) }),
                        Due::Window { window, lease } => {
                            Box::pin(async move { Ok((take_over(ctx, orgs_ref, window, &lease).await?, true)) })
                        }
                    }
                })
                .collect();
            let outcomes: Vec<Result<(Outcome, bool)>> =
                futures::stream::iter(work).buffer_unordered(CONCURRENCY).collect().await;
            let mut jobs = Vec::new();
            let mut sent = Vec::new();
            let mut skipped = Vec::new();
            for o in outcomes {
                let (outcome, taken) = o?;
                match outcome {
                    Outcome::Lost => {
                        report.lost += 1;
                        continue;
                    }
                    Outcome::Send(job, w) => {
                        jobs.push(*job);
                        sent.push(w);
                    }
                    Outcome::Skip(w) => skipped.push(w),
                }
                if taken {
                    report.taken_over += 1;
                } else {
                    report.claimed += 1;
                }
            }
            // Queued before the windows are closed: a run that dies here leaves them to be
            // taken over, never lost.
            if !jobs.is_empty() {
                crate::service::notify::outbox::send(ctx, jobs).await?;
            }
            report.queued += sent.len();
            report.skipped += skipped.len();
            let finish = sent
                .iter()
                .map(|w| (w, WindowStatus::Queued))
                .chain(skipped.iter().map(|w| (w, WindowStatus::Skipped)));
            let finishing: Vec<BoxFuture<'_, Result<()>>> = finish
                .map(|(w, st)| -> BoxFuture<'_, Result<()>> { Box::pin(ctx.store.finish_window(w, st)) })
                .collect();
            let results: Vec<Result<()>> =
                futures::stream::iter(finishing).buffer_unordered(CONCURRENCY).collect().await;
            results.into_iter().collect::<Result<Vec<()>>>()?;
            match next {
                Some(c) => cursor = Some(c),
                None => break,
            }
        }
    }
    Ok(report)
}

/// Claim the window a due state stands for, then render its email.
async fn claim(ctx: &Ctx, orgs: &Orgs, s: &DigestState, at: DateTime<Utc>) -> Result<Outcome> {
    let org = orgs.get(&s.org_id).cloned().flatten();
    let Some(due) = s.gsi3sk.clone() else { return Ok(Outcome::Lost) };
    // Up to now, and at least as far as every id counted: one made by a machine whose clock
    // is ahead of this one's is in this window, not left behind it.
    let now_id = ctx.ulid().to_string();
    let to = s.last_id.clone().filter(|last| *last > now_id).unwrap_or(now_id);
    let window = DigestWindow {
        user_id: s.user_id.clone(),
        org_id: s.org_id.clone(),
        interval: s.interval,
        due,
        from: s.since.clone(),
        to,
        count: s.pending,
        status: WindowStatus::Claimed,
        claimed_at: ctx.now(),
        sent_at: None,
        stored_sk: None,
    };
    let types = org.as_deref().map(|o| types_of(o, s.interval)).unwrap_or_default();
    let (url, hash, link) = unsubscribe_link(ctx, &s.user_id, &s.org_id, types);
    let lease = at.max(ctx.now()) + Duration::minutes(LEASE_MINUTES);
    if !ctx.store.claim_digest(s, &window, lease, Some((&hash, &link))).await? {
        return Ok(Outcome::Lost);
    }
    match org {
        Some(o) => render(ctx, &o, window, url).await,
        None => Ok(Outcome::Skip(window)),
    }
}

/// Send a window whose run died before queuing its email.
async fn take_over(ctx: &Ctx, orgs: &Orgs, window: DigestWindow, lease: &str) -> Result<Outcome> {
    if !ctx.store.renew_lease(&window, lease, ctx.now() + Duration::minutes(LEASE_MINUTES)).await? {
        return Ok(Outcome::Lost);
    }
    let Some(org) = orgs.get(&window.org_id).cloned().flatten() else { return Ok(Outcome::Skip(window)) };
    let (url, hash, link) = unsubscribe_link(ctx, &window.user_id, &window.org_id, types_of(&org, window.interval));
    ctx.store.put_unsubscribe_links(&[(hash, link)]).await?;
    render(ctx, &org, window, url).await
}

/// The window's email: what is still unread and wanted, grouped; nothing when none is.
async fn render(ctx: &Ctx, org: &OrgDigest, window: DigestWindow, unsubscribe: Unsubscribe) -> Result<Outcome> {
    let (user, feed, member) = ctx.store.digest_recipient(&window.user_id, &window.org_id).await?;
    let Some(user) = user.filter(|u| u.merged_into.is_none()) else { return Ok(Outcome::Skip(window)) };
    if member.is_none_or(|m| m.status != MemberStatus::Active) {
        return Ok(Outcome::Skip(window));
    }
    let (items, content) = ctx.store.window_items(&window, ITEMS_READ, org.content_in_emails).await?;
    let wanted: Vec<Item> = items
        .iter()
        .filter(|n| !feed.is_read(n) && !opted_out(&org.scope, &feed, n.kind.email_type()))
        .map(|n| Item {
            kind: n.kind,
            conversation: n.conversation_id.clone().map(|id| (id.clone(), n.conversation_name.clone().unwrap_or(id))),
            subject: n.subject.clone(),
            content: content.get(&n.notification_id).cloned().filter(|_| org.content_in_emails),
        })
        .collect();
    if wanted.is_empty() {
        return Ok(Outcome::Skip(window));
    }
    let read_or_unwanted = items.len() - wanted.len();
    let total = (window.count.max(0) as usize).saturating_sub(read_or_unwanted).max(wanted.len());
    let (lines, shown) = summary(&wanted, user.language);
    let vars = crate::service::notify::compose::vars([
        ("period", window.interval.as_str().into()),
        ("count", total.to_string().into()),
        ("summary", lines.into()),
        ("more", total.saturating_sub(shown).to_string().into()),
        ("link", absolute_link(ctx, None).into()),
    ]);
    let Ok(recipient) = Recipient::user(&user, vars) else { return Ok(Outcome::Skip(window)) };
    let mut job = unsubscribe.on(org.composer.render(recipient)?);
    job.window = Some(WindowRef { user_id: window.user_id.clone(), org_id: window.org_id.clone(), sk: window.sk() });
    Ok(Outcome::Send(Box::new(job), window))
}

/// The scheduled function's entry: an EventBridge scheduled event runs one pass as of the
/// clock's now (a late or repeated event simply finds less due), then the email relay. Its
/// `time` is only logged.
pub async fn on_schedule(ctx: &Ctx, event: &serde_json::Value) -> Result<RunReport> {
    let scheduled = event.get("time").and_then(|t| t.as_str()).unwrap_or_default();
    let now = ctx.now();
    let mut report = run(ctx, now).await?;
    // The same schedule sends the reminders to confirm a mobile number.
    match crate::service::identity::reminders::run(ctx, now).await {
        Ok(r) => report.mobile_reminders = r,
        Err(e) => tracing::warn!(error = %e, "mobile reminders failed; the next run tries again"),
    }
    tracing::info!(scheduled, at = %now, ?report, "digest run finished");
    // The same schedule relays emails the stream has not handed on (a pipe that stopped).
    match crate::service::notify::outbox::relay(ctx).await {
        Ok(0) => {}
        Ok(n) => tracing::warn!(relayed = n, "emails waited past the stream; relayed"),
        Err(e) => tracing::warn!(error = %e, "email relay failed; the next run tries again"),
    }
    Ok(report)
}
