//! The outgoing-email queue. Requests never send many emails themselves: they enqueue
//! rendered messages, and a worker sends them at the pace SES allows, retrying throttling
//! with backoff. In AWS the queue is SQS (with a dead-letter queue) and the worker the
//! `mail-worker` Lambda; the embedded default runs the same `deliver` in an in-process task.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::seal::Sealer;
use super::{Mailer, OutgoingEmail, SendFuture};
use crate::clock::Clock;
use crate::domain::{Email, OrgId};
use crate::error::{Error, Result};
use crate::files::FileStore;
use crate::store::{EmailStatus, MailClaim, Store};

/// What to record once a job's email went out or definitely failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvitationRef {
    pub org_id: OrgId,
    pub email: Email,
    pub token_hash: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmailJob {
    pub message: OutgoingEmail,
    pub invitation: Option<InvitationRef>,
    /// The digest window this email sends: it goes out once, however often it is queued.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window: Option<WindowRef>,
    /// The outbox item it was recorded as: the worker sends it once, however often the
    /// stream, the queue or a relay hand it over.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outbox: Option<String>,
    /// The link's secret, sealed; the message holds [`super::seal::MARK`] in its place.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sealed: Option<super::seal::Sealed>,
    /// The secret in the clear, until the job is recorded (and sealed); never serialized.
    #[serde(skip)]
    pub secret: Option<String>,
}

impl EmailJob {
    pub fn new(message: OutgoingEmail) -> Self {
        EmailJob { message, invitation: None, window: None, outbox: None, sealed: None, secret: None }
    }

    /// Mark `secret` (which the message contains) as the one to seal.
    pub fn with_secret(mut self, secret: &str) -> Self {
        self.secret = Some(secret.to_owned());
        self
    }

    /// The message's text fields, for sealing and opening.
    fn texts(&mut self) -> impl Iterator<Item = &mut String> {
        [&mut self.message.subject, &mut self.message.text, &mut self.message.html]
            .into_iter()
            .chain(self.message.unsubscribe.as_mut())
    }

    /// Seal the secret for the outbox item `id`: the message keeps only the mark.
    pub fn seal(&mut self, sealer: &super::seal::Sealer, id: &str) -> Result<()> {
        self.outbox = Some(id.to_owned());
        let Some(secret) = self.secret.take() else { return Ok(()) };
        for t in self.texts() {
            *t = t.replace(&secret, super::seal::MARK);
        }
        self.sealed = Some(sealer.seal(id, &secret)?);
        Ok(())
    }

    /// Put the secret back where the mark is, just before sending.
    pub fn open(&mut self, sealer: &super::seal::Sealer) -> Result<()> {
        let (Some(id), Some(sealed)) = (self.outbox.clone(), self.sealed.take()) else { return Ok(()) };
        let secret = sealer.open(&id, &sealed)?;
        for t in self.texts() {
            *t = t.replace(super::seal::MARK, &secret);
        }
        Ok(())
    }
}

/// A claimed digest window, by its item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WindowRef {
    pub user_id: crate::domain::UserId,
    pub org_id: OrgId,
    pub sk: String,
}

pub trait EmailQueue: Send + Sync + 'static {
    fn enqueue<'a>(&'a self, jobs: Vec<EmailJob>) -> SendFuture<'a>;
}

/// Sends attempted within one delivery before giving the job back to the queue.
const SEND_ATTEMPTS: u32 = 5;

/// Logos by object key. Keys name the content's hash, so an entry never goes stale; the
/// bound keeps a long-lived worker's memory flat.
static LOGOS: std::sync::LazyLock<std::sync::Mutex<HashMap<String, Arc<Vec<u8>>>>> =
    std::sync::LazyLock::new(Default::default);
const LOGOS_CACHED: usize = 32;

