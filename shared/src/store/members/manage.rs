//! Seats, invitations and an organization's members.
//!
//! Keys:
//! - seats `ORG#<org>` / `SEATS`: purchased, used (= active members other than the owner +
//!   pending invitations), pending, reserved (held by running imports), free (= purchased −
//!   used − reserved), kept consistent by every transaction that changes one of them;
//!   conditions on `free` make seat accounting atomic;
//! - invitation `ORG#<org>` / `INVITE#<email>` (one pending invitation per address);
//! - invitation token `INVTOKEN#<sha256 of secret>` / `TOKEN` (TTL);
//! - billing event `ORG#<org>` / `BILLING#<ulid>`;
//! - outbox event `OUTBOX#<ulid>` / `EVENT` (DynamoDB Streams carry it to EventBridge).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::Scope;
use crate::domain::{Email, OrgId, Role, UserId};
use crate::error::{Error, Result};
use crate::store::items::{from_item, to_item, with_ttl};
use crate::store::ops::{Item, key, n};
use crate::store::table::GSI2;
use crate::store::tx::{self, Guard, Tx, TxError};
use crate::store::{ActivityRecord, Cursor, OrgRecord, Page, QueryDir, Store};

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SeatsRecord {
    pub purchased: u32,
    pub used: u32,
    pub pending: u32,
    pub free: u32,
    /// Taken off `free` by running imports, until their rows use them or give them back.
    #[serde(default)]
    pub reserved: u32,
}

impl crate::store::items::Entity for SeatsRecord {
    const TYPE: &'static str = "seats";
}

impl SeatsRecord {
    pub const SK: &'static str = "SEATS";

    pub fn new(purchased: u32) -> Self {
        SeatsRecord { purchased, used: 0, pending: 0, free: purchased, reserved: 0 }
    }

