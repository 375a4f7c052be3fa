//! Changes to who belongs to an organization: accepting invitations, listing and editing
//! members, deactivating, deleting and transferring ownership. Each change is one transaction
//! with its seat bookkeeping and activity entries.

use aws_sdk_dynamodb::types::AttributeValue;
use serde::Serialize;

use crate::domain::{OrgId, Role, UserId};
use crate::error::{Error, Result};
use crate::store::members::manage::{SeatDelta, seats_update, tx_delete};
use crate::store::ops::{Item, QueryDir, key, s};
use crate::store::table::{GSI1, GSI2, PRIMARY};
use crate::store::tx::{self, Guard, Tx, TxError};
use crate::store::{
    ActivityRecord, CredentialRecord, Cursor, InboxMemberRecord, InboxRecord, InvitationRecord, InviteTokenRecord,
    MemberStatus, MembershipRecord, OrgRecord, Page, Store, UserRecord,
};

/// What deleting a member changes besides the membership itself.
#[derive(Clone, Copy)]
pub struct MemberRemoval<'a> {
    pub membership: &'a MembershipRecord,
    pub seats: SeatDelta,
    /// For the messaging service: reassign conversations and contacts.
    pub event: &'a OutboxEvent,
    /// Inboxes the member owns; they pass to `heir`.
    pub owned_inboxes: &'a [InboxRecord],
    pub heir: &'a UserId,
}

/// A new login created by accepting an invitation.
pub struct NewLogin<'a> {
    pub credential: &'a CredentialRecord,
    pub user: &'a UserRecord,
}

impl NewLogin<'_> {
    /// The credential and the profile, each put only if new (the credential is the login's guard),
    /// and the reminder to confirm a mobile number.
    pub(crate) fn items(&self, t: &str) -> Result<Tx> {
        let login_key = CredentialRecord::pk_of(&self.credential.login);
        let credential = crate::store::items::to_item(self.credential, login_key, CredentialRecord::SK.into())?;
        let user = crate::store::items::to_item(self.user, UserRecord::pk(&self.user.user_id), UserRecord::SK.into())?;
        let mut items = Tx::new();
        items
            .guarded(Guard::Login, tx::put_new(t, credential)?)
            .extend([tx::put_new(t, user)?, crate::store::MobileReminderRecord::for_login(self.user).put_new(t)?]);
        Ok(items)
    }
}

/// An event for other services (the messaging service reassigns conversations and contacts),
/// written in the transaction of the change and carried out by DynamoDB Streams.
#[derive(Debug, Clone, Serialize)]
pub struct OutboxEvent {
    pub event_id: String,
    pub entity: &'static str,
    pub detail_type: String,
    pub detail: serde_json::Value,
    pub at: chrono::DateTime<chrono::Utc>,
}

impl crate::store::items::Entity for OutboxEvent {
    const TYPE: &'static str = "outbox_event";
}

impl OutboxEvent {
    pub(crate) fn item(&self) -> Result<Item> {
        // The stream carries it out when it is written; kept a week for inspection, then expired.
        let item = crate::store::items::to_item(self, format!("OUTBOX#{}", self.event_id), "EVENT".into())?;
        Ok(crate::store::items::with_ttl(item, self.at + chrono::Duration::days(7)))
    }
}

pub(crate) fn activity_items(
    t: &str,
    a: &ActivityRecord,
    lineage: &[OrgId],
) -> Result<Vec<aws_sdk_dynamodb::types::TransactWriteItem>> {
    a.items(lineage)?.into_iter().map(|i| tx::put_new(t, i)).collect()
}

fn membership_key(user: &UserId, org: &OrgId) -> Item {
    key(MembershipRecord::pk(user), MembershipRecord::sk(org))
}

