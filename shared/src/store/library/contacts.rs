//! Contact groups, their contacts, and what each organization shares of them.
//!
//! Keys:
//! - group `ORG#<owner>` / `CGROUP#<grp>`: name, contact count, version;
//! - contact `CGROUP#<grp>` / `C#<E.164>`: one partition per group, so a page of contacts
//!   is one query and the number is the contact's key in its group;
//! - share catalog `ORG#<owner>` / `CGSHARES`: one top-level attribute `s_<grp>` per shared
//!   group (`all`, or the chosen sub-accounts). A sub-account reads its ancestors' catalogs
//!   in one `BatchGetItem`, whatever the depth and however much is shared elsewhere;
//! - cleanup marker `ORG#<owner>` / `CLEANUP#CGROUP#<grp>` while a deleted group's contacts
//!   are being removed (the purge finishes what a crash left).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::contact::Contact;
use crate::domain::{GroupId, OrgId, UserId};
use crate::error::{Error, Result};
use crate::store::items::typed_update;
use crate::store::items::{from_item, to_item};
use crate::store::members::member_ops::activity_items;
use crate::store::ops::{Item, key, n, s};
use crate::store::tx::{self, Guard, Tx, TxError};
use crate::store::{ActivityRecord, Cursor, OrgRecord, Page, QueryDir, Store};

/// Groups one organization may share at a time (each is an attribute of its catalog item).
pub const MAX_SHARED_GROUPS: u32 = 100;
/// Sub-accounts one share may name.
pub const MAX_SHARE_TARGETS: usize = 50;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GroupRecord {
    pub group_id: GroupId,
    pub org_id: OrgId,
    pub name: String,
    pub contact_count: u64,
    pub version: u64,
    pub created_at: DateTime<Utc>,
    pub created_by: UserId,
    pub updated_at: DateTime<Utc>,
}

impl crate::store::items::Entity for GroupRecord {
    const TYPE: &'static str = "contact_group";
}

impl GroupRecord {
    pub const SK_PREFIX: &'static str = "CGROUP#";

    pub fn sk(id: &GroupId) -> String {
        format!("CGROUP#{id}")
    }

    pub fn contacts_pk(id: &GroupId) -> String {
        format!("CGROUP#{id}")
    }

    pub(crate) fn key_of(owner: &OrgId, id: &GroupId) -> Item {
        key(OrgRecord::pk(owner), Self::sk(id))
    }

