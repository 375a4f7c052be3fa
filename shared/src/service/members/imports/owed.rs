//! The emails an import owes: recorded with a chunk's checkpoint (`ImportMailRecord`), moved
//! into the email outbox right after it, and by the job's next run when that did not happen.

use std::sync::Arc;

use crate::domain::{Email, OrgId};
use crate::error::{Error, Result};
use crate::service::Ctx;
use crate::service::members::invitations::InvitationEmail;
use crate::store::{ImportMailRecord, OutboxMail};

/// Emails moved from the record into the outbox per transaction (a transaction holds at most
/// 100 items; the record's own update is one).
const MOVE_STEP: usize = 50;

/// Record a chunk's emails in the outbox, moving them out of the chunk's record step by step,
/// and hand them on; on failure what is left of the record stays for the next run.
pub(super) async fn queue_owed(
    ctx: &Ctx,
    scope: &crate::service::notify::compose::Scope,
    owed: &ImportMailRecord,
    emails: Vec<InvitationEmail>,
) {
    let moved = async {
        let jobs = crate::service::members::invitations::invitation_jobs(ctx, scope, emails).await?;
        let mails = crate::service::notify::outbox::record(ctx, jobs)?;
        if mails.is_empty() {
            return ctx.store.sent_import_mail(&owed.job_id, owed.first_row).await;
        }
        let steps: Vec<&[OutboxMail]> = mails.chunks(MOVE_STEP).collect();
        for (i, step) in steps.iter().enumerate() {
            let mut remaining: Vec<Email> = Vec::new();
            for m in steps[i + 1..].iter().flat_map(|s| s.iter()) {
                remaining.extend(crate::service::notify::outbox::job_of(m)?.invitation.map(|r| r.email));
            }
            ctx.store.move_import_mail(&owed.job_id, owed.first_row, step, &remaining).await?;
            crate::service::notify::outbox::handed_on(ctx, step.to_vec()).await;
        }
        Ok::<(), Error>(())
    };
    if let Err(e) = moved.await {
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
    let scope = crate::service::notify::compose::Scope::resolve(ctx, &org).await?;
    let settings = crate::service::orgs::settings::effective(&org, &scope.ancestors);
    for record in owed {
        let now = ctx.now().timestamp();
        if !ctx.store.claim_import_mail(&record, now, now + ctx.config.import_lease_secs).await? {
            continue;
        }
        let mut emails = Vec::with_capacity(record.emails.len());
        for email in &record.emails {
            if let Some(inv) = ctx.store.get_invitation(org_id, email).await? {
                emails.push(
                    crate::service::members::invitations::reissue(ctx, settings.language(), &inv, None, None).await?.0,
                );
            }
        }
        queue_owed(ctx, &scope, &record, emails).await;
    }
    Ok(())
}
