//! Business rules. Each public function is one account operation; handlers call exactly one.

pub mod attribution;
mod context;
pub mod federation;
pub mod idempotency;
pub mod identity;
pub mod library;
pub mod members;
pub mod notify;
pub mod orgs;
mod pace;

pub use identity::accounts::{
    Me, MeOrg, OrgView, RegisterInput, Registered, me, register, resend_verification, verify_email,
};
pub use identity::sessions::{
    Authenticated, LoginInput, LoginOutcome, SecondFactorChallenge, TokenPair, authenticate, authenticate_with_profile,
    login, logout, logout_everywhere, refresh,
};
pub use orgs::my_orgs::{MyOrg, MyOrgsPage, Switched, my_orgs, switch_org};
pub use orgs::organizations::access_to;

use std::sync::Arc;

use crate::auth::{KeySet, PasswordHasher};
use crate::clock::{Clock, Random};
use crate::config::Config;
use crate::mail::Mailer;
use crate::store::Store;

/// How email leaves: the mailer, the queue in front of it (an in-process worker when none),
/// and the file store logos are read from.
pub struct Mail {
    pub mailer: Arc<dyn Mailer>,
    pub queue: Option<Arc<dyn crate::mail::queue::EmailQueue>>,
    pub files: crate::files::FileStore,
}

/// Everything an operation needs, built once per cold start.
pub struct Ctx {
    pub config: Config,
    pub store: Store,
    pub mailer: Arc<dyn Mailer>,
    pub queue: Arc<dyn crate::mail::queue::EmailQueue>,
    pub keys: KeySet,
    /// Opens and seals the secrets in queued emails (keys derived from the signing keys).
    pub sealer: crate::mail::seal::Sealer,
    pub hasher: PasswordHasher,
    pub clock: Arc<dyn Clock>,
    pub random: Arc<dyn Random>,
    pub ulids: crate::clock::UlidSource,
    /// Uploaded import files and email logos.
    pub files: crate::files::FileStore,
    /// Where accepted import jobs go to be run.
    pub imports: members::imports::ImportQueue,
    /// Where requested data exports go to be written.
    pub exports: orgs::exports::ExportQueue,
    /// Where emails the worker must decide on go (the email queue in AWS).
    pub email_requests: notify::email_requests::RequestQueue,
    /// Where domain verification looks up TXT records.
    pub dns: crate::dns::Dns,
    /// Where text messages (verification codes) go: SNS in AWS, a folder otherwise.
    pub sms: crate::sms::SmsSender,
    /// Where notification events go to be recorded.
    pub events: notify::notifications::EventQueue,
}

/// An activity entry. `actor` is who acted; when a person acts in the name of a shared
/// account, `actor` is the shared account and `real_actor` the person.
pub(crate) fn activity_record(
    ctx: &Ctx,
    org: &crate::domain::OrgId,
    actor: &crate::domain::UserId,
    real_actor: Option<&crate::domain::UserId>,
    action: &str,
    target: Option<String>,
) -> crate::store::ActivityRecord {
    crate::store::ActivityRecord {
        activity_id: ctx.ulid().to_string(),
        org_id: org.clone(),
        actor_id: actor.clone(),
        real_actor_id: real_actor.cloned(),
        merged_actor_id: None,
        action: action.into(),
        target,
        at: ctx.now(),
    }
}

/// The activity entry of an action a permit allowed, on the permitted organization.
pub(crate) fn permit_activity<P>(
    ctx: &Ctx,
    permit: &crate::access::Permit<P>,
    action: &str,
    target: Option<String>,
) -> crate::store::ActivityRecord {
    activity_record(ctx, &permit.org.org_id, &permit.user_id, permit.real_user_id.as_ref(), action, target)
}

/// An event for other services, written in the transaction of the change it reports.
pub(crate) fn outbox_event(ctx: &Ctx, detail_type: &str, detail: serde_json::Value) -> crate::store::OutboxEvent {
    crate::store::OutboxEvent {
        event_id: ctx.ulid().to_string(),
        entity: "event",
        detail_type: detail_type.into(),
        detail,
        at: ctx.now(),
    }
}

/// A billing event for the organization `org`, caused by `actor`.
pub(crate) fn billing_event(
    ctx: &Ctx,
    org: &crate::domain::OrgId,
    actor: &crate::domain::UserId,
    kind: &str,
    seats: u32,
    amount_cents: u64,
) -> crate::store::BillingEvent {
    crate::store::BillingEvent {
        event_id: ctx.ulid().to_string(),
        org_id: org.clone(),
        kind: kind.into(),
        seats,
        amount_cents,
        currency: ctx.config.currency.clone(),
        actor_id: actor.clone(),
        at: ctx.now(),
    }
}

impl Ctx {
    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.clock.now()
    }

    pub fn ulid(&self) -> ulid::Ulid {
        self.ulids.next(self.clock.as_ref(), self.random.as_ref())
    }

    /// A ULID after `floor` too (an id another machine, its clock ahead, made).
    pub fn ulid_after(&self, floor: ulid::Ulid) -> ulid::Ulid {
        self.ulids.next_after(self.clock.as_ref(), self.random.as_ref(), floor)
    }

    /// What the email worker sends with.
    pub fn delivery(&self) -> crate::mail::queue::Delivery<'_> {
        crate::mail::queue::Delivery {
            store: &self.store,
            files: &self.files,
            mailer: self.mailer.as_ref(),
            sealer: &self.sealer,
            clock: self.clock.as_ref(),
        }
    }
}
