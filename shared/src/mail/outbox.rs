//! The embedded default's mailer: each message becomes an `.eml` file a person can open.

use std::path::PathBuf;

use super::{Envelope, Mailer, OutgoingEmail, SendFuture};
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

impl Mailer for OutboxMailer {
    fn send<'a>(&'a self, msg: &'a OutgoingEmail, logo: Option<&'a [u8]>, envelope: &'a Envelope) -> SendFuture<'a> {
        Box::pin(async move {
            let raw = super::mime::render(&self.from, msg, logo, &envelope.id, envelope.date.timestamp())?;
            let failed = |e| Error::mail_from("writing an email file", e);
            tokio::fs::create_dir_all(&self.dir).await.map_err(failed)?;
            // Written aside, then renamed into place: a reader never sees half a message, and
            // the same message sent again (a crash came between the send and its mark)
            // replaces its file rather than adding a second.
            // Outbox ids are ULIDs: the files sort in the order the emails were recorded.
            let path = self.dir.join(format!("{}.eml", envelope.id));
            let partial = self.dir.join(format!(".{}.part", envelope.id));
            tokio::fs::write(&partial, raw).await.map_err(failed)?;
            tokio::fs::rename(&partial, &path).await.map_err(failed)?;
            tracing::info!(path = %path.display(), "email written to outbox");
            Ok(())
        })
    }
}
