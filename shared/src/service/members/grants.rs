//! The rule every grant obeys: nobody grants, widens or holds more than they have. Used by
//! invitations, imports, member edits, shared-account links and every action on a member.

use crate::access::{Grant, Manage, Permit, is_admin};
use crate::domain::OrgId;
use crate::error::{Error, Result};
use crate::store::{MembershipRecord, OrgRecord};

use crate::service::Ctx;

/// Most sub-accounts one `manage.only` list may name.
pub const MAX_CHOSEN: usize = 50;

/// The records of the sub-accounts a grant's `manage.only` names; each must lie beneath the
/// permitted organization (an unknown id is refused exactly like a foreign one).
async fn chosen<P>(ctx: &Ctx, permit: &Permit<P>, ids: &[OrgId], field: &str) -> Result<Vec<OrgRecord>> {
    if ids.is_empty() {
        return Err(Error::validation("invalid_manage", field, "name at least one sub-account, or use none"));
    }
    if ids.len() > MAX_CHOSEN {
        return Err(Error::validation("invalid_manage", field, format!("at most {MAX_CHOSEN} sub-accounts")));
    }
    let orgs = ctx.store.get_orgs(ids).await?;
    for id in ids {
        if !orgs.iter().any(|o| &o.org_id == id && o.has_ancestor(&permit.org.org_id)) {
            return Err(Error::validation(
                "invalid_manage",
                field,
                format!("{id} is not a sub-account of this organization"),
            ));
        }
    }
    Ok(orgs)
}

/// Refuse a grant whose `manage` does not fit, or that hands on more than the permit's holder
/// holds. `field` names the input's `manage` for validation errors.
pub(crate) async fn check_grant<P>(ctx: &Ctx, permit: &Permit<P>, grant: Grant<'_>, field: &str) -> Result<()> {
    if *grant.manage != Manage::All && !is_admin(grant.roles) {
        return Err(Error::validation("invalid_manage", field, "change rights apply to admins only"));
    }
    let chosen = match grant.manage {
        Manage::Only(ids) => chosen(ctx, permit, ids, field).await?,
        _ => Vec::new(),
    };
    if permit.grantor.covers(&grant, &chosen) { Ok(()) } else { Err(Error::GrantExceedsRights) }
}

/// Refuse acting on a member who holds rights the permit's holder does not (a restricted
/// admin cannot demote, deactivate or remove an unrestricted one).
pub(crate) async fn check_member<P>(ctx: &Ctx, permit: &Permit<P>, m: &MembershipRecord) -> Result<()> {
    let grant = Grant::of(m);
    let chosen = if grant.chosen().is_empty() { Vec::new() } else { ctx.store.get_orgs(grant.chosen()).await? };
    if permit.grantor.covers(&grant, &chosen) { Ok(()) } else { Err(Error::GrantExceedsRights) }
}

/// Nobody changes their own roles, reach or change rights: they are granted by someone else.
pub(crate) fn check_not_self<P>(permit: &Permit<P>, m: &MembershipRecord) -> Result<()> {
    let me = std::iter::once(&permit.user_id).chain(permit.real_user_id.as_ref());
    if me.into_iter().any(|u| *u == m.user_id) { Err(Error::OwnAccess) } else { Ok(()) }
}
