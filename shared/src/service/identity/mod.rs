//! Logins: accounts, sessions, passwords, two-factor, email change, devices, erasure, merging.

pub mod accounts;
pub mod devices;
pub mod email_change;
pub mod erasure;
pub(in crate::service) mod landing;
pub mod merge;
pub mod passwords;
pub mod profile;
pub mod reminders;
pub(in crate::service) mod sessions;
pub(in crate::service) mod throttles;
pub mod two_factor;
