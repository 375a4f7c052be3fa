//! Outgoing email: rendered from per-language templates, sent through SES in AWS or written
//! as `.eml` files into an outbox folder locally.

pub mod digest;
pub mod links;
pub mod mime;
mod outbox;
pub mod queue;
pub mod seal;
mod ses;
pub mod templates;

pub use outbox::OutboxMailer;
pub use ses::SesMailer;

use std::future::Future;
use std::pin::Pin;

use crate::domain::Email;
use crate::error::Result;

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct OutgoingEmail {
    pub to: Email,
    pub subject: String,
    pub text: String,
    pub html: String,
    /// The language it is written in (its `Content-Language`).
    #[serde(default)]
    pub language: crate::domain::Language,
    /// The organization's header logo, sent inline (`cid:logo`); the worker fetches its bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logo: Option<crate::domain::logo::LogoRef>,
    /// A one-click unsubscribe link (RFC 8058): sent as `List-Unsubscribe` with
    /// `List-Unsubscribe-Post`, so a mail client's button POSTs to it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unsubscribe: Option<String>,
}

pub type SendFuture<'a> = Pin<Box<dyn Future<Output = Result<()>> + Send + 'a>>;

/// What a message is sent under: its identity and its date.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    /// The local part of its `Message-ID`: the outbox item it was recorded as, so a message
    /// sent again after a crash between the send and its mark is the same message. Mail
    /// clients show one copy of a Message-ID; the local outbox keeps one file per id.
    pub id: String,
    /// Its `Date`, from the injected clock.
    pub date: chrono::DateTime<chrono::Utc>,
}

pub trait Mailer: Send + Sync + 'static {
    /// Send `msg` under `envelope`; `logo` holds the bytes of its logo, when it has one.
    fn send<'a>(&'a self, msg: &'a OutgoingEmail, logo: Option<&'a [u8]>, envelope: &'a Envelope) -> SendFuture<'a>;
}
