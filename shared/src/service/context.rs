//! Building the context every request and job runs with: from a Lambda function's parsed
//! environment, or from parts the local server and tests choose.

use std::sync::Arc;

use crate::auth::jwt::KeysConfig;
use crate::auth::{KeySet, PasswordHasher};
use crate::clock::{Clock, OsRandom, Random, SystemClock};
use crate::config::{Config, LambdaEnv};
use crate::error::Result;
use crate::mail::queue::{EmailQueue, LocalQueue, SqsQueue};
use crate::mail::{Mailer, OutboxMailer, SesMailer};
use crate::store::Store;

use crate::service::{Ctx, Mail, members::imports, notify::email_requests, notify::notifications, orgs::exports};

impl Ctx {
    /// A Lambda function's context: AWS clients configured from Lambda's variables
    /// (`crate::aws`, which honours `AWS_ENDPOINT_URL`) and built on first use, SES for email,
    /// every queue the environment names. A queue it does not name is refused when used.
    pub fn for_lambda(env: LambdaEnv) -> Result<Ctx> {
        let LambdaEnv { config, signing_keys, email_queue_url, events_queue_url, .. } = env;
        let sdk = crate::aws::sdk_config_from_env();
        let store = Store::new(&sdk, &config.table, None);
        let mailer: Arc<dyn Mailer> = match env.outbox_dir {
            Some(dir) => Arc::new(OutboxMailer::new(dir, &config.sender)),
            None => {
                Arc::new(SesMailer::new(&sdk, None, &config.sender).with_configuration_set(env.ses_configuration_set))
            }
        };
        // One SQS client (built on first use) for every queue this function sends to.
        let sqs = crate::aws::sqs(&sdk);
        let queue: Arc<dyn EmailQueue> = Arc::new(SqsQueue::with_client(sqs.clone(), &email_queue_url));
        let files = match &env.uploads_bucket {
            Some(bucket) => crate::files::FileStore::s3(&sdk, bucket, None),
            None => crate::files::FileStore::Disk { dir: env.uploads_dir },
        };
        let imports = match env.import_queue_url {
            Some(url) => imports::ImportQueue::Sqs { client: sqs.clone(), url },
            None => imports::ImportQueue::Missing,
        };
        let exports = match env.export_queue_url {
            Some(url) => exports::ExportQueue::Sqs { client: sqs.clone(), url },
            None => exports::ExportQueue::Missing,
        };
        let requests = email_requests::RequestQueue::Sqs { client: sqs.clone(), url: email_queue_url };
        let sms = match env.sms_outbox_dir {
            Some(dir) => crate::sms::SmsSender::Outbox { dir },
            None => crate::sms::SmsSender::sns(&sdk),
        };
        let mail = Mail { mailer, queue: Some(queue), files };
        let mut ctx = Ctx::new(config, store, mail, &signing_keys, Arc::new(SystemClock), Arc::new(OsRandom))?;
        ctx.dns = env.dns;
        ctx.sms = sms;
        ctx.imports = imports;
        ctx.exports = exports;
        ctx.email_requests = requests;
        ctx.events = notifications::EventQueue::Sqs { client: sqs, url: events_queue_url };
        Ok(ctx)
    }

    /// Without a `queue`, emails are queued to an in-process worker (needs a Tokio runtime).
    pub fn new(
        config: Config,
        store: Store,
        mail: Mail,
        keys: &KeysConfig,
        clock: Arc<dyn Clock>,
        random: Arc<dyn Random>,
    ) -> Result<Self> {
        let sealer = crate::mail::seal::Sealer::from_config(keys)?;
        let keys = KeySet::from_config(keys, &config.issuer, &config.audience)?;
        let hasher = PasswordHasher::owasp()?;
        let Mail { mailer, queue, files } = mail;
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
            imports: imports::ImportQueue::InProcess,
            exports: exports::ExportQueue::InProcess,
            email_requests: email_requests::RequestQueue::in_process(),
            dns: crate::dns::Dns::default(),
            sms: crate::sms::SmsSender::Outbox { dir: std::env::temp_dir().join("switchboard-sms") },
            events: notifications::EventQueue::InProcess,
        })
    }
}
