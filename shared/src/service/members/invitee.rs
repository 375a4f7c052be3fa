//! The invited person's side: what an invitation link shows before accepting, and the
//! invitations waiting for a signed-in person's address, accepted or declined from the app.

use serde::Serialize;

use crate::access::Scope;
use crate::domain::{Email, OrgId, Role};
use crate::error::{Error, Result};
use crate::service::members::invitations::{Accepted, join, pending_by_token};
use crate::service::{Authenticated, Ctx, activity_record};
use crate::store::{InvitationRecord, UserRecord};

/// What the holder of an invitation link sees before accepting.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct InvitationPreview {
    pub organization_id: OrgId,
    pub organization_name: String,
    pub email: String,
    pub roles: Vec<Role>,
    pub invited_by_name: String,
    pub expires_at: chrono::DateTime<chrono::Utc>,
    /// The address already has a login: sign in and accept, instead of choosing a password.
    pub login_exists: bool,
}

/// Only the token's holder learns this, and only while the invitation is valid.
pub async fn preview(ctx: &Ctx, token: &str) -> Result<InvitationPreview> {
    let (inv, org) = pending_by_token(ctx, token).await?;
    let login_exists = ctx.store.login_lookup(inv.email.as_str(), &[]).await?.credential.is_some();
    Ok(InvitationPreview {
        organization_id: org.org_id,
        organization_name: org.name,
        email: inv.email.to_string(),
        roles: inv.roles,
        invited_by_name: inv.invited_by_name,
        expires_at: inv.expires_at,
        login_exists,
    })
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct MyInvitation {
    pub organization_id: OrgId,
    pub organization_name: String,
    pub roles: Vec<Role>,
    pub scope: Scope,
    pub invited_by_name: String,
    pub sent_at: chrono::DateTime<chrono::Utc>,
    pub expires_at: chrono::DateTime<chrono::Utc>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct MyInvitations {
    pub invitations: Vec<MyInvitation>,
}

/// The caller's verified address: invitations go to addresses, so only a proven one may see
/// and take them without the emailed link.
async fn verified_address(ctx: &Ctx, auth: &Authenticated) -> Result<(UserRecord, Email)> {
    let user = ctx.store.get_user(&auth.user_id).await?.ok_or(Error::Unauthenticated)?;
    match (&user.email, user.email_verified) {
        (Some(e), true) => {
            let e = e.clone();
            Ok((user, e))
        }
        (None, _) => Err(Error::NoEmail),
        (Some(_), false) => Err(Error::EmailUnverified),
    }
}

/// Invitations waiting for the signed-in person's address, in every organization.
pub async fn mine(ctx: &Ctx, auth: &Authenticated) -> Result<MyInvitations> {
    let (_, email) = verified_address(ctx, auth).await?;
    let now = ctx.now();
    let pending: Vec<InvitationRecord> =
        ctx.store.invitations_to(&email).await?.into_iter().filter(|i| i.expires_at > now).collect();
    let ids: Vec<OrgId> = pending.iter().map(|i| i.org_id.clone()).collect();
    let orgs = if ids.is_empty() { Vec::new() } else { ctx.store.get_orgs(&ids).await? };
    let invitations = pending
        .into_iter()
        .filter_map(|i| {
            let org = orgs.iter().find(|o| o.org_id == i.org_id)?;
            Some(MyInvitation {
                organization_id: i.org_id,
                organization_name: org.name.clone(),
                roles: i.roles,
                scope: i.scope,
                invited_by_name: i.invited_by_name,
                sent_at: i.sent_at,
                expires_at: i.expires_at,
            })
        })
        .collect();
    Ok(MyInvitations { invitations })
}

async fn mine_in(ctx: &Ctx, email: &Email, org: &OrgId) -> Result<InvitationRecord> {
    let inv = ctx.store.get_invitation(org, email).await?.ok_or(Error::NotFound("invitation"))?;
    if inv.expires_at <= ctx.now() {
        return Err(Error::NotFound("invitation"));
    }
    Ok(inv)
}

/// Accept an invitation to the caller's verified address, without the emailed link.
pub async fn accept(ctx: &Ctx, auth: &Authenticated, org: &OrgId) -> Result<Accepted> {
    let (user, email) = verified_address(ctx, auth).await?;
    let inv = mine_in(ctx, &email, org).await?;
    let org = ctx.store.get_org(org).await?.ok_or(Error::NotFound("invitation"))?;
    join(ctx, inv, org, &user).await
}

/// Decline it: the invitation is gone, its seat free again, the inviter's feed says so.
pub async fn decline(ctx: &Ctx, auth: &Authenticated, org_id: &OrgId) -> Result<()> {
    let (user, email) = verified_address(ctx, auth).await?;
    let inv = mine_in(ctx, &email, org_id).await?;
    let org = ctx.store.get_org(org_id).await?.ok_or(Error::NotFound("invitation"))?;
    let act = activity_record(ctx, org_id, &user.user_id, None, "invitation.declined", Some(email.to_string()));
    ctx.store.revoke_invitation(&inv, &org.lineage_ids(), &act).await
}
