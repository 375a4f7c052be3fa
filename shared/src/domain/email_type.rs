//! The catalogue of every email the service sends: a stable key per type, the group the
//! admin's email settings show it in, the variables its template may use, and whether an
//! organization may switch it off.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::{Error, Result};

/// How the email settings group the types (the seed's headings).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EmailGroup {
    Validation,
    Registration,
    Security,
    Activity,
}

/// How often an organization's members get an email type: at once, or gathered into a
/// digest (the digests gather what is pending per interval).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Interval {
    #[default]
    Immediate,
    Hourly,
    Daily,
    Weekly,
}

impl Interval {
    pub const ALL: [Interval; 4] = [Interval::Immediate, Interval::Hourly, Interval::Daily, Interval::Weekly];

    pub fn parse(raw: &str, field: &str) -> Result<Self> {
        Self::ALL
            .into_iter()
            .find(|i| i.as_str() == raw)
            .ok_or_else(|| Error::validation("invalid_interval", field, "must be immediate, hourly, daily or weekly"))
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Interval::Immediate => "immediate",
            Interval::Hourly => "hourly",
            Interval::Daily => "daily",
            Interval::Weekly => "weekly",
        }
    }
}

/// A variable a template may use, with the value previews show.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
pub struct Variable {
    pub name: &'static str,
    pub description: &'static str,
    pub sample: &'static str,
}

const fn var(name: &'static str, description: &'static str, sample: &'static str) -> Variable {
    Variable { name, description, sample }
}

/// Every template has these.
const COMMON: [Variable; 2] = [
    var("first_name", "the recipient's first name (empty for an invitation to a new address)", "Anna"),
    var("org_name", "the organization's name", "Acme Logistics"),
];

macro_rules! email_types {
    ($($variant:ident => $key:literal, $group:ident, $switchable:literal, [$($v:expr),* $(,)?]);* $(;)?) => {
        /// One kind of email the service sends.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ToSchema)]
        #[serde(rename_all = "snake_case")]
        pub enum EmailType {
            $($variant),*
        }

        impl EmailType {
            pub const ALL: &'static [EmailType] = &[$(EmailType::$variant),*];

            /// The stable key clients, templates and settings use.
            pub fn key(self) -> &'static str {
                match self {
                    $(EmailType::$variant => $key),*
                }
            }

            pub fn group(self) -> EmailGroup {
                match self {
                    $(EmailType::$variant => EmailGroup::$group),*
                }
            }

            /// Whether an organization may switch it off (validation and registration emails
            /// are needed to get into the service at all, so they stay on).
            pub fn can_switch_off(self) -> bool {
                match self {
                    $(EmailType::$variant => $switchable),*
                }
            }

            /// The variables this type's template may use, beyond the common ones.
            fn own_variables(self) -> &'static [Variable] {
                match self {
                    $(EmailType::$variant => { const V: &[Variable] = &[$($v),*]; V }),*
                }
            }
        }
    };
}

