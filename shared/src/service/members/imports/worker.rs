//! The import worker: takes the job's lease, streams the file in chunks of rows, imports each
//! row in one transaction together with its result item, and checkpoints after each chunk. A
//! worker that dies or times out is replaced by the next delivery of the job's message, which
//! starts after the checkpoint and skips rows whose result exists: nobody is imported twice.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use futures::StreamExt;
use tokio::sync::mpsc;

use crate::domain::{Email, LoginKey, LoginName, OrgId, UserId};
use crate::error::{Error, Result};
use crate::import::rows::{ImportRow, RowFailure, validate};
use crate::import::{Row, Workbook};
use crate::service::Ctx;
use crate::service::members::imports::scan::identity;
use crate::service::members::invitations::InvitationEmail as EmailJob;
use crate::service::orgs::settings::Effective;
use crate::store::{
    CredentialRecord, EmailStatus, ImportCounts, ImportJobRecord, ImportMailRecord, ImportRowRecord, InvitationRecord,
    InviteTokenRecord, JobStatus, MembershipRecord, OrgRecord, RowConflict, RowEffect, RowOutcome, UserRecord,
};

/// Rows per chunk: one checkpoint, and one batch read of each kind, per chunk.
pub const CHUNK: usize = 100;
/// Password hashes computed at once (each on the blocking pool).
const HASHING: usize = 4;
/// Rows committed at once.
const WRITING: usize = 8;
/// Runs of a chunk that meets a busy backing service (throttling or conflicts that outlasted
/// the SDK's retries) before the run gives up and leaves the job to its next delivery.
const CHUNK_ATTEMPTS: u32 = 4;

#[derive(Debug, PartialEq, Eq)]
pub enum RunOutcome {
    Finished,
    /// Stopped before the deadline at a checkpoint; send the job again to continue.
    Paused,
    /// Another worker holds it, or it is finished.
    NotMine,
}

/// Run (or resume) a job until it is done, or until a minute before `deadline`.
pub async fn run_job(ctx: &Arc<Ctx>, org_id: &OrgId, job_id: &str, deadline: Option<Instant>) -> Result<RunOutcome> {
    // Before the lease: a job that finished may still owe the emails of its last chunk.
    crate::service::members::imports::owed::send_owed(ctx, org_id, job_id).await?;
    let lease = ctx.ulid().to_string();
    let now = ctx.now().timestamp();
    if !ctx.store.lease_import_job(org_id, job_id, &lease, now, now + ctx.config.import_lease_secs).await? {
        return Ok(RunOutcome::NotMine);
    }
    let mut job = ctx.store.get_import_job(org_id, job_id).await?.ok_or(Error::NotFound("import"))?;
    let org = ctx.store.get_org(org_id).await?.ok_or(Error::NotFound("organization"))?;
    let scope = crate::service::notify::compose::Scope::resolve(ctx, &org).await?;
    let settings = crate::service::orgs::settings::effective(&org, &scope.ancestors);
    let bytes = match crate::service::members::imports::load(ctx, org_id, &job.upload_id).await {
        Ok((_, b)) => b,
        Err(e) => return fail(ctx, &mut job, &e).await,
    };
    let (tx, mut rx) = mpsc::channel::<Vec<Row>>(2);
    let (sheet, start) = (job.sheet.clone(), job.start_row);
    // The file is parsed on a blocking thread; the bounded channel keeps a few chunks in memory.
    let parser = tokio::task::spawn_blocking(move || -> Result<()> {
        let book = Workbook::open(&bytes)?;
        let mut chunk = Vec::with_capacity(CHUNK);
        let mut open = true;
        book.for_each_row(sheet.as_deref(), |r| {
            if r.number >= start && !r.is_blank() {
                chunk.push(r);
                if chunk.len() == CHUNK {
                    open = tx.blocking_send(std::mem::replace(&mut chunk, Vec::with_capacity(CHUNK))).is_ok();
                }
            }
            open
        })?;
        if open && !chunk.is_empty() {
            let _ = tx.blocking_send(chunk);
        }
        Ok(())
    });
    let mut seen: HashSet<String> = HashSet::new();
    let mut paused = false;
    let pace = crate::service::pace::Pace::new(ctx.config.import_rows_per_second);
    let mut rows_done = 0;
    while let Some(rows) = rx.recv().await {
        rows_done += rows.len();
        // A chunk that meets a busy service runs again after a pause: waiting here costs
        // seconds, where the job's next delivery comes half a lease later. Running it again
        // is safe: the rows it wrote are recorded and count once, and the job's counts, its
        // checkpoint and `seen` change only when the whole chunk is through.
        let mut attempt = 1;
        loop {
            match process_chunk(ctx, &scope, &settings, &mut job, &rows, &mut seen).await {
                Err(Error::Busy(e)) if attempt < CHUNK_ATTEMPTS => {
                    tracing::warn!(error = %e, attempt, job = %job.job_id, "import chunk met a busy service; again");
                    // Longer than a conflict's backoff: the SDK has just spent its own retries.
                    tokio::time::sleep(crate::store::backoff(attempt + 4)).await;
                    attempt += 1;
                }
                done => break done?,
            }
        }
        pace.wait_for(rows_done).await;
        if deadline.is_some_and(|d| d.saturating_duration_since(Instant::now()) < Duration::from_secs(60)) {
            paused = true;
            break;
        }
    }
    drop(rx);
    match parser.await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => return fail(ctx, &mut job, &e).await,
        Err(e) => return fail(ctx, &mut job, &crate::error::Error::internal_from("parser stopped", e)).await,
    }
    if paused {
        // Give the lease up so the next delivery can continue at once.
        ctx.store.checkpoint_import(&job, &ImportCounts::default(), None, 0, None).await?;
        return Ok(RunOutcome::Paused);
    }
    let done = (JobStatus::Done, ctx.now(), None);
    ctx.store.checkpoint_import(&job, &ImportCounts::default(), Some(done), 0, None).await?;
    tell_importer(ctx, &job).await;
    Ok(RunOutcome::Finished)
}