impl Store {
    /// Turn a pending invitation into a membership: the token must still exist (so two
    /// acceptances cannot both succeed), the invitation must still carry it, and the person
    /// must not already be a member. A new person's login is created in the same step.
    pub async fn accept_invitation(
        &self,
        inv: &InvitationRecord,
        membership: &MembershipRecord,
        new_login: Option<NewLogin<'_>>,
        inbox: Option<(Option<&InboxRecord>, &InboxMemberRecord)>,
        lineage: &[OrgId],
        activity: &ActivityRecord,
    ) -> Result<()> {
        let t = self.table_name();
        let mut items = Tx::new();
        items
            .guarded(
                Guard::Token,
                tx_delete(t, key(InviteTokenRecord::pk(&inv.token_hash), InviteTokenRecord::SK), None)?,
            )
            .guarded(
                Guard::Token,
                tx_delete(t, key(OrgRecord::pk(&inv.org_id), InvitationRecord::sk(&inv.email)), Some(&inv.token_hash))?,
            )
            .guarded(Guard::Membership, tx::put_new(t, membership.item()?)?)
            .push(seats_update(t, &inv.org_id, SeatDelta { purchased: 0, used: 0, pending: -1 })?);
        if let Some(l) = &new_login {
            items.append(l.items(t)?);
        }
        if let Some((new_inbox, member)) = inbox {
            if let Some(i) = new_inbox {
                items.push(tx::put_new(t, i.item()?)?);
            }
            items.push(tx::put(t, member.item()?)?);
        }
        items.extend(activity_items(t, activity, lineage)?);
        // A closed organization's invitations are dead, as are those beneath a closed one.
        for org in lineage {
            items.guarded(
                Guard::Open,
                tx::check(
                    t,
                    key(OrgRecord::pk(org), OrgRecord::SK),
                    "attribute_exists(#pk) AND #status <> :closed",
                    &[("#status", "status")],
                    &[(":closed", "closed")],
                )?,
            );
        }
        items.extend(crate::store::members::member_search::puts(t, membership)?);
        match self.transact(items).await {
            Ok(()) => Ok(()),
            Err(TxError::Conditions(f)) if f.maybe(Guard::Token) || f.has(Guard::Open) => Err(Error::InvalidToken),
            Err(TxError::Conditions(f)) if f.has(Guard::Membership) => Err(Error::AlreadyMember),
            Err(TxError::Conditions(f)) if f.has(Guard::Login) => Err(Error::LoginRequired),
            Err(TxError::Conditions(_)) => Err(Error::Conflict),
            Err(TxError::Other(e)) => Err(e),
        }
    }

    /// A page of an organization's members, optionally only those whose name or address
    /// contains `search` (lower-case).
    pub async fn org_members(
        &self,
        org: &OrgId,
        limit: i32,
        cursor: Option<&Cursor>,
    ) -> Result<Page<MembershipRecord>> {
        let hash = MembershipRecord::gsi1pk(org);
        let prefix = MembershipRecord::SK_PREFIX;
        let page = self.query_prefix(Some(&GSI1), &hash, prefix, QueryDir::Forward, limit, cursor).await?;
        let items = page.items.into_iter().map(crate::store::items::from_item).collect::<Result<_>>()?;
        Ok(Page { items, next: page.next })
    }

    /// The owners and admins of `org` (from their own index: as many reads as they fill pages
    /// of 1,000, whatever the number of members).
    pub async fn org_admins(&self, org: &OrgId) -> Result<Vec<MembershipRecord>> {
        let hash = MembershipRecord::admins_of(org);
        let (mut out, mut cursor) = (Vec::new(), None);
        loop {
            let prefix = MembershipRecord::SK_PREFIX;
            let page = self.query_prefix(Some(&GSI2), &hash, prefix, QueryDir::Forward, 1000, cursor.as_ref()).await?;
            for item in page.items {
                out.push(crate::store::items::from_item(item)?);
            }
            match page.next {
                Some(c) => cursor = Some(c),
                None => return Ok(out),
            }
        }
    }

