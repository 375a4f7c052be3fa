//! The embedded default's import queue: what SQS gives the worker function in AWS, kept on
//! disk. A job's message is written before its worker starts and removed only when the job is
//! over, so a process killed mid-import leaves it behind; the server delivers every message
//! left again at start and then periodically, and the job's lease decides who runs it (a dead
//! worker's lease runs out, as SQS's visibility timeout does, and the next delivery resumes
//! after the last checkpoint).

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use crate::error::Result;
use crate::service::Ctx;
use crate::service::members::imports::{JobMessage, RunOutcome, run_job};
use crate::store::JobStatus;

pub struct Spool {
    dir: PathBuf,
    /// Jobs with a worker in this process: a redelivery does not start a second one.
    running: Mutex<HashSet<String>>,
}

impl Spool {
    pub fn open(dir: PathBuf) -> Result<Arc<Spool>> {
        std::fs::create_dir_all(&dir)
            .map_err(|e| crate::error::Error::internal_from(format!("import spool {}", dir.display()), e))?;
        Ok(Arc::new(Spool { dir, running: Mutex::new(HashSet::new()) }))
    }

    fn path(&self, job_id: &str) -> PathBuf {
        self.dir.join(format!("{job_id}.json"))
    }

    /// Keep the message until its job is over (written whole, then renamed into place).
    pub(super) fn put(&self, msg: &JobMessage) -> Result<()> {
        if !is_plain(&msg.job_id) {
            return Err(crate::error::Error::internal(format!("unexpected import job id {:?}", msg.job_id)));
        }
        let body =
            serde_json::to_vec(msg).map_err(|e| crate::error::Error::internal_from("serializing an import job", e))?;
        let tmp = self.dir.join(format!(".{}.tmp", msg.job_id));
        std::fs::write(&tmp, body)
            .and_then(|()| std::fs::rename(&tmp, self.path(&msg.job_id)))
            .map_err(|e| crate::error::Error::internal_from("import spool", e))
    }

    /// The messages whose jobs are not over yet.
    pub fn pending(&self) -> Vec<JobMessage> {
        let Ok(entries) = std::fs::read_dir(&self.dir) else { return Vec::new() };
        entries
            .filter_map(|e| e.ok())
            .filter(|e| e.path().extension().is_some_and(|x| x == "json"))
            .filter_map(|e| std::fs::read(e.path()).ok())
            .filter_map(|b| serde_json::from_slice(&b).ok())
            .collect()
    }

    /// Start a worker for `msg` unless one of this process runs it already.
    pub(super) fn deliver(self: &Arc<Self>, ctx: &Arc<Ctx>, msg: JobMessage) {
        let fresh = self.running.lock().map(|mut r| r.insert(msg.job_id.clone())).unwrap_or(false);
        if !fresh {
            return;
        }
        let (spool, ctx) = (self.clone(), ctx.clone());
        // In AWS the import worker runs it; attributed to it for the IAM check.
        tokio::spawn(crate::aws::as_function("import-worker", async move {
            let over = match run_job(&ctx, &msg.org_id, &msg.job_id, None).await {
                Ok(RunOutcome::Finished) => true,
                Ok(RunOutcome::Paused) => false,
                // Held by a worker whose lease has not run out yet, or over already.
                Ok(RunOutcome::NotMine) => match ctx.store.get_import_job(&msg.org_id, &msg.job_id).await {
                    Ok(Some(job)) => matches!(job.status, JobStatus::Done | JobStatus::Failed),
                    Ok(None) => true,
                    Err(_) => false,
                },
                Err(e) => {
                    tracing::warn!(error = %e, job = %msg.job_id, "import run failed; delivered again later");
                    false
                }
            };
            if over && let Err(e) = std::fs::remove_file(spool.path(&msg.job_id)) {
                tracing::warn!(error = %e, job = %msg.job_id, "import message not removed");
            }
            if let Ok(mut r) = spool.running.lock() {
                r.remove(&msg.job_id);
            }
        }));
    }

    /// Deliver every message left (at start, and then periodically).
    pub fn redeliver(self: &Arc<Self>, ctx: &Arc<Ctx>) -> usize {
        let pending = self.pending();
        let n = pending.len();
        for msg in pending {
            self.deliver(ctx, msg);
        }
        n
    }
}

/// A job id as this service makes them (a ULID): safe as a file name.
fn is_plain(id: &str) -> bool {
    !id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}
