//! The members page: active members and pending invitations, editing roles, deactivation,
//! deletion with reassignment, ownership transfer, and seats.

use crate::domain::notification::NotificationKind;
use crate::service::notify::notifications::tell_admins;
use serde::Serialize;

use crate::access::{Grant, Manage, ManageMembers, Permit, ReadMembers, Scope, TransferOwnership};
use crate::domain::{Email, OrgId, Role, Roles, SessionId, UserId};
use crate::error::{Error, Result};
use crate::service::{Ctx, identity::passwords, members::grants, permit_activity};
use crate::store::{
    BillingEvent, Cursor, EmailStatus, InvitationRecord, MemberRemoval, MemberStatus, MembershipRecord, OrgRecord,
    Plan, SeatDelta, SeatsRecord,
};

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct MemberView {
    pub user_id: UserId,
    pub email: Option<String>,
    pub name: Option<String>,
    pub roles: Vec<Role>,
    pub scope: Scope,
    pub manage: Manage,
    pub status: MemberStatus,
    pub joined_at: chrono::DateTime<chrono::Utc>,
}

impl From<&MembershipRecord> for MemberView {
    fn from(m: &MembershipRecord) -> Self {
        MemberView {
            user_id: m.user_id.clone(),
            email: m.member_email.as_ref().map(|e| e.to_string()),
            name: m.member_name.clone(),
            roles: m.roles.clone(),
            scope: m.scope,
            manage: m.manage.clone(),
            status: m.status,
            joined_at: m.joined_at,
        }
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct MemberPage {
    pub members: Vec<MemberView>,
    pub next_cursor: Option<String>,
}

/// The active tab: members of this organization, searchable by name or address.
pub async fn members(
    ctx: &Ctx,
    permit: &Permit<ReadMembers>,
    search: Option<&str>,
    limit: i32,
    cursor: Option<&Cursor>,
) -> Result<MemberPage> {
    let q = search.map(|s| s.trim().to_lowercase()).filter(|q| !q.is_empty());
    let page = match q {
        // By the search entries: a full page of matches in a few reads, at any size.
        Some(text) => ctx.store.search_members(&permit.org.org_id, &text, limit, cursor).await?,
        None => ctx.store.org_members(&permit.org.org_id, limit, cursor).await?,
    };
    Ok(MemberPage {
        members: page.items.iter().map(MemberView::from).collect(),
        next_cursor: page.next.map(|c| c.as_str().into()),
    })
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PendingView {
    pub email: String,
    pub roles: Vec<Role>,
    pub scope: Scope,
    pub manage: Manage,
    pub invited_by: UserId,
    pub invited_by_name: String,
    pub sent_at: chrono::DateTime<chrono::Utc>,
    pub expires_at: chrono::DateTime<chrono::Utc>,
    pub expired: bool,
    pub email_status: EmailStatus,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PendingPage {
    pub invitations: Vec<PendingView>,
    pub next_cursor: Option<String>,
}

/// The pending tab: invitations not yet accepted, searchable by address.
pub async fn pending(
    ctx: &Ctx,
    permit: &Permit<ReadMembers>,
    search: Option<&str>,
    limit: i32,
    cursor: Option<&Cursor>,
) -> Result<PendingPage> {
    let q = search.map(|s| s.trim().to_lowercase()).unwrap_or_default();
    let page = ctx.store.invitations(&permit.org.org_id, limit, cursor).await?;
    let now = ctx.now();
    let invitations = page
        .items
        .into_iter()
        .filter(|i| i.email.as_str().contains(&q) || i.invited_by_name.to_lowercase().contains(&q))
        .map(|i| pending_view(i, now))
        .collect();
    Ok(PendingPage { invitations, next_cursor: page.next.map(|c| c.as_str().into()) })
}

/// One member of this organization.
pub async fn member_view(ctx: &Ctx, permit: &Permit<ReadMembers>, user: &UserId) -> Result<MemberView> {
    Ok(MemberView::from(&member(ctx, &permit.org.org_id, user).await?))
}

/// One pending invitation of this organization.
pub async fn invitation_view(ctx: &Ctx, permit: &Permit<ReadMembers>, email: &Email) -> Result<PendingView> {
    let inv = ctx.store.get_invitation(&permit.org.org_id, email).await?.ok_or(Error::NotFound("invitation"))?;
    Ok(pending_view(inv, ctx.now()))
}

fn pending_view(i: InvitationRecord, now: chrono::DateTime<chrono::Utc>) -> PendingView {
    PendingView {
        email: i.email.to_string(),
        roles: i.roles,
        scope: i.scope,
        manage: i.manage,
        invited_by: i.invited_by,
        invited_by_name: i.invited_by_name,
        sent_at: i.sent_at,
        expires_at: i.expires_at,
        expired: i.expires_at <= now,
        email_status: i.email_status,
    }
}

/// Leave an organization one is a member of (never its owner, who transfers ownership first).
/// The seat stays paid and free; inboxes they owned go to the owner; their sessions there end.
pub async fn leave(ctx: &Ctx, access: &crate::access::Access) -> Result<()> {
    let org = &access.org;
    let user = &access.user_id;
    let m = ctx.store.get_membership(user, &org.org_id).await?.ok_or(Error::validation(
        "not_a_member",
        "org_id",
        "access here comes from a parent organization: leave that one instead",
    ))?;
    if m.is_owner() {
        return Err(Error::OwnerProtected);
    }
    let act =
        crate::service::activity_record(ctx, &org.org_id, user, access.real_user_id.as_ref(), "member.left", None);
    remove(ctx, org, &m, &org.owner_id, SeatChoice::Keep, &act).await?;
    let who = m.member_name.clone().unwrap_or_else(|| user.to_string());
    tell_admins(ctx, &org.org_id, NotificationKind::MemberLeft, user, who, &act.activity_id).await;
    Ok(())
}

/// Take a member out of the organization: their inboxes go to `heir`, the messaging service
/// is told (in the same transaction) to move their conversations and contacts, their seat is
/// kept free or removed, and their sessions working there end.
pub(crate) async fn remove(
    ctx: &Ctx,
    org: &OrgRecord,
    m: &MembershipRecord,
    heir: &UserId,
    seat: SeatChoice,
    act: &crate::store::ActivityRecord,
) -> Result<()> {
    let seats = match seat {
        SeatChoice::Keep => SeatDelta { purchased: 0, used: -1, pending: 0 },
        SeatChoice::Remove => SeatDelta { purchased: -1, used: -1, pending: 0 },
    };
    let event = crate::service::outbox_event(
        ctx,
        &act.action,
        serde_json::json!({
            "organization_id": org.org_id, "user_id": m.user_id, "reassign_to": heir,
            "reassign": ["conversations", "contacts", "inboxes"], "seat": if seat == SeatChoice::Keep { "keep" } else { "remove" },
        }),
    );
    let owned: Vec<_> = ctx.store.inboxes(&org.org_id).await?.into_iter().filter(|i| i.owner_id == m.user_id).collect();
    let removal = MemberRemoval { membership: m, seats, event: &event, owned_inboxes: &owned, heir };
    ctx.store.delete_member(&removal, &org.lineage_ids(), act).await?;
    ctx.store.end_sessions_in(&m.user_id, std::slice::from_ref(&org.org_id)).await?;
    Ok(())
}

async fn member(ctx: &Ctx, org: &OrgId, user: &UserId) -> Result<MembershipRecord> {
    ctx.store.get_membership(user, org).await?.ok_or(Error::NotFound("member"))
}

/// What an admin may change about a member (roles, reach down the tree, change rights).
#[derive(Debug, Default)]
pub struct MemberChange {
    pub roles: Option<Roles>,
    pub scope: Option<Scope>,
    pub manage: Option<Manage>,
}

/// Edit a member: promote to admin, demote, change roles, scope or change rights. Ownership
/// changes only by transfer.
pub async fn edit(
    ctx: &Ctx,
    permit: &Permit<ManageMembers>,
    user: &UserId,
    change: MemberChange,
) -> Result<MemberView> {
    let before = member(ctx, &permit.org.org_id, user).await?;
    grants::check_not_self(permit, &before)?;
    if before.is_owner() {
        // The owner's rights are fixed until ownership is transferred.
        return Err(Error::OwnerProtected);
    }
    grants::check_member(ctx, permit, &before).await?;
    let mut after = before.clone();
    if let Some(roles) = change.roles {
        if roles.contains(Role::Owner) {
            return Err(Error::validation("invalid_role", "roles", "ownership is transferred with transfer-ownership"));
        }
        after.roles = roles.as_slice().to_vec();
    }
    if let Some(s) = change.scope {
        after.scope = s;
    }
    match change.manage {
        Some(m) => after.manage = m,
        // Change rights belong to admins: a demoted admin's restriction has nothing left to restrict.
        None if !crate::access::is_admin(&after.roles) => after.manage = Manage::All,
        None => {}
    }
    grants::check_grant(ctx, permit, Grant::of(&after), "manage").await?;
    let act = permit_activity(ctx, permit, "member.roles_changed", Some(user.to_string()));
    ctx.store.update_membership(&before, &after, None, &permit.org.lineage_ids(), &act).await?;
    if before.roles != after.roles {
        let roles: Vec<&str> = after.roles.iter().map(|r| r.as_str()).collect();
        let who = after.member_name.clone().unwrap_or_else(|| user.to_string());
        let subject = format!("{who}: {}", roles.join(", "));
        tell_admins(ctx, &permit.org.org_id, NotificationKind::RoleChanged, &permit.user_id, subject, &act.activity_id)
            .await;
    }
    Ok(MemberView::from(&after))
}

/// Deactivate (cannot log in to or switch into the organization; their sessions in it end at
/// once) or reactivate a member. A deactivated member keeps their seat.
pub async fn set_status(
    ctx: &Ctx,
    permit: &Permit<ManageMembers>,
    user: &UserId,
    status: MemberStatus,
) -> Result<MemberView> {
    let before = member(ctx, &permit.org.org_id, user).await?;
    if before.is_owner() {
        return Err(Error::OwnerProtected);
    }
    grants::check_not_self(permit, &before)?;
    grants::check_member(ctx, permit, &before).await?;
    if before.status == status {
        return Ok(MemberView::from(&before));
    }
    let mut after = MembershipRecord { status, ..before.clone() };
    if status == MemberStatus::Deactivated {
        // Reactivation later must not bring today's tokens back to life.
        after.sessions_before = Some(SessionId::new(ctx.ulid()));
    }
    let action = if status == MemberStatus::Active { "member.reactivated" } else { "member.deactivated" };
    let act = permit_activity(ctx, permit, action, Some(user.to_string()));
    ctx.store.update_membership(&before, &after, None, &permit.org.lineage_ids(), &act).await?;
    if status == MemberStatus::Deactivated {
        ctx.store.end_sessions_in(user, std::slice::from_ref(&permit.org.org_id)).await?;
    }
    Ok(MemberView::from(&after))
}

/// Sign a member out of this organization: no token issued before now works here any more,
/// whichever organization its session is in (their sessions elsewhere keep working there).
/// Sessions working in this organization end. Returns how many sessions lost it.
pub async fn sign_out(ctx: &Ctx, permit: &Permit<ManageMembers>, user: &UserId) -> Result<usize> {
    let before = member(ctx, &permit.org.org_id, user).await?;
    grants::check_not_self(permit, &before)?;
    grants::check_member(ctx, permit, &before).await?;
    let watermark = SessionId::new(ctx.ulid());
    let after = MembershipRecord { sessions_before: Some(watermark.clone()), ..before.clone() };
    let act = permit_activity(ctx, permit, "member.signed_out", Some(user.to_string()));
    ctx.store.update_membership(&before, &after, None, &permit.org.lineage_ids(), &act).await?;
    ctx.store.revoke_sessions_in(user, &permit.org.org_id, &watermark).await
}

/// Email the member a password-reset link. Admins never set passwords themselves.
pub async fn reset_password(ctx: &Ctx, permit: &Permit<ManageMembers>, user: &UserId) -> Result<()> {
    let m = member(ctx, &permit.org.org_id, user).await?;
    grants::check_not_self(permit, &m)?;
    let profile = ctx.store.get_user(user).await?.ok_or(Error::NotFound("member"))?;
    passwords::send_reset(ctx, &profile, &crate::service::notify::compose::Scope::of_permit(permit)).await
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SeatChoice {
    /// The seat stays paid and free for a replacement.
    Keep,
    /// One paid seat fewer.
    Remove,
}

/// Delete a member: their conversations, contacts and inboxes go to `reassign_to` (the
/// messaging service receives the event), their seat is kept free or removed.
pub async fn delete(
    ctx: &Ctx,
    permit: &Permit<ManageMembers>,
    user: &UserId,
    reassign_to: &UserId,
    seat: SeatChoice,
) -> Result<()> {
    let m = member(ctx, &permit.org.org_id, user).await?;
    if m.is_owner() {
        return Err(Error::OwnerProtected);
    }
    grants::check_not_self(permit, &m)?;
    grants::check_member(ctx, permit, &m).await?;
    if reassign_to == user {
        return Err(Error::validation("invalid_reassignment", "reassign_to", "must be another member"));
    }
    let heir = ctx.store.get_membership(reassign_to, &permit.org.org_id).await?;
    if heir.is_none_or(|h| h.status != MemberStatus::Active) {
        return Err(Error::validation(
            "invalid_reassignment",
            "reassign_to",
            "must be an active member of this organization",
        ));
    }
    let act = permit_activity(ctx, permit, "member.deleted", Some(user.to_string()));
    remove(ctx, &permit.org, &m, reassign_to, seat, &act).await?;
    let who = m.member_name.clone().unwrap_or_else(|| user.to_string());
    tell_admins(ctx, &permit.org.org_id, NotificationKind::MemberRemoved, &permit.user_id, who, &act.activity_id).await;
    Ok(())
}

/// Make an existing active member the owner; the previous owner stays an admin.
pub async fn transfer_ownership(ctx: &Ctx, permit: &Permit<TransferOwnership>, to: &UserId) -> Result<()> {
    let org = &permit.org;
    let from = member(ctx, &org.org_id, &permit.user_id).await?;
    let target = ctx.store.get_membership(to, &org.org_id).await?;
    let Some(target) = target.filter(|t| t.status == MemberStatus::Active && t.user_id != from.user_id) else {
        return Err(Error::validation("not_a_member", "user_id", "must be another active member of this organization"));
    };
    let act = permit_activity(ctx, permit, "ownership.transferred", Some(to.to_string()));
    ctx.store.transfer_ownership(org, &from, &target, &org.lineage_ids(), &act).await?;
    let who = target.member_name.clone().unwrap_or_else(|| to.to_string());
    tell_admins(ctx, &org.org_id, NotificationKind::OwnershipTransferred, &permit.user_id, who, &act.activity_id).await;
    Ok(())
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SeatFigures {
    /// Paid seats, besides the owner's, which is included.
    pub purchased: u32,
    /// Active members (not the owner) and pending invitations.
    pub used: u32,
    pub pending: u32,
    pub free: u32,
    /// Held by imports in progress: they become used as rows are imported, or free again.
    pub reserved: u32,
}

pub async fn seats(ctx: &Ctx, permit: &Permit<ReadMembers>) -> Result<SeatFigures> {
    let SeatsRecord { purchased, used, pending, free, reserved } = ctx.store.get_seats(&permit.org.org_id).await?;
    Ok(SeatFigures { purchased, used, pending, free, reserved })
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SeatQuote {
    pub seats: u32,
    pub unit_price_cents: u64,
    pub total_cents: u64,
    pub currency: String,
}

fn check_count(count: u32) -> Result<()> {
    if !(1..=1000).contains(&count) {
        return Err(Error::validation("invalid_count", "count", "must be between 1 and 1000"));
    }
    Ok(())
}

/// What `count` more seats cost on the organization's plan, shown before buying.
pub fn quote(ctx: &Ctx, org: &OrgRecord, count: u32) -> Result<SeatQuote> {
    check_count(count)?;
    let unit = match org.plan {
        Plan::Trial => ctx.config.seat_price_trial_cents,
        Plan::Active => ctx.config.seat_price_active_cents,
    };
    Ok(SeatQuote {
        seats: count,
        unit_price_cents: unit,
        total_cents: unit * u64::from(count),
        currency: ctx.config.currency.clone(),
    })
}

/// Buy seats: the seats are added and a billing event is recorded for the billing system, atomically.
pub async fn buy_seats(ctx: &Ctx, permit: &Permit<ManageMembers>, count: u32) -> Result<SeatQuote> {
    let q = quote(ctx, &permit.org, count)?;
    let event = billing(ctx, permit, "seats.purchased", count, q.total_cents);
    ctx.store
        .change_seats(&permit.org.org_id, SeatDelta { purchased: i64::from(count), used: 0, pending: 0 }, &event)
        .await?;
    tell_admins(
        ctx,
        &permit.org.org_id,
        NotificationKind::SeatsChanged,
        &permit.user_id,
        format!("+{count}"),
        &event.event_id,
    )
    .await;
    Ok(q)
}

/// Remove unassigned seats only.
pub async fn remove_seats(ctx: &Ctx, permit: &Permit<ManageMembers>, count: u32) -> Result<SeatFigures> {
    check_count(count)?;
    let event = billing(ctx, permit, "seats.removed", count, 0);
    match ctx
        .store
        .change_seats(&permit.org.org_id, SeatDelta { purchased: -i64::from(count), used: 0, pending: 0 }, &event)
        .await
    {
        Err(Error::NoFreeSeats { .. }) => {
            let free = ctx.store.get_seats(&permit.org.org_id).await?.free;
            return Err(Error::SeatsInUse { free });
        }
        Err(e) => return Err(e),
        Ok(()) => {}
    }
    tell_admins(
        ctx,
        &permit.org.org_id,
        NotificationKind::SeatsChanged,
        &permit.user_id,
        format!("-{count}"),
        &event.event_id,
    )
    .await;
    let SeatsRecord { purchased, used, pending, free, reserved } = ctx.store.get_seats(&permit.org.org_id).await?;
    Ok(SeatFigures { purchased, used, pending, free, reserved })
}

fn billing(ctx: &Ctx, permit: &Permit<ManageMembers>, kind: &str, seats: u32, amount_cents: u64) -> BillingEvent {
    crate::service::billing_event(ctx, &permit.org.org_id, &permit.user_id, kind, seats, amount_cents)
}
