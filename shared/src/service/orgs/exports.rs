//! Exporting an organization's data (before closing it, or any time): a job writes one JSON
//! document, section by section, recording its progress; the admin downloads it through a
//! presigned S3 URL (the embedded default serves it from disk).

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::access::{Permit, UpdateOrg};
use crate::domain::{ExportId, OrgId};
use crate::error::{Error, Result};
use crate::service::Ctx;
use crate::store::{Cursor, EXPORT_DAYS, ExportRecord, ExportStatus, GroupRecord, OrgRecord, QueryDir, exported};

/// How long a download link works.
const LINK_MINUTES: u64 = 5;
/// The most an export file holds (the job fails beyond it rather than exhaust memory).
const MAX_BYTES: usize = 256 * 1024 * 1024;

pub enum ExportQueue {
    Sqs {
        client: crate::aws::SqsClient,
        url: String,
    },
    InProcess,
    /// Jobs wait until something calls [`run_job`] (tests watch progress this way).
    Held,
    /// A Lambda function not given the export queue: a request for an export is a deployment
    /// error, never work done in a process Lambda freezes after the answer.
    Missing,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct ExportMessage {
    pub org_id: OrgId,
    pub export_id: ExportId,
}

impl ExportQueue {
    pub async fn enqueue(&self, ctx: &Arc<Ctx>, msg: ExportMessage) -> Result<()> {
        match self {
            ExportQueue::Sqs { client, url } => {
                crate::aws::send_json(client, url, &msg, crate::error::Error::Busy).await?;
            }
            ExportQueue::Held => {}
            ExportQueue::Missing => {
                return Err(crate::error::Error::internal("SWITCHBOARD_EXPORT_QUEUE_URL is not set for this function"));
            }
            ExportQueue::InProcess => {
                let ctx = ctx.clone();
                tokio::spawn(crate::aws::as_function("export-worker", async move {
                    if let Err(e) = run_job(&ctx, &msg.org_id, &msg.export_id).await {
                        tracing::error!(error = %e, export = %msg.export_id, "export job failed to run");
                    }
                }));
            }
        }
        Ok(())
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ExportView {
    pub export_id: ExportId,
    pub status: ExportStatus,
    /// Sections written so far, of `sections_total` (known once the job has started).
    pub sections_done: u32,
    pub sections_total: u32,
    /// Records written so far.
    pub items: u64,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub finished_at: Option<chrono::DateTime<chrono::Utc>>,
    pub expires_at: chrono::DateTime<chrono::Utc>,
    pub size: Option<u64>,
    /// Once done: where to download it (with the bearer token; it redirects to the file).
    pub download_path: Option<String>,
}

fn view(e: &ExportRecord) -> ExportView {
    ExportView {
        export_id: e.export_id.clone(),
        status: e.status,
        sections_done: e.sections_done,
        sections_total: e.sections_total,
        items: e.items,
        created_at: e.created_at,
        finished_at: e.finished_at,
        expires_at: e.created_at + chrono::Duration::days(EXPORT_DAYS),
        size: e.size,
        download_path: (e.status == ExportStatus::Done)
            .then(|| format!("/v1/orgs/{}/exports/{}/download", e.org_id, e.export_id)),
    }
}

pub async fn request(ctx: &Arc<Ctx>, permit: &Permit<UpdateOrg>) -> Result<ExportView> {
    let e = ExportRecord {
        export_id: ExportId::new(ctx.ulid()),
        org_id: permit.org.org_id.clone(),
        requested_by: permit.user_id.clone(),
        status: ExportStatus::Queued,
        created_at: ctx.now(),
        sections_done: 0,
        sections_total: 0,
        items: 0,
        finished_at: None,
        size: None,
    };
    ctx.store.put_export(&e).await?;
    ctx.exports.enqueue(ctx, ExportMessage { org_id: e.org_id.clone(), export_id: e.export_id.clone() }).await?;
    Ok(view(&e))
}

async fn own(ctx: &Ctx, org: &OrgId, id: &ExportId) -> Result<ExportRecord> {
    let e = ctx.store.get_export(org, id).await?.ok_or(Error::NotFound("export"))?;
    if ctx.now() >= e.created_at + chrono::Duration::days(EXPORT_DAYS) {
        return Err(Error::NotFound("export"));
    }
    Ok(e)
}

pub async fn get(ctx: &Ctx, permit: &Permit<UpdateOrg>, id: &ExportId) -> Result<ExportView> {
    Ok(view(&own(ctx, &permit.org.org_id, id).await?))
}

/// How a finished export is fetched.
pub enum Download {
    /// A presigned S3 URL.
    Redirect(String),
    /// The file itself (the disk store of the embedded default).
    Bytes { bytes: Vec<u8>, file_name: String },
}

pub async fn download(ctx: &Ctx, permit: &Permit<UpdateOrg>, id: &ExportId) -> Result<Download> {
    let e = own(ctx, &permit.org.org_id, id).await?;
    if e.status != ExportStatus::Done {
        return Err(Error::validation("export_not_ready", "export_id", "is not finished yet"));
    }
    let name = format!("{}-{}.json", e.org_id, e.export_id);
    let ttl = std::time::Duration::from_secs(LINK_MINUTES * 60);
    match ctx.files.presign_get(&e.object_key(), ttl, &name).await? {
        Some(url) => Ok(Download::Redirect(url)),
        None => Ok(Download::Bytes { bytes: ctx.files.get(&e.object_key(), MAX_BYTES as u64).await?, file_name: name }),
    }
}

/// The document, written as sections of records straight to the file (a part in memory).
struct Writer {
    file: crate::files::FileWriter,
    first_section: bool,
    first_record: bool,
}

fn encode(e: serde_json::Error) -> Error {
    crate::error::Error::internal_from("writing an export", e)
}

impl Writer {
    async fn begin(&mut self, name: &str) -> Result<()> {
        let mut head = Vec::new();
        head.extend_from_slice(if self.first_section { b"{" } else { b"," });
        self.first_section = false;
        head.extend_from_slice(serde_json::to_string(name).map_err(encode)?.as_bytes());
        head.extend_from_slice(b":[");
        self.first_record = true;
        self.file.write(&head).await
    }

    async fn record(&mut self, fields: &serde_json::Value) -> Result<()> {
        let mut bytes = if self.first_record { Vec::new() } else { b",".to_vec() };
        self.first_record = false;
        serde_json::to_writer(&mut bytes, fields).map_err(encode)?;
        self.file.write(&bytes).await?;
        if self.file.len() > MAX_BYTES as u64 {
            return Err(crate::error::Error::internal(format!("export larger than {MAX_BYTES} bytes")));
        }
        Ok(())
    }

    async fn end(&mut self) -> Result<()> {
        self.file.write(b"]").await
    }

    /// A whole section from a listing, page by page; returns how many records.
    async fn section<F, Fut>(&mut self, name: &str, mut next: F) -> Result<u64>
    where
        F: FnMut(Option<Cursor>) -> Fut,
        Fut: std::future::Future<Output = Result<crate::store::Page<crate::store::Item>>>,
    {
        self.begin(name).await?;
        let (mut n, mut cursor) = (0, None);
        loop {
            let page = next(cursor).await?;
            for item in page.items {
                // Only the exported types (`store::EXPORTED`); a listing may hold others.
                if let Some((_, fields)) = exported(item)? {
                    self.record(&fields).await?;
                    n += 1;
                }
            }
            match page.next {
                Some(c) => cursor = Some(c),
                None => break,
            }
        }
        self.end().await?;
        Ok(n)
    }
}

/// Run one export job: every section in turn, progress recorded after each.
pub async fn run_job(ctx: &Ctx, org_id: &OrgId, id: &ExportId) -> Result<()> {
    let mut job = ctx.store.get_export(org_id, id).await?.ok_or(Error::NotFound("export"))?;
    if job.status == ExportStatus::Done {
        return Ok(());
    }
    match write(ctx, &mut job).await {
        Ok(()) => Ok(()),
        Err(e) => {
            job.status = ExportStatus::Failed;
            job.finished_at = Some(ctx.now());
            ctx.store.update_export(&job).await?;
            Err(e)
        }
    }
}

async fn write(ctx: &Ctx, job: &mut ExportRecord) -> Result<()> {
    let org = ctx.store.get_org(&job.org_id).await?.ok_or(Error::NotFound("organization"))?;
    let pk = OrgRecord::pk(&org.org_id);
    let mut groups: Vec<String> = Vec::new();
    let mut cursor = None;
    loop {
        let page = ctx.store.query_prefix(None, &pk, GroupRecord::SK_PREFIX, QueryDir::Forward, 1000, cursor.as_ref());
        let page = page.await?;
        for item in &page.items {
            let sk = item.get("sk").and_then(|v| v.as_s().ok());
            groups.extend(sk.and_then(|sk| sk.strip_prefix(GroupRecord::SK_PREFIX)).map(str::to_owned));
        }
        match page.next {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    // Organization, its own records by kind, members, each group's contacts, activity.
    job.status = ExportStatus::Running;
    job.sections_total = 4 + groups.len() as u32;
    ctx.store.update_export(job).await?;
    let file = ctx.files.writer(&job.object_key(), ctx.config.export_part_bytes).await?;
    let mut w = Writer { file, first_section: true, first_record: true };
    match sections(ctx, job, &org, &groups, &mut w).await {
        Ok(()) => {}
        Err(e) => {
            w.file.abort().await;
            return Err(e);
        }
    }
    w.file.write(b"}").await?;
    let size = w.file.finish().await?;
    job.sections_done = job.sections_total;
    job.status = ExportStatus::Done;
    job.size = Some(size);
    job.finished_at = Some(ctx.now());
    ctx.store.update_export(job).await
}

async fn sections(ctx: &Ctx, job: &mut ExportRecord, org: &OrgRecord, groups: &[String], w: &mut Writer) -> Result<()> {
    let pk = OrgRecord::pk(&org.org_id);
    let own = ctx.store.get_item(&pk, OrgRecord::SK).await?.ok_or(Error::NotFound("organization"))?;
    let (_, own) = exported(own)?.ok_or_else(|| Error::internal("the organization is not an exported type"))?;
    w.begin("organization").await?;
    w.record(&own).await?;
    w.end().await?;
    job.items += 1;
    // The partition's exported records by type: keys sort by kind, so each type is one run of
    // items; a type met again after its run would repeat a section name, so it is refused.
    let mut section: Option<&'static str> = None;
    let mut done: Vec<&'static str> = vec!["organization"];
    let mut cursor = None;
    loop {
        let page = ctx.store.partition_items(&pk, 1000, cursor.as_ref()).await?;
        for item in page.items {
            let Some((name, fields)) = exported(item)? else { continue };
            if name == "organization" {
                continue;
            }
            if section != Some(name) {
                if done.contains(&name) {
                    return Err(Error::internal(format!("export section {name} is not one run of keys")));
                }
                if section.is_some() {
                    w.end().await?;
                }
                w.begin(name).await?;
                done.push(name);
                section = Some(name);
            }
            w.record(&fields).await?;
            job.items += 1;
        }
        match page.next {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    if section.is_some() {
        w.end().await?;
    }
    progress(ctx, job).await?;
    let org_id = &org.org_id;
    job.items += w.section("members", |c| async move { ctx.store.member_items(org_id, c.as_ref()).await }).await?;
    progress(ctx, job).await?;
    for g in groups {
        let pk = format!("CGROUP#{g}");
        let pk = &pk;
        let name = format!("contacts:{g}");
        job.items += w.section(&name, |c| async move { ctx.store.partition_items(pk, 1000, c.as_ref()).await }).await?;
        progress(ctx, job).await?;
    }
    let feed = format!("FEED#{}", org.org_id);
    let feed = &feed;
    job.items +=
        w.section("activity", |c| async move { ctx.store.partition_items(feed, 1000, c.as_ref()).await }).await?;
    Ok(())
}

async fn progress(ctx: &Ctx, job: &mut ExportRecord) -> Result<()> {
    job.sections_done += 1;
    ctx.store.update_export(job).await
}
