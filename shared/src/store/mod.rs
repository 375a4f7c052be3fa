//! Storage: one DynamoDB table (single-table design) reached only through aws-sdk-dynamodb,
//! whether the endpoint is AWS, moto or the embedded dynoxide engine.
//!
//! Entity modules build their own keys (`keys`) and expose the narrow set of operations the
//! services need. `docs/data-model.md` lists every access pattern and its round trips.

mod calls;
mod contacts;
mod cursor;
mod digests;
mod directory;
mod domains;
mod email_change;
mod email_templates;
mod erasure;
mod error;
pub(crate) use error::Transient;
mod exports;
mod idempotency;
mod import_mail;
mod imports;
mod inboxes;
mod items;
mod lifecycle;
mod login_domains;
mod mail_outbox;
mod member_ops;
mod member_search;
mod members;
mod merge;
mod merge_job;
mod message_templates;
mod mobile;
mod notifications;
mod oauth;
mod ops;
mod orgs;
mod reminders;
mod sessions;
mod settings;
mod shared;
mod sso;
pub mod table;
mod tokens;
mod tree;
mod two_factor;
mod tx;
mod users;

pub use calls::{CallCounter, Usage, count_calls};
pub use contacts::{ContactRecord, GroupRecord, MAX_SHARE_TARGETS, MAX_SHARED_GROUPS, ShareCatalog, ShareTo};
pub use cursor::Cursor;
pub use digests::{
    DUE_SHARDS, DigestState, DigestWindow, Due, LEASE_MINUTES, SuppressionRecord, UnsubscribeRecord, WindowStatus,
    shard_key, shard_of,
};
pub use directory::{JoinRequestRecord, NameEntryRecord};
pub use domains::{DomainClaimRecord, DomainGuardRecord, DomainKind};
pub use email_templates::{EmailTemplateRecord, TemplateOverride};
pub use exports::{EXPORT_DAYS, ExportRecord, ExportStatus, exported};
pub use idempotency::{Claim, IdempotencyRecord, StoredAnswer};
pub use import_mail::ImportMailRecord;
pub use imports::{
    ImportCounts, ImportJobRecord, ImportRowRecord, JobStatus, RowConflict, RowEffect, RowOutcome, UploadRecord,
    UploadStatus,
};
pub use inboxes::{Assignments, InboxMemberRecord, InboxRecord};
pub use lifecycle::Deleted;
pub use login_domains::LoginDomainRecord;
pub use mail_outbox::{MAIL_SHARDS, MailClaim, OutboxMail};
pub use member_ops::{MemberRemoval, NewLogin, OutboxEvent};
pub use members::{
    BillingEvent, EmailStatus, InboxChoice, InvitationRecord, InviteTokenRecord, SeatDelta, SeatsRecord,
};
pub use merge::{MAX_ITEMS as MAX_MERGE_ITEMS, MergePlan};
pub use merge_job::{MergeLockRecord, MergeSide};
pub use message_templates::{MAX_TEMPLATES, TemplateCatalog, TemplateRecord, TemplateSummary};
pub use mobile::MobileCodeRecord;
pub use notifications::due_sk;
pub use notifications::{
    FeedRecord, NewNotification, NotificationRecord, Recorded, partition as notification_partition,
};
pub use oauth::{AppRecord, AuthCodeRecord, CodeUse, ConsentRecord, GrantRecord};
pub use ops::{Item, Page, QueryDir};
pub use orgs::{
    ActivityRecord, Closure, CompanyFields, Lineage, MAX_DEPTH, MemberStatus, MembershipRecord, OrgRecord, OrgStatus,
    Plan,
};
pub use reminders::{MobileReminderRecord, REMINDER_SHARDS};
pub use sessions::SessionRecord;
pub use shared::SharedLinkRecord;
pub use sso::{Consumed, SamlRequestRecord, SsoLinkRecord, SsoProviderRecord, StoredCert};
pub use tokens::{ThrottleRecord, TokenPurpose, TokenRecord};
pub use tree::OrgChange;
pub use users::{CredentialRecord, ProfileChange, TotpState, UserRecord};
pub use users::{LoginLookup, RegisterRecords};

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
