//! The email outbox: every email is first an item, written in the same transaction as the
//! change it tells of (an invitation, a reset token, a chunk of an import), so no crash
//! between the change and the queue loses it. In AWS the table's stream carries each new
//! item to the email queue (`EmailOutboxPipe`); locally the request hands it to the worker
//! and a relay sends what waits too long.
//!
//! Keys: `MAILOUT#<ulid>` / `MAIL`, `entity = email` (the Pipe's filter), the job as JSON in
//! `job`. While unsent it sits in the due index (`gsi3pk = MAILDUE#<shard>`, `gsi3sk` =
//! when it was recorded), which is what the relay reads. TTL 14 days, SQS's longest
//! retention: nothing can still be waiting to send it after that.

use aws_sdk_dynamodb::types::{AttributeValue, ReturnValuesOnConditionCheckFailure, TransactWriteItem};

use crate::error::Result;
use crate::store::error::storage;
use crate::store::items::with_ttl;
use crate::store::ops::{Item, key, n, s};
use crate::store::table::{GSI3, PRIMARY};
use crate::store::{Cursor, Store};

/// The due index's partitions for unsent emails: a burst of invitations spreads its index
/// writes over them, and the relay reads each.
pub const MAIL_SHARDS: u32 = 16;
const KEEP_DAYS: i64 = 14;
const SK: &str = "MAIL";

/// One recorded email.
#[derive(Debug, Clone)]
pub struct OutboxMail {
    pub id: String,
    /// The email job as JSON (its secret sealed). The store keeps it whole and never reads
    /// it: what a job is belongs to the mail worker (`mail::queue::EmailJob`).
    pub job: String,
    pub at: chrono::DateTime<chrono::Utc>,
}

/// What a worker's claim on an outbox email found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MailClaim {
    /// Ours to send until the lease ends.
    Claimed,
    /// Sent (or definitely failed) already: a duplicate delivery.
    Done,
    /// Another worker holds it; it is sent, or the lease ends and it can be claimed again.
    Held,
    /// No such item (expired): nothing to send.
    Gone,
}

pub fn pk(id: &str) -> String {
    format!("MAILOUT#{id}")
}

pub fn shard_key(shard: u32) -> String {
    format!("MAILDUE#{shard}")
}

/// The shard an email's id falls in: its last characters are random.
fn shard_of(id: &str) -> u32 {
    id.bytes().rev().take(4).fold(0u32, |h, b| h.wrapping_mul(31).wrapping_add(b as u32)) % MAIL_SHARDS
}

impl crate::store::items::Entity for OutboxMail {
    const TYPE: &'static str = "outbox_email";
}

impl OutboxMail {
    fn item(&self) -> Result<Item> {
        let job = self.job.clone();
        let mut item = crate::store::items::typed::<Self>(key(pk(&self.id), SK));
        // What the stream's pipe filters on (infra/template.yaml), older than the entity type.
        item.insert("entity".into(), s("email"));
        item.insert("id".into(), s(&self.id));
        item.insert("job".into(), s(job));
        item.insert("at".into(), s(self.at.to_rfc3339()));
        item.insert(GSI3.key.hash.into(), s(shard_key(shard_of(&self.id))));
        item.insert(GSI3.key.range.into(), s(format!("{}#{}", self.at.format("%Y-%m-%dT%H:%M:%S%.3fZ"), self.id)));
        Ok(with_ttl(item, self.at + chrono::Duration::days(KEEP_DAYS)))
    }

    /// Its put, for the transaction of the change it tells of (the id is new: never a
    /// replacement).
    pub(crate) fn put(&self, table: &str) -> Result<TransactWriteItem> {
        crate::store::tx::put_new(table, self.item()?)
    }

    fn from_item(item: &Item) -> Result<Self> {
        let get = |name: &str| item.get(name).and_then(|v| v.as_s().ok()).cloned();
        let job = get("job").ok_or_else(|| crate::error::Error::internal("outbox email without its job"))?;
        let at = get("at")
            .and_then(|a| chrono::DateTime::parse_from_rfc3339(&a).ok())
            .map(|a| a.with_timezone(&chrono::Utc))
            .ok_or_else(|| crate::error::Error::internal("outbox email without its time"))?;
        let id = get("id").ok_or_else(|| crate::error::Error::internal("outbox email without its id"))?;
        Ok(OutboxMail { id, job, at })
    }
}

impl Store {
    /// Record emails that go with no other change (a notice, a digest): one BatchWrite per 25.
    pub async fn put_outbox_mail(&self, mails: &[OutboxMail]) -> Result<()> {
        let items = mails.iter().map(OutboxMail::item).collect::<Result<Vec<_>>>()?;
        self.batch_write(items, Vec::new()).await
    }

    /// Record one email under the id of the request it answers, once: `Ok(false)` when that
    /// request's email is recorded already (the request was delivered again).
    pub async fn put_outbox_mail_once(&self, mail: &OutboxMail) -> Result<bool> {
        self.put_new(mail.item()?).await
    }

