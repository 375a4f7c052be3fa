//! Importing users from a file: upload (in the request, or presigned to the bucket), a
//! synchronous preview with suggested mapping and seat need, and an asynchronous job whose
//! worker (`worker.rs`) streams the file and imports it in checkpointed chunks.

mod owed;
mod scan;
mod spool;
mod worker;

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

pub use scan::Scan;
pub use spool::Spool;
pub use worker::{RunOutcome, run_job};

use crate::access::{ManageMembers, Permit};
use crate::auth::secret;
use crate::error::{Error, Result};
use crate::files::PresignedUpload;
use crate::import::limits::{MAX_DIRECT_BYTES, MAX_FILE_BYTES};
use crate::import::{Field, FileInfo, Mapping, Suggestion};
use crate::service::Ctx;
use crate::store::{ImportCounts, ImportJobRecord, JobStatus, UploadRecord, UploadStatus};

/// Uploads are kept this long (the table's TTL and the bucket's lifecycle rule).
pub const UPLOAD_HOURS: i64 = 24;
/// How long a presigned upload URL works.
pub const PRESIGN_MINUTES: u64 = 15;

/// Where accepted jobs go: an SQS queue feeding the worker function, or a task of this process.
#[derive(Clone)]
pub enum ImportQueue {
    Sqs {
        client: crate::aws::SqsClient,
        url: String,
    },
    InProcess,
    /// The embedded default's: kept on disk until the job is over, delivered again after a
    /// restart (see [`Spool`]).
    Spool(Arc<Spool>),
    /// Jobs wait until something calls [`run_job`] (tests drive and kill workers this way).
    Held,
    /// A Lambda function not given the import queue: starting a job is a deployment error,
    /// never work done in a process Lambda freezes after the answer.
    Missing,
}

/// The message the worker receives.
#[derive(Debug, Serialize, Deserialize)]
pub struct JobMessage {
    pub org_id: crate::domain::OrgId,
    pub job_id: String,
}

