//! Domain value types. Each parses untrusted input once; holding one proves it is valid.

pub mod alarm;
mod client_type;
mod country;
mod domain_name;
mod email;
mod email_type;
mod ids;
mod language;
mod login_name;
pub mod logo;
mod names;
pub mod notification;
pub mod oauth;
mod password;
mod phone;
mod role;
pub mod settings;
pub mod sso;
pub mod template_text;
pub mod theme;
mod timezone;

pub use client_type::ClientType;
pub use country::Country;
pub use domain_name::{DomainName, OwnedDomain};
pub use email::Email;
pub use email_type::{EmailGroup, EmailType, Interval, TypeSetting, Variable};
pub use ids::{InboxId, OrgId, SessionId, UserId};
pub use language::Language;
pub use login_name::{LoginDomain, LoginKey, LoginName, Username};
pub use names::{Alias, OrgName, PersonName, fold_for_search};
pub use password::Password;
pub use phone::Phone;
pub use role::{Role, Roles};
pub use timezone::{DigestTime, Timezone, next_due};
