//! Inboxes: team phone lines, their members and assignment lists.

use serde::Serialize;

use crate::access::{Access, ManageMembers, Permit, ReadMembers, ReadOrg};
use crate::domain::{InboxId, Phone, UserId};
use crate::error::{Error, Result};
use crate::service::{Ctx, permit_activity};
use crate::store::{ActivityRecord, Assignments, Cursor, InboxMemberRecord, InboxRecord, MemberStatus};

pub async fn create(
    ctx: &Ctx,
    permit: &Permit<ManageMembers>,
    name: &str,
    phone: Option<Phone>,
) -> Result<InboxRecord> {
    let name = crate::domain::OrgName::parse(name, "name")?;
    let inbox = InboxRecord {
        inbox_id: InboxId::new(ctx.ulid()),
        org_id: permit.org.org_id.clone(),
        name: name.as_str().into(),
        phone,
        owner_id: permit.user_id.clone(),
        created_at: ctx.now(),
    };
    let act = permit_activity(ctx, permit, "inbox.created", Some(inbox.inbox_id.to_string()));
    ctx.store.create_inbox(&inbox, None, &act).await?;
    Ok(inbox)
}

pub async fn list(ctx: &Ctx, permit: &Permit<ReadOrg>) -> Result<Vec<InboxRecord>> {
    ctx.store.inboxes(&permit.org.org_id).await
}

async fn inbox(ctx: &Ctx, permit_org: &crate::domain::OrgId, id: &InboxId) -> Result<InboxRecord> {
    ctx.store.get_inbox(permit_org, id).await?.ok_or(Error::NotFound("inbox"))
}

/// Add a member of the organization to an inbox: they join conversation assignment and the ring group.
pub async fn add_member(
    ctx: &Ctx,
    permit: &Permit<ManageMembers>,
    id: &InboxId,
    user: &UserId,
) -> Result<InboxMemberRecord> {
    inbox(ctx, &permit.org.org_id, id).await?;
    let m = ctx.store.get_membership(user, &permit.org.org_id).await?;
    if m.is_none_or(|m| m.status != MemberStatus::Active) {
        return Err(Error::validation("not_a_member", "user_id", "is not an active member of this organization"));
    }
    let rec = InboxMemberRecord {
        inbox_id: id.clone(),
        org_id: permit.org.org_id.clone(),
        user_id: user.clone(),
        assignments: Assignments::ON_JOIN,
        added_at: ctx.now(),
    };
    let act = permit_activity(ctx, permit, "inbox.member_added", Some(user.to_string()));
    ctx.store.add_inbox_member(&rec, &act).await?;
    Ok(rec)
}

pub async fn set_assignments(
    ctx: &Ctx,
    permit: &Permit<ManageMembers>,
    id: &InboxId,
    user: &UserId,
    a: Assignments,
) -> Result<InboxMemberRecord> {
    let mut rec =
        ctx.store.get_inbox_member(&permit.org.org_id, id, user).await?.ok_or(Error::NotFound("inbox member"))?;
    rec.assignments = a;
    let act = permit_activity(ctx, permit, "inbox.assignments_changed", Some(user.to_string()));
    ctx.store.set_assignments(&rec, &act).await?;
    Ok(rec)
}

/// The members of an inbox, with the four assignment flags of each.
pub async fn members(ctx: &Ctx, permit: &Permit<ReadMembers>, id: &InboxId) -> Result<Vec<InboxMemberRecord>> {
    ctx.store.get_inbox(&permit.org.org_id, id).await?.ok_or(Error::NotFound("inbox"))?;
    ctx.store.inbox_members(&permit.org.org_id, id).await
}

/// Delete an inbox: its members leave it and the messaging service is told (an event in the
/// same transaction) to close or move its conversations.
pub async fn delete(ctx: &Ctx, permit: &Permit<ManageMembers>, id: &InboxId) -> Result<()> {
    let inbox = ctx.store.get_inbox(&permit.org.org_id, id).await?.ok_or(Error::NotFound("inbox"))?;
    let event = crate::service::outbox_event(
        ctx,
        "inbox.deleted",
        serde_json::json!({"organization_id": inbox.org_id, "inbox_id": inbox.inbox_id, "phone": inbox.phone}),
    );
    let act = permit_activity(ctx, permit, "inbox.deleted", Some(inbox.inbox_id.to_string()));
    ctx.store.delete_inbox(&inbox, &event, &permit.org.lineage_ids(), &act).await
}

/// Remove a member from an inbox (not from the organization). Refused, naming the lists,
/// while they are still on any assignment list.
pub async fn remove_member(ctx: &Ctx, permit: &Permit<ManageMembers>, id: &InboxId, user: &UserId) -> Result<()> {
    let rec = ctx.store.get_inbox_member(&permit.org.org_id, id, user).await?.ok_or(Error::NotFound("inbox member"))?;
    if !rec.assignments.names().is_empty() {
        return Err(Error::StillAssigned { lists: rec.assignments.names() });
    }
    let act = permit_activity(ctx, permit, "inbox.member_removed", Some(user.to_string()));
    ctx.store.remove_inbox_member(&rec, &act).await
}

/// Choose (or change) the inbox's phone number: its owner or an admin.
pub async fn set_phone(ctx: &Ctx, access: &Access, id: &InboxId, phone: &Phone) -> Result<InboxRecord> {
    let mut rec = inbox(ctx, &access.org.org_id, id).await?;
    if rec.owner_id != access.user_id && access.permit::<ManageMembers>().is_err() {
        return Err(Error::Forbidden);
    }
    ctx.store.set_inbox_phone(&rec, phone).await?;
    rec.phone = Some(phone.clone());
    Ok(rec)
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct InboxActivity {
    pub activity: Vec<ActivityRecord>,
    pub next_cursor: Option<String>,
}

/// An inbox's activity, for its members only: admins and owners add themselves first.
pub async fn activity_feed(
    ctx: &Ctx,
    access: &Access,
    id: &InboxId,
    limit: i32,
    cursor: Option<&Cursor>,
) -> Result<InboxActivity> {
    access.permit::<ReadOrg>()?;
    inbox(ctx, &access.org.org_id, id).await?;
    if ctx.store.get_inbox_member(&access.org.org_id, id, &access.user_id).await?.is_none() {
        return Err(Error::Forbidden);
    }
    let mut page = ctx.store.inbox_activity(id, limit, cursor).await?;
    crate::service::attribution::attribute(ctx, &mut page.items).await?;
    Ok(InboxActivity { activity: page.items, next_cursor: page.next.map(|c| c.as_str().into()) })
}
