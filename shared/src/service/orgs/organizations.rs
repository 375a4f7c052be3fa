//! Organizations and sub-accounts: create, read, rename, suspend, the tree, the activity feed,
//! and switching the organization a session works in.

use serde::Serialize;

use crate::access::{
    Access, CreateSubAccount, ManageSubAccount, Permission, Permit, ReadActivity, ReadOrg, Standing, UpdateOrg,
};
use crate::domain::{LoginDomain, OrgId, OrgName, Role, SessionId, UserId};
use crate::error::{Error, Result};
use crate::service::identity::accounts::OrgView;
use crate::service::{Authenticated, Ctx, activity_record, permit_activity};
use crate::store::{
    ActivityRecord, Cursor, MAX_DEPTH, MembershipRecord, OrgChange, OrgRecord, OrgStatus, Page, Plan, SeatsRecord,
};

/// The user's access to an organization: the organization, then the user's memberships along
/// its path with the ancestors' records, two round trips whatever the depth. An unknown
/// organization is refused exactly like a foreign one, so ids cannot be probed.
/// `session` is the asking session (`None` for one being opened).
pub async fn access_to(ctx: &Ctx, user: &UserId, org_id: &OrgId, session: Option<&SessionId>) -> Result<Access> {
    let org = ctx.store.get_org(org_id).await?.ok_or(Error::Forbidden)?;
    let lineage = ctx.store.lineage(user, &org).await?;
    if let Some(lock) = lineage.lock {
        return Err(crate::service::identity::merge::locked(&lock));
    }
    let standing = Standing::of(&org, &lineage.ancestors, session);
    let mut access = Access::compute(user, &org, &lineage.memberships, standing);
    if access.can_enter() {
        access.ancestors = lineage.ancestors;
        return Ok(access);
    }
    // Its own people are told why; anyone else learns nothing about it.
    let unsuspended = Standing { suspended: None, closed: false, ..standing };
    if standing.suspended.is_some() && Access::compute(user, &org, &lineage.memberships, unsuspended).can_enter() {
        Err(if standing.closed { Error::OrgClosed } else { Error::OrgSuspended })
    } else {
        Err(Error::Forbidden)
    }
}

/// The owner's membership, carrying their address and name for the members page.
async fn described_owner(ctx: &Ctx, user: &UserId, org: &OrgRecord) -> Result<MembershipRecord> {
    let profile = ctx.store.get_user(user).await?.ok_or(Error::Unauthenticated)?;
    Ok(owner_of(ctx, &profile, org))
}

fn owner_of(ctx: &Ctx, profile: &crate::store::UserRecord, org: &OrgRecord) -> MembershipRecord {
    MembershipRecord::owner(&profile.user_id, org, ctx.now()).described_login(profile, &profile.display_name())
}

/// Create a top-level organization owned by the caller, on a trial plan; it starts with its
/// own members, settings and billing. Its language is the one given, else the creator's.
pub async fn create_org(
    ctx: &Ctx,
    auth: &Authenticated,
    name: OrgName,
    language: Option<crate::domain::Language>,
) -> Result<OrgView> {
    let profile = ctx.store.get_user(&auth.user_id).await?.ok_or(Error::Unauthenticated)?;
    let now = ctx.now();
    let id = OrgId::new(ctx.ulid());
    let org = OrgRecord {
        org_id: id.clone(),
        name: name.as_str().to_owned(),
        parent_id: None,
        root_id: id.clone(),
        ancestors: Vec::new(),
        depth: 0,
        plan: Plan::Trial,
        trial_ends_at: Some(now + chrono::Duration::days(ctx.config.trial_days)),
        status: OrgStatus::Active,
        owner_id: auth.user_id.clone(),
        created_at: now,
        version: 1,
        language: language.unwrap_or(profile.language),
        login_domain: None,
        closure: None,
        company: Default::default(),
    };
    let owner = owner_of(ctx, &profile, &org);
    let act = activity_record(ctx, &id, &auth.user_id, None, "organization.created", Some(id.to_string()));
    ctx.store.create_org(&org, &owner, &SeatsRecord::new(ctx.config.included_seats), &act).await?;
    Ok(OrgView::from(&org))
}

/// Create a sub-account beneath the permitted organization. Its owner is the creator unless
/// another member who can enter the parent is named.
pub async fn create_sub_account(
    ctx: &Ctx,
    permit: &Permit<CreateSubAccount>,
    name: OrgName,
    owner: Option<UserId>,
) -> Result<OrgView> {
    let parent = &permit.org;
    if parent.depth >= MAX_DEPTH {
        return Err(Error::validation(
            "depth_exceeded",
            "org_id",
            format!("sub-accounts nest at most {} levels deep", MAX_DEPTH + 1),
        ));
    }
    if parent.status != OrgStatus::Active {
        return Err(Error::OrgSuspended);
    }
    let owner_id = match owner {
        Some(u) if u != permit.user_id => {
            match access_to(ctx, &u, &parent.org_id, None).await {
                Ok(_) => {}
                Err(Error::Forbidden | Error::OrgSuspended) => {
                    return Err(Error::validation(
                        "not_a_member",
                        "owner_id",
                        "is not a member of the parent organization",
                    ));
                }
                Err(e) => return Err(e),
            }
            u
        }
        _ => permit.user_id.clone(),
    };
    let now = ctx.now();
    let id = OrgId::new(ctx.ulid());
    let mut ancestors = parent.ancestors.clone();
    ancestors.push(parent.org_id.clone());
    let org = OrgRecord {
        org_id: id.clone(),
        name: name.as_str().to_owned(),
        parent_id: Some(parent.org_id.clone()),
        root_id: parent.root_id.clone(),
        ancestors,
        depth: parent.depth + 1,
        plan: parent.plan,
        trial_ends_at: parent.trial_ends_at,
        status: OrgStatus::Active,
        owner_id: owner_id.clone(),
        created_at: now,
        version: 1,
        language: parent.language,
        login_domain: None,
        closure: None,
        company: Default::default(),
    };
    let membership = described_owner(ctx, &owner_id, &org).await?;
    let act = activity_record(
        ctx,
        &id,
        &permit.user_id,
        permit.real_user_id.as_ref(),
        "subaccount.created",
        Some(id.to_string()),
    );
    ctx.store.create_org(&org, &membership, &SeatsRecord::new(ctx.config.included_seats), &act).await?;
    Ok(OrgView::from(&org))
}

