//! Imports of users: uploaded files, jobs with their checkpoint and counts, and one result
//! item per row (written in the same transaction as the row's effect, so a resumed worker
//! never does a row twice).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::{OrgId, UserId};
use crate::error::{Error, Result};
use crate::import::Mapping;
use crate::store::items::{from_item, to_item};
use crate::store::members::manage::SeatDelta;
use crate::store::ops::{Item, key, n, s};
use crate::store::table::PRIMARY;
use crate::store::tx::{self, Guard, Tx, TxError};
use crate::store::{Cursor, OrgRecord, Page, QueryDir, SeatsRecord, Store};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum UploadStatus {
    /// Waiting for the client's PUT to the presigned URL.
    Pending,
    Ready,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UploadRecord {
    pub upload_id: String,
    pub org_id: OrgId,
    pub created_by: UserId,
    pub created_at: DateTime<Utc>,
    pub size: u64,
    pub status: UploadStatus,
    /// SHA-256 of the local upload endpoint's token (disk store only).
    #[serde(default)]
    pub token_hash: Option<String>,
    /// Gone a day after creation (DynamoDB TTL; the bucket's lifecycle rule does the same).
    pub ttl: i64,
}

impl crate::store::items::Entity for UploadRecord {
    const TYPE: &'static str = "upload";
}

impl UploadRecord {
    pub const SK_PREFIX: &'static str = "UPLOAD#";
    pub fn sk(id: &str) -> String {
        format!("{}{id}", Self::SK_PREFIX)
    }
    pub fn object_key(org: &OrgId, id: &str) -> String {
        format!("imports/{org}/{id}")
    }
    fn item(&self) -> Result<Item> {
        to_item(self, OrgRecord::pk(&self.org_id), Self::sk(&self.upload_id))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum JobStatus {
    Queued,
    Running,
    Done,
    Failed,
}

/// Rows by outcome.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ImportCounts {
    /// New logins made with the password from the file.
    pub created: u32,
    /// New people invited by email to choose a password.
    pub invited: u32,
    /// Existing logins made members.
    pub added: u32,
    /// Already members or invited, or repeated in the file.
    pub skipped: u32,
    pub failed: u32,
}

impl ImportCounts {
    pub fn done(&self) -> u32 {
        self.created + self.invited + self.added + self.skipped + self.failed
    }
    pub fn count(&mut self, outcome: RowOutcome) {
        match outcome {
            RowOutcome::Created => self.created += 1,
            RowOutcome::Invited => self.invited += 1,
            RowOutcome::Added => self.added += 1,
            RowOutcome::Skipped => self.skipped += 1,
            RowOutcome::Failed => self.failed += 1,
        }
    }
    /// Seats the rows took: members now, and invitations pending.
    pub fn seats(&self) -> (u32, u32) {
        (self.created + self.added, self.invited)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ImportJobRecord {
    pub job_id: String,
    pub org_id: OrgId,
    pub upload_id: String,
    pub sheet: Option<String>,
    pub mapping: Mapping,
    pub start_row: u32,
    pub roles: Vec<crate::domain::Role>,
    pub created_by: UserId,
    pub created_by_name: String,
    pub created_at: DateTime<Utc>,
    pub status: JobStatus,
    pub error: Option<String>,
    /// Data rows (blank rows not counted).
    pub total: u32,
    /// Rows numbered below this are done (the checkpoint).
    pub next_row: u32,
    pub counts: ImportCounts,
    /// Seats taken off `free` when the job was accepted; returned as rows use them.
    pub seats_reserved: u32,
    /// The worker holding the job, and until when (Unix seconds).
    pub lease_id: Option<String>,
    pub lease_until: i64,
    pub finished_at: Option<DateTime<Utc>>,
}

impl crate::store::items::Entity for ImportJobRecord {
    const TYPE: &'static str = "import_job";
}

impl ImportJobRecord {
    pub const SK_PREFIX: &'static str = "IMPORT#";
    pub fn sk(id: &str) -> String {
        format!("{}{id}", Self::SK_PREFIX)
    }
    fn item(&self) -> Result<Item> {
        to_item(self, OrgRecord::pk(&self.org_id), Self::sk(&self.job_id))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RowOutcome {
    Created,
    Invited,
    Added,
    Skipped,
    Failed,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ImportRowRecord {
    pub row: u32,
    pub outcome: RowOutcome,
    /// What the row named: an address or `logindomain\username`.
    pub login: Option<String>,
    /// A stable code (`invalid_email`, `already_member`, `duplicate_in_file`, …).
    pub code: Option<String>,
    pub field: Option<String>,
    pub reason: Option<String>,
}

impl crate::store::items::Entity for ImportRowRecord {
    const TYPE: &'static str = "import_row";
}

impl ImportRowRecord {
    pub fn pk(job: &str) -> String {
        format!("IMPORTROW#{job}")
    }
    pub fn sk(row: u32) -> String {
        // Zero-padded so rows sort by number.
        format!("ROW#{row:07}")
    }
    pub(crate) fn item(&self, job: &str) -> Result<Item> {
        to_item(self, Self::pk(job), Self::sk(self.row))
    }
}

impl Store {
    pub async fn put_upload(&self, u: &UploadRecord) -> Result<()> {
        if self.put_new(u.item()?).await? { Ok(()) } else { Err(Error::Conflict) }
    }

    pub async fn get_upload(&self, org: &OrgId, id: &str) -> Result<Option<UploadRecord>> {
        self.get_item(&OrgRecord::pk(org), &UploadRecord::sk(id)).await?.map(from_item).transpose()
    }

    pub async fn mark_upload_ready(&self, org: &OrgId, id: &str) -> Result<()> {
        self.client
            .update_item()
            .table_name(self.table_name())
            .set_key(Some(key(OrgRecord::pk(org), UploadRecord::sk(id))))
            .update_expression("SET #s = :r")
            .condition_expression("attribute_exists(#pk)")
            .expression_attribute_names("#pk", PRIMARY.hash)
            .expression_attribute_names("#s", "status")
            .expression_attribute_values(":r", s("ready"))
            .send()
            .await
            .map_err(crate::store::error::storage)?;
        Ok(())
    }

    /// Accept a job: reserve its seats (`free >= need`) and record it, in one transaction.
    pub async fn create_import_job(&self, job: &ImportJobRecord) -> Result<()> {
        let t = self.table_name();
        let need = i64::from(job.seats_reserved);
        let mut items = Tx::new();
        items.guarded(Guard::Seats, reserve(t, &job.org_id, need)?).push(tx::put_new(t, job.item()?)?);
        match self.transact(items).await {
            Ok(()) => Ok(()),
            Err(TxError::Conditions(f)) if f.maybe(Guard::Seats) => {
                let free = self.get_seats(&job.org_id).await?.free;
                Err(Error::NoFreeSeats { needed: job.seats_reserved.saturating_sub(free).max(1) })
            }
            Err(TxError::Conditions(_)) => Err(Error::Conflict),
            Err(TxError::Other(e)) => Err(e),
        }
    }

    pub async fn get_import_job(&self, org: &OrgId, id: &str) -> Result<Option<ImportJobRecord>> {
        self.get_item(&OrgRecord::pk(org), &ImportJobRecord::sk(id)).await?.map(from_item).transpose()
    }

    /// Take a job that is queued, or running under a lease that ran out. `false`: someone
    /// else holds it, or it is finished.
    pub async fn lease_import_job(&self, org: &OrgId, id: &str, lease: &str, now: i64, until: i64) -> Result<bool> {
        let res = self
            .client
            .update_item()
            .table_name(self.table_name())
            .set_key(Some(key(OrgRecord::pk(org), ImportJobRecord::sk(id))))
            .update_expression("SET #s = :running, lease_id = :l, lease_until = :u")
            .condition_expression("#s = :queued OR (#s = :running AND lease_until < :now)")
            .expression_attribute_names("#s", "status")
            .expression_attribute_values(":running", s("running"))
            .expression_attribute_values(":queued", s("queued"))
            .expression_attribute_values(":l", s(lease))
            .expression_attribute_values(":u", n(until))
            .expression_attribute_values(":now", n(now))
            .send()
            .await;
        crate::store::error::applied(res)
    }

    /// Record progress (and the seats the chunk's rows took), while still holding the lease.
    /// With `finish`, the job ends and unused reserved seats go back to `free`.
    pub async fn checkpoint_import(
        &self,
        job: &ImportJobRecord,
        chunk: &ImportCounts,
        finish: Option<(JobStatus, DateTime<Utc>, Option<String>)>,
        lease_until: i64,
        owed: Option<&crate::store::ImportMailRecord>,
    ) -> Result<()> {
        let t = self.table_name();
        let (members, pending) = chunk.seats();
        let used = i64::from(members + pending);
        let mut items = Vec::new();
        let mut job_update = tx::update_builder(t, key(OrgRecord::pk(&job.org_id), ImportJobRecord::sk(&job.job_id)))
            .condition_expression("lease_id = :l")
            .expression_attribute_names("#c", "counts")
            .expression_attribute_values(":l", s(job.lease_id.as_deref().unwrap_or_default()))
            .expression_attribute_values(":next", n(i64::from(job.next_row)))
            .expression_attribute_values(
                ":c",
                serde_dynamo::to_attribute_value(&job.counts)
                    .map_err(|e| crate::error::Error::internal_from("encoding import counts", e))?,
            )
            .expression_attribute_values(":u", n(lease_until))
            .expression_attribute_values(":total", n(i64::from(job.total)));
        let mut release = 0i64;
        job_update = match finish {
            Some((status, at, error)) => {
                release = i64::from(job.seats_reserved) - i64::from(job.counts.seats().0 + job.counts.seats().1);
                job_update
                    .update_expression(
                        "SET next_row = :next, #c = :c, lease_until = :u, #t = :total, #s = :st, finished_at = :at, #e = :err",
                    )
                    .expression_attribute_names("#e", "error")
                    .expression_attribute_values(":err", error.map(|e| s(&e)).unwrap_or(aws_sdk_dynamodb::types::AttributeValue::Null(true)))
                    .expression_attribute_names("#s", "status")
                    .expression_attribute_names("#t", "total")
                    .expression_attribute_values(":st", s(match status {
                        JobStatus::Failed => "failed",
                        _ => "done",
                    }))
                    .expression_attribute_values(":at", s(at.to_rfc3339()))
            }
            None => job_update
                .update_expression("SET next_row = :next, #c = :c, lease_until = :u, #t = :total")
                .expression_attribute_names("#t", "total"),
        };
        items.push(tx::update(job_update)?);
        if used > 0 || release > 0 {
            // Reserved seats become used (members) or pending (invitations); the rest return.
            let d = SeatDelta { purchased: 0, used: i64::from(members + pending), pending: i64::from(pending) };
            items.push(seat_settle(t, &job.org_id, d, used + release.max(0))?);
        }
        if let Some(m) = owed {
            items.push(m.put(t)?);
        }
        match self.transact(items).await {
            Ok(()) => Ok(()),
            Err(TxError::Conditions(_)) => Err(Error::Conflict),
            Err(TxError::Other(e)) => Err(e),
        }
    }

    /// Existing results among `rows` (a resumed worker skips them).
    pub async fn import_rows(&self, job: &str, rows: &[u32]) -> Result<BTreeMap<u32, ImportRowRecord>> {
        let keys = rows.iter().map(|r| key(ImportRowRecord::pk(job), ImportRowRecord::sk(*r))).collect();
        let found: Vec<ImportRowRecord> =
            self.batch_get(keys).await?.into_iter().map(from_item).collect::<Result<_>>()?;
        Ok(found.into_iter().map(|r| (r.row, r)).collect())
    }

    /// A page of a job's row results, in row order.
    pub async fn import_report(&self, job: &str, limit: i32, cursor: Option<&Cursor>) -> Result<Page<ImportRowRecord>> {
        let page = self.query_prefix(None, &ImportRowRecord::pk(job), "ROW#", QueryDir::Forward, limit, cursor).await?;
        Ok(Page { items: page.items.into_iter().map(from_item).collect::<Result<_>>()?, next: page.next })
    }

    /// Record a row that changes nothing else (skipped or failed).
    pub async fn put_import_row(&self, job: &str, row: &ImportRowRecord) -> Result<bool> {
        match self.transact(vec![tx::put_new(self.table_name(), row.item(job)?)?]).await {
            Ok(()) => Ok(true),
            Err(TxError::Conditions(_)) => Ok(false),
            Err(TxError::Other(e)) => Err(e),
        }
    }
}

/// Take `need` seats off `free` into `reserved`, refused when fewer are free.
fn reserve(t: &str, org: &OrgId, need: i64) -> Result<aws_sdk_dynamodb::types::TransactWriteItem> {
    tx::update(
        tx::update_builder(t, key(OrgRecord::pk(org), SeatsRecord::SK))
            .update_expression("ADD #f :neg, reserved :need")
            .condition_expression("#f >= :need")
            .expression_attribute_names("#f", "free")
            .expression_attribute_values(":neg", n(-need))
            .expression_attribute_values(":need", n(need)),
    )
}

/// Move `from_reserved` seats out of `reserved`: `d.used` into used (pending counted within),
/// the rest back to `free`.
fn seat_settle(
    t: &str,
    org: &OrgId,
    d: SeatDelta,
    from_reserved: i64,
) -> Result<aws_sdk_dynamodb::types::TransactWriteItem> {
    tx::update(
        tx::update_builder(t, key(OrgRecord::pk(org), SeatsRecord::SK))
            .update_expression("ADD #u :u, #q :q, #f :f, reserved :r")
            .condition_expression("reserved >= :take")
            .expression_attribute_names("#u", "used")
            .expression_attribute_names("#q", "pending")
            .expression_attribute_names("#f", "free")
            .expression_attribute_values(":u", n(d.used))
            .expression_attribute_values(":q", n(d.pending))
            .expression_attribute_values(":f", n(from_reserved - d.used))
            .expression_attribute_values(":r", n(-from_reserved))
            .expression_attribute_values(":take", n(from_reserved)),
    )
}

/// What importing one row writes besides its result.
pub enum RowEffect<'a> {
    /// A new login with the file's password, and its membership.
    Created {
        credential: &'a crate::store::CredentialRecord,
        user: &'a crate::store::UserRecord,
        membership: &'a crate::store::MembershipRecord,
    },
    /// An existing login made a member.
    Added { membership: &'a crate::store::MembershipRecord },
    /// An invitation for a new person (the email is queued after the checkpoint).
    Invited { invitation: &'a crate::store::InvitationRecord, token: &'a crate::store::InviteTokenRecord },
}

/// Why a row's transaction did not commit.
#[derive(Debug, PartialEq, Eq)]
pub enum RowConflict {
    /// A worker already recorded this row.
    AlreadyDone,
    /// The login, membership or invitation came into existence meanwhile.
    Exists,
}

impl Store {
    /// The row's result and its effect in one transaction: both or neither.
    pub async fn commit_import_row(
        &self,
        job: &str,
        row: &ImportRowRecord,
        effect: &RowEffect<'_>,
        activity: &crate::store::ActivityRecord,
        lineage: &[OrgId],
    ) -> Result<std::result::Result<(), RowConflict>> {
        let t = self.table_name();
        let mut items = Tx::new();
        items.guarded(Guard::Once, tx::put_new(t, row.item(job)?)?);
        match effect {
            RowEffect::Created { credential, user, membership } => {
                items.append(crate::store::NewLogin { credential, user }.items(t)?);
                items.push(tx::put_new(t, membership.item()?)?);
                items.extend(crate::store::members::member_search::puts(t, membership)?);
            }
            RowEffect::Added { membership } => {
                items.push(tx::put_new(t, membership.item()?)?);
                items.extend(crate::store::members::member_search::puts(t, membership)?);
            }
            RowEffect::Invited { invitation, token } => {
                items.push(tx::put_new(t, invitation.item()?)?);
                items.push(tx::put_new(t, token.item(&invitation.token_hash)?)?);
            }
        }
        for item in activity.items(lineage)? {
            items.push(tx::put_new(t, item)?);
        }
        match self.transact(items).await {
            Ok(()) => Ok(Ok(())),
            Err(TxError::Conditions(f)) if f.has(Guard::Once) => Ok(Err(RowConflict::AlreadyDone)),
            Err(TxError::Conditions(_)) => Ok(Err(RowConflict::Exists)),
            Err(TxError::Other(e)) => Err(e),
        }
    }
}

impl Store {
    /// Credentials by stored login (`address` or `org_id\username`): one round trip per 100.
    pub async fn credentials(&self, logins: &[String]) -> Result<Vec<crate::store::CredentialRecord>> {
        let keys = logins
            .iter()
            .map(|l| key(crate::store::CredentialRecord::pk_of(l), crate::store::CredentialRecord::SK))
            .collect();
        self.batch_get(keys).await?.into_iter().map(from_item).collect()
    }

    /// Which of `users` are members of `org`: one round trip per 100.
    pub async fn members_among(&self, org: &OrgId, users: &[UserId]) -> Result<Vec<crate::store::MembershipRecord>> {
        let keys = users
            .iter()
            .map(|u| key(crate::store::MembershipRecord::pk(u), crate::store::MembershipRecord::sk(org)))
            .collect();
        self.batch_get(keys).await?.into_iter().map(from_item).collect()
    }

    /// Pending invitations of `org` among `emails`: one round trip per 100.
    pub async fn invitations_among(
        &self,
        org: &OrgId,
        emails: &[crate::domain::Email],
    ) -> Result<Vec<crate::store::InvitationRecord>> {
        let keys = emails.iter().map(|e| key(OrgRecord::pk(org), crate::store::InvitationRecord::sk(e))).collect();
        self.batch_get(keys).await?.into_iter().map(from_item).collect()
    }
}
