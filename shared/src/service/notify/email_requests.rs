//! Emails whose sending depends on whether an address has a login. The request that asks for
//! one only hands the request to the email queue, the same work for every address, and the
//! worker decides, so neither the answer nor its timing tells whether the address exists.
//! The worker also limits how many such emails one address receives.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::auth::secret;
use crate::domain::Email;
use crate::error::{Error, Result};
use crate::mail::queue::{EmailJob, Received};
use crate::service::Ctx;

/// Emails of one kind an address receives per hour at most; more requests are dropped
/// (silently: the requester must not learn the address exists).
pub const PER_ADDRESS_PER_HOUR: u32 = 3;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum EmailRequest {
    /// "Forgot password": a reset link if the address has a login.
    PasswordReset { email: Email },
    /// Someone registered with an address that has a login: tell its owner how to sign in.
    RegistrationAttempt { email: Email },
}

impl EmailRequest {
    fn kind(&self) -> &'static str {
        match self {
            EmailRequest::PasswordReset { .. } => "reset",
            EmailRequest::RegistrationAttempt { .. } => "registration",
        }
    }

    fn email(&self) -> &Email {
        match self {
            EmailRequest::PasswordReset { email } | EmailRequest::RegistrationAttempt { email } => email,
        }
    }
}

/// A queued message: a request for the worker to decide, or an email ready to send (the
/// shape every message had before requests existed, so old messages still parse).
#[derive(Debug, Serialize, Deserialize)]
#[serde(untagged)]
enum QueueItem {
    /// `id` names the request, chosen when it is asked for (older messages have none; their
    /// queue message id stands in), and becomes its email's outbox id: a request delivered
    /// twice, or sent twice by the SDK's retry, sends one email.
    Request {
        request: EmailRequest,
        #[serde(default)]
        id: Option<String>,
    },
    Email(Box<EmailJob>),
}

/// Where requests go: the SQS email queue the mail worker drains, or a task of this process.
#[derive(Clone)]
pub enum RequestQueue {
    Sqs { client: crate::aws::SqsClient, url: String },
    InProcess(Arc<InFlight>),
}

impl RequestQueue {
    pub fn in_process() -> RequestQueue {
        RequestQueue::InProcess(Arc::default())
    }
}

/// The requests this process is still deciding, so that a caller (the tests) can wait for
/// them to be done rather than for a while.
#[derive(Debug, Default)]
pub struct InFlight {
    running: std::sync::atomic::AtomicUsize,
    done: tokio::sync::Notify,
}

/// One request in flight, until dropped.
struct Running(Arc<InFlight>);

impl Drop for Running {
    fn drop(&mut self) {
        if self.0.running.fetch_sub(1, std::sync::atomic::Ordering::AcqRel) == 1 {
            self.0.done.notify_waiters();
        }
    }
}

impl InFlight {
    fn start(self: &Arc<Self>) -> Running {
        self.running.fetch_add(1, std::sync::atomic::Ordering::AcqRel);
        Running(self.clone())
    }

    /// Returns once no request is in flight.
    pub async fn idle(&self) {
        loop {
            // Registered before the count is read, so a request ending in between still wakes us.
            let done = self.done.notified();
            if self.running.load(std::sync::atomic::Ordering::Acquire) == 0 {
                return;
            }
            done.await;
        }
    }
}

/// Count one event under `key` in the current hour; the seconds until the hour ends when the
/// count is now over `limit`.
async fn over_hourly(ctx: &Ctx, key: &str, limit: u32) -> Result<Option<u64>> {
    let window = chrono::Duration::hours(1);
    let (count, started) = ctx.store.count_in_window(&secret::hash(key), ctx.now(), window).await?;
    Ok((count > limit).then(|| (started + window - ctx.now()).num_seconds().max(1) as u64))
}

fn address_key(kind: &str, email: &Email) -> String {
    format!("email-to|{kind}|{email}")
}

/// Count one event under `key` this hour; 429 once more than `limit` were counted.
pub(crate) async fn limit_hourly(ctx: &Ctx, key: &str, limit: u32) -> Result<()> {
    match over_hourly(ctx, key, limit).await? {
        Some(retry_after_secs) => Err(Error::TooManyAttempts { retry_after_secs }),
        None => Ok(()),
    }
}

