//! Business rules. Each public function is one account operation; handlers call exactly one.

mod accounts;
pub mod inboxes;
pub mod invitations;
pub mod members;
mod my_orgs;
pub mod orgs;
pub mod passwords;
mod sessions;

pub use accounts::{Me, MeOrg, OrgView, RegisterInput, Registered, me, register, resend_verification, verify_email};
pub use my_orgs::{MyOrg, MyOrgsPage, Switched, my_orgs, switch_org};
pub use orgs::access_to;
pub use sessions::{Authenticated, LoginInput, TokenPair, authenticate, login, logout, logout_everywhere, refresh};

use std::sync::Arc;

use crate::auth::{KeySet, PasswordHasher};
use crate::clock::{Clock, Random};
use crate::config::Config;
use crate::mail::Mailer;
use crate::store::Store;

/// Everything an operation needs, built once per cold start.
pub struct Ctx {
    pub config: Config,
    pub store: Store,
    pub mailer: Arc<dyn Mailer>,
    pub queue: Arc<dyn crate::mail::queue::EmailQueue>,
    pub keys: KeySet,
    pub hasher: PasswordHasher,
    pub clock: Arc<dyn Clock>,
    pub random: Arc<dyn Random>,
    pub ulids: crate::clock::UlidSource,
}

impl Ctx {
    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.clock.now()
    }

    pub fn ulid(&self) -> ulid::Ulid {
        self.ulids.next(self.clock.as_ref(), self.random.as_ref())
    }
}
