//! Merging one login into another: everything the old login held moves to the main login in
//! one transaction, so readers see either the old state or the merged one, never a mixture.
//! A merge that needs more than DynamoDB's 100 items per transaction runs as a job instead
//! (`merge_job.rs`): both logins are locked in one transaction, the per-organization groups
//! built here move in further transactions, and the locks hide the half-moved state until
//! the last one. Plans come from reads; any change between planning and commit cancels a
//! transaction whole, so planning again and committing completes the merge.

use std::collections::BTreeMap;

use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem};

use crate::domain::{OrgId, UserId};
use crate::error::{Error, Result};
use crate::store::error::storage;
use crate::store::members::inboxes::InboxMemberRecord;
use crate::store::members::manage::tx_delete;
use crate::store::ops::{Item, key, s};
use crate::store::table::PRIMARY;
use crate::store::tx::{self, Guard, Tx, TxError};
use crate::store::{
    ActivityRecord, CredentialRecord, InboxRecord, InvitationRecord, MembershipRecord, OrgRecord, SessionRecord,
    SharedLinkRecord, Store, TokenRecord, UserRecord,
};

pub use crate::store::tx::MAX_ITEMS;

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
    pub activity: Vec<(ActivityRecord, Vec<OrgId>)>,
    /// The email telling the main login of the merge, recorded with the head: the notice
    /// goes if and only if the merge began.
    pub notice: Vec<crate::store::OutboxMail>,
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

fn token_email(token: &TokenRecord) -> Result<&crate::domain::Email> {
    token.email.as_ref().ok_or(Error::InvalidToken)
}

impl MergePlan {
    /// The items that end the old login and consume the proof; empty when resuming a job
    /// whose first step already did.
    pub(crate) fn head_items(&self, t: &str) -> Result<Tx> {
        let (Some(token), Some(cred), Some(old), Some(main)) =
            (&self.token, &self.old_credential, &self.old_user, &self.main_user)
        else {
            return Ok(Tx::new());
        };
        let mut head = Tx::new();
        head.guarded(Guard::Token, tx_delete(t, key(TokenRecord::pk(&self.token_hash), TokenRecord::SK), None)?);
        head.extend([
            // The old login can no longer log in.
            {
                let d = aws_sdk_dynamodb::types::Delete::builder()
                    .table_name(t)
                    .set_key(Some(key(CredentialRecord::pk_of(&cred.login), CredentialRecord::SK)))
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
                    .expression_attribute_values(":e", s(old.address()?.as_str())),
            )?,
            {
                let d = aws_sdk_dynamodb::types::Delete::builder()
                    .table_name(t)
                    .set_key(Some(key(format!("PENDINGEMAIL#{}", token_email(token)?), "PENDING")))
                    .build()
                    .map_err(storage)?;
                TransactWriteItem::builder().delete(d).build()
            },
        ]);
        for m in &self.notice {
            head.push(m.put(t)?);
        }
        Ok(head)
    }

