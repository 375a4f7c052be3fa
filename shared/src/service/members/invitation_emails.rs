//! Invitation emails: composed with the organization's template before the invitation is
//! written, so each is recorded in its invitation's transaction (or, for an import, moved
//! into the outbox from the chunk's record).

use crate::domain::{Email, EmailType, Language};
use crate::error::Result;
use crate::mail::queue::{EmailJob, InvitationRef};
use crate::service::Ctx;
use crate::service::notify::compose::{self, Recipient};
use crate::store::{InvitationRecord, OutboxMail};

/// An invitation's email before its template is read: the recipient and what to record on
/// the invitation once it went out.
pub(crate) struct InvitationEmail {
    recipient: Recipient,
    invitation: InvitationRef,
    /// The link's token, sealed when the email is recorded.
    token: String,
}

impl InvitationEmail {
    pub(crate) fn to(&self) -> &Email {
        &self.recipient.to
    }
}

/// The invitation's email, in `language` (the organization's effective default language).
pub(crate) fn invitation_email(ctx: &Ctx, language: Language, inv: &InvitationRecord, token: &str) -> InvitationEmail {
    let link = format!("{}/accept-invitation?token={token}", ctx.config.public_url);
    InvitationEmail {
        recipient: Recipient {
            to: inv.email.clone(),
            language: Some(language),
            first_name: String::new(),
            vars: compose::vars([
                ("inviter", inv.invited_by_name.clone().into()),
                ("link", link.into()),
                ("expires", inv.expires_at.format("%Y-%m-%d %H:%M UTC").to_string().into()),
            ]),
        },
        invitation: InvitationRef {
            org_id: inv.org_id.clone(),
            email: inv.email.clone(),
            token_hash: inv.token_hash.clone(),
        },
        token: token.to_owned(),
    }
}

/// Invitation emails of one organization, composed before the invitations are written so
/// each is recorded in its invitation's transaction; one template read for all.
pub(crate) struct InviteComposer(compose::Composer);

impl InviteComposer {
    pub(crate) async fn new(ctx: &Ctx, scope: &compose::Scope) -> Result<Self> {
        Ok(InviteComposer(compose::Composer::new(ctx, scope, EmailType::Invitation).await?))
    }

    /// The email of `inv`, whose link carries `token` (sealed in the record).
    pub(crate) fn mail(
        &self,
        ctx: &Ctx,
        language: Language,
        inv: &InvitationRecord,
        token: &str,
    ) -> Result<OutboxMail> {
        let p = invitation_email(ctx, language, inv, token);
        let job = EmailJob { invitation: Some(p.invitation), ..self.0.render(p.recipient)? }.with_secret(token);
        crate::service::notify::outbox::record(ctx, vec![job])?
            .pop()
            .ok_or_else(|| crate::error::Error::internal("an invitation email was not recorded"))
    }
}

/// The jobs for invitation emails of one organization: one template read for all.
pub(crate) async fn invitation_jobs(
    ctx: &Ctx,
    scope: &compose::Scope,
    pending: Vec<InvitationEmail>,
) -> Result<Vec<EmailJob>> {
    let composer = compose::Composer::new(ctx, scope, EmailType::Invitation).await?;
    // Invitations cannot be switched off, so every recipient has its email.
    pending
        .into_iter()
        .map(|p| Ok(EmailJob { invitation: Some(p.invitation), ..composer.render(p.recipient)? }.with_secret(&p.token)))
        .collect()
}
