//! Notifications, preferences, digests, suppression, email settings and templates, the outbox.

pub mod email_settings;
pub mod notifications;
