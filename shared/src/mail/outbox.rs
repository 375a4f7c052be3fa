//! The embedded default's mailer: each message becomes an `.eml` file a person can open.

use std::path::PathBuf;

use super::{Mailer, OutgoingEmail, SendFuture};

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

impl Mailer for OutboxMailer {
    fn send<'a>(&'a self, msg: &'a OutgoingEmail, logo: Option<&'a [u8]>) -> SendFuture<'a> {
        Box::pin(async move {
            let now = chrono::Utc::now();
            let id = ulid::Ulid::new();
            let raw = super::mime::render(&self.from, msg, logo, &id.to_string(), now.timestamp())?;
            tokio::fs::create_dir_all(&self.dir)
                .await
                .map_err(|e| crate::error::Error::mail_from("writing an email file", e))?;
            let name = format!("{}-{id}.eml", now.format("%Y%m%dT%H%M%S%.6f"));
            let path = self.dir.join(name);
            tokio::fs::write(&path, raw)
                .await
                .map_err(|e| crate::error::Error::mail_from("writing an email file", e))?;
            tracing::info!(path = %path.display(), "email written to outbox");
            Ok(())
        })
    }
}