    /// The moves, in groups that must commit together: the old login's sessions first (so its
    /// clients stop at once), then one group per organization (membership, ownership, links,
    /// invitations, inboxes and the activity entry of that organization).
    pub(crate) fn groups(&self, t: &str, main: &UserId, old: &UserId) -> Result<Vec<Vec<TransactWriteItem>>> {
        let mut sessions = Vec::new();
        for session in &self.sessions {
            let d = aws_sdk_dynamodb::types::Delete::builder()
                .table_name(t)
                .set_key(Some(key(SessionRecord::pk(&session.user_id), SessionRecord::sk(&session.session_id))))
                .build()
                .map_err(storage)?;
            sessions.push(TransactWriteItem::builder().delete(d).build());
        }
        // Per organization: (the rest, the core). The core (membership, ownership, activity)
        // comes last: a group too large for one transaction is split, and while the old
        // membership remains, planning again finds whatever of the rest did not move.
        let mut by_org: BTreeMap<OrgId, (Vec<TransactWriteItem>, Vec<TransactWriteItem>)> = BTreeMap::new();
        for (old_m, main_before, main_after) in &self.memberships {
            let g = &mut by_org.entry(old_m.org_id.clone()).or_default().1;
            // Conditional on the old membership still being there: a second runner of the same
            // group fails instead of writing its activity twice.
            g.push(tx_delete(t, key(MembershipRecord::pk(&old_m.user_id), MembershipRecord::sk(&old_m.org_id)), None)?);
            g.push(match main_before {
                Some(b) => put_if(
                    t,
                    main_after.item()?,
                    "attribute_exists(#pk) AND #roles = :roles",
                    &[("#pk", PRIMARY.hash), ("#roles", "roles")],
                    vec![(":roles", roles_value(b))],
                )?,
                None => tx::put_new(t, main_after.item()?)?,
            });
            // The search entries move with the membership.
            g.extend(crate::store::members::member_search::deletes(t, old_m)?);
            g.extend(crate::store::members::member_search::replace(t, main_before.as_ref(), main_after)?);
        }
        for org in &self.owned_orgs {
            by_org.entry(org.org_id.clone()).or_default().1.push(tx::update(
                tx::update_builder(t, key(OrgRecord::pk(&org.org_id), OrgRecord::SK))
                    .update_expression("SET owner_id = :main")
                    .condition_expression("owner_id = :old")
                    .expression_attribute_values(":main", s(main.as_str()))
                    .expression_attribute_values(":old", s(old.as_str())),
            )?);
        }
        for link in &self.links {
            let moved = SharedLinkRecord { linked_user_id: main.clone(), ..link.clone() };
            let g = &mut by_org.entry(link.org_id.clone()).or_default().0;
            g.push(tx_delete(
                t,
                SharedLinkRecord::key(&link.linked_user_id, &link.org_id, &link.shared_user_id),
                None,
            )?);
            g.push(tx::put(t, moved.item()?)?);
        }
        for inv in &self.invitations {
            let moved = InvitationRecord { invited_by: main.clone(), ..inv.clone() };
            by_org.entry(inv.org_id.clone()).or_default().0.push(put_if(
                t,
                moved.item()?,
                "token_hash = :h",
                &[],
                vec![(":h", s(&inv.token_hash))],
            )?);
        }
        for inbox in &self.inboxes_owned {
            by_org.entry(inbox.org_id.clone()).or_default().0.push(tx::update(
                tx::update_builder(t, key(OrgRecord::pk(&inbox.org_id), InboxRecord::sk(&inbox.inbox_id)))
                    .update_expression("SET owner_id = :main")
                    .condition_expression("owner_id = :old")
                    .expression_attribute_values(":main", s(main.as_str()))
                    .expression_attribute_values(":old", s(old.as_str())),
            )?);
        }
        for (old_im, main_im) in &self.inbox_members {
            let g = &mut by_org.entry(old_im.org_id.clone()).or_default().0;
            g.push(tx_delete(
                t,
                key(OrgRecord::pk(&old_im.org_id), InboxMemberRecord::sk(&old_im.inbox_id, &old_im.user_id)),
                None,
            )?);
            let mut merged = InboxMemberRecord { user_id: main.clone(), ..old_im.clone() };
            if let Some(m) = main_im {
                merged.assignments.conversation_assignment |= m.assignments.conversation_assignment;
                merged.assignments.ring_group |= m.assignments.ring_group;
                merged.assignments.ivr |= m.assignments.ivr;
                merged.assignments.call_distribution |= m.assignments.call_distribution;
            }
            g.push(tx::put(t, merged.item()?)?);
        }
        for (a, lineage) in &self.activity {
            let g = &mut by_org.entry(a.org_id.clone()).or_default().1;
            for item in a.items(lineage)? {
                g.push(tx::put_new(t, item)?);
            }
        }
        let mut groups = vec![sessions];
        groups.extend(by_org.into_values().map(|(mut rest, core)| {
            rest.extend(core);
            rest
        }));
        groups.retain(|g| !g.is_empty());
        Ok(groups)
    }
}

