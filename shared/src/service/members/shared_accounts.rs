//! Shared (service) accounts: a member marked as shared can be acted as by the people linked
//! to it, who switch into it without its password; activity records both.

use serde::Serialize;

use crate::access::{ManageMembers, Permit};
use crate::domain::{OrgId, UserId};
use crate::error::{Error, Result};
use crate::service::{Authenticated, Ctx, permit_activity};
use crate::store::{MemberStatus, MembershipRecord, SharedLinkRecord};

/// The link exists and the shared account is still a shared, active member.
pub async fn check_link(ctx: &Ctx, person: &UserId, org: &OrgId, shared: &UserId) -> Result<()> {
    ctx.store.get_shared_link(person, org, shared).await?.ok_or(Error::Forbidden)?;
    Ok(())
}

async fn shared_member(ctx: &Ctx, org: &OrgId, user: &UserId) -> Result<MembershipRecord> {
    let m = ctx.store.get_membership(user, org).await?.ok_or(Error::NotFound("member"))?;
    if !m.shared || m.status != MemberStatus::Active {
        return Err(Error::validation("not_shared", "user_id", "is not an active shared account"));
    }
    Ok(m)
}

/// Mark a member as a shared account, or back to a personal one (which removes every link).
pub async fn set_shared(ctx: &Ctx, permit: &Permit<ManageMembers>, user: &UserId, shared: bool) -> Result<()> {
    let before = ctx.store.get_membership(user, &permit.org.org_id).await?.ok_or(Error::NotFound("member"))?;
    if before.is_owner() {
        return Err(Error::OwnerProtected);
    }
    crate::service::members::grants::check_member(ctx, permit, &before).await?;
    if before.shared == shared {
        return Ok(());
    }
    let after = MembershipRecord { shared, ..before.clone() };
    let action = if shared { "member.marked_shared" } else { "member.unmarked_shared" };
    let act = permit_activity(ctx, permit, action, Some(user.to_string()));
    let lineage = permit.org.lineage_ids();
    ctx.store.update_membership(&before, &after, None, &lineage, &act).await?;
    if !shared {
        let links = ctx.store.links_of_shared(&permit.org.org_id, user).await?;
        ctx.store.delete_shared_links(&links).await?;
    }
    Ok(())
}

/// Let `person` (who can enter the organization) act as the shared account `shared`.
pub async fn link(
    ctx: &Ctx,
    permit: &Permit<ManageMembers>,
    shared: &UserId,
    person: &UserId,
) -> Result<SharedLinkRecord> {
    let m = shared_member(ctx, &permit.org.org_id, shared).await?;
    if person == shared {
        return Err(Error::validation("invalid_link", "user_id", "a shared account is not linked to itself"));
    }
    match crate::service::access_to(ctx, person, &permit.org.org_id, None).await {
        Ok(_) => {}
        Err(Error::Forbidden | Error::OrgSuspended) => {
            return Err(Error::validation("not_a_member", "user_id", "is not a member of this organization"));
        }
        Err(e) => return Err(e),
    }
    // Acting as the shared account is holding its rights: the linker must hold them too.
    crate::service::members::grants::check_member(ctx, permit, &m).await?;
    let link = SharedLinkRecord {
        org_id: permit.org.org_id.clone(),
        shared_user_id: shared.clone(),
        shared_name: m.member_name.clone().unwrap_or_default(),
        linked_user_id: person.clone(),
        linked_at: ctx.now(),
    };
    ctx.store.put_shared_link(&link).await?;
    Ok(link)
}

/// Remove a link; a session acting through it is refused from its next request.
pub async fn unlink(ctx: &Ctx, permit: &Permit<ManageMembers>, shared: &UserId, person: &UserId) -> Result<()> {
    let link = ctx.store.get_shared_link(person, &permit.org.org_id, shared).await?.ok_or(Error::NotFound("link"))?;
    ctx.store.delete_shared_links(std::slice::from_ref(&link)).await
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Links {
    pub links: Vec<SharedLinkRecord>,
}

pub async fn links(ctx: &Ctx, permit: &Permit<ManageMembers>, shared: &UserId) -> Result<Links> {
    Ok(Links { links: ctx.store.links_of_shared(&permit.org.org_id, shared).await? })
}

/// The shared accounts the signed-in person can switch into.
pub async fn mine(ctx: &Ctx, auth: &Authenticated) -> Result<Links> {
    Ok(Links { links: ctx.store.links_of_person(&auth.user_id).await? })
}
