//! Notifications, preferences, digests, suppression, email settings and templates, the outbox.

pub(in crate::store) mod digests;
pub(in crate::store) mod email_templates;
pub(in crate::store) mod notifications;
pub(in crate::store) mod outbox;
