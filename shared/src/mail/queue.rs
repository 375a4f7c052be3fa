//! The outgoing-email queue. Requests never send many emails themselves: they enqueue
//! rendered messages, and a worker sends them at the pace SES allows, retrying throttling
//! with backoff. In AWS the queue is SQS (with a dead-letter queue) and the worker the
//! `mail-worker` Lambda; the embedded default runs the same `deliver` in an in-process task.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{Mailer, OutgoingEmail, SendFuture};
use crate::domain::{Email, OrgId};
use crate::error::{Error, Result};
use crate::files::FileStore;
use crate::store::{EmailStatus, Store};

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

/// Send one job, retrying throttling with exponential backoff, and record the outcome on the
/// invitation. `Err` means "try again later" (throttled throughout, or the logo unreadable);
/// `last_chance` turns that into a recorded failure instead (or an email without its logo).
pub async fn deliver(
    store: &Store,
    files: &FileStore,
    mailer: &dyn Mailer,
    job: &EmailJob,
    last_chance: bool,
) -> Result<()> {
    let logo = match &job.message.logo {
        None => None,
        Some(r) => match logo_bytes(files, &r.key).await {
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
        return Ok(());
    }
    // An invitation whose token was replaced (resent, or an import's owed emails sent again),
    // revoked or accepted since: its link no longer works, so the email is not sent.
    if let Some(inv) = &job.invitation
        && store.get_invitation(&inv.org_id, &inv.email).await?.is_none_or(|c| c.token_hash != inv.token_hash)
    {
        tracing::info!(org = %inv.org_id, "invitation changed since its email was queued; email dropped");
        return Ok(());
    }
    if let Some(w) = &job.window
        && !store.mark_window_sent(&w.user_id, &w.org_id, &w.sk, chrono::Utc::now()).await?
    {
        tracing::info!(window = %w.sk, "digest already sent; duplicate dropped");
        return Ok(());
    }
    let mut attempt = 0;
    let outcome = loop {
        match mailer.send(&job.message, logo.as_deref().map(Vec::as_slice)).await {
            Ok(()) => break Ok(EmailStatus::Sent),
            Err(Error::MailThrottled) if attempt + 1 < SEND_ATTEMPTS => {
                attempt += 1;
                tokio::time::sleep(Duration::from_millis(100 << attempt)).await;
            }
            Err(Error::MailThrottled) if !last_chance => {
                if let Some(w) = &job.window {
                    store.unmark_window_sent(&w.user_id, &w.org_id, &w.sk).await?;
                }
                break Err(Error::MailThrottled);
            }
            Err(e) => {
                tracing::warn!(error = %e, to = %job.message.to, "email not delivered");
                break Ok(EmailStatus::Failed);
            }
        }
    };
    let status = outcome?;
    if let Some(inv) = &job.invitation {
        store.set_invitation_email_status(&inv.org_id, &inv.email, &inv.token_hash, status).await?;
    }
    Ok(())
}

/// The embedded default's queue: an in-process channel drained by one worker task.
pub struct LocalQueue {
    tx: tokio::sync::mpsc::UnboundedSender<EmailJob>,
}

impl LocalQueue {
    /// Start the worker on the current runtime.
    pub fn start(store: Store, files: FileStore, mailer: Arc<dyn Mailer>) -> Self {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<EmailJob>();
        tokio::spawn(crate::aws::as_function("mail-worker", async move {
            while let Some(job) = rx.recv().await {
                if let Err(e) = deliver(&store, &files, mailer.as_ref(), &job, true).await {
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
                self.tx.send(job).map_err(|_| Error::Mail("the local email worker stopped".into()))?;
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
                    let body = serde_json::to_string(job).map_err(|e| Error::Internal(e.to_string()))?;
                    entries.push(
                        aws_sdk_sqs::types::SendMessageBatchRequestEntry::builder()
                            .id(i.to_string())
                            .message_body(body)
                            .build()
                            .map_err(|e| Error::Mail(e.to_string()))?,
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
                        .map_err(|e| Error::Mail(format!("{e:?}").chars().take(300).collect()))?;
                    let failed: Vec<&str> = out.failed().iter().map(|f| f.id()).collect();
                    pending.retain(|e| failed.contains(&e.id()));
                }
                if !pending.is_empty() {
                    return Err(Error::Mail(format!("{} messages not queued", pending.len())));
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
pub async fn process_batch(store: &Store, files: &FileStore, mailer: &dyn Mailer, batch: Vec<Received>) -> Vec<String> {
    let mut retry = Vec::new();
    for m in batch {
        let job: EmailJob = match serde_json::from_str(&m.body) {
            Ok(j) => j,
            Err(e) => {
                // Retrying cannot fix a malformed message; drop it loudly.
                tracing::error!(error = %e, id = %m.id, "malformed email job dropped");
                continue;
            }
        };
        if let Err(e) = deliver(store, files, mailer, &job, m.receive_count >= MAX_RECEIVES).await {
            tracing::warn!(error = %e, id = %m.id, "email job returned to the queue");
            retry.push(m.id);
        }
    }
    retry
}
