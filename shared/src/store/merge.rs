//! Merging one login into another: everything the old login held moves to the main login in
//! one transaction, so readers see either the old state or the merged one, never a mixture.
//! A merge that needs more than DynamoDB's 100 items per transaction is refused (see
//! `MAX_ITEMS`); it is planned from reads, and any change between planning and commit
//! cancels it whole, so running it again completes it.

use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem};

use super::error::storage;
use super::inboxes::InboxMemberRecord;
use super::members::tx_delete;
use super::ops::{Item, key, s};
use super::table::PRIMARY;
use super::tx::{self, TxError};
use super::{
    ActivityRecord, CredentialRecord, InboxRecord, InvitationRecord, MembershipRecord, OrgRecord, SessionRecord,
    SharedLinkRecord, Store, TokenRecord, UserRecord,
};
use crate::error::{Error, Result};

/// DynamoDB's limit on items in one transaction.
pub const MAX_ITEMS: usize = 100;

/// Everything a merge writes, planned from reads.
#[derive(Default)]
pub struct MergePlan {
    pub token_hash: String,
    pub token: Option<TokenRecord>,
    pub old_credential: Option<CredentialRecord>,
    pub old_user: Option<UserRecord>,
    pub main_user: Option<UserRecord>,
    /// (old membership, main's membership before, main's membership after)
    pub memberships: Vec<(MembershipRecord, Option<MembershipRecord>, MembershipRecord)>,
    pub owned_orgs: Vec<OrgRecord>,
    pub sessions: Vec<SessionRecord>,
    pub links: Vec<SharedLinkRecord>,
    pub invitations: Vec<InvitationRecord>,
    pub inboxes_owned: Vec<InboxRecord>,
    /// (old's inbox membership, main's before)
    pub inbox_members: Vec<(InboxMemberRecord, Option<InboxMemberRecord>)>,
    /// One entry per affected organization, with that organization's lineage.
    pub activity: Vec<(ActivityRecord, Vec<crate::domain::OrgId>)>,
}

fn put_if(
    table: &str,
    item: Item,
    condition: &str,
    names: &[(&str, &str)],
    values: Vec<(&str, AttributeValue)>,
) -> Result<TransactWriteItem> {
    let mut b =
        aws_sdk_dynamodb::types::Put::builder().table_name(table).set_item(Some(item)).condition_expression(condition);
    for (k, v) in names {
        b = b.expression_attribute_names(*k, *v);
    }
    for (k, v) in values {
        b = b.expression_attribute_values(k, v);
    }
    Ok(TransactWriteItem::builder().put(b.build().map_err(storage)?).build())
}

fn roles_value(m: &MembershipRecord) -> AttributeValue {
    AttributeValue::L(m.roles.iter().map(|r| s(r.as_str())).collect())
}

