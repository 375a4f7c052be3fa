//! Switchboard's common crate: everything the Lambda functions and the local server share.
//!
//! Layers, from the outside in: `api` (HTTP: parse → authorize → one service call → map),
//! `service` (business rules), `store` (DynamoDB) and `mail` (SES or outbox), with `domain`
//! value types and the one `Error` enum used throughout.

#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::unreachable))]
pub mod access;
pub mod api;
pub mod auth;
pub mod aws;
pub mod clock;
pub mod config;
pub mod dns;
pub mod domain;
pub mod error;
pub mod files;
pub mod import;
pub mod mail;
pub mod saml;
pub mod service;
pub mod sms;
pub mod store;
pub mod telemetry;

pub use error::{Error, Result};
