//! What a notification is about, and who it is for. Each kind belongs to one email type,
//! whose setting (on, interval) and template decide how its email goes out.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{EmailType, InboxId, UserId};
use crate::error::{Error, Result};

macro_rules! kinds {
    ($($variant:ident => $key:literal, $ty:ident, $messaging:literal);* $(;)?) => {
        /// One kind of notification.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ToSchema)]
        #[serde(rename_all = "snake_case")]
        pub enum NotificationKind {
            $($variant),*
        }

        impl NotificationKind {
            pub const ALL: &'static [NotificationKind] = &[$(NotificationKind::$variant),*];

            pub fn key(self) -> &'static str {
                match self {
                    $(NotificationKind::$variant => $key),*
                }
            }

            /// The email type whose setting and template its email follows.
            pub fn email_type(self) -> EmailType {
                match self {
                    $(NotificationKind::$variant => EmailType::$ty),*
                }
            }

            /// Whether the messaging service may send it (the others come from this service).
            pub fn from_messaging(self) -> bool {
                match self {
                    $(NotificationKind::$variant => $messaging),*
                }
            }
        }
    };
}

kinds! {
    NewMessage => "new_message", NewMessages, true;
    Mention => "mention", Mentions, true;
    MissedCall => "missed_call", MissedCalls, true;
    Voicemail => "voicemail", MissedCalls, true;
    ConversationAssigned => "conversation_assigned", AssignedConversations, true;
    InvitationAccepted => "invitation_accepted", InvitationAccepted, false;
    MemberJoined => "member_joined", TeamChanges, false;
    MemberLeft => "member_left", TeamChanges, false;
    MemberRemoved => "member_removed", TeamChanges, false;
    RoleChanged => "role_changed", TeamChanges, false;
    OwnershipTransferred => "ownership_transferred", TeamChanges, false;
    SeatsChanged => "seats_changed", TeamChanges, false;
    ImportFinished => "import_finished", ImportFinished, false;
    TwoFactorReset => "two_factor_reset", TwoFactorReset, false;
    NewSignIn => "new_sign_in", NewSignIn, false;
}

impl NotificationKind {
    pub fn parse(raw: &str, field: &str) -> Result<Self> {
        Self::ALL
            .iter()
            .copied()
            .find(|k| k.key() == raw)
            .ok_or_else(|| Error::validation("unknown_notification_type", field, "is not a notification type"))
    }

    /// Whether it may carry message content (shown in emails only where the policy allows).
    pub fn carries_content(self) -> bool {
        matches!(
            self,
            NotificationKind::NewMessage
                | NotificationKind::Mention
                | NotificationKind::Voicemail
                | NotificationKind::ConversationAssigned
        )
    }
}

/// Who an event is for: named people, the members of an inbox, or the organization's admins.
/// Whoever is not (or no longer) an active member, or cannot see the inbox, is left out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Audience {
    People { user_ids: Vec<UserId> },
    Inbox { inbox_id: InboxId },
    Admins,
}

/// People named on one event at most; larger groups are an inbox or the admins.
pub const MAX_NAMED_RECIPIENTS: usize = 100;

/// Message content kept for an email, at most (longer content is cut at a character boundary).
pub const MAX_CONTENT_CHARS: usize = 500;

/// An event's idempotency key: what the sender uses to say "the same event again".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub struct IdempotencyKey(String);

impl TryFrom<String> for IdempotencyKey {
    type Error = Error;
    fn try_from(s: String) -> Result<Self> {
        Self::parse(&s, "idempotency_key")
    }
}

impl From<IdempotencyKey> for String {
    fn from(k: IdempotencyKey) -> String {
        k.0
    }
}

impl IdempotencyKey {
    pub fn parse(raw: &str, field: &str) -> Result<Self> {
        let raw = raw.trim();
        if raw.is_empty() || raw.len() > 200 || raw.chars().any(char::is_control) {
            return Err(Error::validation("invalid_idempotency_key", field, "must be 1 to 200 characters of text"));
        }
        Ok(IdempotencyKey(raw.to_owned()))
    }

    /// The key of an event this service raises itself, from what makes it unique.
    pub fn derived(unique: &str) -> Self {
        use sha2::Digest;
        let hash = sha2::Sha256::digest(unique.as_bytes());
        IdempotencyKey(hash.iter().map(|b| format!("{b:02x}")).collect())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Content cut to what an email may show.
pub fn bounded_content(raw: &str) -> String {
    raw.chars().filter(|c| !c.is_control() || *c == '\n').take(MAX_CONTENT_CHARS).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_parse_back_and_messaging_ones_are_activity() {
        for k in NotificationKind::ALL {
            assert_eq!(NotificationKind::parse(k.key(), "type").unwrap(), *k);
            if k.from_messaging() {
                assert!(k.email_type().takes_interval(), "{}", k.key());
            }
        }
        assert!(NotificationKind::parse("party", "type").is_err());
    }

    #[test]
    fn keys_are_bounded_text() {
        assert!(IdempotencyKey::parse("", "k").is_err());
        assert!(IdempotencyKey::parse(&"x".repeat(201), "k").is_err());
        assert!(IdempotencyKey::parse("msg-1\n", "k").is_ok());
        assert!(IdempotencyKey::parse("a\u{0}b", "k").is_err());
        assert_eq!(bounded_content(&"é".repeat(600)).chars().count(), MAX_CONTENT_CHARS);
    }
}

/// A conversation a notification is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Conversation {
    pub id: String,
    pub name: Option<String>,
}

/// One event, parsed: what happened, in which organization, for whom.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    pub org_id: super::OrgId,
    pub kind: NotificationKind,
    pub audience: Audience,
    pub key: IdempotencyKey,
    pub at: chrono::DateTime<chrono::Utc>,
    /// Recipients must be able to see this inbox.
    pub inbox_id: Option<InboxId>,
    pub conversation: Option<Conversation>,
    /// Who or what it is about, as a short line (a caller, a member, a file).
    pub subject: Option<String>,
    pub content: Option<String>,
    /// A path in the client (`/conversations/42`), made absolute with the client's address.
    pub link: Option<String>,
    /// Who caused it (never notified of their own action).
    pub actor: Option<UserId>,
    /// Its email went out with the action already (security notices); only the feed records it.
    #[serde(default)]
    pub emailed: bool,
    /// Values for its email's template beyond what the fields above give (`created`, …).
    #[serde(default)]
    pub details: std::collections::BTreeMap<String, String>,
}

