//! What a parent shares: contact groups and message templates.

pub mod contact_groups;
pub mod message_templates;
