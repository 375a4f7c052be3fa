//! An organization's company settings (Account and Advanced tabs) as value types. Every
//! field is optional: unset means "inherit the nearest ancestor's value".

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{ClientType, Country, Email, Language, Phone, Role};
use crate::error::{Error, Result};

/// Plain text of at most `max` characters: no control characters but line breaks (and tabs
/// where `multiline`), surrounding white space trimmed. Empty is refused: clear with `null`.
pub fn parse_text(raw: &str, field: &str, max: usize, multiline: bool, code: &'static str) -> Result<String> {
    let text = raw.replace("\r\n", "\n");
    let text = text.trim();
    if text.is_empty() {
        return Err(Error::validation(code, field, "is empty; send null to clear it"));
    }
    if text.chars().count() > max {
        return Err(Error::validation(code, field, format!("is longer than {max} characters")));
    }
    let allowed = |c: char| !c.is_control() || (multiline && (c == '\n' || c == '\t'));
    if !text.chars().all(allowed) {
        return Err(Error::validation(code, field, "contains control characters"));
    }
    Ok(text.to_owned())
}

/// Text shown at the start of every company conversation.
pub const DISCLAIMER_MAX: usize = 2000;
/// Another name an organization is known by.
pub const ALIAS_MAX: usize = 100;
pub const ALIASES_MAX: usize = 20;
/// Bounds of an organization's minimum password length.
pub const PASSWORD_MIN_RANGE: std::ops::RangeInclusive<u8> = 8..=64;

/// The postal details of the organization (the Account tab's "Organization details").
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct OrgAddress {
    pub street: Option<String>,
    /// House number and suffix, e.g. `12a`.
    pub number: Option<String>,
    pub zip: Option<String>,
    pub city: Option<String>,
    /// ISO 3166-1 alpha-2.
    #[schema(value_type = Option<String>, example = "NL")]
    pub country: Option<Country>,
    /// E.164.
    #[schema(value_type = Option<String>, example = "+31201234567")]
    pub phone: Option<Phone>,
}

/// The organization's contact person for everything about the service.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Contact {
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub job_title: Option<String>,
    #[schema(value_type = Option<String>)]
    pub email: Option<Email>,
    #[schema(value_type = Option<String>)]
    pub phone: Option<Phone>,
}

/// Who may join by having an address on one of the organization's verified domains.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum JoinMode {
    Off,
    /// An admin approves each request.
    Request,
    /// A person with a verified address on a verified domain joins at once.
    Automatic,
}

/// The role a person joining by domain gets: never an admin's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum JoinRole {
    Agent,
    Viewer,
}

impl JoinRole {
    pub fn role(self) -> Role {
        match self {
            JoinRole::Agent => Role::Agent,
            JoinRole::Viewer => Role::Viewer,
        }
    }
}

