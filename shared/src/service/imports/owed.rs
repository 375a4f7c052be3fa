//! The emails an import owes: recorded with a chunk's checkpoint (`ImportMailRecord`), queued
//! right after it, and sent by the job's next run when that did not happen.

use std::sync::Arc;

use super::worker::LEASE_SECS;
use crate::domain::OrgId;
use crate::error::{Error, Result};
use crate::service::Ctx;
use crate::service::invitations::InvitationEmail;
use crate::store::ImportMailRecord;

/// Queue a chunk's emails and forget the record of them; on failure the record stays for the
/// next run of the job.
pub(super) async fn queue_owed(
    ctx: &Ctx,
    scope: &crate::service::emails::Scope,
    owed: &ImportMailRecord,
    emails: Vec<InvitationEmail>,
) {
    let queued = async {
        let jobs = crate::service::invitations::invitation_jobs(ctx, scope, emails).await?;
        ctx.queue.enqueue(jobs).await?;
        ctx.store.sent_import_mail(&owed.job_id, owed.first_row).await
    };
    if let Err(e) = queued.await {
        tracing::warn!(error = %e, job = %owed.job_id, "import invitation emails left for the next run");
    }
}

/// Send what earlier runs of the job owe: each pending invitation gets a fresh token (the
/// mail worker drops an email whose token was replaced), so a link is never sent twice.
pub(super) async fn send_owed(ctx: &Arc<Ctx>, org_id: &OrgId, job_id: &str) -> Result<()> {
    let owed = ctx.store.unsent_import_mail(job_id).await?;
    if owed.is_empty() {
        return Ok(());
    }
    let org = ctx.store.get_org(org_id).await?.ok_or(Error::NotFound("organization"))?;
    let scope = crate::service::emails::Scope::resolve(ctx, &org).await?;
    let settings = crate::service::settings::effective(&org, &scope.ancestors);
    for record in owed {
        let now = ctx.now().timestamp();
        if !ctx.store.claim_import_mail(&record, now, now + LEASE_SECS).await? {
            continue;
        }
        let mut emails = Vec::with_capacity(record.emails.len());
        for email in &record.emails {
            if let Some(inv) = ctx.store.get_invitation(org_id, email).await? {
                emails.push(crate::service::invitations::reissue(ctx, settings.language(), &inv, None).await?);
            }
        }
        queue_owed(ctx, &scope, &record, emails).await;
    }
    Ok(())
}