/// Whoever started the import hears that it finished, with its figures.
async fn tell_importer(ctx: &Ctx, job: &ImportJobRecord) {
    use crate::domain::notification::NotificationKind;
    let mut e = crate::service::notify::notifications::tell(
        ctx,
        &job.org_id,
        &job.created_by,
        NotificationKind::ImportFinished,
        &job.job_id,
    );
    let c = &job.counts;
    e.subject = job.sheet.clone().or_else(|| Some(job.upload_id.clone()));
    e.link = Some(format!("/admin/imports/{}", job.job_id));
    e.details.insert("created".into(), (c.created + c.invited + c.added).to_string());
    e.details.insert("failed".into(), c.failed.to_string());
    crate::service::notify::notifications::emit(ctx, e).await
}

async fn fail(ctx: &Ctx, job: &mut ImportJobRecord, e: &Error) -> Result<RunOutcome> {
    tracing::warn!(error = %e, job = %job.job_id, "import failed");
    let failed = (JobStatus::Failed, ctx.now(), Some(e.public_message()));
    ctx.store.checkpoint_import(job, &ImportCounts::default(), Some(failed), 0, None).await?;
    Ok(RunOutcome::Finished)
}

/// What a chunk's batch reads found.
#[derive(Default)]
pub(super) struct Known {
    /// Stored login → user.
    pub(super) logins: HashMap<String, UserId>,
    pub(super) members: HashSet<UserId>,
    pub(super) invited: HashSet<Email>,
    profiles: HashMap<UserId, UserRecord>,
}

impl Known {
    /// Whether the login `id` is a member of the organization already, or invited to it.
    pub(super) fn has(&self, id: &str) -> bool {
        self.logins.get(id).is_some_and(|u| self.members.contains(u))
            || Email::parse(id, "email").is_ok_and(|e| self.invited.contains(&e))
    }
}

