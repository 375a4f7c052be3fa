//! A merge too large for one transaction runs as a job. Its first transaction consumes the
//! proof, ends the old login and puts a lock into both logins' membership ranges; the moves
//! follow in transactions of up to 100 items; the last step removes the locks.
//!
//! The lock sits at `USER#<id>` / `MEMBER#~MERGE`: inside the key range every reader of a
//! person's memberships already reads (the batch of lineage memberships, the query of all
//! memberships), and after every organization id (`~` sorts after ULID characters). So a
//! reader learns of a running merge without an extra round trip, and answers
//! `merge_in_progress` (or resumes a stalled job) instead of showing a half-moved state.

use aws_sdk_dynamodb::types::TransactWriteItem;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::UserId;
use crate::error::{Error, Result};
use crate::store::error::applied;
use crate::store::identity::merge::pack;
use crate::store::items::{from_item, to_item};
use crate::store::ops::{Item, key, n, s};
use crate::store::table::PRIMARY;
use crate::store::tx::{self, Guard, TxError};
use crate::store::{MembershipRecord, MergePlan, Store, UserRecord};

/// Which side of a running merge a login is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MergeSide {
    /// The login being merged away: it has ended.
    Source,
    /// The login everything moves to: locked until the job finishes.
    Target,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MergeLockRecord {
    pub side: MergeSide,
    pub old_user_id: UserId,
    pub main_user_id: UserId,
    pub started_at: DateTime<Utc>,
    /// A runner holds the job until then (Unix seconds, a number so that it compares as
    /// one); after it, the next reader may take the job over.
    pub lease_until: i64,
}

impl crate::store::items::Entity for MergeLockRecord {
    const TYPE: &'static str = "merge_lock";
}

impl MergeLockRecord {
    pub const SK: &'static str = "MEMBER#~MERGE";

    pub fn pk(user: &UserId) -> String {
        MembershipRecord::pk(user)
    }

    fn owner(&self) -> &UserId {
        match self.side {
            MergeSide::Source => &self.old_user_id,
            MergeSide::Target => &self.main_user_id,
        }
    }

    pub(crate) fn item(&self) -> Result<Item> {
        to_item(self, Self::pk(self.owner()), Self::SK.into())
    }

    /// Whether a raw item read from a membership range is a merge lock.
    pub(crate) fn is_lock(item: &Item) -> bool {
        item.get(PRIMARY.range).and_then(|v| v.as_s().ok()).is_some_and(|sk| sk == Self::SK)
    }

    fn delete(t: &str, user: &UserId) -> Result<TransactWriteItem> {
        crate::store::members::manage::tx_delete(t, key(Self::pk(user), Self::SK), None)
    }
}

/// Split raw items of a membership range into memberships and the lock, if any.
pub(crate) fn split_lock(items: Vec<Item>) -> Result<(Vec<MembershipRecord>, Option<MergeLockRecord>)> {
    let mut memberships = Vec::with_capacity(items.len());
    let mut lock = None;
    for item in items {
        if MergeLockRecord::is_lock(&item) {
            lock = Some(from_item(item)?);
        } else {
            memberships.push(from_item(item)?);
        }
    }
    Ok((memberships, lock))
}

impl Store {
    /// The first step of a merge job: the head of the plan (proof consumed, old login ended)
    /// and both locks, in one transaction. `Err(InvalidToken)` when the proof was used.
    pub async fn begin_merge_job(&self, p: &MergePlan, now: DateTime<Utc>, lease_until: DateTime<Utc>) -> Result<()> {
        let t = self.table_name();
        let (Some(old), Some(main)) = (&p.old_user, &p.main_user) else {
            return Err(crate::error::Error::internal("incomplete merge plan"));
        };
        let lock = |side| MergeLockRecord {
            side,
            old_user_id: old.user_id.clone(),
            main_user_id: main.user_id.clone(),
            started_at: now,
            lease_until: lease_until.timestamp(),
        };
        let mut items = p.head_items(t)?;
        items.push(tx::put_new(t, lock(MergeSide::Source).item()?)?);
        items.push(tx::put_new(t, lock(MergeSide::Target).item()?)?);
        // On the profile too, for readers of the profile that do not read the memberships.
        items.push(tx::update(
            tx::update_builder(t, key(UserRecord::pk(&main.user_id), UserRecord::SK))
                .update_expression("SET merging_from = :old")
                .condition_expression("attribute_exists(#pk)")
                .expression_attribute_names("#pk", PRIMARY.hash)
                .expression_attribute_values(":old", s(old.user_id.as_str())),
        )?);
        match self.transact(items).await {
            Ok(()) => Ok(()),
            Err(TxError::Conditions(f)) if f.has(Guard::Token) => Err(Error::InvalidToken),
            // The main login is already receiving another merge.
            Err(TxError::Conditions(_)) => Err(Error::MergeInProgress),
            Err(TxError::Other(e)) => Err(e),
        }
    }

    /// Move what a plan made from the current state holds, in transactions of up to 100
    /// items; `max_steps` stops early (tests use it to simulate a runner dying midway).
    /// `Ok(true)` when everything planned moved; `Err(Conflict)` when something changed since
    /// planning: plan again and continue.
    pub async fn continue_merge_job(
        &self,
        p: &MergePlan,
        main: &UserId,
        old: &UserId,
        max_steps: usize,
    ) -> Result<bool> {
        let t = self.table_name();
        let batches = pack(p.groups(t, main, old)?);
        let all = batches.len() <= max_steps;
        for batch in batches.into_iter().take(max_steps) {
            match self.transact(batch).await {
                Ok(()) => {}
                Err(TxError::Conditions(_)) => return Err(Error::Conflict),
                Err(TxError::Other(e)) => return Err(e),
            }
        }
        Ok(all)
    }

    /// Remove both locks: the merged state becomes visible at once.
    pub async fn finish_merge_job(&self, main: &UserId, old: &UserId) -> Result<()> {
        let t = self.table_name();
        let unmark = tx::update(
            tx::update_builder(t, key(UserRecord::pk(main), UserRecord::SK)).update_expression("REMOVE merging_from"),
        )?;
        match self.transact(vec![MergeLockRecord::delete(t, main)?, MergeLockRecord::delete(t, old)?, unmark]).await {
            // Another runner finished it.
            Ok(()) | Err(TxError::Conditions(_)) => Ok(()),
            Err(TxError::Other(e)) => Err(e),
        }
    }

    pub async fn get_merge_lock(&self, user: &UserId) -> Result<Option<MergeLockRecord>> {
        self.get_item(&MergeLockRecord::pk(user), MergeLockRecord::SK).await?.map(from_item).transpose()
    }

    /// Take over a job whose runner's lease ran out. `false` when someone else holds it.
    pub async fn take_merge_lease(&self, main: &UserId, now: DateTime<Utc>, until: DateTime<Utc>) -> Result<bool> {
        let res = self
            .client
            .update_item()
            .table_name(self.table_name())
            .set_key(Some(key(MergeLockRecord::pk(main), MergeLockRecord::SK)))
            .update_expression("SET lease_until = :until")
            .condition_expression("attribute_exists(#pk) AND lease_until < :now")
            .expression_attribute_names("#pk", PRIMARY.hash)
            .expression_attribute_values(":now", n(now.timestamp()))
            .expression_attribute_values(":until", n(until.timestamp()))
            .send()
            .await;
        applied(res.map(|_| ()))
    }
}