async fn logo_bytes(files: &FileStore, key: &str) -> Result<Arc<Vec<u8>>> {
    if let Some(hit) = LOGOS.lock().ok().and_then(|m| m.get(key).cloned()) {
        return Ok(hit);
    }
    let bytes = Arc::new(files.get(key, crate::domain::logo::LOGO_MAX_BYTES as u64).await?);
    if let Ok(mut m) = LOGOS.lock() {
        if m.len() >= LOGOS_CACHED {
            m.clear();
        }
        m.insert(key.to_owned(), bytes.clone());
    }
    Ok(bytes)
}

/// What a worker sends with: the table (outbox, invitations, suppressions), the logos, the
/// mailer and the keys that open sealed secrets.
#[derive(Clone, Copy)]
pub struct Delivery<'a> {
    pub store: &'a Store,
    pub files: &'a FileStore,
    pub mailer: &'a dyn Mailer,
    pub sealer: &'a Sealer,
    /// The injected clock: claims, their leases and the sent marks.
    pub clock: &'a dyn Clock,
}

/// How long a worker holds an outbox email it is sending; the queue's visibility timeout is
/// the same, so a redelivery finds the claim ended only when its holder is gone.
pub const MAIL_LEASE_SECS: i64 = 120;

/// Send one job once: an outbox email is claimed first (a duplicate delivery finds it done
/// or held and stops there), marked done after, and released when it must be tried again.
/// `Err` means "try again later" (throttled throughout, held by another worker, or the logo
/// unreadable); `last_chance` turns that into a recorded failure instead (or an email
/// without its logo).
pub async fn deliver(d: Delivery<'_>, job: &EmailJob, last_chance: bool) -> Result<()> {
    if let Some(id) = &job.outbox {
        let now = d.clock.now().timestamp();
        match d.store.claim_mail(id, now, now + MAIL_LEASE_SECS).await? {
            MailClaim::Claimed => {}
            MailClaim::Done | MailClaim::Gone => {
                tracing::info!(outbox = %id, "email already sent; duplicate delivery dropped");
                return Ok(());
            }
            // Its holder sends it, or its lease ends and a later delivery (or the relay) does.
            MailClaim::Held if last_chance => return Ok(()),
            MailClaim::Held => return Err(Error::MailThrottled),
        }
    }
    // Boxed: a worker's batch future would otherwise hold this one inline, and debug builds
    // of the whole chain outgrow a test thread's stack.
    let outcome = Box::pin(send_claimed(d, job, last_chance)).await;
    if let Some(id) = &job.outbox {
        match &outcome {
            Ok(status) => d.store.mail_done(id, d.clock.now(), status).await?,
            Err(_) => d.store.release_mail(id).await?,
        }
    }
    outcome.map(|_| ())
}