/// An event as a sender writes it (the queue message and the internal route's body).
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EventInput {
    pub organization_id: String,
    /// A notification type (`new_message`, `mention`, `missed_call`, `voicemail`,
    /// `conversation_assigned`).
    #[serde(rename = "type")]
    pub kind: String,
    pub recipients: RecipientsInput,
    /// The same key again (a redelivery) records nothing twice.
    pub idempotency_key: String,
    /// When it happened (RFC 3339).
    pub occurred_at: String,
    #[serde(default)]
    pub inbox_id: Option<String>,
    #[serde(default)]
    pub conversation_id: Option<String>,
    #[serde(default)]
    pub conversation_name: Option<String>,
    #[serde(default)]
    pub subject: Option<String>,
    /// Message text; shown in emails only where the organization allows it.
    #[serde(default)]
    pub content: Option<String>,
    #[serde(default)]
    pub link: Option<String>,
}

/// Who an event is for: `user_ids`, or `inbox` (its members), or `admins`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RecipientsInput {
    #[serde(default)]
    pub user_ids: Option<Vec<String>>,
    #[serde(default)]
    pub inbox: Option<String>,
    #[serde(default)]
    pub admins: Option<bool>,
}

fn short_text(raw: Option<String>, field: &str, max: usize) -> Result<Option<String>> {
    match raw.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(s) if s.chars().count() > max || s.chars().any(char::is_control) => {
            Err(Error::validation("invalid_field", field, format!("must be at most {max} characters of text")))
        }
        Some(s) => Ok(Some(s)),
    }
}

impl EventInput {
    /// Parse an event from the messaging service: only the types it may send.
    pub fn parse(self) -> Result<Event> {
        let kind = NotificationKind::parse(&self.kind, "type")?;
        if !kind.from_messaging() {
            return Err(Error::validation("unknown_notification_type", "type", "is not a messaging event type"));
        }
        let org_id = super::OrgId::parse(&self.organization_id, "organization_id")?;
        let audience = match (self.recipients.user_ids, self.recipients.inbox, self.recipients.admins) {
            (Some(ids), None, None | Some(false)) => {
                if ids.is_empty() || ids.len() > MAX_NAMED_RECIPIENTS {
                    return Err(Error::validation(
                        "invalid_recipients",
                        "recipients.user_ids",
                        format!("must name 1 to {MAX_NAMED_RECIPIENTS} people"),
                    ));
                }
                let user_ids = ids
                    .iter()
                    .enumerate()
                    .map(|(i, u)| UserId::parse(u, &format!("recipients.user_ids[{i}]")))
                    .collect::<Result<Vec<_>>>()?;
                Audience::People { user_ids }
            }
            (None, Some(inbox), None | Some(false)) => {
                Audience::Inbox { inbox_id: InboxId::parse(&inbox, "recipients.inbox")? }
            }
            (None, None, Some(true)) => Audience::Admins,
            _ => {
                return Err(Error::validation(
                    "invalid_recipients",
                    "recipients",
                    "must give exactly one of user_ids, inbox or admins",
                ));
            }
        };
        let at = chrono::DateTime::parse_from_rfc3339(self.occurred_at.trim())
            .map_err(|_| Error::validation("invalid_time", "occurred_at", "must be an RFC 3339 time"))?
            .with_timezone(&chrono::Utc);
        let link = short_text(self.link, "link", 500)?;
        if link.as_deref().is_some_and(|l| !l.starts_with('/') || l.starts_with("//")) {
            return Err(Error::validation("invalid_field", "link", "must be a path in the client, starting with /"));
        }
        let conversation = match short_text(self.conversation_id, "conversation_id", 100)? {
            Some(id) => Some(Conversation { id, name: short_text(self.conversation_name, "conversation_name", 200)? }),
            None => None,
        };
        Ok(Event {
            org_id,
            kind,
            audience,
            key: IdempotencyKey::parse(&self.idempotency_key, "idempotency_key")?,
            at,
            inbox_id: self.inbox_id.as_deref().map(|i| InboxId::parse(i, "inbox_id")).transpose()?,
            conversation,
            subject: short_text(self.subject, "subject", 200)?,
            content: self.content.as_deref().map(bounded_content).filter(|c| !c.trim().is_empty()),
            link,
            actor: None,
            emailed: false,
            details: Default::default(),
        })
    }
}
