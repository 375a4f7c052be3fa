//! Configuration, read once at cold start from the environment (set by the SAM template in
//! AWS, by the local server or tests otherwise).

use std::sync::Arc;

use chrono::Duration;

use crate::auth::jwt::KeysConfig;
use crate::auth::{KeySet, PasswordHasher};
use crate::clock::{Clock, OsRandom, Random, SystemClock};
use crate::error::{Error, Result};
use crate::mail::queue::{EmailQueue, LocalQueue, SqsQueue};
use crate::mail::{Mailer, OutboxMailer, SesMailer};
use crate::service::Ctx;
use crate::store::Store;

#[derive(Debug, Clone)]
pub struct Config {
    pub table: String,
    /// Base of links in emails, e.g. `https://app.example.com`.
    pub public_url: String,
    pub issuer: String,
    pub audience: String,
    pub sender: String,
    pub access_ttl: Duration,
    pub session_ttl: Duration,
    pub trial_days: i64,
    pub verify_email_ttl: Duration,
    /// Largest JSON body accepted, in bytes.
    pub max_body_bytes: usize,
    /// Failed logins per account and client address before attempts are slowed down.
    pub login_failure_limit: u32,
    pub login_failure_window: Duration,
    /// Seats a new organization starts with (the owner's seat is extra and never counted).
    pub included_seats: u32,
    /// Price of one seat, in cents of `currency`, per plan.
    pub seat_price_trial_cents: u64,
    pub seat_price_active_cents: u64,
    pub currency: String,
    /// Invitations expire after this many days unless the inviter chooses 1–30.
    pub invitation_days: i64,
    /// Where invitation emails are queued (SQS in AWS); unset: sent by an in-process worker.
    pub email_queue_url: Option<String>,
    /// This API's own base URL (the local server's upload endpoint is under it).
    pub api_url: String,
    /// Where import jobs are queued (SQS in AWS); unset: run by an in-process worker.
    pub import_queue_url: Option<String>,
    /// The S3 bucket for uploaded import files; unset: a folder (`uploads_dir`).
    pub uploads_bucket: Option<String>,
    pub uploads_dir: std::path::PathBuf,
    /// Password-reset requests one client address may make per hour before 429.
    pub email_requests_per_client_hour: u32,
    /// Company searches one client address may make per hour before 429.
    pub directory_searches_per_client_hour: u32,
    /// The messaging service's IAM role (ARN): the only caller of its internal routes in AWS.
    pub messaging_service_role: Option<String>,
    /// The shared token the messaging service presents to the embedded default instead.
    pub service_token: Option<String>,
    /// In AWS the table's stream carries recorded emails to the queue (`EmailOutboxPipe`),
    /// so requests do not queue them themselves (`SWITCHBOARD_EMAIL_DELIVERY=stream`).
    pub email_from_stream: bool,
    /// How long after a login is made it is reminded to confirm a mobile number (once,
    /// while none is confirmed); `None`: never.
    pub mobile_reminder_after: Option<Duration>,
    /// Seconds an import worker's hold on its job lasts past its last checkpoint: a worker
    /// silent that long (killed, frozen) is replaced by the job's next delivery.
    pub import_lease_secs: i64,
    /// The part an export is sent to S3 in (and the most of it held in memory). S3 takes
    /// parts of at least 5 MiB; tests against a store that takes less use small ones.
    pub export_part_bytes: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            table: "switchboard".into(),
            public_url: "http://127.0.0.1:3000".into(),
            issuer: "http://127.0.0.1:3000".into(),
            audience: "switchboard-api".into(),
            sender: "Switchboard <no-reply@switchboard.example>".into(),
            access_ttl: Duration::minutes(10),
            session_ttl: Duration::days(30),
            trial_days: 14,
            verify_email_ttl: Duration::hours(48),
            max_body_bytes: 64 * 1024,
            login_failure_limit: 5,
            login_failure_window: Duration::minutes(15),
            included_seats: 5,
            seat_price_trial_cents: 2500,
            seat_price_active_cents: 2500,
            currency: "EUR".into(),
            invitation_days: 7,
            email_queue_url: None,
            api_url: "http://127.0.0.1:3000".into(),
            import_queue_url: None,
            uploads_bucket: None,
            uploads_dir: std::env::temp_dir().join("switchboard-uploads"),
            email_requests_per_client_hour: 20,
            directory_searches_per_client_hour: 60,
            messaging_service_role: None,
            service_token: None,
            email_from_stream: false,
            mobile_reminder_after: Some(Duration::hours(24)),
            import_lease_secs: 300,
            export_part_bytes: crate::files::PART_BYTES,
        }
    }
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

