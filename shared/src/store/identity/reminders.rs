//! The reminder to confirm a mobile number, one per new login: `USER#<user>` /
//! `REMIND#mobile`, written in the transaction that creates the login and kept in the due
//! index (`gsi3pk = MREMIND#<shard>`, `gsi3sk = <registration time>`) until a scheduled run
//! settles it: sends the email, or drops it when the number was confirmed meanwhile. The run
//! deletes the item under a condition in the email's transaction, so however many runs
//! overlap, the email is recorded once.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::UserId;
use crate::error::{Error, Result};
use crate::store::items::{from_item, to_item};
use crate::store::notify::notifications::due_sk;
use crate::store::ops::{Item, key, s};
use crate::store::table::GSI3;
use crate::store::tx::{self, Guard, Tx, TxError};
use crate::store::{Cursor, OutboxMail, Store, UserRecord};

/// The due index's partitions for reminders: registrations spread over them; a run reads each.
pub const REMINDER_SHARDS: u32 = 4;

fn shard_key(shard: u32) -> String {
    format!("MREMIND#{shard}")
}

fn shard_of(user: &UserId) -> u32 {
    crate::store::ops::shard_of_text(user.as_str(), REMINDER_SHARDS)
}

/// A login that has not yet been reminded to confirm a mobile number.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MobileReminderRecord {
    pub user_id: UserId,
    pub registered_at: DateTime<Utc>,
}

impl crate::store::items::Entity for MobileReminderRecord {
    const TYPE: &'static str = "mobile_reminder";
}

impl MobileReminderRecord {
    pub const SK: &'static str = "REMIND#mobile";

    pub fn for_login(user: &UserRecord) -> Self {
        MobileReminderRecord { user_id: user.user_id.clone(), registered_at: user.created_at }
    }

    /// The item, in the due index under its registration time.
    pub(crate) fn put_new(&self, t: &str) -> Result<aws_sdk_dynamodb::types::TransactWriteItem> {
        let mut item = to_item(self, UserRecord::pk(&self.user_id), Self::SK.into())?;
        item.insert(GSI3.key.hash.into(), s(shard_key(shard_of(&self.user_id))));
        item.insert(GSI3.key.range.into(), s(due_sk(self.registered_at)));
        tx::put_new(t, item)
    }

    fn key(&self) -> Item {
        key(UserRecord::pk(&self.user_id), Self::SK)
    }
}

impl Store {
    /// A page of the reminders of `shard` for logins registered at or before `registered_by`.
    pub async fn due_mobile_reminders(
        &self,
        shard: u32,
        registered_by: DateTime<Utc>,
        limit: i32,
        cursor: Option<&Cursor>,
    ) -> Result<(Vec<MobileReminderRecord>, Option<Cursor>)> {
        let (items, next) = self.due_page(&shard_key(shard), &due_sk(registered_by), true, limit, cursor).await?;
        let due = items.into_iter().map(from_item).collect::<Result<Vec<_>>>()?;
        Ok((due, next))
    }

    /// Settle `reminder`: it goes, and `mails` (its email, if any) are recorded with it.
    /// `false`: another run settled it first (nothing written).
    pub async fn settle_mobile_reminder(&self, reminder: &MobileReminderRecord, mails: &[OutboxMail]) -> Result<bool> {
        let t = self.table_name();
        let delete = aws_sdk_dynamodb::types::Delete::builder()
            .table_name(t)
            .set_key(Some(reminder.key()))
            .condition_expression("attribute_exists(gsi3pk)")
            .build()
            .map_err(crate::store::error::storage)?;
        let mut items = Tx::new();
        items.guarded(Guard::Exists, aws_sdk_dynamodb::types::TransactWriteItem::builder().delete(delete).build());
        for m in mails {
            items.push(m.put(t)?);
        }
        match self.transact(items).await {
            Ok(()) => Ok(true),
            Err(TxError::Conditions(f)) if f.maybe(Guard::Exists) => Ok(false),
            Err(TxError::Conditions(_)) => Err(Error::Conflict),
            Err(TxError::Other(e)) => Err(e),
        }
    }
}
