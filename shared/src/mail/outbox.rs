//! The embedded default's mailer: each message becomes an `.eml` file a person can open.

use std::path::PathBuf;

use super::{Mailer, OutgoingEmail, SendFuture};
use crate::error::Error;

#[derive(Debug, Clone)]
pub struct OutboxMailer {
    dir: PathBuf,
    from: String,
}

impl OutboxMailer {
    pub fn new(dir: PathBuf, from: &str) -> Self {
        OutboxMailer { dir, from: from.to_owned() }
    }

    pub fn dir(&self) -> &std::path::Path {
        &self.dir
    }
}

const BOUNDARY: &str = "switchboard-alternative";

pub fn to_eml(from: &str, m: &OutgoingEmail, date: chrono::DateTime<chrono::Utc>) -> String {
    format!(
        "From: {from}\r\nTo: {to}\r\nSubject: {subject}\r\nDate: {date}\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/alternative; boundary=\"{BOUNDARY}\"\r\n\r\n\
         --{BOUNDARY}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{text}\r\n\
         --{BOUNDARY}\r\nContent-Type: text/html; charset=utf-8\r\n\r\n{html}\r\n--{BOUNDARY}--\r\n",
        to = m.to,
        subject = m.subject,
        date = date.to_rfc2822(),
        text = m.text,
        html = m.html,
    )
}

impl Mailer for OutboxMailer {
    fn send<'a>(&'a self, msg: &'a OutgoingEmail) -> SendFuture<'a> {
        Box::pin(async move {
            let now = chrono::Utc::now();
            tokio::fs::create_dir_all(&self.dir).await.map_err(|e| Error::Mail(e.to_string()))?;
            let name = format!("{}-{}.eml", now.format("%Y%m%dT%H%M%S%.6f"), ulid::Ulid::new());
            let path = self.dir.join(name);
            tokio::fs::write(&path, to_eml(&self.from, msg, now)).await.map_err(|e| Error::Mail(e.to_string()))?;
            tracing::info!(path = %path.display(), "email written to outbox");
            Ok(())
        })
    }
}
