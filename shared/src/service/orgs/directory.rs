//! Finding one's company and joining it by a verified address: by the domain of one's
//! address or by name and alias, answering public data only and rate limited; joining
//! automatically or on an admin's approval, taking a seat like an invitation.

use crate::domain::notification::NotificationKind;
use serde::Serialize;

use crate::access::{ManageMembers, Permit, Scope};
use crate::domain::settings::{JoinMode, JoinRole};
use crate::domain::{Email, OrgId, UserId, fold_for_search};
use crate::error::{Error, Result};
use crate::service::{Authenticated, Ctx, activity_record, permit_activity};
use crate::store::{DomainKind, JoinRequestRecord, MembershipRecord, OrgRecord, OrgStatus, UserRecord};

/// Most organizations one search answers.
pub const MAX_RESULTS: usize = 10;
/// Shortest name prefix searched (folded characters).
pub const MIN_PREFIX: usize = 3;
const JOIN_REQUEST_DAYS: i64 = 30;

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct FoundOrg {
    pub organization_id: OrgId,
    pub name: String,
    /// The alias that matched, when it was not the name.
    pub matched_alias: Option<String>,
    /// The organization's logo, once it has one.
    pub logo_url: Option<String>,
    /// Whether the caller's verified address is on one of its verified domains.
    pub domain_match: bool,
    /// `request` (an admin approves) or `automatic`.
    pub join_mode: JoinMode,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct FoundPage {
    pub organizations: Vec<FoundOrg>,
}

/// The person asking and their address: a verified one is required, it is what a join is
/// judged on.
async fn verified_person(ctx: &Ctx, auth: &Authenticated) -> Result<(UserRecord, Email)> {
    let user = ctx.store.get_user(&auth.user_id).await?.ok_or(Error::Unauthenticated)?;
    let email = user.email.clone().ok_or(Error::NoEmail)?;
    if !user.email_verified {
        return Err(Error::EmailUnverified);
    }
    Ok((user, email))
}

fn join_mode(org: &OrgRecord) -> JoinMode {
    // Only top-level organizations are found, so their own setting is the effective one.
    org.company.settings.join_mode.unwrap_or(JoinMode::Off)
}

/// Organizations the caller may ask to join: the owner of their address's domain, and those
/// whose name or an alias starts with `name` (≥ 3 letters or digits). Only active top-level
/// organizations that accept joins are answered, with public data only.
pub async fn find(ctx: &Ctx, auth: &Authenticated, client_addr: &str, name: Option<&str>) -> Result<FoundPage> {
    crate::service::notify::email_requests::limit_hourly(
        ctx,
        &format!("directory|{client_addr}"),
        ctx.config.directory_searches_per_client_hour,
    )
    .await?;
    let (_, email) = verified_person(ctx, auth).await?;
    let domain = crate::domain::DomainName::parse(email.domain(), "email").ok();
    let by_domain = match &domain {
        Some(d) => ctx.store.domain_owner(DomainKind::Company, d).await?.map(|g| g.org_id),
        None => None,
    };
    let mut entries = Vec::new();
    if let Some(q) = name {
        let folded = fold_for_search(q);
        if folded.chars().count() < MIN_PREFIX {
            return Err(Error::validation("query_too_short", "name", "give at least three letters or digits"));
        }
        entries = ctx.store.find_names(&folded, (MAX_RESULTS * 2) as i32).await?;
    }
    let mut ids: Vec<OrgId> = by_domain.iter().cloned().collect();
    for e in &entries {
        if !ids.contains(&e.org_id) {
            ids.push(e.org_id.clone());
        }
    }
    ids.truncate(MAX_RESULTS);
    let orgs = ctx.store.get_orgs(&ids).await?;
    let mut out = Vec::new();
    for id in &ids {
        let Some(org) = orgs.iter().find(|o| &o.org_id == id) else { continue };
        let mode = join_mode(org);
        if org.parent_id.is_some() || org.status != OrgStatus::Active || mode == JoinMode::Off {
            continue;
        }
        let alias = entries
            .iter()
            .find(|e| &e.org_id == id && e.alias)
            .filter(|_| !entries.iter().any(|e| &e.org_id == id && !e.alias));
        out.push(FoundOrg {
            organization_id: org.org_id.clone(),
            name: org.name.clone(),
            matched_alias: alias.map(|a| a.name.clone()),
            logo_url: None,
            domain_match: by_domain.as_ref() == Some(id),
            join_mode: mode,
        });
    }
    Ok(FoundPage { organizations: out })
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum JoinOutcome {
    /// A member now: switch into it.
    Joined,
    /// An admin decides.
    Requested,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct JoinAnswer {
    pub outcome: JoinOutcome,
    pub organization_id: OrgId,
}

/// Ask to join `org_id` with one's verified address. Refused alike for an unknown
/// organization, one that accepts no joins, and an address off its verified domains.
pub async fn join(ctx: &Ctx, auth: &Authenticated, org_id: &OrgId) -> Result<JoinAnswer> {
    let (user, email) = verified_person(ctx, auth).await?;
    let org = ctx.store.get_org(org_id).await?.ok_or(Error::JoinNotAllowed)?;
    let effective = crate::service::orgs::settings::resolve(ctx, &org).await?;
    let mode = effective.values.join_mode.unwrap_or(JoinMode::Off);
    let on_domain = effective.on_company_domain(&email);
    if org.status != OrgStatus::Active || mode == JoinMode::Off || !on_domain {
        return Err(Error::JoinNotAllowed);
    }
    let name = user.display_name();
    if mode == JoinMode::Request {
        let now = ctx.now();
        let r = JoinRequestRecord {
            org_id: org.org_id.clone(),
            user_id: user.user_id.clone(),
            email,
            name,
            requested_at: now,
            expires_at: now + chrono::Duration::days(JOIN_REQUEST_DAYS),
        };
        if ctx.store.get_membership(&user.user_id, &org.org_id).await?.is_some() {
            return Err(Error::AlreadyMember);
        }
        ctx.store.put_join_request(&r).await?;
        return Ok(JoinAnswer { outcome: JoinOutcome::Requested, organization_id: org.org_id });
    }
    let role = effective.values.join_role.unwrap_or(JoinRole::Agent).role();
    let m = MembershipRecord::new(&user.user_id, &org, vec![role], Scope::Subtree, ctx.now()).described(&email, &name);
    let act =
        activity_record(ctx, &org.org_id, &user.user_id, None, "member.joined_by_domain", Some(email.to_string()));
    ctx.store.add_member(&m, None, None, &org.lineage_ids(), &act, &[]).await?;
    crate::service::notify::notifications::tell_admins(
        ctx,
        &org.org_id,
        NotificationKind::MemberJoined,
        &user.user_id,
        name,
        &act.activity_id,
    )
    .await;
    Ok(JoinAnswer { outcome: JoinOutcome::Joined, organization_id: org.org_id })
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct JoinRequestPage {
    pub requests: Vec<JoinRequestRecord>,
    pub next_cursor: Option<String>,
}

pub async fn requests(
    ctx: &Ctx,
    permit: &Permit<ManageMembers>,
    limit: i32,
    cursor: Option<&crate::store::Cursor>,
) -> Result<JoinRequestPage> {
    let now = ctx.now();
    let page = ctx.store.join_requests(&permit.org.org_id, limit, cursor).await?;
    Ok(JoinRequestPage {
        requests: page.items.into_iter().filter(|r| r.expires_at > now).collect(),
        next_cursor: page.next.map(|c| c.as_str().into()),
    })
}

/// Approve a request: the person joins with the organization's join role, taking a seat.
/// The policies in force now apply (domains, seats), not those of when they asked.
pub async fn approve(ctx: &Ctx, permit: &Permit<ManageMembers>, user: &UserId) -> Result<()> {
    let r = ctx.store.get_join_request(&permit.org.org_id, user).await?.ok_or(Error::NotFound("join request"))?;
    if r.expires_at <= ctx.now() {
        return Err(Error::NotFound("join request"));
    }
    let effective = crate::service::orgs::settings::of_permit(permit);
    effective.check_coworker(&r.email, "user_id")?;
    let role = effective.values.join_role.unwrap_or(JoinRole::Agent).role();
    let grant = crate::access::Grant { roles: &[role], scope: Scope::Subtree, manage: &Default::default() };
    crate::service::members::grants::check_grant(ctx, permit, grant, "user_id").await?;
    let m =
        MembershipRecord::new(user, &permit.org, vec![role], Scope::Subtree, ctx.now()).described(&r.email, &r.name);
    let act = permit_activity(ctx, permit, "member.join_approved", Some(r.email.to_string()));
    ctx.store.add_member(&m, None, Some(&r), &permit.org.lineage_ids(), &act, &[]).await?;
    let (org, actor) = (&permit.org.org_id, &permit.user_id);
    crate::service::notify::notifications::tell_admins(
        ctx,
        org,
        NotificationKind::MemberJoined,
        actor,
        r.name.clone(),
        &act.activity_id,
    )
    .await;
    Ok(())
}

pub async fn deny(ctx: &Ctx, permit: &Permit<ManageMembers>, user: &UserId) -> Result<()> {
    let r = ctx.store.get_join_request(&permit.org.org_id, user).await?.ok_or(Error::NotFound("join request"))?;
    ctx.store.delete_join_request(&permit.org.org_id, &r.user_id).await
}