macro_rules! settings {
    ($($(#[$doc:meta])* $field:ident: $ty:ty => $key:ident),* $(,)?) => {
        /// One organization's own settings: `None` inherits.
        #[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
        pub struct OrgSettings {
            $(
                $(#[$doc])*
                #[serde(default, skip_serializing_if = "Option::is_none")]
                pub $field: Option<$ty>,
            )*
        }

        /// A setting's name, as in the settings document; locks name them.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ToSchema)]
        #[serde(rename_all = "snake_case")]
        pub enum SettingKey {
            $($key),*
        }

        impl SettingKey {
            pub const ALL: &'static [SettingKey] = &[$(SettingKey::$key),*];

            pub fn as_str(self) -> &'static str {
                match self {
                    $(SettingKey::$key => stringify!($field)),*
                }
            }
        }

        /// A change to settings: for each field, absent (unchanged), `Some(None)` (clear, so
        /// inherit) or `Some(Some(v))` (set).
        #[derive(Debug, Clone, Default)]
        pub struct SettingsChange {
            $(pub $field: Option<Option<$ty>>,)*
        }

        impl OrgSettings {
            pub fn is_set(&self, key: SettingKey) -> bool {
                match key {
                    $(SettingKey::$key => self.$field.is_some()),*
                }
            }

            /// Take `key`'s value from `other`.
            pub fn copy_from(&mut self, other: &OrgSettings, key: SettingKey) {
                match key {
                    $(SettingKey::$key => self.$field = other.$field.clone()),*
                }
            }

            /// Apply `change`; returns the settings it actually changed.
            pub fn apply(&mut self, change: SettingsChange) -> Vec<SettingKey> {
                let mut changed = Vec::new();
                $(
                    if let Some(v) = change.$field {
                        if self.$field != v {
                            self.$field = v;
                            changed.push(SettingKey::$key);
                        }
                    }
                )*
                changed
            }
        }

        impl SettingsChange {
            /// The settings this change touches.
            pub fn keys(&self) -> Vec<SettingKey> {
                let mut keys = Vec::new();
                $(if self.$field.is_some() { keys.push(SettingKey::$key); })*
                keys
            }
        }
    };
}

settings! {
    details: OrgAddress => Details,
    contact: Contact => Contact,
    /// Shown at the start of every company conversation (plain text).
    disclaimer: String => Disclaimer,
    /// What new members get until they choose, and the language of email to people without one.
    default_language: Language => DefaultLanguage,
    /// Members' timezone until they choose one: when their daily and weekly digests come.
    default_timezone: super::Timezone => DefaultTimezone,
    join_mode: JoinMode => JoinMode,
    join_role: JoinRole => JoinRole,
    /// Invitations, imports, created users and joins only on the verified company domains.
    coworkers_on_company_domains_only: bool => CoworkersOnCompanyDomainsOnly,
    two_factor_required: bool => TwoFactorRequired,
    /// Above the system's minimum of 8.
    min_password_length: u8 => MinPasswordLength,
    /// Client types members other than admins cannot use here.
    #[schema(value_type = Option<Vec<ClientType>>)]
    disabled_clients: BTreeSet<ClientType> => DisabledClients,
    mobile_pin_required: bool => MobilePinRequired,
    export_conversations_pdf: bool => ExportConversationsPdf,
    group_chat_by_email: bool => GroupChatByEmail,
    message_content_in_mobile_notifications: bool => MessageContentInMobileNotifications,
    message_content_in_emails: bool => MessageContentInEmails,
    like_messages: bool => LikeMessages,
    delete_own_messages: bool => DeleteOwnMessages,
    /// The header logo of every email (uploaded on its own route).
    email_logo: super::logo::LogoRef => EmailLogo,
    /// The messaging clients' colors (set on the theme routes).
    theme: super::theme::Theme => Theme,
    /// Where alarm (panic) messages from the mobile app go (set on the alarm service routes).
    alarm_service: super::alarm::AlarmService => AlarmService,
    /// The parts every contact group name has here and beneath (e.g. unit / territory / workgroup).
    contact_group_naming: super::contact_group::GroupNaming => ContactGroupNaming,
}

impl OrgSettings {
    /// What an organization with nothing set anywhere above it gets.
    pub fn system_defaults(language: Language) -> OrgSettings {
        OrgSettings {
            details: None,
            contact: None,
            disclaimer: None,
            default_language: Some(language),
            default_timezone: Some(super::Timezone::UTC),
            join_mode: Some(JoinMode::Off),
            join_role: Some(JoinRole::Agent),
            coworkers_on_company_domains_only: Some(false),
            two_factor_required: Some(false),
            min_password_length: Some(*PASSWORD_MIN_RANGE.start()),
            disabled_clients: Some(BTreeSet::new()),
            mobile_pin_required: Some(false),
            export_conversations_pdf: Some(true),
            group_chat_by_email: Some(true),
            message_content_in_mobile_notifications: Some(true),
            message_content_in_emails: Some(true),
            like_messages: Some(true),
            delete_own_messages: Some(true),
            email_logo: None,
            theme: None,
            alarm_service: None,
            contact_group_naming: None,
        }
    }
}

/// Settings an organization locks for every organization beneath it.
pub type Locks = BTreeSet<SettingKey>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn change_reports_only_real_changes() {
        let mut s = OrgSettings::default();
        let change = SettingsChange {
            two_factor_required: Some(Some(true)),
            disclaimer: Some(None),
            ..SettingsChange::default()
        };
        assert_eq!(change.keys(), vec![SettingKey::Disclaimer, SettingKey::TwoFactorRequired]);
        assert_eq!(s.apply(change), vec![SettingKey::TwoFactorRequired]);
        assert!(s.is_set(SettingKey::TwoFactorRequired) && !s.is_set(SettingKey::Disclaimer));
    }

    #[test]
    fn text_limits() {
        assert_eq!(parse_text(" a\r\nb ", "d", 10, true, "c").unwrap(), "a\nb");
        assert!(parse_text("a\nb", "d", 10, false, "c").is_err());
        assert!(parse_text("   ", "d", 10, true, "c").is_err());
        assert!(parse_text(&"é".repeat(11), "d", 10, true, "c").is_err());
        assert!(parse_text("a\u{7}", "d", 10, true, "c").is_err());
    }

    #[test]
    fn every_key_has_a_system_default_or_is_free_text() {
        let d = OrgSettings::system_defaults(Language::Nl);
        let unset: Vec<_> = SettingKey::ALL.iter().filter(|k| !d.is_set(**k)).collect();
        assert_eq!(
            unset,
            vec![
                &SettingKey::Details,
                &SettingKey::Contact,
                &SettingKey::Disclaimer,
                &SettingKey::EmailLogo,
                &SettingKey::Theme,
                &SettingKey::AlarmService,
                &SettingKey::ContactGroupNaming
            ]
        );
    }
}
