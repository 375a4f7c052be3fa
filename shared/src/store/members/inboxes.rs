//! Inboxes (team phone lines), their members and the four assignment lists.
//!
//! Keys: inbox `ORG#<org>` / `INBOX#<inbox>`; inbox member `ORG#<org>` /
//! `INBOXMEMBER#<inbox>#<user>` (one item holding the member's four list flags, so removal can
//! be refused by a single condition); inbox activity `INBOXFEED#<inbox>` / `ACT#<ulid>`.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::{InboxId, OrgId, Phone, UserId};
use crate::error::{Error, Result};
use crate::store::items::{from_item, to_item};
use crate::store::ops::{Item, key, s};
use crate::store::tx::{self, Guard, Tx, TxError};
use crate::store::{ActivityRecord, OrgRecord, Page, QueryDir, Store};

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct InboxRecord {
    pub inbox_id: InboxId,
    pub org_id: OrgId,
    pub name: String,
    /// None until a number is chosen (an inbox created by an invitation).
    #[schema(value_type = Option<String>)]
    pub phone: Option<Phone>,
    pub owner_id: UserId,
    pub created_at: DateTime<Utc>,
}

impl crate::store::items::Entity for InboxRecord {
    const TYPE: &'static str = "inbox";
}

impl InboxRecord {
    pub const SK_PREFIX: &'static str = "INBOX#";

    pub fn sk(id: &InboxId) -> String {
        format!("{}{id}", Self::SK_PREFIX)
    }

    pub(crate) fn item(&self) -> Result<Item> {
        to_item(self, OrgRecord::pk(&self.org_id), Self::sk(&self.inbox_id))
    }
}

/// The assignment lists of an inbox.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Assignments {
    pub conversation_assignment: bool,
    pub ring_group: bool,
    pub ivr: bool,
    pub call_distribution: bool,
}

impl Assignments {
    /// What joining an inbox puts a member on.
    pub const ON_JOIN: Assignments =
        Assignments { conversation_assignment: true, ring_group: true, ivr: false, call_distribution: false };

    pub fn names(&self) -> Vec<&'static str> {
        let mut v = Vec::new();
        for (on, name) in [
            (self.conversation_assignment, "conversation_assignment"),
            (self.ring_group, "ring_group"),
            (self.ivr, "ivr"),
            (self.call_distribution, "call_distribution"),
        ] {
            if on {
                v.push(name);
            }
        }
        v
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct InboxMemberRecord {
    pub inbox_id: InboxId,
    pub org_id: OrgId,
    pub user_id: UserId,
    #[serde(flatten)]
    pub assignments: Assignments,
    pub added_at: DateTime<Utc>,
}

impl crate::store::items::Entity for InboxMemberRecord {
    const TYPE: &'static str = "inbox_member";
}

impl InboxMemberRecord {
    pub fn sk(inbox: &InboxId, user: &UserId) -> String {
        format!("INBOXMEMBER#{inbox}#{user}")
    }

    pub(crate) fn item(&self) -> Result<Item> {
        to_item(self, OrgRecord::pk(&self.org_id), Self::sk(&self.inbox_id, &self.user_id))
    }
}

fn feed_pk(inbox: &InboxId) -> String {
    format!("INBOXFEED#{inbox}")
}

pub(crate) fn inbox_activity_item(inbox: &InboxId, a: &ActivityRecord) -> Result<Item> {
    to_item(a, feed_pk(inbox), format!("{}{}", ActivityRecord::SK_PREFIX, a.activity_id))
}

impl Store {
    pub async fn get_inbox(&self, org: &OrgId, inbox: &InboxId) -> Result<Option<InboxRecord>> {
        self.get_item(&OrgRecord::pk(org), &InboxRecord::sk(inbox)).await?.map(from_item).transpose()
    }

    pub async fn inboxes(&self, org: &OrgId) -> Result<Vec<InboxRecord>> {
        self.query_all(&OrgRecord::pk(org), InboxRecord::SK_PREFIX).await
    }