    fn item(&self) -> Result<Item> {
        to_item(self, OrgRecord::pk(&self.org_id), Self::sk(&self.group_id))
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ContactRecord {
    pub group_id: GroupId,
    #[serde(flatten)]
    pub contact: Contact,
    pub added_at: DateTime<Utc>,
}

impl crate::store::items::Entity for ContactRecord {
    const TYPE: &'static str = "contact";
}

impl ContactRecord {
    pub fn sk(phone: &str) -> String {
        format!("C#{phone}")
    }

    fn item(&self) -> Result<Item> {
        to_item(self, GroupRecord::contacts_pk(&self.group_id), Self::sk(self.contact.phone().as_str()))
    }
}

/// Who a group is shared with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case", tag = "mode", content = "org_ids")]
pub enum ShareTo {
    /// Every organization beneath the owner, including ones created later.
    All,
    /// These sub-accounts and what lies beneath them.
    #[schema(value_type = Vec<String>)]
    Chosen(Vec<OrgId>),
}

impl ShareTo {
    /// Whether an organization whose lineage (root first, itself last) is `lineage` sees it.
    pub fn reaches(&self, lineage: &[&OrgId]) -> bool {
        match self {
            ShareTo::All => true,
            ShareTo::Chosen(ids) => ids.iter().any(|id| lineage.contains(&id)),
        }
    }
}

/// One organization's shared groups.
#[derive(Debug, Clone)]
pub struct ShareCatalog {
    pub owner: OrgId,
    pub shares: BTreeMap<GroupId, ShareTo>,
}

const CATALOG_SK: &str = "CGSHARES";
const SHARE_PREFIX: &str = "s_";

/// The item listing the groups an organization shares.
struct ShareCatalogItem;

impl crate::store::items::Entity for ShareCatalogItem {
    const TYPE: &'static str = "share_catalog";
}

fn catalog_key(owner: &OrgId) -> Item {
    key(OrgRecord::pk(owner), CATALOG_SK)
}

fn catalog_of(owner: OrgId, item: Item) -> Result<ShareCatalog> {
    let mut shares = BTreeMap::new();
    for (name, value) in item {
        let Some(id) = name.strip_prefix(SHARE_PREFIX) else { continue };
        let Ok(id) = GroupId::parse(id, "group_id") else { continue };
        let to: ShareTo = serde_dynamo::from_attribute_value(value).map_err(crate::store::error::storage)?;
        shares.insert(id, to);
    }
    Ok(ShareCatalog { owner, shares })
}

fn share_attr(id: &GroupId) -> String {
    format!("{SHARE_PREFIX}{id}")
}

/// The item that removes a group's share when the group is deleted (`shared` as read with
/// the group's version, which the deletion's condition holds still).
fn unshare(t: &str, group: &GroupRecord, shared: bool) -> Result<aws_sdk_dynamodb::types::TransactWriteItem> {
    let b =
        tx::update_builder(t, catalog_key(&group.org_id)).expression_attribute_names("#a", share_attr(&group.group_id));
    tx::update(if shared {
        b.condition_expression("attribute_exists(#a)")
            .update_expression("REMOVE #a ADD shared_count :minus")
            .expression_attribute_values(":minus", n(-1))
    } else {
        b.condition_expression("attribute_not_exists(#a)").update_expression("REMOVE #a")
    })
}

fn cleanup_key(owner: &OrgId, id: &GroupId) -> Item {
    key(OrgRecord::pk(owner), format!("CLEANUP#{}", GroupRecord::sk(id)))
}

impl Store {
    pub async fn create_group(&self, g: &GroupRecord, act: &ActivityRecord, lineage: &[OrgId]) -> Result<()> {
        let t = self.table_name();
        let mut items = vec![tx::put_new(t, g.item()?)?];
        items.extend(activity_items(t, act, lineage)?);
        match self.transact(items).await {
            Ok(()) => Ok(()),
            Err(TxError::Conditions(_)) => Err(Error::Conflict),
            Err(TxError::Other(e)) => Err(e),
        }
    }

    pub async fn get_group(&self, owner: &OrgId, id: &GroupId) -> Result<Option<GroupRecord>> {
        self.get_item(&OrgRecord::pk(owner), &GroupRecord::sk(id)).await?.map(from_item).transpose()
    }

    /// Groups by (owner, id), one `BatchGetItem` per 100; missing ones are left out.
    pub async fn groups(&self, keys: &[(OrgId, GroupId)]) -> Result<Vec<GroupRecord>> {
        let keys = keys.iter().map(|(o, g)| GroupRecord::key_of(o, g)).collect();
        self.batch_get(keys).await?.into_iter().map(from_item).collect()
    }

    pub async fn own_groups(&self, owner: &OrgId, limit: i32, cursor: Option<&Cursor>) -> Result<Page<GroupRecord>> {
        let page = self
            .query_prefix(None, &OrgRecord::pk(owner), GroupRecord::SK_PREFIX, QueryDir::Forward, limit, cursor)
            .await?;
        Ok(Page { items: page.items.into_iter().map(from_item).collect::<Result<_>>()?, next: page.next })
    }

    /// Rename a group still at `before.version`.
    pub async fn rename_group(
        &self,
        before: &GroupRecord,
        name: &str,
        act: &ActivityRecord,
        lineage: &[OrgId],
    ) -> Result<()> {
        let t = self.table_name();
        let update = tx::update_builder(t, GroupRecord::key_of(&before.org_id, &before.group_id))
            .condition_expression("version = :v")
            .update_expression("SET #name = :name, updated_at = :at, version = version + :one")
            .expression_attribute_names("#name", "name")
            .expression_attribute_values(":v", n(before.version as i64))
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":name", s(name))
            .expression_attribute_values(":at", s(act.at.to_rfc3339()));
        let mut items = vec![tx::update(update)?];
        items.extend(activity_items(t, act, lineage)?);
        tx::versioned(self, items).await
    }

    /// Delete a group still at `before.version`, its share, then its contacts. A cleanup
    /// marker written with the deletion lets the purge finish a removal a crash cut short.
    pub async fn delete_group(
        &self,
        before: &GroupRecord,
        shared: bool,
        act: &ActivityRecord,
        lineage: &[OrgId],
    ) -> Result<()> {
        let t = self.table_name();
        let delete = tx::delete_at_version(t, GroupRecord::key_of(&before.org_id, &before.group_id), before.version)?;
        let mut marker = cleanup_key(&before.org_id, &before.group_id);
        marker.insert("group_id".into(), s(before.group_id.as_str()));
        let mut items = vec![delete, unshare(t, before, shared)?, tx::put(t, marker)?];
        items.extend(activity_items(t, act, lineage)?);
        tx::versioned(self, items).await?;
        self.delete_partition(&GroupRecord::contacts_pk(&before.group_id)).await?;
        self.batch_write(Vec::new(), vec![cleanup_key(&before.org_id, &before.group_id)]).await
    }

    /// Share a group (replacing whom it was shared with), or stop sharing it (`None`).
    /// `was_shared` is what the caller read: the catalog's count of shared groups moves only
    /// when that is still true, so a concurrent change makes this a conflict, not a miscount.
    pub async fn set_share(
        &self,
        group: &GroupRecord,
        was_shared: bool,
        to: Option<&ShareTo>,
        act: &ActivityRecord,
        lineage: &[OrgId],
    ) -> Result<()> {
        let t = self.table_name();
        let check =
            tx::check(t, GroupRecord::key_of(&group.org_id, &group.group_id), "attribute_exists(#pk)", &[], &[])?;
        let b = tx::update_builder(t, catalog_key(&group.org_id))
            .expression_attribute_names("#a", share_attr(&group.group_id));
        let catalog = match (to, was_shared) {
            (None, false) => return Ok(()),
            (None, true) => b
                .condition_expression("attribute_exists(#a)")
                .update_expression("REMOVE #a ADD shared_count :minus")
                .expression_attribute_values(":minus", n(-1)),
            (Some(to), true) => b
                .condition_expression("attribute_exists(#a)")
                .update_expression("SET #a = :to")
                .expression_attribute_values(
                    ":to",
                    serde_dynamo::to_attribute_value(to).map_err(crate::store::error::storage)?,
                ),
            (Some(to), false) => typed_update::<ShareCatalogItem>(b)
                .condition_expression(
                    "attribute_not_exists(#a) AND (attribute_not_exists(shared_count) OR shared_count < :max)",
                )
                .update_expression("SET #a = :to, #et = :et ADD shared_count :one")
                .expression_attribute_values(
                    ":to",
                    serde_dynamo::to_attribute_value(to).map_err(crate::store::error::storage)?,
                )
                .expression_attribute_values(":one", n(1))
                .expression_attribute_values(":max", n(i64::from(MAX_SHARED_GROUPS))),
        };
        let mut items = Tx::new();
        items.guarded(Guard::Exists, check).push(tx::update(catalog)?).extend(activity_items(t, act, lineage)?);
        match self.transact(items).await {
            Ok(()) => Ok(()),
            Err(TxError::Conditions(f)) if f.has(Guard::Exists) => Err(Error::NotFound("contact group")),
            Err(TxError::Conditions(_)) if to.is_some() && !was_shared => {
                // Either the limit, or another request shared it first: tell apart by reading.
                match self.share_catalog(&group.org_id).await?.shares.contains_key(&group.group_id) {
                    true => Err(Error::Conflict),
                    false => Err(Error::validation(
                        "too_many_shared_groups",
                        "group_id",
                        format!("an organization shares at most {MAX_SHARED_GROUPS} groups"),
                    )),
                }
            }
            Err(TxError::Conditions(_)) => Err(Error::Conflict),
            Err(TxError::Other(e)) => Err(e),
        }
    }

    /// The share catalogs of `owners` (the ancestors of an organization), one `BatchGetItem`.
    pub async fn share_catalogs(&self, owners: &[OrgId]) -> Result<Vec<ShareCatalog>> {
        if owners.is_empty() {
            return Ok(Vec::new());
        }
        let items = self.batch_get(owners.iter().map(catalog_key).collect()).await?;
        let mut out = Vec::with_capacity(items.len());
        for item in items {
            if let Some(owner) = OrgRecord::owner_of(&item) {
                out.push(catalog_of(owner, item)?);
            }
        }
        Ok(out)
    }

    /// The catalog of one organization.
    pub async fn share_catalog(&self, owner: &OrgId) -> Result<ShareCatalog> {
        Ok(self
            .share_catalogs(std::slice::from_ref(owner))
            .await?
            .pop()
            .unwrap_or(ShareCatalog { owner: owner.clone(), shares: BTreeMap::new() }))
    }

    /// Add contacts to a group in one transaction: every number must be new to the group.
    /// `Err(ContactExists(i))` names the first contact whose number is already there.
    pub async fn add_contacts(&self, group: &GroupRecord, contacts: &[ContactRecord]) -> Result<()> {
        let t = self.table_name();
        let mut items = Tx::new();
        items.guarded(
            Guard::Exists,
            tx::update(
                tx::update_builder(t, GroupRecord::key_of(&group.org_id, &group.group_id))
                    .condition_expression("attribute_exists(#pk)")
                    .update_expression("ADD contact_count :n SET updated_at = :at")
                    .expression_attribute_names("#pk", crate::store::table::PRIMARY.hash)
                    .expression_attribute_values(":n", n(contacts.len() as i64))
                    .expression_attribute_values(
                        ":at",
                        s(contacts.first().map(|c| c.added_at).unwrap_or(group.updated_at).to_rfc3339()),
                    ),
            )?,
        );
        for (i, c) in contacts.iter().enumerate() {
            items.guarded(Guard::Contact(i), tx::put_new(t, c.item()?)?);
        }
        match self.transact(items).await {
            Ok(()) => Ok(()),
            Err(TxError::Conditions(f)) if f.has(Guard::Exists) => Err(Error::NotFound("contact group")),
            Err(TxError::Conditions(f)) => {
                let index = f.guards().find_map(|g| match g {
                    Guard::Contact(i) => Some(i),
                    _ => None,
                });
                Err(Error::ContactExists { index })
            }
            Err(TxError::Other(e)) => Err(e),
        }
    }

    /// Replace a contact's name and address (the number is its key).
    pub async fn update_contact(&self, c: &ContactRecord) -> Result<bool> {
        let res = self
            .client
            .put_item()
            .table_name(self.table_name())
            .set_item(Some(c.item()?))
            .condition_expression("attribute_exists(#pk)")
            .expression_attribute_names("#pk", crate::store::table::PRIMARY.hash)
            .send()
            .await;
        crate::store::error::applied(res)
    }

    pub async fn delete_contact(&self, group: &GroupRecord, phone: &str) -> Result<bool> {
        let t = self.table_name();
        let delete = aws_sdk_dynamodb::types::Delete::builder()
            .table_name(t)
            .set_key(Some(key(GroupRecord::contacts_pk(&group.group_id), ContactRecord::sk(phone))))
            .condition_expression("attribute_exists(#pk)")
            .expression_attribute_names("#pk", crate::store::table::PRIMARY.hash)
            .build()
            .map_err(crate::store::error::storage)?;
        let count = tx::update_builder(t, GroupRecord::key_of(&group.org_id, &group.group_id))
            .condition_expression("attribute_exists(#pk)")
            .update_expression("ADD contact_count :n")
            .expression_attribute_names("#pk", crate::store::table::PRIMARY.hash)
            .expression_attribute_values(":n", n(-1));
        self.transact_applied(vec![
            aws_sdk_dynamodb::types::TransactWriteItem::builder().delete(delete).build(),
            tx::update(count)?,
        ])
        .await
    }

    pub async fn get_contact(&self, group: &GroupId, phone: &str) -> Result<Option<ContactRecord>> {
        self.get_item(&GroupRecord::contacts_pk(group), &ContactRecord::sk(phone)).await?.map(from_item).transpose()
    }

    /// A page of a group's contacts, by number: one query.
    pub async fn contacts(&self, group: &GroupId, limit: i32, cursor: Option<&Cursor>) -> Result<Page<ContactRecord>> {
        let page =
            self.query_prefix(None, &GroupRecord::contacts_pk(group), "C#", QueryDir::Forward, limit, cursor).await?;
        Ok(Page { items: page.items.into_iter().map(from_item).collect::<Result<_>>()?, next: page.next })
    }
}
