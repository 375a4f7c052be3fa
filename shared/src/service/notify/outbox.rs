//! Every email goes through the outbox (`store::OutboxMail`): it is recorded, its secret
//! sealed, in the transaction of the change it tells of, or on its own when it tells of no
//! change. After the commit the request hands it to the queue itself, except in AWS, where the
//! table's stream does (`EmailOutboxPipe`). A relay hands on what still waits a minute later
//! (in AWS, with the digest schedule, a quarter of an hour later), so a process that died
//! between the commit and the queue loses nothing; the worker's claim on the item makes every
//! extra hand-over harmless.

use crate::error::{Error, Result};
use crate::mail::queue::EmailJob;
use crate::service::Ctx;
use crate::store::{MAIL_SHARDS, OutboxMail};

/// The relay takes what has waited this long (the hand-over after a commit takes far less).
pub const RELAY_AFTER_SECS: i64 = 60;
/// In AWS the stream hands every email on within seconds; the scheduled relay is only the net
/// under a pipe that stopped, so it waits longer before it doubles the stream's work.
pub const STREAM_RELAY_AFTER_SECS: i64 = 15 * 60;
const RELAY_PAGE: i32 = 100;

/// Give each job its outbox id and seal its secret, ready to be written with the change.
pub(crate) fn record(ctx: &Ctx, jobs: Vec<EmailJob>) -> Result<Vec<OutboxMail>> {
    let at = ctx.now();
    jobs.into_iter().map(|job| sealed(ctx, ctx.ulid().to_string(), job, at)).collect()
}

/// The email answering the request `request_id` (an email request of the queue), under an
/// id that request decides, so a request delivered twice records it once.
pub(crate) fn record_for(ctx: &Ctx, request_id: &str, job: EmailJob) -> Result<OutboxMail> {
    sealed(ctx, request_id.to_owned(), job, ctx.now())
}

fn sealed(ctx: &Ctx, id: String, mut job: EmailJob, at: chrono::DateTime<chrono::Utc>) -> Result<OutboxMail> {
    job.seal(&ctx.sealer, &id)?;
    let job = serde_json::to_string(&job).map_err(|e| Error::internal_from("an outbox email job", e))?;
    Ok(OutboxMail { id, job, at })
}

/// The job a recorded email carries.
pub(crate) fn job_of(mail: &OutboxMail) -> Result<EmailJob> {
    serde_json::from_str(&mail.job).map_err(|e| Error::internal_from("an outbox email job", e))
}

/// The change that recorded `mails` committed: queue them (locally and on the test engines;
/// in AWS the stream does). A failure is only logged: the relay sends them later.
pub(crate) async fn handed_on(ctx: &Ctx, mails: Vec<OutboxMail>) {
    if ctx.config.email_from_stream || mails.is_empty() {
        return;
    }
    let jobs = match mails.iter().map(job_of).collect::<Result<Vec<_>>>() {
        Ok(jobs) => jobs,
        Err(e) => {
            tracing::warn!(error = %e, "recorded emails not queued now; the relay sends them");
            return;
        }
    };
    if let Err(e) = ctx.queue.enqueue(jobs).await {
        tracing::warn!(error = %e, "recorded emails not queued now; the relay sends them");
    }
}

/// Emails that tell of no change of their own (or of one already committed): recorded, then
/// handed on.
pub(crate) fn send(ctx: &Ctx, jobs: Vec<EmailJob>) -> futures::future::BoxFuture<'_, Result<()>> {
    // Boxed: callers deep in a worker's batch would otherwise hold the SDK's futures inline,
    // and debug builds of such chains outgrow a thread's stack.
    Box::pin(async move {
        if jobs.is_empty() {
            return Ok(());
        }
        let mails = record(ctx, jobs)?;
        ctx.store.put_outbox_mail(&mails).await?;
        handed_on(ctx, mails).await;
        Ok(())
    })
}

/// The one email answering the request `request_id`, recorded unless it was already, then
/// handed on.
pub(crate) async fn send_once(ctx: &Ctx, request_id: &str, job: EmailJob) -> Result<()> {
    let mail = record_for(ctx, request_id, job)?;
    if ctx.store.put_outbox_mail_once(&mail).await? {
        handed_on(ctx, vec![mail]).await;
    }
    Ok(())
}

/// Hand on every email recorded more than [`RELAY_AFTER_SECS`] ago ([`STREAM_RELAY_AFTER_SECS`]
/// in AWS) and not yet sent; returns how many. One query per shard and page.
pub async fn relay(ctx: &Ctx) -> Result<usize> {
    let wait = if ctx.config.email_from_stream { STREAM_RELAY_AFTER_SECS } else { RELAY_AFTER_SECS };
    relay_recorded_before(ctx, ctx.now() - chrono::Duration::seconds(wait), false).await
}

/// The embedded default at its start (`started`): it is the only process on its data, so
/// whatever an earlier one recorded and did not send, that one never will, and its claims on
/// emails it was sending are void. Everything recorded before the start is handed on now.
pub async fn relay_after_restart(ctx: &Ctx, started: chrono::DateTime<chrono::Utc>) -> Result<usize> {
    relay_recorded_before(ctx, started, true).await
}

async fn relay_recorded_before(ctx: &Ctx, before: chrono::DateTime<chrono::Utc>, void_claims: bool) -> Result<usize> {
    let claims_ending_before = before.timestamp() + crate::mail::queue::MAIL_LEASE_SECS;
    let mut relayed = 0;
    for shard in 0..MAIL_SHARDS {
        let mut cursor = None;
        loop {
            let (mails, next) = ctx.store.unsent_mail(shard, before, RELAY_PAGE, cursor.as_ref()).await?;
            relayed += mails.len();
            if void_claims {
                for m in &mails {
                    ctx.store.release_mail_claim(&m.id, claims_ending_before).await?;
                }
            }
            if !mails.is_empty() {
                ctx.queue.enqueue(mails.iter().map(job_of).collect::<Result<Vec<_>>>()?).await?;
            }
            match next {
                Some(c) => cursor = Some(c),
                None => break,
            }
        }
    }
    Ok(relayed)
}