impl Store {
    /// Commit a planned merge. `Err(Conflict)` when anything changed since it was planned.
    pub async fn commit_merge(&self, p: &MergePlan) -> Result<()> {
        let t = self.table_name();
        let (Some(token), Some(cred), Some(old), Some(main)) = (&p.token, &p.old_credential, &p.old_user, &p.main_user)
        else {
            return Err(Error::Internal("incomplete merge plan".into()));
        };
        let mut items = vec![
            tx_delete(t, key(TokenRecord::pk(&p.token_hash), TokenRecord::SK), None)?,
            // The old login can no longer log in.
            {
                let d = aws_sdk_dynamodb::types::Delete::builder()
                    .table_name(t)
                    .set_key(Some(key(CredentialRecord::pk(&cred.email), CredentialRecord::SK)))
                    .condition_expression("user_id = :u")
                    .expression_attribute_values(":u", s(old.user_id.as_str()))
                    .build()
                    .map_err(storage)?;
                TransactWriteItem::builder().delete(d).build()
            },
            tx::update(
                tx::update_builder(t, key(UserRecord::pk(&old.user_id), UserRecord::SK))
                    .update_expression("SET merged_into = :main")
                    // `merged_into` is absent or NULL on a login that was never merged.
                    .condition_expression(
                        "email = :e AND (attribute_not_exists(merged_into) OR attribute_type(merged_into, :null))",
                    )
                    .expression_attribute_values(":null", s("NULL"))
                    .expression_attribute_values(":main", s(main.user_id.as_str()))
                    .expression_attribute_values(":e", s(old.email.as_str())),
            )?,
            {
                let d = aws_sdk_dynamodb::types::Delete::builder()
                    .table_name(t)
                    .set_key(Some(key(format!("PENDINGEMAIL#{}", token.email), "PENDING")))
                    .build()
                    .map_err(storage)?;
                TransactWriteItem::builder().delete(d).build()
            },
        ];
        for (old_m, main_before, main_after) in &p.memberships {
            items.push(tx_delete(
                t,
                key(MembershipRecord::pk(&old_m.user_id), MembershipRecord::sk(&old_m.org_id)),
                None,
            )?);
            items.push(match main_before {
                Some(b) => put_if(
                    t,
                    main_after.item()?,
                    "attribute_exists(#pk) AND #roles = :roles",
                    &[("#pk", PRIMARY.hash), ("#roles", "roles")],
                    vec![(":roles", roles_value(b))],
                )?,
                None => tx::put_new(t, main_after.item()?)?,
            });
        }
        for org in &p.owned_orgs {
            items.push(tx::update(
                tx::update_builder(t, key(OrgRecord::pk(&org.org_id), OrgRecord::SK))
                    .update_expression("SET owner_id = :main")
                    .condition_expression("owner_id = :old")
                    .expression_attribute_values(":main", s(main.user_id.as_str()))
                    .expression_attribute_values(":old", s(old.user_id.as_str())),
            )?);
        }
        for session in &p.sessions {
            let d = aws_sdk_dynamodb::types::Delete::builder()
                .table_name(t)
                .set_key(Some(key(SessionRecord::pk(&session.user_id), SessionRecord::sk(&session.session_id))))
                .build()
                .map_err(storage)?;
            items.push(TransactWriteItem::builder().delete(d).build());
        }
        for link in &p.links {
            let moved = SharedLinkRecord { linked_user_id: main.user_id.clone(), ..link.clone() };
            items.push(tx_delete(
                t,
                SharedLinkRecord::key(&link.linked_user_id, &link.org_id, &link.shared_user_id),
                None,
            )?);
            items.push(tx::put(t, moved.item()?)?);
        }
        for inv in &p.invitations {
            let moved = InvitationRecord { invited_by: main.user_id.clone(), ..inv.clone() };
            items.push(put_if(t, moved.item()?, "token_hash = :h", &[], vec![(":h", s(&inv.token_hash))])?);
        }
        for inbox in &p.inboxes_owned {
            items.push(tx::update(
                tx::update_builder(t, key(OrgRecord::pk(&inbox.org_id), InboxRecord::sk(&inbox.inbox_id)))
                    .update_expression("SET owner_id = :main")
                    .condition_expression("owner_id = :old")
                    .expression_attribute_values(":main", s(main.user_id.as_str()))
                    .expression_attribute_values(":old", s(old.user_id.as_str())),
            )?);
        }
        for (old_im, main_im) in &p.inbox_members {
            items.push(tx_delete(
                t,
                key(OrgRecord::pk(&old_im.org_id), InboxMemberRecord::sk(&old_im.inbox_id, &old_im.user_id)),
                None,
            )?);
            let mut merged = InboxMemberRecord { user_id: main.user_id.clone(), ..old_im.clone() };
            if let Some(m) = main_im {
                merged.assignments.conversation_assignment |= m.assignments.conversation_assignment;
                merged.assignments.ring_group |= m.assignments.ring_group;
                merged.assignments.ivr |= m.assignments.ivr;
                merged.assignments.call_distribution |= m.assignments.call_distribution;
            }
            items.push(tx::put(t, merged.item()?)?);
        }
        for (a, lineage) in &p.activity {
            for item in a.items(lineage)? {
                items.push(tx::put_new(t, item)?);
            }
        }
        if items.len() > MAX_ITEMS {
            return Err(Error::MergeTooLarge { items: items.len() });
        }
        match self.transact(items).await {
            Ok(()) => Ok(()),
            Err(TxError::Conditions(f)) if f.contains(&0) => Err(Error::InvalidToken),
            Err(TxError::Conditions(_)) => Err(Error::Conflict),
            Err(TxError::Other(e)) => Err(e),
        }
    }
}