/// The sending itself; the outcome's name is what the outbox item records.
async fn send_claimed(d: Delivery<'_>, job: &EmailJob, last_chance: bool) -> Result<&'static str> {
    let store = d.store;
    let logo = match &job.message.logo {
        None => None,
        Some(r) => match logo_bytes(d.files, &r.key).await {
            Ok(b) => Some(b),
            Err(e) if last_chance => {
                tracing::warn!(error = %e, key = %r.key, "logo unreadable; sending without it");
                None
            }
            Err(e) => return Err(e),
        },
    };
    if let Some(s) = store.suppressed(&job.message.to).await? {
        tracing::warn!(reason = %s.reason, "address on the suppression list; email not sent");
        if let Some(inv) = &job.invitation {
            store.set_invitation_email_status(&inv.org_id, &inv.email, &inv.token_hash, EmailStatus::Failed).await?;
        }
        return Ok("suppressed");
    }
    // An invitation whose token was replaced (resent, or an import's owed emails sent again),
    // revoked or accepted since: its link no longer works, so the email is not sent.
    if let Some(inv) = &job.invitation
        && store.get_invitation(&inv.org_id, &inv.email).await?.is_none_or(|c| c.token_hash != inv.token_hash)
    {
        tracing::info!(org = %inv.org_id, "invitation changed since its email was queued; email dropped");
        return Ok("dropped");
    }
    if let Some(w) = &job.window
        && !store.mark_window_sent(&w.user_id, &w.org_id, &w.sk, d.clock.now()).await?
    {
        tracing::info!(window = %w.sk, "digest already sent; duplicate dropped");
        return Ok("dropped");
    }
    let mut opened = job.clone();
    if let Err(e) = opened.open(d.sealer) {
        // No retry can open it (its key is gone): a failure, recorded as one.
        tracing::error!(error = %e, to = %job.message.to, "email secret does not open; not sent");
        return finish(store, job, EmailStatus::Failed).await;
    }
    let envelope = super::Envelope { id: message_id(job), date: d.clock.now() };
    let mut attempt = 0;
    let status = loop {
        match d.mailer.send(&opened.message, logo.as_deref().map(Vec::as_slice), &envelope).await {
            Ok(()) => break EmailStatus::Sent,
            Err(Error::MailThrottled) if attempt + 1 < SEND_ATTEMPTS => {
                attempt += 1;
                tokio::time::sleep(Duration::from_millis(100 << attempt)).await;
            }
            Err(Error::MailThrottled) if !last_chance => {
                if let Some(w) = &job.window {
                    store.unmark_window_sent(&w.user_id, &w.org_id, &w.sk).await?;
                }
                return Err(Error::MailThrottled);
            }
            Err(e) => {
                tracing::warn!(error = %e, to = %job.message.to, "email not delivered");
                break EmailStatus::Failed;
            }
        }
    };
    finish(store, job, status).await
}

/// The Message-ID's local part: the outbox item's id (a ULID), the same however often the job
/// is sent. A job never recorded in the outbox (a test's marker, or one queued by an older
/// release) gets one from its content.
fn message_id(job: &EmailJob) -> String {
    match &job.outbox {
        Some(id) if !id.is_empty() && id.bytes().all(|b| b.is_ascii_alphanumeric()) => id.clone(),
        _ => {
            use sha2::Digest;
            let m = &job.message;
            let digest = sha2::Sha256::digest([m.to.as_str(), &m.subject, &m.text].join("\n"));
            digest.iter().take(16).map(|b| format!("{b:02x}")).collect()
        }
    }
}

async fn finish(store: &Store, job: &EmailJob, status: EmailStatus) -> Result<&'static str> {
    if let Some(inv) = &job.invitation {
        store.set_invitation_email_status(&inv.org_id, &inv.email, &inv.token_hash, status).await?;
    }
    Ok(if status == EmailStatus::Sent { "sent" } else { "failed" })
}

/// The embedded default's queue: an in-process channel drained by one worker task.
pub struct LocalQueue {
    tx: tokio::sync::mpsc::UnboundedSender<EmailJob>,
}

impl LocalQueue {
    /// Start the worker on the current runtime.
    pub fn start(
        store: Store,
        files: FileStore,
        mailer: Arc<dyn Mailer>,
        sealer: Sealer,
        clock: Arc<dyn Clock>,
    ) -> Self {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<EmailJob>();
        tokio::spawn(crate::aws::as_function("mail-worker", async move {
            while let Some(job) = rx.recv().await {
                let d = Delivery {
                    store: &store,
                    files: &files,
                    mailer: mailer.as_ref(),
                    sealer: &sealer,
                    clock: clock.as_ref(),
                };
                if let Err(e) = deliver(d, &job, true).await {
                    tracing::error!(error = %e, "email job failed");
                }
            }
        }));
        LocalQueue { tx }
    }
}

impl EmailQueue for LocalQueue {
    fn enqueue<'a>(&'a self, jobs: Vec<EmailJob>) -> SendFuture<'a> {
        Box::pin(async move {
            for job in jobs {
                self.tx.send(job).map_err(|_| crate::error::Error::mail("the local email worker stopped"))?;
            }
            Ok(())
        })
    }
}

/// Amazon SQS.
pub struct SqsQueue {
    client: crate::aws::SqsClient,
    url: String,
}

impl SqsQueue {
    pub fn new(sdk: &aws_config::SdkConfig, url: &str) -> Self {
        SqsQueue { client: crate::aws::sqs(sdk), url: url.to_owned() }
    }