    pub(crate) fn item(&self, org: &OrgId) -> Result<Item> {
        to_item(self, OrgRecord::pk(org), Self::SK.to_owned())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EmailStatus {
    Queued,
    Sent,
    Failed,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct InvitationRecord {
    pub org_id: OrgId,
    pub email: Email,
    pub roles: Vec<Role>,
    #[serde(default)]
    pub scope: Scope,
    /// Change rights the invitee gets as an admin.
    #[serde(default)]
    pub manage: crate::domain::Manage,
    pub invited_by: UserId,
    pub invited_by_name: String,
    pub sent_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub token_hash: String,
    pub email_status: EmailStatus,
    /// The inbox the invitee joins on accepting, if any.
    #[serde(default)]
    pub inbox: Option<InboxChoice>,
}

impl crate::store::items::Entity for InvitationRecord {
    const TYPE: &'static str = "invitation";
}

/// An existing inbox to join, or a new one the invitee gets (and picks a number for).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum InboxChoice {
    #[schema(value_type = String)]
    Existing(crate::domain::InboxId),
    New {
        name: String,
    },
}

impl InvitationRecord {
    pub const SK_PREFIX: &'static str = "INVITE#";

    pub fn sk(email: &Email) -> String {
        format!("{}{email}", Self::SK_PREFIX)
    }

    /// GSI2 partition of the invitations to one address, across organizations.
    pub fn gsi2pk(email: &Email) -> String {
        format!("INVITED#{email}")
    }

    pub(crate) fn item(&self) -> Result<Item> {
        let mut item = to_item(self, OrgRecord::pk(&self.org_id), Self::sk(&self.email))?;
        item.insert(GSI2.key.hash.into(), crate::store::ops::s(Self::gsi2pk(&self.email)));
        item.insert(GSI2.key.range.into(), crate::store::ops::s(self.org_id.as_str()));
        Ok(item)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct InviteTokenRecord {
    pub org_id: OrgId,
    pub email: Email,
    pub expires_at: DateTime<Utc>,
}

impl crate::store::items::Entity for InviteTokenRecord {
    const TYPE: &'static str = "invite_token";
}

impl InviteTokenRecord {
    pub fn pk(hash: &str) -> String {
        format!("INVTOKEN#{hash}")
    }
    pub const SK: &'static str = "TOKEN";

    pub(crate) fn item(&self, hash: &str) -> Result<Item> {
        Ok(with_ttl(to_item(self, Self::pk(hash), Self::SK.to_owned())?, self.expires_at))
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct BillingEvent {
    pub event_id: String,
    pub org_id: OrgId,
    /// `seats.purchased` or `seats.removed`.
    pub kind: String,
    pub seats: u32,
    /// Total in cents (0 for removals).
    pub amount_cents: u64,
    pub currency: String,
    pub actor_id: UserId,
    pub at: DateTime<Utc>,
}

impl crate::store::items::Entity for BillingEvent {
    const TYPE: &'static str = "billing_event";
}

impl BillingEvent {
    pub(crate) fn item(&self) -> Result<Item> {
        to_item(self, OrgRecord::pk(&self.org_id), format!("BILLING#{}", self.event_id))
    }
}

/// A change of seat counters, applied with the condition that enough seats are free.
#[derive(Debug, Clone, Copy, Default)]
pub struct SeatDelta {
    pub purchased: i64,
    pub used: i64,
    pub pending: i64,
}

impl SeatDelta {
    /// The change to `free`. Reservations change it through their own updates (imports).
    fn free(&self) -> i64 {
        self.purchased - self.used
    }
}

/// The transaction item that applies `d` to an organization's seats, refusing to let `free` go
/// below zero.
pub(crate) fn seats_update(
    table: &str,
    org: &OrgId,
    d: SeatDelta,
) -> Result<aws_sdk_dynamodb::types::TransactWriteItem> {
    let mut b = tx::update_builder(table, key(OrgRecord::pk(org), SeatsRecord::SK))
        // `free` and `used` are reserved words.
        .update_expression("ADD #p :p, #u :u, #q :q, #f :f")
        .expression_attribute_names("#p", "purchased")
        .expression_attribute_names("#u", "used")
        .expression_attribute_names("#q", "pending")
        .expression_attribute_names("#f", "free")
        .expression_attribute_values(":p", n(d.purchased))
        .expression_attribute_values(":u", n(d.used))
        .expression_attribute_values(":q", n(d.pending))
        .expression_attribute_values(":f", n(d.free()));
    b = if d.free() < 0 {
        b.condition_expression("#f >= :need").expression_attribute_values(":need", n(-d.free()))
    } else {
        b.condition_expression("attribute_exists(#f)")
    };
    tx::update(b)
}

/// An address with a login, as an invitation sees it.
#[derive(Debug, Clone, Copy)]
pub struct KnownLogin {
    /// Already a member of the organization inviting.
    pub member: bool,
    /// The person's own language: their invitation is written in it.
    pub language: Option<crate::domain::Language>,
}

impl Store {
    pub async fn get_seats(&self, org: &OrgId) -> Result<SeatsRecord> {
        Ok(self.get_item(&OrgRecord::pk(org), SeatsRecord::SK).await?.map(from_item).transpose()?.unwrap_or_default())
    }

    /// Record an invitation and its token, taking one seat, atomically.
    pub async fn create_invitation(
        &self,
        inv: &InvitationRecord,
        token: &InviteTokenRecord,
        lineage: &[OrgId],
        activity: &ActivityRecord,
        mail: Option<&crate::store::OutboxMail>,
    ) -> Result<()> {
        let t = self.table_name();
        let mut items = Tx::new();
        items
            .guarded(Guard::Seats, seats_update(t, &inv.org_id, SeatDelta { purchased: 0, used: 1, pending: 1 })?)
            .guarded(Guard::Invitation, tx::put_new(t, inv.item()?)?)
            .push(tx::put_new(t, token.item(&inv.token_hash)?)?);
        for item in activity.items(lineage)? {
            items.push(tx::put_new(t, item)?);
        }
        if let Some(m) = mail {
            items.push(m.put(t)?);
        }
        match self.transact(items).await {
            Ok(()) => Ok(()),
            Err(TxError::Conditions(f)) if f.has(Guard::Seats) => Err(Error::NoFreeSeats { needed: 1 }),
            Err(TxError::Conditions(f)) if f.has(Guard::Invitation) => Err(Error::AlreadyInvited),
            Err(TxError::Conditions(_)) => Err(Error::Conflict),
            Err(TxError::Other(e)) => Err(e),
        }
    }

    pub async fn get_invitation(&self, org: &OrgId, email: &Email) -> Result<Option<InvitationRecord>> {
        self.get_item(&OrgRecord::pk(org), &InvitationRecord::sk(email)).await?.map(from_item).transpose()
    }

    /// Pending invitations to `email` in every organization (an index read, so eventually
    /// consistent): one query of at most 100.
    pub async fn invitations_to(&self, email: &Email) -> Result<Vec<InvitationRecord>> {
        let page = self
            .query_prefix(Some(&GSI2), &InvitationRecord::gsi2pk(email), "org_", QueryDir::Forward, 100, None)
            .await?;
        page.items.into_iter().map(from_item).collect()
    }

    pub async fn get_invite_token(&self, hash: &str) -> Result<Option<InviteTokenRecord>> {
        self.get_item(&InviteTokenRecord::pk(hash), InviteTokenRecord::SK).await?.map(from_item).transpose()
    }

    /// A page of an organization's pending invitations, by address.
    pub async fn invitations(
        &self,
        org: &OrgId,
        limit: i32,
        cursor: Option<&Cursor>,
    ) -> Result<Page<InvitationRecord>> {
        let page = self
            .query_prefix(None, &OrgRecord::pk(org), InvitationRecord::SK_PREFIX, QueryDir::Forward, limit, cursor)
            .await?;
        Ok(Page { items: page.items.into_iter().map(from_item).collect::<Result<_>>()?, next: page.next })
    }

    /// Replace an invitation's token (the old one stops working at once) and its expiry.
    pub async fn reissue_invitation(
        &self,
        old: &InvitationRecord,
        new: &InvitationRecord,
        token: &InviteTokenRecord,
        mail: Option<&crate::store::OutboxMail>,
    ) -> Result<()> {
        let t = self.table_name();
        let delete_old = aws_sdk_dynamodb::types::Delete::builder()
            .table_name(t)
            .set_key(Some(key(InviteTokenRecord::pk(&old.token_hash), InviteTokenRecord::SK)))
            .build()
            .map_err(crate::store::error::storage)?;
        let put = aws_sdk_dynamodb::types::Put::builder()
            .table_name(t)
            .set_item(Some(new.item()?))
            .condition_expression("token_hash = :old")
            .expression_attribute_values(":old", crate::store::ops::s(&old.token_hash))
            .build()
            .map_err(crate::store::error::storage)?;
        let mut items = vec![
            aws_sdk_dynamodb::types::TransactWriteItem::builder().delete(delete_old).build(),
            aws_sdk_dynamodb::types::TransactWriteItem::builder().put(put).build(),
            tx::put_new(t, token.item(&new.token_hash)?)?,
        ];
        if let Some(m) = mail {
            items.push(m.put(t)?);
        }
        match self.transact(items).await {
            Ok(()) => Ok(()),
            Err(TxError::Conditions(_)) => Err(Error::Conflict),
            Err(TxError::Other(e)) => Err(e),
        }
    }

    /// Every pending invitation of an organization.
    pub async fn all_invitations(&self, org: &OrgId) -> Result<Vec<InvitationRecord>> {
        self.query_all(&OrgRecord::pk(org), InvitationRecord::SK_PREFIX).await
    }

    /// Rewrite a pending invitation (same token) if it has not changed hands meanwhile.
    pub async fn replace_invitation(&self, old: &InvitationRecord, new: &InvitationRecord) -> Result<()> {
        let res = self
            .client
            .put_item()
            .table_name(self.table_name())
            .set_item(Some(new.item()?))
            .condition_expression("token_hash = :old")
            .expression_attribute_values(":old", crate::store::ops::s(&old.token_hash))
            .send()
            .await;
        match res {
            Ok(_) => Ok(()),
            Err(e) if crate::store::error::is_condition_failed(&e) => Err(Error::Conflict),
            Err(e) => Err(crate::store::error::storage(e)),
        }
    }

    /// Whether the login with this address (if any) is a member of `org`.
    pub async fn is_member_by_email(&self, email: &Email, org: &OrgId) -> Result<bool> {
        let Some(item) =
            self.get_item(&crate::store::CredentialRecord::pk(email), crate::store::CredentialRecord::SK).await?
        else {
            return Ok(false);
        };
        let cred: crate::store::CredentialRecord = from_item(item)?;
        Ok(self.get_membership(&cred.user_id, org).await?.is_some())
    }

    /// Which of `emails` have a login that is a member of `org`: one batch read of the
    /// credentials and one of those logins' memberships, per 100 addresses.
    /// Of `emails`, those with a login: whether it is a member of `org`, and its language.
    /// Two batch reads: the credentials, then memberships and profiles together.
    pub async fn logins_by_email(
        &self,
        emails: &[Email],
        org: &OrgId,
    ) -> Result<std::collections::HashMap<Email, KnownLogin>> {
        let keys = emails
            .iter()
            .map(|e| key(crate::store::CredentialRecord::pk(e), crate::store::CredentialRecord::SK))
            .collect();
        let creds: Vec<crate::store::CredentialRecord> =
            self.batch_get(keys).await?.into_iter().map(from_item).collect::<Result<_>>()?;
        if creds.is_empty() {
            return Ok(Default::default());
        }
        let mut keys = Vec::with_capacity(creds.len() * 2);
        for c in &creds {
            keys.push(key(crate::store::MembershipRecord::pk(&c.user_id), crate::store::MembershipRecord::sk(org)));
            keys.push(key(crate::store::UserRecord::pk(&c.user_id), crate::store::UserRecord::SK));
        }
        let (mut members, mut languages) = (std::collections::HashSet::new(), std::collections::HashMap::new());
        for item in self.batch_get(keys).await? {
            let sk =
                item.get(crate::store::table::PRIMARY.range).and_then(|v| v.as_s().ok()).cloned().unwrap_or_default();
            if sk == crate::store::UserRecord::SK {
                let u: crate::store::UserRecord = from_item(item)?;
                languages.insert(u.user_id, u.language);
            } else {
                members.insert(from_item::<crate::store::MembershipRecord>(item)?.user_id);
            }
        }
        Ok(creds
            .into_iter()
            .filter_map(|c| {
                let email = emails.iter().find(|e| e.as_str() == c.login)?.clone();
                let known =
                    KnownLogin { member: members.contains(&c.user_id), language: languages.get(&c.user_id).copied() };
                Some((email, known))
            })
            .collect())
    }

    /// Remove a pending invitation and its token, freeing its seat.
    pub async fn revoke_invitation(
        &self,
        inv: &InvitationRecord,
        lineage: &[OrgId],
        activity: &ActivityRecord,
    ) -> Result<()> {
        let t = self.table_name();
        let mut items = vec![
            tx_delete(t, key(OrgRecord::pk(&inv.org_id), InvitationRecord::sk(&inv.email)), Some(&inv.token_hash))?,
            tx_delete(t, key(InviteTokenRecord::pk(&inv.token_hash), InviteTokenRecord::SK), None)?,
            seats_update(t, &inv.org_id, SeatDelta { purchased: 0, used: -1, pending: -1 })?,
        ];
        for item in activity.items(lineage)? {
            items.push(tx::put_new(t, item)?);
        }
        match self.transact(items).await {
            Ok(()) => Ok(()),
            Err(TxError::Conditions(_)) => Err(Error::NotFound("invitation")),
            Err(TxError::Other(e)) => Err(e),
        }
    }

    /// Record whether an invitation's email went out (only while it is the same invitation).
    pub async fn set_invitation_email_status(
        &self,
        org: &OrgId,
        email: &Email,
        token_hash: &str,
        status: EmailStatus,
    ) -> Result<()> {
        let res = self
            .client
            .update_item()
            .table_name(self.table_name())
            .set_key(Some(key(OrgRecord::pk(org), InvitationRecord::sk(email))))
            .update_expression("SET email_status = :s")
            .condition_expression("token_hash = :h")
            .expression_attribute_values(
                ":s",
                crate::store::ops::s(
                    serde_json::to_value(status).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default(),
                ),
            )
            .expression_attribute_values(":h", crate::store::ops::s(token_hash))
            .send()
            .await;
        match res {
            Ok(_) => Ok(()),
            Err(e) if crate::store::error::is_condition_failed(&e) => Ok(()),
            Err(e) => Err(crate::store::error::storage(e)),
        }
    }

    /// Change seats (buy or remove) and record the billing event, atomically.
    pub async fn change_seats(&self, org: &OrgId, delta: SeatDelta, event: &BillingEvent) -> Result<()> {
        let t = self.table_name();
        let items = vec![seats_update(t, org, delta)?, tx::put_new(t, event.item()?)?];
        match self.transact(items).await {
            Ok(()) => Ok(()),
            Err(TxError::Conditions(_)) => Err(Error::NoFreeSeats { needed: (-delta.purchased).max(0) as u32 }),
            Err(TxError::Other(e)) => Err(e),
        }
    }
}

/// A delete, conditional on the item existing (and on its token hash, when given).
pub(crate) fn tx_delete(
    table: &str,
    key: Item,
    token_hash: Option<&str>,
) -> Result<aws_sdk_dynamodb::types::TransactWriteItem> {
    let mut b = aws_sdk_dynamodb::types::Delete::builder()
        .table_name(table)
        .set_key(Some(key))
        .expression_attribute_names("#pk", crate::store::table::PRIMARY.hash);
    b = match token_hash {
        Some(h) => b
            .condition_expression("attribute_exists(#pk) AND token_hash = :h")
            .expression_attribute_values(":h", crate::store::ops::s(h)),
        None => b.condition_expression("attribute_exists(#pk)"),
    };
    Ok(aws_sdk_dynamodb::types::TransactWriteItem::builder()
        .delete(b.build().map_err(crate::store::error::storage)?)
        .build())
}