impl Config {
    /// Defaults overridden by `SWITCHBOARD_*` variables.
    pub fn from_env() -> Self {
        let mut c = Config::default();
        if let Some(v) = env("SWITCHBOARD_TABLE") {
            c.table = v;
        }
        if let Some(v) = env("SWITCHBOARD_PUBLIC_URL") {
            c.public_url = v.trim_end_matches('/').to_owned();
            c.issuer = c.public_url.clone();
        }
        if let Some(v) = env("SWITCHBOARD_ISSUER") {
            c.issuer = v;
        }
        if let Some(v) = env("SWITCHBOARD_AUDIENCE") {
            c.audience = v;
        }
        if let Some(v) = env("SWITCHBOARD_SENDER") {
            c.sender = v;
        }
        if let Some(v) = env("SWITCHBOARD_EMAIL_QUEUE_URL") {
            c.email_queue_url = Some(v);
        }
        if let Some(v) = env("SWITCHBOARD_API_URL") {
            c.api_url = v.trim_end_matches('/').to_owned();
        }
        c.import_queue_url = env("SWITCHBOARD_IMPORT_QUEUE_URL");
        c.uploads_bucket = env("SWITCHBOARD_UPLOADS_BUCKET");
        if let Some(v) = env("SWITCHBOARD_UPLOADS_DIR") {
            c.uploads_dir = v.into();
        }
        let num = |name: &str| env(name).and_then(|v| v.parse::<u64>().ok());
        if let Some(v) = num("SWITCHBOARD_SEAT_PRICE_TRIAL_CENTS") {
            c.seat_price_trial_cents = v;
        }
        if let Some(v) = num("SWITCHBOARD_SEAT_PRICE_ACTIVE_CENTS") {
            c.seat_price_active_cents = v;
        }
        if let Some(hours) = num("SWITCHBOARD_MOBILE_REMINDER_AFTER_HOURS") {
            c.mobile_reminder_after = (hours > 0).then(|| Duration::hours(hours.min(24 * 365) as i64));
        }
        if let Some(secs) = num("SWITCHBOARD_IMPORT_LEASE_SECS") {
            c.import_lease_secs = secs.clamp(1, 900) as i64;
        }
        if let Some(v) = num("SWITCHBOARD_INCLUDED_SEATS") {
            c.included_seats = v.min(10_000) as u32;
        }
        c.messaging_service_role = env("SWITCHBOARD_MESSAGING_SERVICE_ROLE");
        c.service_token = env("SWITCHBOARD_SERVICE_TOKEN");
        c.email_from_stream = env("SWITCHBOARD_EMAIL_DELIVERY").as_deref() == Some("stream");
        if let Some(v) = env("SWITCHBOARD_CURRENCY") {
            c.currency = v;
        }
        c
    }
}