/// The logins `ids` (and addresses `emails`) as the organization knows them, by key: their
/// credentials, those logins' memberships here, invitations to the addresses (one batch read
/// each per 100), whatever the organization's size.
pub(super) async fn known(ctx: &Ctx, org: &OrgId, ids: &[String], emails: &[Email]) -> Result<Known> {
    let mut k = Known::default();
    for c in ctx.store.credentials(ids).await? {
        k.logins.insert(c.login, c.user_id);
    }
    let users: Vec<UserId> = k.logins.values().cloned().collect();
    if !users.is_empty() {
        k.members = ctx.store.members_among(org, &users).await?.into_iter().map(|m| m.user_id).collect();
    }
    if !emails.is_empty() {
        k.invited = ctx.store.invitations_among(org, emails).await?.into_iter().map(|i| i.email).collect();
    }
    Ok(k)
}

/// [`known`], with the known logins' profiles (what a chunk's rows need).
async fn lookups(ctx: &Ctx, org: &OrgId, ids: &[String], emails: &[Email]) -> Result<Known> {
    let mut k = known(ctx, org, ids, emails).await?;
    let users: Vec<UserId> = k.logins.values().cloned().collect();
    if !users.is_empty() {
        k.profiles = ctx.store.get_users(&users).await?.into_iter().map(|u| (u.user_id.clone(), u)).collect();
    }
    Ok(k)
}

fn result(row: u32, outcome: RowOutcome, login: Option<String>) -> ImportRowRecord {
    ImportRowRecord { row, outcome, login, code: None, field: None, reason: None }
}

fn failure(row: u32, login: Option<String>, f: &RowFailure) -> ImportRowRecord {
    ImportRowRecord {
        row,
        outcome: RowOutcome::Failed,
        login,
        code: Some(f.code.clone()),
        field: f.field.and_then(|x| serde_json::to_value(x).ok()).and_then(|v| v.as_str().map(str::to_owned)),
        reason: Some(f.message.clone()),
    }
}

fn skipped(row: u32, login: String, code: &str, reason: &str) -> ImportRowRecord {
    ImportRowRecord {
        row,
        outcome: RowOutcome::Skipped,
        login: Some(login),
        code: Some(code.into()),
        field: None,
        reason: Some(reason.into()),
    }
}

/// A row to import, decided against the chunk's reads.
enum Plan {
    Record(ImportRowRecord),
    Import(ImportRow),
}