    pub fn with_client(client: crate::aws::SqsClient, url: &str) -> Self {
        SqsQueue { client, url: url.to_owned() }
    }

    pub fn client(&self) -> &aws_sdk_sqs::Client {
        self.client.get()
    }

    pub fn lazy_client(&self) -> crate::aws::SqsClient {
        self.client.clone()
    }

    pub fn url(&self) -> &str {
        &self.url
    }
}

/// SQS takes at most ten messages per batch.
const SQS_BATCH: usize = 10;

impl EmailQueue for SqsQueue {
    fn enqueue<'a>(&'a self, jobs: Vec<EmailJob>) -> SendFuture<'a> {
        Box::pin(async move {
            for chunk in jobs.chunks(SQS_BATCH) {
                let mut entries = Vec::with_capacity(chunk.len());
                for (i, job) in chunk.iter().enumerate() {
                    let body = serde_json::to_string(job)
                        .map_err(|e| crate::error::Error::internal_from("serializing an email job", e))?;
                    entries.push(
                        aws_sdk_sqs::types::SendMessageBatchRequestEntry::builder()
                            .id(i.to_string())
                            .message_body(body)
                            .build()
                            .map_err(|e| crate::error::Error::mail_from("serializing an email job", e))?,
                    );
                }
                let mut pending = entries;
                for attempt in 0..5u32 {
                    if pending.is_empty() {
                        break;
                    }
                    if attempt > 0 {
                        tokio::time::sleep(Duration::from_millis(50 << attempt)).await;
                    }
                    let out = self
                        .client
                        .get()
                        .send_message_batch()
                        .queue_url(&self.url)
                        .set_entries(Some(pending.clone()))
                        .send()
                        .await
                        .map_err(|e| crate::error::Error::mail_from("serializing an email job", e))?;
                    let failed: Vec<&str> = out.failed().iter().map(|f| f.id()).collect();
                    pending.retain(|e| failed.contains(&e.id()));
                }
                if !pending.is_empty() {
                    return Err(crate::error::Error::mail(format!("{} messages not queued", pending.len())));
                }
            }
            Ok(())
        })
    }
}

/// SQS redelivers a throttled job this many times before it goes to the dead-letter queue
/// (the template's `maxReceiveCount`); the last delivery records the failure instead.
pub const MAX_RECEIVES: u32 = 5;

/// One queued message as the worker receives it.
pub struct Received {
    pub id: String,
    pub body: String,
    pub receive_count: u32,
}

/// Deliver a batch; returns the ids to hand back to the queue for a later try.
pub async fn process_batch(d: Delivery<'_>, batch: Vec<Received>) -> Vec<String> {
    let mut retry = Vec::new();
    for m in batch {
        let job: EmailJob = match job_of(&m.body) {
            Ok(j) => j,
            Err(e) => {
                // Retrying cannot fix a malformed message; drop it loudly.
                tracing::error!(error = %e, id = %m.id, "malformed email job dropped");
                continue;
            }
        };
        if let Err(e) = deliver(d, &job, m.receive_count >= MAX_RECEIVES).await {
            tracing::warn!(error = %e, id = %m.id, "email job returned to the queue");
            retry.push(m.id);
        }
    }
    retry
}

/// A queue message's job: as the service queues it, or as `EmailOutboxPipe` forwards the
/// outbox item's stream record (`dynamodb.NewImage.job.S` holds the job's JSON).
pub fn job_of(body: &str) -> std::result::Result<EmailJob, serde_json::Error> {
    #[derive(Deserialize)]
    struct Record {
        dynamodb: Image,
    }
    #[derive(Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct Image {
        new_image: NewImage,
    }
    #[derive(Deserialize)]
    struct NewImage {
        job: StringValue,
    }
    #[derive(Deserialize)]
    struct StringValue {
        #[serde(rename = "S")]
        s: String,
    }
    match serde_json::from_str::<Record>(body) {
        Ok(r) => serde_json::from_str(&r.dynamodb.new_image.job.s),
        Err(_) => serde_json::from_str(body),
    }
}
