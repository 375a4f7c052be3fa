//! Data exports: the job item, and reading an organization's partitions page by page for it.
//!
//! Keys: export `ORG#<org>` / `EXPORT#<exp_…>`, TTL 7 days (the file in S3 expires with it
//! under the bucket's `exports/` lifecycle rule).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::{ExportId, OrgId, UserId};
use crate::error::{Error, Result};
use crate::store::items::{from_item, to_item, with_ttl};
use crate::store::ops::{Item, key, n, s};
use crate::store::table::PRIMARY;
use crate::store::{Cursor, OrgRecord, Page, Store};

/// How long an export (and its file) is kept.
pub const EXPORT_DAYS: i64 = 7;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ExportStatus {
    Queued,
    Running,
    Done,
    Failed,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ExportRecord {
    pub export_id: ExportId,
    pub org_id: OrgId,
    pub requested_by: UserId,
    pub status: ExportStatus,
    pub created_at: DateTime<Utc>,
    #[serde(default)]
    pub sections_done: u32,
    #[serde(default)]
    pub sections_total: u32,
    #[serde(default)]
    pub items: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
}

impl crate::store::items::Entity for ExportRecord {
    const TYPE: &'static str = "export";
}

impl ExportRecord {
    pub fn sk(id: &ExportId) -> String {
        format!("EXPORT#{id}")
    }

    /// Where the file is: `exports/<org>/<export>` in the bucket (or the uploads folder).
    pub fn object_key(&self) -> String {
        format!("exports/{}/{}", self.org_id, self.export_id.as_str().replace('_', "-"))
    }

    fn item(&self) -> Result<Item> {
        let item = to_item(self, OrgRecord::pk(&self.org_id), Self::sk(&self.export_id))?;
        Ok(with_ttl(item, self.created_at + chrono::Duration::days(EXPORT_DAYS)))
    }
}

impl Store {
    pub async fn put_export(&self, e: &ExportRecord) -> Result<()> {
        if self.put_new(e.item()?).await? { Ok(()) } else { Err(Error::Conflict) }
    }

    pub async fn get_export(&self, org: &OrgId, id: &ExportId) -> Result<Option<ExportRecord>> {
        self.get_item(&OrgRecord::pk(org), &ExportRecord::sk(id)).await?.map(from_item).transpose()
    }

    /// Record progress (or the outcome) of a job.
    pub async fn update_export(&self, e: &ExportRecord) -> Result<()> {
        let mut b = self
            .client
            .update_item()
            .table_name(self.table_name())
            .set_key(Some(key(OrgRecord::pk(&e.org_id), ExportRecord::sk(&e.export_id))))
            .condition_expression("attribute_exists(#pk)")
            .expression_attribute_names("#pk", PRIMARY.hash)
            .expression_attribute_names("#status", "status")
            .expression_attribute_names("#items", "items")
            .expression_attribute_values(
                ":st",
                serde_dynamo::to_attribute_value(e.status).map_err(crate::store::error::storage)?,
            )
            .expression_attribute_values(":d", n(i64::from(e.sections_done)))
            .expression_attribute_values(":t", n(i64::from(e.sections_total)))
            .expression_attribute_values(":i", n(e.items as i64));
        let mut set = "SET #status = :st, sections_done = :d, sections_total = :t, #items = :i".to_owned();
        if let Some(at) = e.finished_at {
            set.push_str(", finished_at = :f");
            b = b.expression_attribute_values(":f", s(at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)));
        }
        if let Some(size) = e.size {
            set.push_str(", #size = :z");
            b = b.expression_attribute_names("#size", "size").expression_attribute_values(":z", n(size as i64));
        }
        b.update_expression(set).send().await.map_err(crate::store::error::storage)?;
        Ok(())
    }

    /// A page of an organization's memberships as items (by index).
    pub async fn member_items(&self, org: &OrgId, cursor: Option<&Cursor>) -> Result<Page<Item>> {
        self.query_prefix(
            Some(&crate::store::table::GSI1),
            &crate::store::MembershipRecord::gsi1pk(org),
            crate::store::MembershipRecord::SK_PREFIX,
            crate::store::QueryDir::Forward,
            500,
            cursor,
        )
        .await
    }
}
