//! Finding one's company at registration, and joining it: an index of top-level
//! organizations' names and aliases, folded (lower case, no accents) for prefix search, and
//! the requests of people asking to join.
//!
//! Keys:
//! - name entry `FIND#<first two folded characters>` / `<folded name>#<org>` (one per name and
//!   alias of a top-level organization, written with the change that sets it);
//! - join request `ORG#<org>` / `JOINREQ#<user>` (TTL 30 days).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::{Email, OrgId, UserId, fold_for_search};
use crate::error::{Error, Result};
use crate::store::items::{from_item, to_item, with_ttl};
use crate::store::ops::{Item, key};
use crate::store::tx::{self, Guard, Tx, TxError};
use crate::store::{OrgRecord, QueryDir, Store};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NameEntryRecord {
    pub org_id: OrgId,
    /// The name or alias as written.
    pub name: String,
    pub alias: bool,
}

impl crate::store::items::Entity for NameEntryRecord {
    const TYPE: &'static str = "organization_name_entry";
}

impl NameEntryRecord {
    /// `None` for a name with nothing to search by (no letters or digits).
    pub fn keys(org: &OrgId, name: &str) -> Option<Item> {
        let folded = fold_for_search(name);
        let bucket: String = folded.chars().take(2).collect();
        if bucket.is_empty() {
            return None;
        }
        Some(key(format!("FIND#{bucket}"), format!("{folded}#{org}")))
    }

    pub(crate) fn item(&self) -> Result<Option<Item>> {
        let Some(k) = Self::keys(&self.org_id, &self.name) else { return Ok(None) };
        let mut item: Item = serde_dynamo::to_item(self).map_err(crate::store::error::storage)?;
        item.extend(k);
        Ok(Some(crate::store::items::typed::<Self>(item)))
    }
}

/// The index entries of a top-level organization: its name and aliases (none for a sub-account).
pub(crate) fn name_entries(org: &OrgRecord, name: &str, aliases: &[String]) -> Vec<NameEntryRecord> {
    if org.parent_id.is_some() {
        return Vec::new();
    }
    let mut v = vec![NameEntryRecord { org_id: org.org_id.clone(), name: name.to_owned(), alias: false }];
    v.extend(aliases.iter().map(|a| NameEntryRecord { org_id: org.org_id.clone(), name: a.clone(), alias: true }));
    v
}

