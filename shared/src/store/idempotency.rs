//! Idempotency keys: the first request with a key claims it, later ones get its answer.
//!
//! Keys: `IDEMP#<sha-256 of caller and key>` / `IDEMP` (TTL 24 h). The claim is one
//! conditional put that hands back the existing item when it fails, so a repeat costs one
//! round trip whether it is replayed, refused or told to wait.

use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::ReturnValuesOnConditionCheckFailure;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::store::Store;
use crate::store::error::storage;
use crate::store::items::{from_item, to_item, with_ttl};
use crate::store::ops::{key, s};
use crate::store::table::PRIMARY;

/// What a key holds: the request it was first used with and, once answered, the answer.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct IdempotencyRecord {
    /// SHA-256 of the method, path and body of the first request.
    pub fingerprint: String,
    /// Until then the first request is taken to be running; after, a crashed one's key is
    /// claimed again.
    pub locked_until: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answer: Option<StoredAnswer>,
    pub created_at: DateTime<Utc>,
}

impl crate::store::items::Entity for IdempotencyRecord {
    const TYPE: &'static str = "idempotency";
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct StoredAnswer {
    pub status: u16,
    /// The headers a client acts on (`content-type`, `location`, `etag`), by lower-case name.
    pub headers: Vec<(String, String)>,
    pub body: String,
}

/// What claiming a key found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// The key is ours: run the request.
    Claimed,
    /// Someone used it before (or is using it now).
    Existing(IdempotencyRecord),
}

pub(crate) const SK: &str = "IDEMP";

/// The claim this request made, not yet answered (another request with the same
/// fingerprint may have taken it over after the lease and answered).
const STILL_OURS: &str = "fingerprint = :f AND attribute_not_exists(answer)";

impl IdempotencyRecord {
    pub(crate) fn pk(slot: &str) -> String {
        format!("IDEMP#{slot}")
    }
}

impl Store {
    /// Claim `slot` for a request, unless a live claim or an answer already holds it.
    pub async fn claim_idempotency_key(&self, slot: &str, record: &IdempotencyRecord) -> Result<Claim> {
        let item = with_ttl(
            to_item(record, IdempotencyRecord::pk(slot), SK.into())?,
            record.created_at + chrono::Duration::hours(24),
        );
        let res = self
            .client
            .put_item()
            .table_name(self.table_name())
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(#pk) OR (attribute_not_exists(answer) AND locked_until < :now)")
            .expression_attribute_names("#pk", PRIMARY.hash)
            .expression_attribute_values(":now", s(record.created_at.to_rfc3339()))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match res {
            Ok(_) => Ok(Claim::Claimed),
            Err(e) => match e.as_service_error() {
                Some(PutItemError::ConditionalCheckFailedException(c)) => match c.item() {
                    Some(old) => Ok(Claim::Existing(from_item(old.clone())?)),
                    // An engine that does not return the item: read it.
                    None => match self.get_item(&IdempotencyRecord::pk(slot), SK).await? {
                        Some(old) => Ok(Claim::Existing(from_item(old)?)),
                        None => Ok(Claim::Claimed),
                    },
                },
                _ => Err(storage(e)),
            },
        }
    }

    /// Keep the answer for later requests with the key (if the claim is still ours).
    pub async fn store_idempotent_answer(&self, slot: &str, fingerprint: &str, answer: &StoredAnswer) -> Result<()> {
        let value = serde_dynamo::to_attribute_value(answer).map_err(storage)?;
        let res = self
            .client
            .update_item()
            .table_name(self.table_name())
            .set_key(Some(key(IdempotencyRecord::pk(slot), SK)))
            .update_expression("SET answer = :a")
            .condition_expression(STILL_OURS)
            .expression_attribute_values(":a", value)
            .expression_attribute_values(":f", s(fingerprint))
            .send()
            .await;
        crate::store::error::applied(res).map(|_| ())
    }

    /// Give the key up (the request failed in a way a retry may fix), if it is still ours.
    pub async fn release_idempotency_key(&self, slot: &str, fingerprint: &str) -> Result<()> {
        let res = self
            .client
            .delete_item()
            .table_name(self.table_name())
            .set_key(Some(key(IdempotencyRecord::pk(slot), SK)))
            .condition_expression(STILL_OURS)
            .expression_attribute_values(":f", s(fingerprint))
            .send()
            .await;
        crate::store::error::applied(res).map(|_| ())
    }
}
