//! Logins: accounts, sessions, passwords, two-factor, email change, devices, erasure, merging.

pub mod auth;
pub mod email_change;
pub mod erasure;
pub mod jwks;
pub mod me;
pub mod passwords;
pub mod profile;
pub mod two_factor;