/// A new organization's item and its search entries, for the transaction that creates it
/// (registration, a new top-level organization, a sub-account).
pub(crate) fn new_org_items(t: &str, org: &OrgRecord) -> Result<Vec<aws_sdk_dynamodb::types::TransactWriteItem>> {
    let mut items = vec![tx::put_new(t, org.item()?)?];
    for entry in name_entries(org, &org.name, &org.company.aliases) {
        if let Some(item) = entry.item()? {
            items.push(tx::put_new(t, item)?);
        }
    }
    Ok(items)
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct JoinRequestRecord {
    pub org_id: OrgId,
    pub user_id: UserId,
    #[schema(value_type = String)]
    pub email: Email,
    pub name: String,
    pub requested_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

impl crate::store::items::Entity for JoinRequestRecord {
    const TYPE: &'static str = "join_request";
}

impl JoinRequestRecord {
    pub fn sk(user: &UserId) -> String {
        format!("JOINREQ#{user}")
    }
    pub const SK_PREFIX: &'static str = "JOINREQ#";

    pub(crate) fn item(&self) -> Result<Item> {
        Ok(with_ttl(to_item(self, OrgRecord::pk(&self.org_id), Self::sk(&self.user_id))?, self.expires_at))
    }
}

impl Store {
    /// Name entries whose folded name starts with `prefix` (already folded, ≥ 2 characters):
    /// one query.
    pub async fn find_names(&self, prefix: &str, limit: i32) -> Result<Vec<NameEntryRecord>> {
        let bucket: String = prefix.chars().take(2).collect();
        let page = self.query_prefix(None, &format!("FIND#{bucket}"), prefix, QueryDir::Forward, limit, None).await?;
        page.items.into_iter().map(from_item).collect()
    }

    /// Ask to join (replacing an earlier request of the same person).
    pub async fn put_join_request(&self, r: &JoinRequestRecord) -> Result<()> {
        self.batch_write(vec![r.item()?], Vec::new()).await
    }

    pub async fn get_join_request(&self, org: &OrgId, user: &UserId) -> Result<Option<JoinRequestRecord>> {
        self.get_item(&OrgRecord::pk(org), &JoinRequestRecord::sk(user)).await?.map(from_item).transpose()
    }

    pub async fn join_requests(
        &self,
        org: &OrgId,
        limit: i32,
        cursor: Option<&crate::store::Cursor>,
    ) -> Result<crate::store::Page<JoinRequestRecord>> {
        let page = self
            .query_prefix(None, &OrgRecord::pk(org), JoinRequestRecord::SK_PREFIX, QueryDir::Forward, limit, cursor)
            .await?;
        Ok(crate::store::Page { items: page.items.into_iter().map(from_item).collect::<Result<_>>()?, next: page.next })
    }

    pub async fn delete_join_request(&self, org: &OrgId, user: &UserId) -> Result<()> {
        self.delete_item(&OrgRecord::pk(org), &JoinRequestRecord::sk(user)).await
    }

    /// Add a member directly (joined by domain, approved request, created by an admin),
    /// taking a free seat; with a new login for a person who had none; consuming the join
    /// request it answers, if any. One transaction.
    pub async fn add_member(
        &self,
        membership: &crate::store::MembershipRecord,
        new_login: Option<crate::store::NewLogin<'_>>,
        answered: Option<&JoinRequestRecord>,
        lineage: &[OrgId],
        activity: &crate::store::ActivityRecord,
        notice: &[crate::store::OutboxMail],
    ) -> Result<()> {
        let t = self.table_name();
        let org = &membership.org_id;
        let mut items = Tx::new();
        items
            .guarded(
                Guard::Seats,
                crate::store::members::manage::seats_update(
                    t,
                    org,
                    crate::store::members::manage::SeatDelta { purchased: 0, used: 1, pending: 0 },
                )?,
            )
            .guarded(Guard::Membership, tx::put_new(t, membership.item()?)?);
        if let Some(l) = &new_login {
            items.append(l.items(t)?);
        }
        if let Some(r) = answered {
            // Answered once: a concurrent approval or a withdrawal makes this one fail.
            let d = aws_sdk_dynamodb::types::Delete::builder()
                .table_name(t)
                .set_key(Some(key(OrgRecord::pk(&r.org_id), JoinRequestRecord::sk(&r.user_id))))
                .condition_expression("attribute_exists(#pk)")
                .expression_attribute_names("#pk", crate::store::table::PRIMARY.hash)
                .build()
                .map_err(crate::store::error::storage)?;
            items.push(aws_sdk_dynamodb::types::TransactWriteItem::builder().delete(d).build());
        }
        items.extend(crate::store::members::member_ops::activity_items(t, activity, lineage)?);
        for m in notice {
            items.push(m.put(t)?);
        }
        items.extend(crate::store::members::member_search::puts(t, membership)?);
        match self.transact(items).await {
            Ok(()) => Ok(()),
            Err(TxError::Conditions(f)) if f.has(Guard::Seats) => Err(Error::NoFreeSeats { needed: 1 }),
            Err(TxError::Conditions(f)) if f.has(Guard::Membership) => Err(Error::AlreadyMember),
            Err(TxError::Conditions(f)) if f.has(Guard::Login) => Err(Error::EmailTaken),
            Err(TxError::Conditions(_)) => Err(Error::Conflict),
            Err(TxError::Other(e)) => Err(e),
        }
    }
}
