//! Contact groups: kept by an organization, shared from a parent to chosen sub-accounts or
//! to all beneath it, and read in place (never copied), so a change at the parent is seen
//! below at once and a revoked share stops working on the next request.

use serde::Serialize;

use crate::access::{ManageContacts, Permit, ReadContacts, ReadOrg, UpdateOrg};
use crate::domain::contact::Contact;
use crate::domain::contact_group::{GroupName, GroupNaming};
use crate::domain::{GroupId, OrgId, Phone};
use crate::error::{Error, Result};
use crate::service::{Ctx, permit_activity};
use crate::store::{ContactRecord, Cursor, GroupRecord, MAX_SHARE_TARGETS, OrgRecord, Page, ShareCatalog, ShareTo};

/// Contacts one request may add (one transaction, with the group's count).
pub const MAX_CONTACTS_PER_REQUEST: usize = 99;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// Kept by this organization.
    Own,
    /// Kept by an organization above; read-only here.
    Inherited,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct GroupView {
    pub group_id: GroupId,
    pub name: String,
    pub contact_count: u64,
    pub source: Source,
    /// The organization that keeps it.
    pub owner_org_id: OrgId,
    pub owner_org_name: Option<String>,
    /// Whom the group is shared with (own groups only; absent: not shared).
    pub shared_with: Option<ShareTo>,
    /// `"g<version>"`: send it in `If-Match` to rename or delete.
    pub etag: String,
    pub updated_at: chrono::DateTime<chrono::Utc>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct GroupPage {
    pub groups: Vec<GroupView>,
    pub next_cursor: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ContactView {
    pub name: String,
    pub phone: String,
    pub email: Option<String>,
    pub added_at: chrono::DateTime<chrono::Utc>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ContactPage {
    pub contacts: Vec<ContactView>,
    pub next_cursor: Option<String>,
}

fn contact_view(c: &ContactRecord) -> ContactView {
    ContactView {
        name: c.contact.name().to_owned(),
        phone: c.contact.phone().as_str().to_owned(),
        email: c.contact.email().map(|e| e.as_str().to_owned()),
        added_at: c.added_at,
    }
}

/// The naming convention that applies to groups kept here (the nearest one set).
pub fn naming<P>(permit: &Permit<P>) -> Option<GroupNaming> {
    crate::service::orgs::settings::effective(&permit.org, &permit.ancestors).values.contact_group_naming
}

fn owner_name<P>(permit: &Permit<P>, owner: &OrgId) -> Option<String> {
    if owner == &permit.org.org_id {
        return Some(permit.org.name.clone());
    }
    permit.ancestors.iter().find(|a| &a.org_id == owner).map(|a| a.name.clone())
}

fn view<P>(permit: &Permit<P>, g: &GroupRecord, shared_with: Option<ShareTo>) -> GroupView {
    let own = g.org_id == permit.org.org_id;
    GroupView {
        group_id: g.group_id.clone(),
        name: g.name.clone(),
        contact_count: g.contact_count,
        source: if own { Source::Own } else { Source::Inherited },
        owner_org_id: g.org_id.clone(),
        owner_org_name: owner_name(permit, &g.org_id),
        shared_with: if own { shared_with } else { None },
        etag: format!("\"g{}\"", g.version),
        updated_at: g.updated_at,
    }
}

/// What the organization's ancestors share with it (root first) and its own catalog, in one
/// read of the lineage's catalogs.
async fn catalogs(ctx: &Ctx, org: &OrgRecord) -> Result<(Vec<(OrgId, GroupId)>, ShareCatalog)> {
    let lineage_ids = org.lineage_ids();
    let mut found = ctx.store.share_catalogs(&lineage_ids).await?;
    let lineage: Vec<&OrgId> = org.lineage().collect();
    let mut shared = Vec::new();
    for owner in &org.ancestors {
        let Some(c) = found.iter().find(|c| &c.owner == owner) else { continue };
        shared.extend(c.shares.iter().filter(|(_, to)| to.reaches(&lineage)).map(|(g, _)| (owner.clone(), g.clone())));
    }
    let mine = match found.iter().position(|c| c.owner == org.org_id) {
        Some(i) => found.swap_remove(i),
        None => ShareCatalog { owner: org.org_id.clone(), shares: Default::default() },
    };
    Ok((shared, mine))
}

/// Find a group the organization can use: shared with it from above, or its own. Two reads
/// (the ancestors' catalogs, then the group) at any depth.
async fn locate<P>(ctx: &Ctx, permit: &Permit<P>, id: &GroupId) -> Result<(GroupRecord, Option<ShareTo>)> {
    let (shared, mut mine) = catalogs(ctx, &permit.org).await?;
    let owner = shared.iter().find(|(_, g)| g == id).map(|(o, _)| o.clone()).unwrap_or(permit.org.org_id.clone());
    let group = ctx.store.get_group(&owner, id).await?.ok_or(Error::NotFound("contact group"))?;
    Ok((group, mine.shares.remove(id)))
}

/// A group this organization keeps itself: a shared one is changed where it is kept.
async fn own<P>(ctx: &Ctx, permit: &Permit<P>, id: &GroupId) -> Result<GroupRecord> {
    if let Some(g) = ctx.store.get_group(&permit.org.org_id, id).await? {
        return Ok(g);
    }
    if catalogs(ctx, &permit.org).await?.0.iter().any(|(_, g)| g == id) {
        return Err(Error::InheritedReadOnly("contact group"));
    }
    Err(Error::NotFound("contact group"))
}

pub async fn create(ctx: &Ctx, permit: &Permit<ManageContacts>, name: GroupName) -> Result<GroupView> {
    let now = ctx.now();
    let g = GroupRecord {
        group_id: GroupId::new(ctx.ulid()),
        org_id: permit.org.org_id.clone(),
        name: name.as_str().to_owned(),
        contact_count: 0,
        version: 1,
        created_at: now,
        created_by: permit.user_id.clone(),
        updated_at: now,
    };
    let act = permit_activity(ctx, permit, "contact_group.created", Some(g.group_id.to_string()));
    ctx.store.create_group(&g, &act, &permit.org.lineage_ids()).await?;
    Ok(view(permit, &g, None))
}

/// The groups the organization can use: inherited (shared with it from above) first, then
/// its own. A page is one read of the ancestors' catalogs and one of groups.
pub async fn list(ctx: &Ctx, permit: &Permit<ReadOrg>, limit: i32, cursor: Option<&Cursor>) -> Result<GroupPage> {
    let pk = OrgRecord::pk(&permit.org.org_id);
    let limit = limit.clamp(1, 100) as usize;
    let page_cursor = |at: &str| Cursor::from_fields(&[("pk", &pk), ("inherited", at)]).map(|c| c.as_str().to_owned());
    // Where the listing is: an offset into the inherited groups, or a key among the own ones.
    let (from, own_cursor) = match cursor {
        None => (Some(0), None),
        Some(c) => match c.field("inherited") {
            None => (None, Some(c.clone())),
            Some(at) => {
                if c.field("pk").as_deref() != Some(pk.as_str()) {
                    return Err(Error::validation("invalid_cursor", "cursor", "does not belong to this listing"));
                }
                (at.parse::<usize>().ok(), None)
            }
        },
    };
    let mut groups = Vec::new();
    let mut own_catalog = None;
    if let Some(from) = from {
        let (shared, mine) = catalogs(ctx, &permit.org).await?;
        own_catalog = Some(mine);
        let page: Vec<_> = shared.iter().skip(from).take(limit).cloned().collect();
        let mut found = ctx.store.groups(&page).await?;
        found.sort_by_key(|g| page.iter().position(|(o, id)| o == &g.org_id && id == &g.group_id));
        groups.extend(found.iter().map(|g| view(permit, g, None)));
        let next = from + page.len();
        if next < shared.len() {
            return Ok(GroupPage { groups, next_cursor: page_cursor(&next.to_string()) });
        }
        if page.len() == limit {
            return Ok(GroupPage { groups, next_cursor: page_cursor("own") });
        }
    }
    let room = (limit - groups.len()) as i32;
    let Page { items, next } = ctx.store.own_groups(&permit.org.org_id, room, own_cursor.as_ref()).await?;
    let catalog = match own_catalog {
        Some(c) => Some(c),
        None if items.is_empty() => None,
        None => Some(ctx.store.share_catalog(&permit.org.org_id).await?),
    };
    let shared_with =
        |g: &GroupRecord| catalog.as_ref().and_then(|c: &ShareCatalog| c.shares.get(&g.group_id).cloned());
    groups.extend(items.iter().map(|g| view(permit, g, shared_with(g))));
    Ok(GroupPage { groups, next_cursor: next.map(|c| c.as_str().to_owned()) })
}

pub async fn get(ctx: &Ctx, permit: &Permit<ReadOrg>, id: &GroupId) -> Result<GroupView> {
    let (g, share) = locate(ctx, permit, id).await?;
    Ok(view(permit, &g, share))
}

pub async fn rename(
    ctx: &Ctx,
    permit: &Permit<ManageContacts>,
    id: &GroupId,
    name: GroupName,
    expected_version: u64,
) -> Result<GroupView> {
    let before = own(ctx, permit, id).await?;
    if before.version != expected_version {
        return Err(Error::PreconditionFailed);
    }
    let act = permit_activity(ctx, permit, "contact_group.renamed", Some(id.to_string()));
    ctx.store.rename_group(&before, name.as_str(), &act, &permit.org.lineage_ids()).await?;
    let after =
        GroupRecord { name: name.as_str().to_owned(), version: before.version + 1, updated_at: act.at, ..before };
    let share = ctx.store.share_catalog(&permit.org.org_id).await?.shares.remove(id);
    Ok(view(permit, &after, share))
}

/// Delete a group, its contacts and its shares: sub-accounts lose it on their next request.
pub async fn delete(ctx: &Ctx, permit: &Permit<ManageContacts>, id: &GroupId, expected_version: u64) -> Result<()> {
    let before = own(ctx, permit, id).await?;
    if before.version != expected_version {
        return Err(Error::PreconditionFailed);
    }
    let shared = ctx.store.share_catalog(&permit.org.org_id).await?.shares.contains_key(id);
    let act = permit_activity(ctx, permit, "contact_group.deleted", Some(id.to_string()));
    ctx.store.delete_group(&before, shared, &act, &permit.org.lineage_ids()).await
}

/// Share a group with every organization beneath (`All`), with chosen sub-accounts and what
/// lies beneath them, or with nobody (`None`: every share revoked at once). Sharing hands
/// the contacts on, so the sharer must be able to change every organization it reaches.
pub async fn share(ctx: &Ctx, permit: &Permit<UpdateOrg>, id: &GroupId, to: Option<ShareTo>) -> Result<GroupView> {
    let group = own(ctx, permit, id).await?;
    let reach = &permit.grantor.reach;
    match &to {
        Some(ShareTo::All) if *reach != crate::access::Reach::All => return Err(Error::GrantExceedsRights),
        Some(ShareTo::Chosen(ids)) => {
            if ids.is_empty() || ids.len() > MAX_SHARE_TARGETS {
                return Err(Error::validation(
                    "invalid_share",
                    "org_ids",
                    format!("names 1 to {MAX_SHARE_TARGETS} sub-accounts"),
                ));
            }
            let targets = ctx.store.get_orgs(ids).await?;
            for (i, target) in ids.iter().enumerate() {
                let below = targets.iter().find(|o| &o.org_id == target).filter(|o| o.has_ancestor(&permit.org.org_id));
                let Some(record) = below else {
                    return Err(Error::validation(
                        "not_a_sub_account",
                        format!("org_ids[{i}]"),
                        "is not a sub-account of this organization",
                    ));
                };
                if !reach.covers_org(record) {
                    return Err(Error::GrantExceedsRights);
                }
            }
        }
        _ => {}
    }
    let was_shared = ctx.store.share_catalog(&permit.org.org_id).await?.shares.contains_key(id);
    let action = if to.is_some() { "contact_group.shared" } else { "contact_group.unshared" };
    let act = permit_activity(ctx, permit, action, Some(id.to_string()));
    ctx.store.set_share(&group, was_shared, to.as_ref(), &act, &permit.org.lineage_ids()).await?;
    Ok(view(permit, &group, to))
}

/// A page of a group's contacts (personal data: the permit is to read contacts).
pub async fn contacts(
    ctx: &Ctx,
    permit: &Permit<ReadContacts>,
    id: &GroupId,
    limit: i32,
    cursor: Option<&Cursor>,
) -> Result<ContactPage> {
    let (shared, _) = catalogs(ctx, &permit.org).await?;
    if !shared.iter().any(|(_, g)| g == id) && ctx.store.get_group(&permit.org.org_id, id).await?.is_none() {
        return Err(Error::NotFound("contact group"));
    }
    let page = ctx.store.contacts(id, limit.clamp(1, 500), cursor).await?;
    Ok(ContactPage {
        contacts: page.items.iter().map(contact_view).collect(),
        next_cursor: page.next.map(|c| c.as_str().to_owned()),
    })
}

pub async fn add_contacts(
    ctx: &Ctx,
    permit: &Permit<ManageContacts>,
    id: &GroupId,
    contacts: Vec<Contact>,
) -> Result<Vec<ContactView>> {
    if contacts.is_empty() || contacts.len() > MAX_CONTACTS_PER_REQUEST {
        return Err(Error::validation(
            "invalid_contacts",
            "contacts",
            format!("adds 1 to {MAX_CONTACTS_PER_REQUEST} contacts per request"),
        ));
    }
    for (i, c) in contacts.iter().enumerate() {
        if contacts[..i].iter().any(|d| d.phone() == c.phone()) {
            return Err(Error::validation(
                "duplicate_contact",
                format!("contacts[{i}].phone"),
                "is in the request twice",
            ));
        }
    }
    let group = own(ctx, permit, id).await?;
    let now = ctx.now();
    let records: Vec<ContactRecord> =
        contacts.into_iter().map(|contact| ContactRecord { group_id: id.clone(), contact, added_at: now }).collect();
    ctx.store.add_contacts(&group, &records).await?;
    Ok(records.iter().map(contact_view).collect())
}

pub async fn update_contact(
    ctx: &Ctx,
    permit: &Permit<ManageContacts>,
    id: &GroupId,
    contact: Contact,
) -> Result<ContactView> {
    own(ctx, permit, id).await?;
    let before = ctx.store.get_contact(id, contact.phone().as_str()).await?.ok_or(Error::NotFound("contact"))?;
    let after = ContactRecord { contact, ..before };
    if !ctx.store.update_contact(&after).await? {
        return Err(Error::NotFound("contact"));
    }
    Ok(contact_view(&after))
}

pub async fn delete_contact(ctx: &Ctx, permit: &Permit<ManageContacts>, id: &GroupId, phone: &Phone) -> Result<()> {
    let group = own(ctx, permit, id).await?;
    if !ctx.store.delete_contact(&group, phone.as_str()).await? {
        return Err(Error::NotFound("contact"));
    }
    Ok(())
}
