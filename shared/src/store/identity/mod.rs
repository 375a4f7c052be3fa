//! Logins: accounts, sessions, passwords, two-factor, email change, devices, erasure, merging.

pub(in crate::store) mod email_change;
pub(in crate::store) mod erasure;
pub(in crate::store) mod merge;
pub(in crate::store) mod merge_job;
pub(in crate::store) mod mobile;
pub(in crate::store) mod reminders;
pub(in crate::store) mod sessions;
pub(in crate::store) mod tokens;
pub(in crate::store) mod two_factor;
pub(in crate::store) mod users;