    /// The members of one inbox with their list flags: one query per 1,000.
    pub async fn inbox_members(&self, org: &OrgId, inbox: &InboxId) -> Result<Vec<InboxMemberRecord>> {
        self.query_all(&OrgRecord::pk(org), &format!("INBOXMEMBER#{inbox}#")).await
    }

    /// Delete an inbox with its event for the messaging service (which moves its
    /// conversations) and the activity entry, in one transaction; then its member items
    /// (idempotent, so repeating the deletion of a half-deleted inbox finishes it).
    pub async fn delete_inbox(
        &self,
        inbox: &InboxRecord,
        event: &crate::store::OutboxEvent,
        lineage: &[OrgId],
        activity: &ActivityRecord,
    ) -> Result<()> {
        let t = self.table_name();
        let delete = aws_sdk_dynamodb::types::Delete::builder()
            .table_name(t)
            .set_key(Some(key(OrgRecord::pk(&inbox.org_id), InboxRecord::sk(&inbox.inbox_id))))
            .condition_expression("attribute_exists(#pk)")
            .expression_attribute_names("#pk", crate::store::table::PRIMARY.hash)
            .build()
            .map_err(crate::store::error::storage)?;
        let mut items = vec![
            aws_sdk_dynamodb::types::TransactWriteItem::builder().delete(delete).build(),
            tx::put_new(t, event.item()?)?,
        ];
        items.extend(crate::store::members::member_ops::activity_items(t, activity, lineage)?);
        match self.transact(items).await {
            Ok(()) => {}
            Err(TxError::Conditions(_)) => return Err(Error::NotFound("inbox")),
            Err(TxError::Other(e)) => return Err(e),
        }
        let keys = self
            .inbox_members(&inbox.org_id, &inbox.inbox_id)
            .await?
            .iter()
            .map(|m| key(OrgRecord::pk(&m.org_id), InboxMemberRecord::sk(&m.inbox_id, &m.user_id)))
            .collect();
        self.batch_write(Vec::new(), keys).await
    }

    pub async fn get_inbox_member(
        &self,
        org: &OrgId,
        inbox: &InboxId,
        user: &UserId,
    ) -> Result<Option<InboxMemberRecord>> {
        self.get_item(&OrgRecord::pk(org), &InboxMemberRecord::sk(inbox, user)).await?.map(from_item).transpose()
    }

    /// Create an inbox, optionally with its first member, and its first activity entry.
    pub async fn create_inbox(
        &self,
        inbox: &InboxRecord,
        member: Option<&InboxMemberRecord>,
        activity: &ActivityRecord,
    ) -> Result<()> {
        let t = self.table_name();
        let mut items = vec![tx::put_new(t, inbox.item()?)?];
        if let Some(m) = member {
            items.push(tx::put_new(t, m.item()?)?);
        }
        items.push(tx::put_new(t, inbox_activity_item(&inbox.inbox_id, activity)?)?);
        match self.transact(items).await {
            Ok(()) => Ok(()),
            Err(TxError::Conditions(_)) => Err(Error::Conflict),
            Err(TxError::Other(e)) => Err(e),
        }
    }

    /// Add a member (on conversation assignment and the ring group); the inbox must exist.
    pub async fn add_inbox_member(&self, m: &InboxMemberRecord, activity: &ActivityRecord) -> Result<()> {
        let t = self.table_name();
        let inbox = key(OrgRecord::pk(&m.org_id), InboxRecord::sk(&m.inbox_id));
        let mut items = Tx::new();
        items
            .guarded(Guard::Exists, tx::check(t, inbox, "attribute_exists(#pk)", &[], &[])?)
            .push(tx::put_new(t, m.item()?)?)
            .push(tx::put_new(t, inbox_activity_item(&m.inbox_id, activity)?)?);
        match self.transact(items).await {
            Ok(()) => Ok(()),
            Err(TxError::Conditions(f)) if f.has(Guard::Exists) => Err(Error::NotFound("inbox")),
            Err(TxError::Conditions(_)) => Err(Error::AlreadyMember),
            Err(TxError::Other(e)) => Err(e),
        }
    }