    /// Whether an email is recorded under `id` (sent or not, until it expires): a request
    /// delivered again finds its answer here before it counts against the address's limit.
    pub async fn outbox_mail_recorded(&self, id: &str) -> Result<bool> {
        Ok(self.get_item(&pk(id), SK).await?.is_some())
    }

    /// Unsent emails of one shard recorded before `before`, oldest first.
    pub async fn unsent_mail(
        &self,
        shard: u32,
        before: chrono::DateTime<chrono::Utc>,
        limit: i32,
        cursor: Option<&Cursor>,
    ) -> Result<(Vec<OutboxMail>, Option<Cursor>)> {
        let bound = before.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string();
        let (items, next) = self.due_page(&shard_key(shard), &bound, false, limit, cursor).await?;
        let mails = items.iter().map(OutboxMail::from_item).collect::<Result<Vec<_>>>()?;
        Ok((mails, next))
    }

    /// Void a claim on an unsent email made before `started` (plus the lease: claims end at
    /// their time plus the lease): its holder was a process that no longer runs. Only the
    /// embedded default knows that (it is the one process on its data).
    pub async fn release_mail_claim(&self, id: &str, claims_ending_before: i64) -> Result<()> {
        let res = self
            .client
            .update_item()
            .table_name(self.table_name())
            .set_key(Some(key(pk(id), SK)))
            .update_expression("REMOVE claimed_until")
            .condition_expression("attribute_not_exists(done_at) AND claimed_until < :end")
            .expression_attribute_values(":end", n(claims_ending_before))
            .send()
            .await;
        // Not applied: sent meanwhile, or claimed by this process (after its start).
        crate::store::error::applied(res).map(|_| ())
    }

    /// Take the email `id` for sending until `until` (epoch seconds).
    pub async fn claim_mail(&self, id: &str, now: i64, until: i64) -> Result<MailClaim> {
        let res = self
            .client
            .update_item()
            .table_name(self.table_name())
            .set_key(Some(key(pk(id), SK)))
            .update_expression("SET claimed_until = :until")
            .condition_expression(
                "attribute_exists(#pk) AND attribute_not_exists(done_at) \
                 AND (attribute_not_exists(claimed_until) OR claimed_until < :now)",
            )
            .expression_attribute_names("#pk", PRIMARY.hash)
            .expression_attribute_values(":until", n(until))
            .expression_attribute_values(":now", n(now))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match res {
            Ok(_) => Ok(MailClaim::Claimed),
            Err(e) => match e.as_service_error() {
                Some(aws_sdk_dynamodb::operation::update_item::UpdateItemError::ConditionalCheckFailedException(c)) => {
                    Ok(match c.item() {
                        None => MailClaim::Gone,
                        Some(old) if old.contains_key("done_at") => MailClaim::Done,
                        Some(_) => MailClaim::Held,
                    })
                }
                _ => Err(storage(e)),
            },
        }
    }

    /// The email went out, or definitely failed: out of the due index, never sent again, and
    /// only its id, outcome and time kept until the TTL.
    pub async fn mail_done(&self, id: &str, at: chrono::DateTime<chrono::Utc>, status: &str) -> Result<()> {
        let res = self
            .client
            .update_item()
            .table_name(self.table_name())
            .set_key(Some(key(pk(id), SK)))
            // The content goes: a sent email needs no copy, and its address is personal data.
            .update_expression("SET done_at = :at, #status = :status REMOVE #h, #r, claimed_until, job")
            .condition_expression("attribute_exists(#pk)")
            .expression_attribute_names("#pk", PRIMARY.hash)
            .expression_attribute_names("#h", GSI3.key.hash)
            .expression_attribute_names("#r", GSI3.key.range)
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":at", s(at.to_rfc3339()))
            .expression_attribute_values(":status", AttributeValue::S(status.to_owned()))
            .send()
            .await;
        // Expired meanwhile: nothing left to mark.
        crate::store::error::applied(res).map(|_| ())
    }

    /// Give the email back (throttled): the next delivery may claim it at once.
    pub async fn release_mail(&self, id: &str) -> Result<()> {
        let res = self
            .client
            .update_item()
            .table_name(self.table_name())
            .set_key(Some(key(pk(id), SK)))
            .update_expression("REMOVE claimed_until")
            .condition_expression("attribute_exists(#pk) AND attribute_not_exists(done_at)")
            .expression_attribute_names("#pk", PRIMARY.hash)
            .send()
            .await;
        crate::store::error::applied(res).map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_spread_over_every_shard() {
        let mut seen = std::collections::HashSet::new();
        for _ in 0..2000 {
            seen.insert(shard_of(&ulid::Ulid::new().to_string()));
        }
        assert_eq!(seen.len(), MAIL_SHARDS as usize);
    }
}