impl ImportQueue {
    /// Hand a job to a worker. In process, the task runs until the job is done.
    pub async fn enqueue(&self, ctx: &Arc<Ctx>, msg: JobMessage) -> Result<()> {
        match self {
            ImportQueue::Sqs { client, url } => {
                crate::aws::send_json(client, url, &msg, crate::error::Error::Busy).await?;
            }
            ImportQueue::Held => {}
            ImportQueue::Missing => {
                return Err(crate::error::Error::internal("SWITCHBOARD_IMPORT_QUEUE_URL is not set for this function"));
            }
            ImportQueue::Spool(spool) => {
                spool.put(&msg)?;
                spool.deliver(ctx, msg);
            }
            ImportQueue::InProcess => {
                let ctx = ctx.clone();
                // In AWS the import worker runs it; attributed to it for the IAM check.
                tokio::spawn(crate::aws::as_function("import-worker", async move {
                    if let Err(e) = run_job(&ctx, &msg.org_id, &msg.job_id, None).await {
                        tracing::error!(error = %e, job = %msg.job_id, "import job failed to run");
                    }
                }));
            }
        }
        Ok(())
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct UploadView {
    pub upload_id: String,
    pub status: UploadStatus,
    pub size: u64,
    pub expires_at: chrono::DateTime<chrono::Utc>,
    /// For a presigned upload: where to PUT the file, within 15 minutes.
    pub upload: Option<PresignedUpload>,
}

fn new_upload(
    ctx: &Ctx,
    permit: &Permit<ManageMembers>,
    size: u64,
    status: UploadStatus,
    token_hash: Option<String>,
) -> UploadRecord {
    let now = ctx.now();
    UploadRecord {
        upload_id: ctx.ulid().to_string().to_lowercase(),
        org_id: permit.org.org_id.clone(),
        created_by: permit.user_id.clone(),
        created_at: now,
        size,
        status,
        token_hash,
        ttl: (now + chrono::Duration::hours(UPLOAD_HOURS)).timestamp(),
    }
}

fn view(u: &UploadRecord, upload: Option<PresignedUpload>) -> UploadView {
    UploadView {
        upload_id: u.upload_id.clone(),
        status: u.status,
        size: u.size,
        expires_at: u.created_at + chrono::Duration::hours(UPLOAD_HOURS),
        upload,
    }
}

/// A small file sent in the request body.
pub async fn upload_direct(ctx: &Ctx, permit: &Permit<ManageMembers>, bytes: Vec<u8>) -> Result<UploadView> {
    if bytes.is_empty() {
        return Err(Error::validation("empty_file", "file", "the file is empty"));
    }
    if bytes.len() > MAX_DIRECT_BYTES {
        return Err(Error::BodyTooLarge { limit: MAX_DIRECT_BYTES });
    }
    let u = new_upload(ctx, permit, bytes.len() as u64, UploadStatus::Ready, None);
    ctx.files.put(&UploadRecord::object_key(&u.org_id, &u.upload_id), bytes).await?;
    ctx.store.put_upload(&u).await?;
    Ok(view(&u, None))
}

/// A larger file: the client PUTs exactly `size` bytes to the returned URL.
pub async fn upload_presigned(ctx: &Ctx, permit: &Permit<ManageMembers>, size: u64) -> Result<UploadView> {
    if size == 0 || size > MAX_FILE_BYTES {
        return Err(Error::validation("file_too_large", "size", format!("files are 1 to {MAX_FILE_BYTES} bytes")));
    }
    let (token, hash) = secret::new_secret(ctx.random.as_ref());
    let local_token = ctx.files.is_disk().then_some(hash);
    let u = new_upload(ctx, permit, size, UploadStatus::Pending, local_token);
    let local_url = format!("{}/v1/uploads/{}/{}?token={token}", ctx.config.api_url, u.org_id, u.upload_id);
    let ttl = std::time::Duration::from_secs(PRESIGN_MINUTES * 60);
    let presigned =
        ctx.files.presign_put(&UploadRecord::object_key(&u.org_id, &u.upload_id), size, ttl, local_url).await?;
    ctx.store.put_upload(&u).await?;
    Ok(view(&u, Some(presigned)))
}

/// The local server's stand-in for the bucket's presigned PUT (disk store only).
pub async fn receive_local_upload(
    ctx: &Ctx,
    org: &crate::domain::OrgId,
    id: &str,
    token: &str,
    bytes: Vec<u8>,
) -> Result<()> {
    if !ctx.files.is_disk() {
        return Err(Error::NotFound("upload"));
    }
    let u = ctx.store.get_upload(org, id).await?.ok_or(Error::InvalidToken)?;
    let expected = u.token_hash.as_deref().ok_or(Error::InvalidToken)?;
    let fresh = u.created_at + chrono::Duration::minutes(PRESIGN_MINUTES as i64) > ctx.now();
    if !secret::looks_like_secret(token) || !secret::hashes_equal(expected, &secret::hash(token)) || !fresh {
        return Err(Error::InvalidToken);
    }
    if bytes.len() as u64 != u.size {
        return Err(Error::validation(
            "size_mismatch",
            "file",
            format!("the upload was announced as {} bytes", u.size),
        ));
    }
    ctx.files.put(&UploadRecord::object_key(org, id), bytes).await?;
    ctx.store.mark_upload_ready(org, id).await
}

/// The uploaded bytes, once the upload is complete.
pub(crate) async fn load(ctx: &Ctx, org: &crate::domain::OrgId, id: &str) -> Result<(UploadRecord, Vec<u8>)> {
    let u = ctx.store.get_upload(org, id).await?.ok_or(Error::NotFound("upload"))?;
    let key = UploadRecord::object_key(org, id);
    if u.status == UploadStatus::Pending {
        // A presigned PUT lands in the bucket without telling us: look.
        match ctx.files.size(&key).await? {
            Some(n) if n == u.size => ctx.store.mark_upload_ready(org, id).await?,
            _ => return Err(Error::validation("upload_incomplete", "upload_id", "the file has not been uploaded yet")),
        }
    }
    let bytes = ctx.files.get(&key, MAX_FILE_BYTES).await?;
    Ok((u, bytes))
}

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PreviewRequest {
    /// The sheet to read (the first when absent).
    pub sheet: Option<String>,
    /// Field → column letter; the suggestion when absent.
    #[schema(value_type = Option<BTreeMap<String, String>>)]
    pub mapping: Option<BTreeMap<Field, String>>,
    /// The first row to import (1-based); the one after the header when absent.
    #[schema(minimum = 1, maximum = 1048576)]
    pub start_row: Option<u32>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PreviewRow {
    pub number: u32,
    pub cells: Vec<Option<String>>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Preview {
    pub file: FileInfo,
    pub sheet: String,
    /// The first rows as they are in the file.
    pub rows: Vec<PreviewRow>,
    /// Per column: the suggested field and the header text it matched.
    pub columns: Vec<Suggestion>,
    pub start_row: u32,
    /// The mapping this preview applied (the suggestion unless one was given).
    #[schema(value_type = BTreeMap<String, String>)]
    pub mapping: BTreeMap<Field, String>,
    pub data_rows: u32,
    pub valid_rows: u32,
    pub invalid_rows: u32,
    /// Rows that would add someone who is neither a member nor invited yet.
    pub seats_needed: u32,
    pub seats_free: u32,
    /// Whether usernames can be imported (the organization has a login domain).
    pub login_domain: Option<String>,
}

fn letters(m: &Mapping) -> BTreeMap<Field, String> {
    m.0.iter().map(|(f, i)| (*f, crate::import::column_name(*i))).collect()
}

/// How many of `logins` would take a seat: those neither members of `org` nor invited to it,
/// looked up by key, so the cost follows the file, not the organization.
async fn seats_needed(ctx: &Ctx, org: &crate::domain::OrgId, logins: &HashSet<String>) -> Result<u32> {
    let ids: Vec<String> = logins.iter().cloned().collect();
    let emails: Vec<crate::domain::Email> =
        ids.iter().filter_map(|i| crate::domain::Email::parse(i, "email").ok()).collect();
    let known = worker::known(ctx, org, &ids, &emails).await?;
    Ok(ids.iter().filter(|l| !known.has(l)).count() as u32)
}

pub async fn preview(
    ctx: &Ctx,
    permit: &Permit<ManageMembers>,
    upload_id: &str,
    req: PreviewRequest,
) -> Result<Preview> {
    if let Some(row) = req.start_row {
        check_start_row(row)?;
    }
    let org = &permit.org;
    let (_, bytes) = load(ctx, &org.org_id, upload_id).await?;
    let domain = org.login_domain.clone();
    let org_id = org.org_id.clone();
    let scan = tokio::task::spawn_blocking(move || Scan::run(&bytes, &req, domain.as_ref(), &org_id))
        .await
        .map_err(|e| crate::error::Error::internal_from("reading an import file", e))??;
    let seats_needed = seats_needed(ctx, &org.org_id, &scan.logins).await?;
    let free = ctx.store.get_seats(&org.org_id).await?.free;
    Ok(Preview {
        file: scan.info,
        sheet: scan.sheet,
        rows: scan.first_rows,
        columns: scan.suggestions,
        start_row: scan.start_row,
        mapping: letters(&scan.mapping),
        data_rows: scan.data_rows,
        valid_rows: scan.valid_rows,
        invalid_rows: scan.data_rows - scan.valid_rows,
        seats_needed,
        seats_free: free,
        login_domain: org.login_domain.as_ref().map(|d| d.as_str().to_owned()),
    })
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StartRequest {
    pub upload_id: String,
    pub sheet: Option<String>,
    /// Field → column letter, e.g. `{"email": "A", "first_name": "B"}`.
    #[schema(value_type = BTreeMap<String, String>)]
    pub mapping: BTreeMap<Field, String>,
    /// The first row to import (1-based).
    #[schema(minimum = 1, maximum = 1048576)]
    pub start_row: u32,
    /// Roles of the imported members (default: agent).
    pub roles: Option<Vec<String>>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct JobView {
    pub job_id: String,
    pub status: JobStatus,
    pub total: u32,
    pub done: u32,
    pub counts: ImportCounts,
    pub seats_reserved: u32,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub finished_at: Option<chrono::DateTime<chrono::Utc>>,
    pub error: Option<String>,
    /// Where the per-row report is, once done.
    pub report: Option<String>,
}

impl From<&ImportJobRecord> for JobView {
    fn from(j: &ImportJobRecord) -> Self {
        let finished = matches!(j.status, JobStatus::Done | JobStatus::Failed);
        JobView {
            job_id: j.job_id.clone(),
            status: j.status,
            total: j.total,
            done: j.counts.done(),
            counts: j.counts.clone(),
            seats_reserved: j.seats_reserved,
            created_at: j.created_at,
            finished_at: j.finished_at,
            error: j.error.clone(),
            report: finished.then(|| format!("/v1/orgs/{}/imports/{}/report.csv", j.org_id, j.job_id)),
        }
    }
}

/// The most rows a spreadsheet has (XLSX's limit); larger CSV files are refused on upload.
const MAX_START_ROW: u32 = 1_048_576;

fn check_start_row(row: u32) -> Result<()> {
    if (1..=MAX_START_ROW).contains(&row) {
        Ok(())
    } else {
        Err(Error::validation("invalid_start_row", "start_row", "rows are numbered from 1 to 1048576"))
    }
}

/// Accept an import: everything is checked and the seats it needs are reserved before 202;
/// a shortage refuses it whole with the number to buy.
pub async fn start(ctx: &Arc<Ctx>, permit: &Permit<ManageMembers>, req: StartRequest) -> Result<JobView> {
    let org = &permit.org;
    let mapping = Mapping::parse(&req.mapping, org.login_domain.is_some())?;
    check_start_row(req.start_row)?;
    let roles = match &req.roles {
        Some(r) => crate::domain::Roles::parse(r, "roles")?.as_slice().to_vec(),
        None => vec![crate::domain::Role::Agent],
    };
    if roles.contains(&crate::domain::Role::Owner) {
        return Err(Error::validation("invalid_role", "roles", "ownership is transferred, not imported"));
    }
    let everywhere = crate::access::Manage::All;
    let grant = crate::access::Grant { roles: &roles, scope: Default::default(), manage: &everywhere };
    crate::service::members::grants::check_grant(ctx, permit, grant, "roles").await?;
    let (_, bytes) = load(ctx, &org.org_id, &req.upload_id).await?;
    let preview_req =
        PreviewRequest { sheet: req.sheet.clone(), mapping: Some(req.mapping.clone()), start_row: Some(req.start_row) };
    let (domain, org_id) = (org.login_domain.clone(), org.org_id.clone());
    let scan = tokio::task::spawn_blocking(move || Scan::run(&bytes, &preview_req, domain.as_ref(), &org_id))
        .await
        .map_err(|e| crate::error::Error::internal_from("reading an import file", e))??;
    let seats_needed = seats_needed(ctx, &org.org_id, &scan.logins).await?;
    let inviter = ctx.store.get_user(&permit.user_id).await?.ok_or(Error::Unauthenticated)?;
    let job = ImportJobRecord {
        job_id: ctx.ulid().to_string().to_lowercase(),
        org_id: org.org_id.clone(),
        upload_id: req.upload_id.clone(),
        sheet: Some(scan.sheet.clone()),
        mapping,
        start_row: req.start_row,
        roles,
        created_by: permit.user_id.clone(),
        created_by_name: inviter.display_name(),
        created_at: ctx.now(),
        status: JobStatus::Queued,
        error: None,
        total: scan.data_rows,
        next_row: req.start_row,
        counts: ImportCounts::default(),
        seats_reserved: seats_needed,
        lease_id: None,
        lease_until: 0,
        finished_at: None,
    };
    ctx.store.create_import_job(&job).await?;
    ctx.imports.enqueue(ctx, JobMessage { org_id: job.org_id.clone(), job_id: job.job_id.clone() }).await?;
    Ok(JobView::from(&job))
}

pub async fn job(ctx: &Ctx, permit: &Permit<ManageMembers>, id: &str) -> Result<JobView> {
    let job = ctx.store.get_import_job(&permit.org.org_id, id).await?.ok_or(Error::NotFound("import"))?;
    Ok(JobView::from(&job))
}

/// The per-row report as CSV, every value defused against formula injection.
pub async fn report_csv(ctx: &Ctx, permit: &Permit<ManageMembers>, id: &str) -> Result<String> {
    let job = ctx.store.get_import_job(&permit.org.org_id, id).await?.ok_or(Error::NotFound("import"))?;
    let mut out = csv::Writer::from_writer(Vec::new());
    let csv_err = |e: csv::Error| crate::error::Error::internal_from("reading an import file", e);
    out.write_record(["row", "outcome", "login", "code", "field", "reason"]).map_err(csv_err)?;
    let mut cursor = None;
    loop {
        let page = ctx.store.import_report(&job.job_id, 1000, cursor.as_ref()).await?;
        for r in page.items {
            let outcome =
                serde_json::to_value(r.outcome).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default();
            let safe = |v: &Option<String>| crate::import::rows::report_safe(v.as_deref().unwrap_or_default());
            out.write_record([
                r.row.to_string(),
                outcome,
                safe(&r.login),
                safe(&r.code),
                safe(&r.field),
                safe(&r.reason),
            ])
            .map_err(csv_err)?;
        }
        match page.next {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    String::from_utf8(out.into_inner().map_err(|e| crate::error::Error::internal_from("reading an import file", e))?)
        .map_err(|e| crate::error::Error::internal_from("reading an import file", e))
}
