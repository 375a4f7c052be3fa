//! Notifications, preferences, digests, suppression, email settings and templates, the outbox.

pub mod digests;
pub mod email_requests;
pub mod email_settings;
pub mod email_templates;
pub mod emails;
pub mod mail_outbox;
pub mod notification_prefs;
pub mod notifications;
pub mod suppression;