async fn process_chunk(
    ctx: &Arc<Ctx>,
    scope: &crate::service::notify::compose::Scope,
    settings: &Effective,
    job: &mut ImportJobRecord,
    rows: &[Row],
    seen: &mut HashSet<String>,
) -> Result<()> {
    let org = &scope.org;
    let Some(last) = rows.last().map(|r| r.number) else { return Ok(()) };
    let chunk_start = rows.first().map_or(last, |r| r.number);
    let domain = org.login_domain.as_ref();
    let validated: Vec<(u32, std::result::Result<ImportRow, RowFailure>)> =
        rows.iter().map(|r| (r.number, validate(r, &job.mapping, domain))).collect();
    // Before the checkpoint: done in an earlier run; only remembered for duplicates.
    let todo: Vec<u32> = validated.iter().map(|(n, _)| *n).filter(|n| *n >= job.next_row).collect();
    if todo.is_empty() {
        seen.extend(validated.iter().filter_map(|(_, r)| r.as_ref().ok()).map(|r| identity(r, &org.org_id)));
        return Ok(());
    }
    let recorded = ctx.store.import_rows(&job.job_id, &todo).await?;
    let mut chunk = ImportCounts::default();
    let mut emails: Vec<EmailJob> = Vec::new();
    let mut plans: Vec<(u32, Plan)> = Vec::new();
    // This chunk's identities, added to `seen` once the chunk is through (a failed run leaves
    // `seen` as it was, for the run again).
    let mut added: HashSet<String> = HashSet::new();
    for (n, res) in validated {
        let id = res.as_ref().ok().map(|r| identity(r, &org.org_id));
        let login = res.as_ref().ok().map(|r| r.login.display());
        let first = id.as_ref().is_some_and(|i| !seen.contains(i) && added.insert(i.clone()));
        if n < job.next_row {
            continue;
        }
        if let Some(done) = recorded.get(&n) {
            // Recorded by a run that stopped before its checkpoint: its email never went out.
            chunk.count(done.outcome);
            if done.outcome == RowOutcome::Invited
                && let Ok(Some(email)) = res.as_ref().map(|r| r.email.clone())
                && let Some(inv) = ctx.store.get_invitation(&org.org_id, &email).await?
            {
                emails.push(
                    crate::service::members::invitations::reissue(ctx, settings.language(), &inv, None, None).await?.0,
                );
            }
            continue;
        }
        plans.push((
            n,
            match res {
                Err(f) => Plan::Record(failure(n, None, &f)),
                Ok(_) if !first => Plan::Record(skipped(
                    n,
                    login.unwrap_or_default(),
                    "duplicate_in_file",
                    "appears earlier in the file",
                )),
                Ok(r) => Plan::Import(r),
            },
        ));
    }
    let ids: Vec<String> = plans
        .iter()
        .filter_map(|(_, p)| match p {
            Plan::Import(r) => Some(identity(r, &org.org_id)),
            Plan::Record(_) => None,
        })
        .collect();
    let emails_in: Vec<Email> = plans
        .iter()
        .filter_map(|(_, p)| match p {
            Plan::Import(r) => r.email.clone(),
            Plan::Record(_) => None,
        })
        .collect();
    let known = lookups(ctx, &org.org_id, &ids, &emails_in).await?;
    // New logins with a password: hash in parallel on the blocking pool.
    let to_hash: Vec<(u32, crate::domain::Password)> = plans
        .iter()
        .filter_map(|(n, p)| match p {
            Plan::Import(r)
                if !known.logins.contains_key(&identity(r, &org.org_id))
                    && r.email.as_ref().is_none_or(|e| settings.on_company_domain(e)) =>
            {
                r.password.clone().map(|pw| (*n, pw))
            }
            _ => None,
        })
        .collect();
    let hashes: HashMap<u32, String> = futures::stream::iter(to_hash)
        .map(|(n, pw)| async move { ctx.hasher.hash(&pw, ctx.random.as_ref()).await.map(|h| (n, h)) })
        .buffer_unordered(HASHING)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<Result<_>>()?;
    let known = &known;
    let hashes = &hashes;
    let job_ref = &*job;
    // Seats reserved when the job was accepted and not used yet: rows beyond them fail.
    let (members, pending) = job.counts.seats();
    let budget = &std::sync::atomic::AtomicU32::new(job.seats_reserved.saturating_sub(
        members + pending + {
            let (m, p) = chunk.seats();
            m + p
        },
    ));
    let outcomes: Vec<(RowOutcome, Option<EmailJob>)> = futures::stream::iter(plans)
        .map(|(n, plan)| async move {
            import_row(ctx, org, settings, job_ref, n, plan, known, hashes.get(&n), budget).await
        })
        .buffer_unordered(WRITING)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<Result<_>>()?;
    for (outcome, email) in outcomes {
        chunk.count(outcome);
        emails.extend(email);
    }
    job.counts = add(&job.counts, &chunk);
    job.next_row = last + 1;
    // The emails the chunk owes are recorded with its checkpoint: if they are not queued
    // below (the worker stops, the queue fails), the job's next run sends them.
    let owed = (!emails.is_empty()).then(|| ImportMailRecord {
        org_id: job.org_id.clone(),
        job_id: job.job_id.clone(),
        first_row: chunk_start,
        emails: emails.iter().map(|e| e.to().clone()).collect(),
        at: ctx.now(),
        claimed_until: Some(ctx.now().timestamp() + ctx.config.import_lease_secs),
    });
    ctx.store
        .checkpoint_import(job, &chunk, None, ctx.now().timestamp() + ctx.config.import_lease_secs, owed.as_ref())
        .await?;
    if let Some(owed) = owed {
        crate::service::members::imports::owed::queue_owed(ctx, scope, &owed, emails).await;
    }
    seen.extend(added);
    Ok(())
}

fn add(a: &ImportCounts, b: &ImportCounts) -> ImportCounts {
    ImportCounts {
        created: a.created + b.created,
        invited: a.invited + b.invited,
        added: a.added + b.added,
        skipped: a.skipped + b.skipped,
        failed: a.failed + b.failed,
    }
}

