//! Storage: one DynamoDB table (single-table design) reached only through aws-sdk-dynamodb,
//! whether the endpoint is AWS, moto or the embedded dynoxide engine.
//!
//! Entity modules build their own keys (`keys`) and expose the narrow set of operations the
//! services need. `docs/data-model.md` lists every access pattern and its round trips.

mod calls;
mod cursor;
mod error;
pub(crate) mod federation;
pub(crate) mod identity;
pub(crate) mod library;
pub(crate) mod members;
pub(crate) mod notify;
pub(crate) mod orgs;
pub(crate) use error::Transient;
mod idempotency;
mod items;
mod ops;
pub(crate) use ops::backoff;
pub mod table;
mod tx;

pub use calls::{CallCounter, Usage, count_calls};
pub use cursor::Cursor;
pub use federation::oauth::{AppRecord, AuthCodeRecord, CodeUse, ConsentRecord, GrantRecord};
pub use federation::sso::{Consumed, SamlRequestRecord, SsoLinkRecord, SsoProviderRecord, StoredCert};
pub use idempotency::{Claim, IdempotencyRecord, StoredAnswer};
pub use identity::merge::{MAX_ITEMS as MAX_MERGE_ITEMS, MergePlan};
pub use identity::merge_job::{MergeLockRecord, MergeSide};
pub use identity::mobile::MobileCodeRecord;
pub use identity::reminders::{MobileReminderRecord, REMINDER_SHARDS};
pub use identity::sessions::SessionRecord;
pub use identity::tokens::{ThrottleRecord, TokenPurpose, TokenRecord};
pub use identity::users::{CredentialRecord, ProfileChange, TotpState, UserRecord};
pub use identity::users::{LoginLookup, RegisterRecords};
pub use items::{ENTITY_TYPE, entity_of};
pub use library::contacts::{ContactRecord, GroupRecord, MAX_SHARE_TARGETS, MAX_SHARED_GROUPS, ShareCatalog, ShareTo};
pub use library::message_templates::{MAX_TEMPLATES, TemplateCatalog, TemplateRecord, TemplateSummary};
pub use members::import_mail::ImportMailRecord;
pub use members::imports::{
    ImportCounts, ImportJobRecord, ImportRowRecord, JobStatus, RowConflict, RowEffect, RowOutcome, UploadRecord,
    UploadStatus,
};
pub use members::inboxes::{Assignments, InboxMemberRecord, InboxRecord};
pub use members::manage::{
    BillingEvent, EmailStatus, InboxChoice, InvitationRecord, InviteTokenRecord, SeatDelta, SeatsRecord,
};
pub use members::member_ops::{MemberRemoval, NewLogin, OutboxEvent};
pub use members::shared_accounts::SharedLinkRecord;
pub use notify::digests::{
    DUE_SHARDS, DigestState, DigestWindow, Due, LEASE_MINUTES, SuppressionRecord, UnsubscribeRecord, WindowStatus,
    shard_key, shard_of,
};
pub use notify::email_templates::{EmailTemplateRecord, TemplateOverride};
pub use notify::notifications::due_sk;
pub use notify::notifications::{
    FeedRecord, NewNotification, NotificationRecord, Recorded, partition as notification_partition,
};
pub use notify::outbox::{MAIL_SHARDS, MailClaim, OutboxMail};
pub use ops::{Item, Page, QueryDir};
pub use orgs::directory::{JoinRequestRecord, NameEntryRecord};
pub use orgs::domains::{DomainClaimRecord, DomainGuardRecord, DomainKind};
pub use orgs::exported::{EXPORTED, Exported, exported};
pub use orgs::exports::{EXPORT_DAYS, ExportRecord, ExportStatus};
pub use orgs::lifecycle::Deleted;
pub use orgs::login_domains::LoginDomainRecord;
pub use orgs::organizations::{
    ActivityRecord, Closure, CompanyFields, Lineage, MAX_DEPTH, MemberStatus, MembershipRecord, OrgRecord, OrgStatus,
    Plan,
};
pub use orgs::tree::OrgChange;

use std::sync::Arc;

use aws_sdk_dynamodb::Client;

use crate::error::Result;

/// A key no entity uses (entity keys are `KIND#id`); the IAM policy of a function that reads
/// nothing else may allow reading just this one (`dynamodb:LeadingKeys`).
pub const WARM_UP_KEY: &str = "WARMUP";

/// The handle every repository operation goes through.
#[derive(Clone, Debug)]
pub struct Store {
    client: Client,
    table: Arc<str>,
    calls: CallCounter,
}

impl Store {
    /// Build a client for `endpoint` (or the SDK's default resolution when `None`, which also
    /// honours `AWS_ENDPOINT_URL`) that counts every DynamoDB call it makes.
    pub fn new(sdk: &aws_config::SdkConfig, table: &str, endpoint: Option<&str>) -> Self {
        let calls = CallCounter::default();
        let mut cfg = aws_sdk_dynamodb::config::Builder::from(sdk)
            .interceptor(calls.clone())
            .interceptor(crate::aws::ActionRecorder);
        if let Some(url) = endpoint {
            cfg = cfg.endpoint_url(url);
        }
        Store { client: Client::from_conf(cfg.build()), table: Arc::from(table), calls }
    }

    /// One cheap read (a key that never exists) that opens the connection later calls reuse.
    pub async fn warm_up(&self) -> Result<()> {
        self.client
            .get_item()
            .table_name(&*self.table)
            .set_key(Some(ops::key(WARM_UP_KEY, WARM_UP_KEY)))
            .projection_expression("#k")
            .expression_attribute_names("#k", table::PRIMARY.hash)
            .send()
            .await
            .map_err(error::storage)?;
        Ok(())
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn table_name(&self) -> &str {
        &self.table
    }

    /// Total DynamoDB calls made through this store (benchmarks read deltas of it).
    pub fn calls(&self) -> u64 {
        self.calls.total()
    }

    /// Total capacity units those calls consumed (benchmarks read deltas of it).
    pub fn capacity_units(&self) -> f64 {
        self.calls.units()
    }
}