/// Build the context a Lambda function runs with: AWS clients configured from Lambda's
/// variables (`crate::aws`, which honours `AWS_ENDPOINT_URL`), built on first use, SES for email, signing keys from
/// `SWITCHBOARD_SIGNING_KEYS` (JSON, resolved from Secrets Manager by the template).
pub fn ctx_from_env() -> Result<Ctx> {
    let config = Config::from_env();
    let sdk = crate::aws::sdk_config_from_env();
    let store = Store::new(&sdk, &config.table, None);
    let mailer: Arc<dyn Mailer> = match env("SWITCHBOARD_OUTBOX_DIR") {
        Some(dir) => Arc::new(OutboxMailer::new(dir.into(), &config.sender)),
        None => Arc::new(
            SesMailer::new(&sdk, None, &config.sender).with_configuration_set(env("SWITCHBOARD_SES_CONFIGURATION_SET")),
        ),
    };
    let keys_json =
        env("SWITCHBOARD_SIGNING_KEYS").ok_or_else(|| Error::Internal("SWITCHBOARD_SIGNING_KEYS is not set".into()))?;
    let keys: KeysConfig = serde_json::from_str(&keys_json)
        .map_err(|e| Error::Internal(format!("SWITCHBOARD_SIGNING_KEYS is not valid JSON: {e}")))?;
    // One SQS client (built on first use) for every queue this function sends to.
    let sqs = crate::aws::sqs(&sdk);
    let queue: Option<Arc<dyn EmailQueue>> = match &config.email_queue_url {
        Some(url) => Some(Arc::new(SqsQueue::with_client(sqs.clone(), url))),
        None => None,
    };
    let files = match &config.uploads_bucket {
        Some(bucket) => crate::files::FileStore::s3(&sdk, bucket, None),
        None => crate::files::FileStore::Disk { dir: config.uploads_dir.clone() },
    };
    let imports = match &config.import_queue_url {
        Some(url) => crate::service::imports::ImportQueue::Sqs { client: sqs.clone(), url: url.clone() },
        None => crate::service::imports::ImportQueue::InProcess,
    };
    let requests = match &config.email_queue_url {
        Some(url) => crate::service::email_requests::RequestQueue::Sqs { client: sqs.clone(), url: url.clone() },
        None => crate::service::email_requests::RequestQueue::InProcess,
    };
    let sms = match env("SWITCHBOARD_SMS_OUTBOX_DIR") {
        Some(dir) => crate::sms::SmsSender::Outbox { dir: dir.into() },
        None => crate::sms::SmsSender::sns(&sdk),
    };
    let mail = crate::service::Mail { mailer, queue, files };
    let mut ctx = Ctx::new(config, store, mail, &keys, Arc::new(SystemClock), Arc::new(OsRandom))?;
    ctx.dns = crate::dns::Dns::from_env()?;
    ctx.sms = sms;
    ctx.imports = imports;
    ctx.email_requests = requests;
    if let Some(url) = env("SWITCHBOARD_EXPORT_QUEUE_URL") {
        ctx.exports = crate::service::exports::ExportQueue::Sqs { client: sqs.clone(), url };
    }
    if let Some(url) = env("SWITCHBOARD_EVENTS_QUEUE_URL") {
        ctx.events = crate::service::notifications::EventQueue::Sqs { client: sqs.clone(), url };
    }
    Ok(ctx)
}

impl Ctx {
    /// Without a `queue`, emails are queued to an in-process worker (needs a Tokio runtime).
    pub fn new(
        config: Config,
        store: Store,
        mail: crate::service::Mail,
        keys: &KeysConfig,
        clock: Arc<dyn Clock>,
        random: Arc<dyn Random>,
    ) -> Result<Self> {
        let sealer = crate::mail::seal::Sealer::from_config(keys)?;
        let keys = KeySet::from_config(keys, &config.issuer, &config.audience)?;
        let hasher = PasswordHasher::owasp()?;
        let crate::service::Mail { mailer, queue, files } = mail;
        let queue = queue.unwrap_or_else(|| {
            Arc::new(LocalQueue::start(store.clone(), files.clone(), mailer.clone(), sealer.clone(), clock.clone()))
        });
        Ok(Ctx {
            config,
            store,
            mailer,
            queue,
            keys,
            sealer,
            hasher,
            clock,
            random,
            ulids: Default::default(),
            files,
            imports: crate::service::imports::ImportQueue::InProcess,
            exports: crate::service::exports::ExportQueue::InProcess,
            email_requests: crate::service::email_requests::RequestQueue::InProcess,
            dns: crate::dns::Dns::default(),
            sms: crate::sms::SmsSender::Outbox { dir: std::env::temp_dir().join("switchboard-sms") },
            events: crate::service::notifications::EventQueue::InProcess,
        })
    }
}