email_types! {
    EmailVerification => "email_verification", Validation, false, [
        var("link", "the link that confirms the address", "https://app.example/verify-email?token=…"),
        var("hours", "hours the link stays valid", "48"),
    ];
    MobileVerification => "mobile_verification", Validation, false, [
        var("phone_hint", "the number the code was texted to, mostly masked", "+31 •••• ••56"),
        var("minutes", "minutes the code stays valid", "10"),
        var("link", "where to enter the code", "https://app.example/profile"),
    ];
    MobileVerificationReminder => "mobile_verification_reminder", Validation, false, [
        var("link", "where to add and confirm a mobile number", "https://app.example/profile"),
    ];
    Welcome => "welcome", Registration, false, [
        var("link", "where to sign in", "https://app.example/login"),
    ];
    Invitation => "invitation", Registration, false, [
        var("inviter", "who sent the invitation", "Jane Doe"),
        var("link", "the link that accepts the invitation", "https://app.example/accept-invitation?token=…"),
        var("expires", "the day the invitation expires", "2026-12-15"),
    ];
    PasswordReset => "password_reset", Registration, false, [
        var("link", "the link to choose a new password", "https://app.example/reset-password?token=…"),
        var("minutes", "minutes the link stays valid", "60"),
    ];
    AccountCreated => "account_created", Registration, false, [
        var("by", "who made the login", "Jane Doe"),
        var("link", "the link to choose a first password", "https://app.example/reset-password?token=…"),
        var("days", "days the link stays valid", "7"),
    ];
    EmailChange => "email_change", Registration, false, [
        var("new_email", "the address the login is to use", "anna@new.example"),
        var("link", "the link that confirms the new address", "https://app.example/confirm-email?token=…"),
        var("minutes", "minutes the link stays valid", "60"),
    ];
    EmailChangeNotice => "email_change_notice", Registration, false, [
        var("new_email", "the address the change asks for", "anna@new.example"),
    ];
    MemberAdded => "member_added", Registration, false, [
        var("by", "who added the recipient", "Jane Doe"),
        var("link", "where to sign in", "https://app.example/login"),
    ];
    MergeNotice => "merge_notice", Registration, false, [
        var("merged_email", "the address whose login was merged into this one", "anna@old.example"),
        var("link", "where to sign in", "https://app.example/login"),
    ];
    NewSignIn => "new_sign_in", Security, true, [
        var("client", "the client type signed in with", "web"),
        var("time", "when (UTC)", "2026-12-01 09:30 UTC"),
        var("link", "where to see and end sessions", "https://app.example/profile/sessions"),
    ];
    TwoFactorReset => "two_factor_reset", Security, true, [
        var("by", "who turned two-factor authentication off", "Jane Doe"),
        var("link", "where to turn it on again", "https://app.example/profile/security"),
    ];
    SessionsEnded => "sessions_ended", Security, true, [
        var("count", "how many sessions ended", "3"),
        var("link", "where to sign in", "https://app.example/login"),
    ];
    RegistrationAttempt => "registration_attempt", Security, true, [
        var("login_link", "where to sign in", "https://app.example/login"),
        var("reset_link", "where to choose a new password", "https://app.example/forgot-password"),
    ];
    NewMessages => "new_messages", Activity, true, [
        var("count", "unread messages", "4"),
        var("conversation", "the conversation's name", "Support NL"),
        var("link", "the conversation in the client", "https://app.example/conversations/…"),
    ];
    Mentions => "mentions", Activity, true, [
        var("by", "who mentioned the recipient", "Jane Doe"),
        var("conversation", "the conversation's name", "Support NL"),
        var("link", "the message in the client", "https://app.example/conversations/…"),
    ];
    MissedCalls => "missed_calls", Activity, true, [
        var("caller", "who called", "+31 20 123 4567"),
        var("count", "missed calls", "2"),
        var("link", "the call list in the client", "https://app.example/calls"),
    ];
    AssignedConversations => "assigned_conversations", Activity, true, [
        var("by", "who assigned it", "Jane Doe"),
        var("conversation", "the conversation's name", "Order 1042"),
        var("link", "the conversation in the client", "https://app.example/conversations/…"),
    ];
    InvitationAccepted => "invitation_accepted", Activity, true, [
        var("member_name", "who accepted", "Piet Jansen"),
        var("member_email", "their address", "piet@acme.example"),
        var("link", "the member list", "https://app.example/admin/users"),
    ];
    ImportFinished => "import_finished", Activity, true, [
        var("file_name", "the imported file", "users.xlsx"),
        var("created", "people invited or added", "120"),
        var("failed", "rows refused", "3"),
        var("link", "the import's report", "https://app.example/admin/imports/…"),
    ];
    TeamChanges => "team_changes", Activity, true, [
        var("summary", "what changed: who joined, left or was removed, roles, ownership, seats", "Piet Jansen joined Acme Logistics."),
        var("link", "the member list", "https://app.example/admin/users"),
    ];
    Digest => "digest", Activity, false, [
        var("period", "hourly, daily or weekly", "daily"),
        var("count", "notifications the digest gathers", "12"),
        var("summary", "the notifications, grouped by conversation or type, one per line", "Support NL: 3 new messages\nMissed call from +31 20 123 4567"),
        var("more", "notifications gathered but not listed (0 when all are)", "2"),
        var("link", "the notifications in the client", "https://app.example/notifications"),
    ];
}

/// An organization's choice for one type: whether it goes out, and how often.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TypeSetting {
    pub enabled: bool,
    pub interval: Interval,
}

impl TypeSetting {
    /// All types are on, at once, until an organization says otherwise.
    pub const DEFAULT: TypeSetting = TypeSetting { enabled: true, interval: Interval::Immediate };
}

impl EmailType {
    /// Only activity emails gather into digests: the others carry links that expire or
    /// tell of something that needs attention now.
    pub fn takes_interval(self) -> bool {
        self.group() == EmailGroup::Activity && self != EmailType::Digest
    }

    pub fn parse(raw: &str, field: &str) -> Result<Self> {
        Self::ALL
            .iter()
            .copied()
            .find(|t| t.key() == raw)
            .ok_or_else(|| Error::validation("unknown_email_type", field, "is not an email type of the catalogue"))
    }

    /// Every variable its template may use: the common ones, then its own.
    pub fn variables(self) -> impl Iterator<Item = &'static Variable> {
        COMMON.iter().chain(self.own_variables())
    }

    pub fn allows(self, name: &str) -> bool {
        self.variables().any(|v| v.name == name)
    }

    /// Values for a preview: each variable's sample.
    pub fn sample(self) -> serde_json::Map<String, serde_json::Value> {
        self.variables().map(|v| (v.name.to_owned(), serde_json::Value::String(v.sample.to_owned()))).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_unique_and_parse_back() {
        let mut keys: Vec<&str> = EmailType::ALL.iter().map(|t| t.key()).collect();
        keys.sort_unstable();
        keys.dedup();
        assert_eq!(keys.len(), EmailType::ALL.len());
        for t in EmailType::ALL {
            assert_eq!(EmailType::parse(t.key(), "f").unwrap(), *t);
            assert_eq!(serde_json::to_value(t).unwrap(), t.key());
        }
    }

    #[test]
    fn validation_and_registration_stay_on() {
        for t in EmailType::ALL {
            // A digest goes out whenever a type is gathered into one; the types switch off.
            let locked =
                matches!(t.group(), EmailGroup::Validation | EmailGroup::Registration) || *t == EmailType::Digest;
            assert_eq!(t.can_switch_off(), !locked, "{}", t.key());
        }
    }
}