/// Import one row: record a failure or skip, or write its effect with its result. A login,
/// membership or invitation that appeared since the chunk's reads is read again once.
#[allow(clippy::too_many_arguments)]
async fn import_row(
    ctx: &Ctx,
    org: &OrgRecord,
    settings: &Effective,
    job: &ImportJobRecord,
    n: u32,
    plan: Plan,
    known: &Known,
    hash: Option<&String>,
    budget: &std::sync::atomic::AtomicU32,
) -> Result<(RowOutcome, Option<EmailJob>)> {
    let row = match plan {
        Plan::Record(r) => return record(ctx, job, r).await,
        Plan::Import(r) => r,
    };
    let id = identity(&row, &org.org_id);
    let mut refreshed: Option<Known> = None;
    for _ in 0..2 {
        let k = refreshed.as_ref().unwrap_or(known);
        match attempt(ctx, org, settings, job, n, &row, &id, k, hash, budget).await? {
            Ok(done) => return Ok(done),
            Err(RowConflict::AlreadyDone) => {
                let r = ctx.store.import_rows(&job.job_id, &[n]).await?;
                return Ok((r.get(&n).map(|r| r.outcome).unwrap_or(RowOutcome::Skipped), None));
            }
            Err(RowConflict::Exists) => {
                let emails: Vec<Email> = row.email.iter().cloned().collect();
                refreshed = Some(lookups(ctx, &org.org_id, std::slice::from_ref(&id), &emails).await?);
            }
        }
    }
    let f =
        RowFailure { code: "conflict".into(), field: None, message: "changed while importing; import again".into() };
    record(ctx, job, failure(n, Some(row.login.display()), &f)).await
}

async fn record(ctx: &Ctx, job: &ImportJobRecord, r: ImportRowRecord) -> Result<(RowOutcome, Option<EmailJob>)> {
    let outcome = r.outcome;
    if ctx.store.put_import_row(&job.job_id, &r).await? {
        Ok((outcome, None))
    } else {
        let existing = ctx.store.import_rows(&job.job_id, &[r.row]).await?;
        Ok((existing.get(&r.row).map(|x| x.outcome).unwrap_or(outcome), None))
    }
}