    /// Change a member's assignment lists.
    pub async fn set_assignments(&self, m: &InboxMemberRecord, activity: &ActivityRecord) -> Result<()> {
        let t = self.table_name();
        let put = aws_sdk_dynamodb::types::Put::builder()
            .table_name(t)
            .set_item(Some(m.item()?))
            .condition_expression("attribute_exists(#pk)")
            .expression_attribute_names("#pk", crate::store::table::PRIMARY.hash)
            .build()
            .map_err(crate::store::error::storage)?;
        let items = vec![
            aws_sdk_dynamodb::types::TransactWriteItem::builder().put(put).build(),
            tx::put_new(t, inbox_activity_item(&m.inbox_id, activity)?)?,
        ];
        match self.transact(items).await {
            Ok(()) => Ok(()),
            Err(TxError::Conditions(_)) => Err(Error::NotFound("inbox member")),
            Err(TxError::Other(e)) => Err(e),
        }
    }

    /// Remove a member from an inbox, only if they are on none of its assignment lists (the
    /// condition is checked by DynamoDB, so a concurrent assignment cannot slip through).
    pub async fn remove_inbox_member(&self, m: &InboxMemberRecord, activity: &ActivityRecord) -> Result<()> {
        let t = self.table_name();
        let delete = aws_sdk_dynamodb::types::Delete::builder()
            .table_name(t)
            .set_key(Some(key(OrgRecord::pk(&m.org_id), InboxMemberRecord::sk(&m.inbox_id, &m.user_id))))
            .condition_expression(
                "attribute_exists(#pk) AND conversation_assignment = :f AND ring_group = :f AND ivr = :f AND call_distribution = :f",
            )
            .expression_attribute_names("#pk", crate::store::table::PRIMARY.hash)
            .expression_attribute_values(":f", aws_sdk_dynamodb::types::AttributeValue::Bool(false))
            .build()
            .map_err(crate::store::error::storage)?;
        let items = vec![
            aws_sdk_dynamodb::types::TransactWriteItem::builder().delete(delete).build(),
            tx::put_new(t, inbox_activity_item(&m.inbox_id, activity)?)?,
        ];
        match self.transact(items).await {
            Ok(()) => Ok(()),
            Err(TxError::Conditions(_)) => {
                let now = self
                    .get_inbox_member(&m.org_id, &m.inbox_id, &m.user_id)
                    .await?
                    .ok_or(Error::NotFound("inbox member"))?;
                Err(Error::StillAssigned { lists: now.assignments.names() })
            }
            Err(TxError::Other(e)) => Err(e),
        }
    }

    /// Set the phone number of an inbox that has none yet or is being renumbered.
    pub async fn set_inbox_phone(&self, inbox: &InboxRecord, phone: &Phone) -> Result<()> {
        let res = self
            .client
            .update_item()
            .table_name(self.table_name())
            .set_key(Some(key(OrgRecord::pk(&inbox.org_id), InboxRecord::sk(&inbox.inbox_id))))
            .update_expression("SET phone = :p")
            .condition_expression("attribute_exists(#pk)")
            .expression_attribute_names("#pk", crate::store::table::PRIMARY.hash)
            .expression_attribute_values(":p", s(phone.as_str()))
            .send()
            .await;
        match res {
            Ok(_) => Ok(()),
            Err(e) if crate::store::error::is_condition_failed(&e) => Err(Error::NotFound("inbox")),
            Err(e) => Err(crate::store::error::storage(e)),
        }
    }

    /// A page of an inbox's activity, newest first.
    pub async fn inbox_activity(
        &self,
        inbox: &InboxId,
        limit: i32,
        cursor: Option<&crate::store::Cursor>,
    ) -> Result<Page<ActivityRecord>> {
        let page = self
            .query_prefix(None, &feed_pk(inbox), ActivityRecord::SK_PREFIX, QueryDir::Backward, limit, cursor)
            .await?;
        Ok(Page { items: page.items.into_iter().map(from_item).collect::<Result<_>>()?, next: page.next })
    }
}
