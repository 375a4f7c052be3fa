//! The emails an import chunk owes, written in the chunk's checkpoint transaction: a worker
//! that stops after the checkpoint but before the emails are queued leaves this record, and
//! the next run of the job sends them. Only addresses are kept, never invitation tokens: the
//! run that sends them issues fresh ones.
//!
//! Keys: `IMPORTMAIL#<job>` / `CHUNK#<first row, 7 digits>` (TTL 7 days).

use aws_sdk_dynamodb::types::TransactWriteItem;
use serde::{Deserialize, Serialize};

use crate::domain::{Email, OrgId};
use crate::error::Result;
use crate::store::error::storage;
use crate::store::items::{from_item, to_item, with_ttl};
use crate::store::ops::{QueryDir, key, n};
use crate::store::table::PRIMARY;
use crate::store::{Item, Store};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ImportMailRecord {
    pub org_id: OrgId,
    pub job_id: String,
    pub first_row: u32,
    /// The addresses invited by the chunk.
    pub emails: Vec<Email>,
    pub at: chrono::DateTime<chrono::Utc>,
    /// A run sending them holds them until then (epoch seconds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claimed_until: Option<i64>,
}

impl crate::store::items::Entity for ImportMailRecord {
    const TYPE: &'static str = "import_mail";
}

impl ImportMailRecord {
    pub(crate) fn pk(job: &str) -> String {
        format!("IMPORTMAIL#{job}")
    }

    pub(crate) fn sk(first_row: u32) -> String {
        format!("CHUNK#{first_row:07}")
    }

    fn item(&self) -> Result<Item> {
        let item = to_item(self, Self::pk(&self.job_id), Self::sk(self.first_row))?;
        Ok(with_ttl(item, self.at + chrono::Duration::days(7)))
    }

    /// Its put, for the checkpoint's transaction.
    pub(crate) fn put(&self, table: &str) -> Result<TransactWriteItem> {
        crate::store::tx::put(table, self.item()?)
    }
}

impl Store {
    /// What earlier runs of `job` left unsent (a page: a job has one record per chunk at most).
    pub async fn unsent_import_mail(&self, job: &str) -> Result<Vec<ImportMailRecord>> {
        let page = self.query_prefix(None, &ImportMailRecord::pk(job), "CHUNK#", QueryDir::Forward, 100, None).await?;
        page.items.into_iter().map(from_item).collect()
    }

    /// Take a record for sending until `until`, unless another run holds it.
    pub async fn claim_import_mail(&self, r: &ImportMailRecord, now: i64, until: i64) -> Result<bool> {
        let res = self
            .client
            .update_item()
            .table_name(self.table_name())
            .set_key(Some(key(ImportMailRecord::pk(&r.job_id), ImportMailRecord::sk(r.first_row))))
            .update_expression("SET claimed_until = :until")
            .condition_expression(
                "attribute_exists(#pk) AND (attribute_not_exists(claimed_until) OR claimed_until < :now)",
            )
            .expression_attribute_names("#pk", PRIMARY.hash)
            .expression_attribute_values(":until", n(until))
            .expression_attribute_values(":now", n(now))
            .send()
            .await;
        crate::store::error::applied(res)
    }

    /// Move some of the record's emails into the outbox: their outbox items and the record
    /// left with `remaining` (deleted when none remain) in one transaction, so a stop between
    /// two steps neither loses nor repeats an email.
    pub async fn move_import_mail(
        &self,
        job: &str,
        first_row: u32,
        mails: &[crate::store::OutboxMail],
        remaining: &[Email],
    ) -> Result<()> {
        let t = self.table_name();
        let k = key(ImportMailRecord::pk(job), ImportMailRecord::sk(first_row));
        let mut items = Vec::with_capacity(mails.len() + 1);
        for m in mails {
            items.push(m.put(t)?);
        }
        let record = if remaining.is_empty() {
            let delete = aws_sdk_dynamodb::types::Delete::builder()
                .table_name(t)
                .set_key(Some(k))
                .condition_expression("attribute_exists(#pk)")
                .expression_attribute_names("#pk", PRIMARY.hash)
                .build()
                .map_err(storage)?;
            TransactWriteItem::builder().delete(delete).build()
        } else {
            let rest = serde_dynamo::to_attribute_value(remaining)
                .map_err(|e| crate::error::Error::internal_from("encoding import emails left", e))?;
            crate::store::tx::update(
                crate::store::tx::update_builder(t, k)
                    .update_expression("SET emails = :rest")
                    .condition_expression("attribute_exists(#pk)")
                    .expression_attribute_names("#pk", PRIMARY.hash)
                    .expression_attribute_values(":rest", rest),
            )?
        };
        items.push(record);
        match self.transact(items).await {
            Ok(()) => Ok(()),
            Err(crate::store::tx::TxError::Conditions(_)) => Err(crate::Error::Conflict),
            Err(crate::store::tx::TxError::Other(e)) => Err(e),
        }
    }

    /// The chunk's emails are queued: forget the record.
    pub async fn sent_import_mail(&self, job: &str, first_row: u32) -> Result<()> {
        self.client
            .delete_item()
            .table_name(self.table_name())
            .set_key(Some(key(ImportMailRecord::pk(job), ImportMailRecord::sk(first_row))))
            .send()
            .await
            .map_err(storage)?;
        Ok(())
    }
}