/// Pack groups into transactions of at most `MAX_ITEMS`, keeping each group whole where it fits
/// one transaction. A larger group (one organization with more than 100 items to move) is
/// split so that its last 100 items, which hold its core, commit together.
pub(crate) fn pack(groups: Vec<Vec<TransactWriteItem>>) -> Vec<Vec<TransactWriteItem>> {
    let mut out: Vec<Vec<TransactWriteItem>> = Vec::new();
    let mut current: Vec<TransactWriteItem> = Vec::new();
    for mut group in groups {
        if current.len() + group.len() > MAX_ITEMS && !current.is_empty() {
            out.push(std::mem::take(&mut current));
        }
        if group.len() <= MAX_ITEMS {
            current.extend(group);
            continue;
        }
        let mut first = group.len() % MAX_ITEMS;
        if first == 0 {
            first = MAX_ITEMS;
        }
        let rest = group.split_off(first);
        out.push(group);
        let mut rest = rest.into_iter().peekable();
        while rest.peek().is_some() {
            out.push(rest.by_ref().take(MAX_ITEMS).collect());
        }
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

impl Store {
    /// Commit a planned merge in one transaction. `Ok(false)` when it needs more items than one
    /// transaction holds (run it as a job); `Err(Conflict)` when anything changed since it was
    /// planned; `Err(InvalidToken)` when the proof was already used.
    pub async fn commit_merge(&self, p: &MergePlan) -> Result<bool> {
        let t = self.table_name();
        let (Some(old), Some(main)) = (&p.old_user, &p.main_user) else {
            return Err(crate::error::Error::internal("incomplete merge plan"));
        };
        let mut items = p.head_items(t)?;
        for g in p.groups(t, &main.user_id, &old.user_id)? {
            items.extend(g);
        }
        if items.len() > MAX_ITEMS {
            return Ok(false);
        }
        match self.transact(items).await {
            Ok(()) => Ok(true),
            Err(TxError::Conditions(f)) if f.has(Guard::Token) => Err(Error::InvalidToken),
            Err(TxError::Conditions(_)) => Err(Error::Conflict),
            Err(TxError::Other(e)) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn group(n: usize, tag: &str) -> Vec<TransactWriteItem> {
        (0..n)
            .map(|i| {
                let c = aws_sdk_dynamodb::types::ConditionCheck::builder()
                    .table_name(format!("{tag}{i}"))
                    .key("pk", s("k"))
                    .condition_expression("x")
                    .build()
                    .expect("condition check");
                TransactWriteItem::builder().condition_check(c).build()
            })
            .collect()
    }

    fn tags(batch: &[TransactWriteItem]) -> Vec<String> {
        batch.iter().filter_map(|i| i.condition_check().map(|c| c.table_name().to_owned())).collect()
    }

    #[test]
    fn groups_stay_whole_and_batches_stay_within_the_limit() {
        let batches = pack(vec![group(60, "a"), group(30, "b"), group(20, "c")]);
        let sizes: Vec<usize> = batches.iter().map(Vec::len).collect();
        assert_eq!(sizes, vec![90, 20]);
        assert!(tags(&batches[1]).iter().all(|t| t.starts_with('c')));
    }

    #[test]
    fn a_group_over_the_limit_keeps_its_last_hundred_together() {
        let batches = pack(vec![group(5, "a"), group(230, "b")]);
        let sizes: Vec<usize> = batches.iter().map(Vec::len).collect();
        assert_eq!(sizes, vec![5, 30, 100, 100]);
        let last = tags(&batches[3]);
        assert_eq!((last.first().map(String::as_str), last.last().map(String::as_str)), (Some("b130"), Some("b229")));
    }
}