pub async fn rename(ctx: &Ctx, permit: &Permit<UpdateOrg>, name: OrgName, expected_version: u64) -> Result<OrgView> {
    let act = permit_activity(ctx, permit, "organization.renamed", Some(name.as_str().to_owned()));
    ctx.store.change_org(&permit.org, expected_version, &OrgChange::Rename(name.as_str().to_owned()), &act).await?;
    let mut org = permit.org.clone();
    org.name = name.as_str().to_owned();
    org.version = expected_version + 1;
    Ok(OrgView::from(&org))
}

/// Set, change or clear the organization's login domain (unique among all organizations).
/// Username logins are stored under the organization, not the domain's name, so they keep
/// working when it changes; with the domain cleared they cannot log in until one is set again.
pub async fn set_login_domain(
    ctx: &Ctx,
    permit: &Permit<UpdateOrg>,
    domain: Option<LoginDomain>,
    expected_version: u64,
) -> Result<OrgView> {
    let action = if domain.is_some() { "organization.login_domain_set" } else { "organization.login_domain_cleared" };
    let act = permit_activity(ctx, permit, action, domain.as_ref().map(|d| d.as_str().to_owned()));
    ctx.store.set_login_domain(&permit.org, expected_version, domain.as_ref(), &act).await?;
    let mut org = permit.org.clone();
    org.login_domain = domain;
    org.version = expected_version + 1;
    Ok(OrgView::from(&org))
}

/// Suspend or reactivate a sub-account (an action of an ancestor's admin).
pub async fn set_status(ctx: &Ctx, permit: &Permit<ManageSubAccount>, status: OrgStatus) -> Result<OrgView> {
    let org = &permit.org;
    if org.status == OrgStatus::Closed {
        return Err(Error::OrgClosed);
    }
    if org.status == status {
        return Ok(OrgView::from(org));
    }
    let action = match status {
        OrgStatus::Suspended => "subaccount.suspended",
        OrgStatus::Active => "subaccount.reactivated",
        OrgStatus::Closed => return Err(crate::error::Error::internal("closing is its own operation")),
    };
    let act = permit_activity(ctx, permit, action, Some(org.org_id.to_string()));
    ctx.store.change_org(org, org.version, &OrgChange::Status(status), &act).await?;
    let mut org = org.clone();
    org.status = status;
    org.version += 1;
    Ok(OrgView::from(&org))
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct OrgPage {
    pub organizations: Vec<OrgView>,
    pub next_cursor: Option<String>,
}

fn org_page(p: Page<OrgRecord>) -> OrgPage {
    OrgPage {
        organizations: p.items.iter().map(OrgView::from).collect(),
        next_cursor: p.next.map(|c| c.as_str().into()),
    }
}

pub async fn children(ctx: &Ctx, permit: &Permit<ReadOrg>, limit: i32, cursor: Option<&Cursor>) -> Result<OrgPage> {
    Ok(org_page(ctx.store.children(&permit.org.org_id, limit, cursor).await?))
}

/// The organization and all its descendants, in tree order.
pub async fn subtree(ctx: &Ctx, permit: &Permit<ReadOrg>, limit: i32, cursor: Option<&Cursor>) -> Result<OrgPage> {
    let org = &permit.org;
    Ok(org_page(ctx.store.subtree(&org.root_id, &org.tree_path(), limit, cursor).await?))
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ActivityPage {
    pub activity: Vec<ActivityRecord>,
    pub next_cursor: Option<String>,
}

/// Newest first: the organization's own activity and, unless `own_only`, its descendants'.
pub async fn activity_feed(
    ctx: &Ctx,
    permit: &Permit<ReadActivity>,
    own_only: bool,
    limit: i32,
    cursor: Option<&Cursor>,
) -> Result<ActivityPage> {
    let page = ctx.store.activity_feed(&permit.org.org_id, limit, cursor).await?;
    let mut activity: Vec<ActivityRecord> =
        page.items.into_iter().filter(|a| !own_only || a.org_id == permit.org.org_id).collect();
    crate::service::attribution::attribute(ctx, &mut activity).await?;
    Ok(ActivityPage { activity, next_cursor: page.next.map(|c| c.as_str().into()) })
}

/// What a user sees of one organization.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct OrgDetails {
    pub organization: OrgView,
    pub roles: Vec<Role>,
    pub permissions: Vec<Permission>,
    /// Only the parent's name: a member of a sub-account sees nothing else above it.
    pub parent_name: Option<String>,
    /// True when access comes only from a membership in an ancestor.
    pub inherited: bool,
}

pub async fn details(ctx: &Ctx, access: &Access, _proof: &Permit<ReadOrg>) -> Result<OrgDetails> {
    let parent_name = match &access.org.parent_id {
        Some(p) => ctx.store.get_org(p).await?.map(|o| o.name),
        None => None,
    };
    Ok(OrgDetails {
        organization: OrgView::from(&access.org),
        roles: access.roles.iter().copied().collect(),
        permissions: access.permissions.iter().copied().collect(),
        parent_name,
        inherited: access.inherited_only,
    })
}