/// Refuse a client address that asked for more than the configured number of one kind an
/// hour (`Config::email_requests_per_client_hour`).
pub(crate) async fn limit_client(ctx: &Ctx, kind: &str, client_addr: &str) -> Result<()> {
    let key = format!("email-request|{kind}|{client_addr}");
    limit_hourly(ctx, &key, ctx.config.email_requests_per_client_hour).await
}

/// Refuse a further email of one kind to an address the caller already knows (their own, or
/// an invitation's) past [`PER_ADDRESS_PER_HOUR`].
pub(crate) async fn limit_address(ctx: &Ctx, kind: &str, email: &Email) -> Result<()> {
    limit_hourly(ctx, &address_key(kind, email), PER_ADDRESS_PER_HOUR).await
}

/// Hand a request to the worker.
pub async fn submit(ctx: &Arc<Ctx>, request: EmailRequest) -> Result<()> {
    match &ctx.email_requests {
        RequestQueue::Sqs { client, url } => {
            let item = QueueItem::Request { request, id: Some(ctx.ulid().to_string()) };
            crate::aws::send_json(client, url, &item, crate::error::Error::Mail).await?;
        }
        RequestQueue::InProcess(in_flight) => {
            let running = in_flight.start();
            let ctx = ctx.clone();
            let id = ctx.ulid().to_string();
            // In AWS the mail worker fulfils it; attributed to it for the IAM check.
            tokio::spawn(crate::aws::as_function("mail-worker", async move {
                let _running = running;
                if let Err(e) = fulfil(&ctx, &request, &id).await {
                    tracing::error!(error = %e, kind = request.kind(), "email request failed");
                }
            }));
        }
    }
    Ok(())
}

/// Decide and send: nothing for an address without a login or over its hourly limit, and
/// nothing more for a request `id` already answered.
async fn fulfil(ctx: &Ctx, request: &EmailRequest, id: &str) -> Result<()> {
    // A redelivery of a request already answered: nothing to send, and not counted again, so
    // the address's hourly allowance is spent on requests, not on deliveries.
    if ctx.store.outbox_mail_recorded(id).await? {
        return Ok(());
    }
    let email = request.email();
    let Some(cred) = ctx.store.login_lookup(email.as_str(), &[]).await?.credential else {
        return Ok(());
    };
    let Some(user) = ctx.store.get_user(&cred.user_id).await?.filter(|u| u.merged_into.is_none()) else {
        return Ok(());
    };
    if over_hourly(ctx, &address_key(request.kind(), email), PER_ADDRESS_PER_HOUR).await?.is_some() {
        tracing::warn!(kind = request.kind(), "email request over the per-address limit dropped");
        return Ok(());
    }
    match request {
        EmailRequest::PasswordReset { .. } => {
            crate::service::identity::passwords::issue_reset(ctx, &user, Some(id)).await
        }
        EmailRequest::RegistrationAttempt { .. } => {
            match crate::service::identity::accounts::registration_attempt_email(ctx, &user).await? {
                Some(job) => crate::service::notify::outbox::send_once(ctx, id, job).await,
                None => Ok(()),
            }
        }
    }
}

/// The mail worker's batch: requests are decided here, emails sent. Returns the ids to hand
/// back to the queue for a later try.
pub async fn process_batch(ctx: &Ctx, batch: Vec<Received>) -> Vec<String> {
    let mut emails = Vec::new();
    let mut retry = Vec::new();
    for m in batch {
        match serde_json::from_str::<QueueItem>(&m.body) {
            Ok(QueueItem::Request { request, id }) => {
                if let Err(e) = fulfil(ctx, &request, id.as_deref().unwrap_or(&m.id)).await {
                    tracing::warn!(error = %e, id = %m.id, "email request returned to the queue");
                    retry.push(m.id);
                }
            }
            // A job, or an outbox item's stream record; what is neither is dropped there.
            Ok(QueueItem::Email(_)) | Err(_) => emails.push(m),
        }
    }
    retry.extend(crate::mail::queue::process_batch(ctx.delivery(), emails).await);
    retry
}
