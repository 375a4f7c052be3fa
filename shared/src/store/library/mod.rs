//! What a parent shares: contact groups and message templates.

pub(in crate::store) mod contacts;
pub(in crate::store) mod message_templates;