#[allow(clippy::too_many_arguments)]
async fn attempt(
    ctx: &Ctx,
    org: &OrgRecord,
    settings: &Effective,
    job: &ImportJobRecord,
    n: u32,
    row: &ImportRow,
    id: &str,
    k: &Known,
    hash: Option<&String>,
    budget: &AtomicU32,
) -> Result<std::result::Result<(RowOutcome, Option<EmailJob>), RowConflict>> {
    // A seat is taken only for a write that uses one, and given back if it does not commit.
    let take = || budget.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |b| b.checked_sub(1)).is_ok();
    let settle = |res: std::result::Result<(), RowConflict>| {
        if res.is_err() {
            budget.fetch_add(1, Ordering::SeqCst);
        }
        res
    };
    let display = row.login.display();
    let no_seat = |display: String| {
        let f = RowFailure {
            code: "no_free_seats".into(),
            field: None,
            message: "more people than the seats reserved when the import started".into(),
        };
        failure(n, Some(display), &f)
    };
    let now = ctx.now();
    let name = crate::domain::full_name(row.first_name.as_str(), &row.last_name);
    let act = crate::service::activity_record(
        ctx,
        &org.org_id,
        &job.created_by,
        None,
        "member.imported",
        Some(display.clone()),
    );
    let lineage = org.lineage_ids();
    let membership = |user: &UserRecord| {
        MembershipRecord::new(&user.user_id, org, job.roles.clone(), Default::default(), now)
            .described_login(user, &user.display_name())
    };
    if let Some(e) = &row.email
        && !settings.allows_coworker(e)
    {
        let r = skipped(n, display, "domain_not_approved", "not on one of the organization's approved company domains");
        return record(ctx, job, r).await.map(Ok);
    }
    if k.logins.get(id).is_some_and(|u| k.members.contains(u)) {
        let r = skipped(n, display, "already_member", "already a member of this organization");
        return record(ctx, job, r).await.map(Ok);
    }
    // A login with an address is never made a member without a word: it is invited, like a
    // new address, so the report does not tell who already had a login. Usernames belong to
    // the organization's own login domain and are added.
    if row.email.is_none()
        && let Some(user_id) = k.logins.get(id)
    {
        let Some(user) = k.profiles.get(user_id) else { return Ok(Err(RowConflict::Exists)) };
        if !take() {
            return record(ctx, job, no_seat(display)).await.map(Ok);
        }
        let m = membership(user);
        let r = result(n, RowOutcome::Added, Some(display));
        let res =
            ctx.store.commit_import_row(&job.job_id, &r, &RowEffect::Added { membership: &m }, &act, &lineage).await?;
        return Ok(settle(res).map(|()| (RowOutcome::Added, None)));
    }
    if row.email.as_ref().is_some_and(|e| k.invited.contains(e)) {
        let r = skipped(n, display, "already_invited", "has a pending invitation to this organization");
        return record(ctx, job, r).await.map(Ok);
    }
    if (hash.is_some() || row.email.is_some()) && !take() {
        return record(ctx, job, no_seat(display)).await.map(Ok);
    }
    // A password from the file makes a login only for an address the organization controls
    // (a verified company domain) and no login holds yet; anyone else chooses their own.
    let makes_login = match &row.email {
        Some(e) => settings.on_company_domain(e) && !k.logins.contains_key(id),
        None => true,
    };
    if let Some(hash) = hash.filter(|_| makes_login) {
        let user_id = UserId::new(ctx.ulid());
        let key = match &row.login {
            LoginName::Email(e) => LoginKey::Email(e.clone()),
            LoginName::Username { username, .. } => {
                LoginKey::Username { org: org.org_id.clone(), username: username.clone() }
            }
        };
        let credential = CredentialRecord::for_login(&user_id, &key, hash.clone());
        let mut user =
            UserRecord::new(user_id, &key, row.first_name.as_str(), &row.last_name, settings.language(), false, now);
        user.mobile = row.phone.clone();
        let m = MembershipRecord::new(&user.user_id, org, job.roles.clone(), Default::default(), now)
            .described_login(&user, &name);
        let r = result(n, RowOutcome::Created, Some(display));
        let effect = RowEffect::Created { credential: &credential, user: &user, membership: &m };
        let res = ctx.store.commit_import_row(&job.job_id, &r, &effect, &act, &lineage).await?;
        return Ok(settle(res).map(|()| (RowOutcome::Created, None)));
    }
    let Some(email) = &row.email else {
        let f = RowFailure {
            code: "password_required".into(),
            field: Some(crate::import::Field::Password),
            message: "a person without an email address needs a password from the file".into(),
        };
        return record(ctx, job, failure(n, Some(display), &f)).await.map(Ok);
    };
    let (token, token_hash) = crate::auth::secret::new_secret(ctx.random.as_ref());
    let inv = InvitationRecord {
        org_id: org.org_id.clone(),
        email: email.clone(),
        roles: job.roles.clone(),
        scope: Default::default(),
        manage: Default::default(),
        invited_by: job.created_by.clone(),
        invited_by_name: job.created_by_name.clone(),
        sent_at: now,
        expires_at: now + chrono::Duration::days(ctx.config.invitation_days),
        token_hash,
        email_status: EmailStatus::Queued,
        inbox: None,
    };
    let token_rec = InviteTokenRecord { org_id: org.org_id.clone(), email: email.clone(), expires_at: inv.expires_at };
    let r = result(n, RowOutcome::Invited, Some(display));
    let res = ctx
        .store
        .commit_import_row(&job.job_id, &r, &RowEffect::Invited { invitation: &inv, token: &token_rec }, &act, &lineage)
        .await?;
    match settle(res) {
        Ok(()) => Ok(Ok((
            RowOutcome::Invited,
            Some(crate::service::members::invitations::invitation_email(ctx, settings.language(), &inv, &token)),
        ))),
        Err(c) => Ok(Err(c)),
    }
}