    /// Replace a membership (roles, scope, change rights, status) if it is unchanged since read.
    pub async fn update_membership(
        &self,
        before: &MembershipRecord,
        after: &MembershipRecord,
        seats: Option<SeatDelta>,
        lineage: &[OrgId],
        activity: &ActivityRecord,
    ) -> Result<()> {
        let t = self.table_name();
        let before_roles = AttributeValue::L(before.roles.iter().map(|r| s(r.as_str())).collect());
        let put = aws_sdk_dynamodb::types::Put::builder()
            .table_name(t)
            .set_item(Some(after.item()?))
            .condition_expression("attribute_exists(#pk) AND #roles = :roles AND #status = :status")
            .expression_attribute_names("#pk", PRIMARY.hash)
            .expression_attribute_names("#roles", "roles")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":roles", before_roles)
            .expression_attribute_values(":status", s(status_str(before.status)))
            .build()
            .map_err(crate::store::error::storage)?;
        let mut items = Tx::new();
        items.push(aws_sdk_dynamodb::types::TransactWriteItem::builder().put(put).build());
        if let Some(d) = seats {
            items.guarded(Guard::Seats, seats_update(t, &after.org_id, d)?);
        }
        items.extend(activity_items(t, activity, lineage)?);
        match self.transact(items).await {
            Ok(()) => Ok(()),
            Err(TxError::Conditions(f)) if f.has(Guard::Seats) => Err(Error::NoFreeSeats { needed: 1 }),
            Err(TxError::Conditions(_)) => Err(Error::Conflict),
            Err(TxError::Other(e)) => Err(e),
        }
    }

    /// Remove a member (never the owner), release or drop their seat, and publish the
    /// reassignment of what they owned.
    pub async fn delete_member(
        &self,
        removal: &MemberRemoval<'_>,
        lineage: &[OrgId],
        activity: &ActivityRecord,
    ) -> Result<()> {
        let MemberRemoval { membership: m, seats, event, owned_inboxes, heir } = *removal;
        let t = self.table_name();
        let delete = aws_sdk_dynamodb::types::Delete::builder()
            .table_name(t)
            .set_key(Some(membership_key(&m.user_id, &m.org_id)))
            .condition_expression("attribute_exists(#pk) AND NOT contains(#roles, :owner)")
            .expression_attribute_names("#pk", PRIMARY.hash)
            .expression_attribute_names("#roles", "roles")
            .expression_attribute_values(":owner", s(Role::Owner.as_str()))
            .build()
            .map_err(crate::store::error::storage)?;
        let mut items = vec![
            aws_sdk_dynamodb::types::TransactWriteItem::builder().delete(delete).build(),
            seats_update(t, &m.org_id, seats)?,
            tx::put_new(t, event.item()?)?,
        ];
        // Inbox ownership moves in the same step (the messaging service moves the rest).
        for inbox in owned_inboxes {
            let u = tx::update_builder(t, key(OrgRecord::pk(&inbox.org_id), InboxRecord::sk(&inbox.inbox_id)))
                .update_expression("SET owner_id = :heir")
                .condition_expression("owner_id = :gone")
                .expression_attribute_values(":heir", s(heir.as_str()))
                .expression_attribute_values(":gone", s(m.user_id.as_str()));
            items.push(tx::update(u)?);
        }
        items.extend(activity_items(t, activity, lineage)?);
        items.extend(crate::store::members::member_search::deletes(t, m)?);
        match self.transact(items).await {
            Ok(()) => {}
            Err(TxError::Conditions(_)) => return Err(Error::Conflict),
            Err(TxError::Other(e)) => return Err(e),
        }
        // Their inbox memberships go too; idempotent, so a retry finishes the job.
        let inboxes = self.inboxes(&m.org_id).await?;
        let keys = inboxes
            .iter()
            .map(|i| key(OrgRecord::pk(&m.org_id), InboxMemberRecord::sk(&i.inbox_id, &m.user_id)))
            .collect();
        self.batch_write(Vec::new(), keys).await
    }

    /// Make `to` the owner of `org` in place of `from`, who stays an admin.
    pub async fn transfer_ownership(
        &self,
        org: &OrgRecord,
        from: &MembershipRecord,
        to: &MembershipRecord,
        lineage: &[OrgId],
        activity: &ActivityRecord,
    ) -> Result<()> {
        let t = self.table_name();
        let owner_update = tx::update_builder(t, key(OrgRecord::pk(&org.org_id), OrgRecord::SK))
            .update_expression("SET owner_id = :to, version = version + :one")
            .condition_expression("owner_id = :from")
            .expression_attribute_values(":to", s(to.user_id.as_str()))
            .expression_attribute_values(":from", s(from.user_id.as_str()))
            .expression_attribute_values(":one", crate::store::ops::n(1));
        let mut old = from.clone();
        old.roles.retain(|r| *r != Role::Owner);
        if !old.roles.contains(&Role::Admin) {
            old.roles.push(Role::Admin);
        }
        let mut new = to.clone();
        new.roles = vec![Role::Owner, Role::Admin]
            .into_iter()
            .chain(to.roles.iter().copied().filter(|r| !matches!(r, Role::Owner | Role::Admin)))
            .collect();
        let mut items = vec![tx::update(owner_update)?];
        for (b, a) in [(from, &old), (to, &new)] {
            let put = aws_sdk_dynamodb::types::Put::builder()
                .table_name(t)
                .set_item(Some(a.item()?))
                .condition_expression("attribute_exists(#pk) AND #status = :active")
                .expression_attribute_names("#pk", PRIMARY.hash)
                .expression_attribute_names("#status", "status")
                .expression_attribute_values(":active", s(status_str(b.status)))
                .build()
                .map_err(crate::store::error::storage)?;
            items.push(aws_sdk_dynamodb::types::TransactWriteItem::builder().put(put).build());
        }
        items.extend(activity_items(t, activity, lineage)?);
        match self.transact(items).await {
            Ok(()) => Ok(()),
            Err(TxError::Conditions(_)) => Err(Error::Conflict),
            Err(TxError::Other(e)) => Err(e),
        }
    }

    /// End every session of `user` that is working in one of `orgs`. Returns how many ended.
    pub async fn end_sessions_in(&self, user: &UserId, orgs: &[OrgId]) -> Result<usize> {
        self.end_sessions(user, |s| s.active_org.as_ref().is_some_and(|o| orgs.contains(o))).await
    }

    /// After a membership's sessions begun before `watermark` were revoked: end the sessions
    /// working in `org` and count the revoked ones (all lost `org`). One query, one batch.
    pub async fn revoke_sessions_in(
        &self,
        user: &UserId,
        org: &OrgId,
        watermark: &crate::domain::SessionId,
    ) -> Result<usize> {
        let sessions = self.list_sessions(user).await?;
        let revoked = sessions.iter().filter(|s| s.session_id < *watermark).count();
        let ending: Vec<_> = sessions.iter().filter(|s| s.active_org.as_ref() == Some(org)).collect();
        self.delete_sessions(&ending).await?;
        Ok(revoked)
    }
}

fn status_str(s: MemberStatus) -> &'static str {
    match s {
        MemberStatus::Active => "active",
        MemberStatus::Deactivated => "deactivated",
    }
}
