//! Notifications, preferences, digests, suppression, email settings and templates, the outbox.

pub mod compose;
pub mod digests;
pub mod email_requests;
pub mod email_settings;
pub mod email_templates;
pub mod notification_prefs;
pub mod notifications;
pub mod outbox;
pub mod suppression;
