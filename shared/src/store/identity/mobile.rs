//! Proving a mobile number by a code sent to it by SMS.
//!
//! Keys: code `USER#<user>` / `MOBILECODE` (one at a time, TTL), holding the code's hash.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::{Phone, UserId};
use crate::error::{Error, Result};
use crate::store::items::{from_item, to_item, with_ttl};
use crate::store::ops::{key, n, s};
use crate::store::tx::{self, TxError};
use crate::store::{Store, UserRecord};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MobileCodeRecord {
    pub user_id: UserId,
    pub phone: Phone,
    /// SHA-256 of the user id and the code.
    pub code_hash: String,
    pub expires_at: DateTime<Utc>,
    pub attempts: u32,
}

impl crate::store::items::Entity for MobileCodeRecord {
    const TYPE: &'static str = "mobile_code";
}

impl MobileCodeRecord {
    pub const SK: &'static str = "MOBILECODE";
}

impl Store {
    /// Replace any earlier code.
    pub async fn put_mobile_code(&self, r: &MobileCodeRecord) -> Result<()> {
        let item = with_ttl(to_item(r, UserRecord::pk(&r.user_id), MobileCodeRecord::SK.into())?, r.expires_at);
        self.batch_write(vec![item], Vec::new()).await
    }

    pub async fn get_mobile_code(&self, user: &UserId) -> Result<Option<MobileCodeRecord>> {
        self.get_item(&UserRecord::pk(user), MobileCodeRecord::SK).await?.map(from_item).transpose()
    }

    /// Count a wrong code; `false` when the code is used up (or gone).
    pub async fn count_mobile_attempt(&self, r: &MobileCodeRecord, limit: u32) -> Result<bool> {
        let res = self
            .client
            .update_item()
            .table_name(self.table_name())
            .set_key(Some(key(UserRecord::pk(&r.user_id), MobileCodeRecord::SK)))
            .condition_expression("code_hash = :h AND attempts < :limit")
            .update_expression("SET attempts = attempts + :one")
            .expression_attribute_values(":h", s(&r.code_hash))
            .expression_attribute_values(":limit", n(i64::from(limit)))
            .expression_attribute_values(":one", n(1))
            .send()
            .await;
        crate::store::error::applied(res)
    }

    /// The right code: spend it and mark the number verified, if it is still the profile's.
    pub async fn confirm_mobile(&self, r: &MobileCodeRecord, limit: u32, now: DateTime<Utc>) -> Result<()> {
        let t = self.table_name();
        let spend = aws_sdk_dynamodb::types::Delete::builder()
            .table_name(t)
            .set_key(Some(key(UserRecord::pk(&r.user_id), MobileCodeRecord::SK)))
            .condition_expression("code_hash = :h AND attempts < :limit")
            .expression_attribute_values(":h", s(&r.code_hash))
            .expression_attribute_values(":limit", n(i64::from(limit)))
            .build()
            .map_err(crate::store::error::storage)?;
        let mark = tx::update_builder(t, key(UserRecord::pk(&r.user_id), UserRecord::SK))
            .condition_expression("mobile = :p")
            .update_expression("SET mobile_verified_at = :now")
            .expression_attribute_values(":p", s(r.phone.as_str()))
            .expression_attribute_values(":now", s(now.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)));
        let items =
            vec![aws_sdk_dynamodb::types::TransactWriteItem::builder().delete(spend).build(), tx::update(mark)?];
        match self.transact(items).await {
            Ok(()) => Ok(()),
            Err(TxError::Conditions(_)) => Err(Error::InvalidCode),
            Err(TxError::Other(e)) => Err(e),
        }
    }
}
