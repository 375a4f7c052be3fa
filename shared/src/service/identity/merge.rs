//! Merging a login into another the person also controls: proven by the link sent to the
//! main login's address (and both logins' second factor where on). Everything the old login
//! held moves in one transaction, or, when that exceeds 100 items, in a job that locks both
//! logins until it is done (see `store/merge_job.rs`); the old login ends.

use serde::Serialize;

use crate::domain::{OrgId, Role, UserId};
use crate::error::{Error, Result};
use crate::service::Ctx;
use crate::store::{
    ActivityRecord, CredentialRecord, MembershipRecord, MergeLockRecord, MergePlan, MergeSide, TokenRecord, UserRecord,
};

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Merged {
    /// The login everything now belongs to; sign in with it from now on.
    pub merged_into: UserId,
    pub email: String,
    /// Organizations whose memberships moved.
    pub organizations: usize,
}

fn union_roles(a: &[Role], b: &[Role]) -> Vec<Role> {
    let mut v: Vec<Role> = a.iter().chain(b).copied().collect();
    v.sort();
    v.dedup();
    v
}

/// The proof that starts a merge: the old login's credential and the verification token.
pub struct Proof<'a> {
    pub old_credential: &'a CredentialRecord,
    pub token_hash: &'a str,
    pub token: &'a TokenRecord,
}

/// How long a runner holds a merge job before the next reader may take it over.
const LEASE_SECS: i64 = 60;

/// Read everything the merge moves (what is left of it, when resuming a job: no proof).
/// Round trips: a handful, plus one or two per organization the old login belongs to.
pub async fn plan(ctx: &Ctx, old: &UserRecord, main: &UserRecord, proof: Option<&Proof<'_>>) -> Result<MergePlan> {
    let old_ms = ctx.store.all_memberships(&old.user_id).await?;
    let org_ids: Vec<OrgId> = old_ms.iter().map(|m| m.org_id.clone()).collect();
    let orgs = if org_ids.is_empty() { Vec::new() } else { ctx.store.get_orgs(&org_ids).await? };
    let main_name = main.display_name();
    let mut plan = MergePlan {
        token_hash: proof.map(|p| p.token_hash.to_owned()).unwrap_or_default(),
        token: proof.map(|p| p.token.clone()),
        old_credential: proof.map(|p| p.old_credential.clone()),
        old_user: Some(old.clone()),
        main_user: Some(main.clone()),
        ..MergePlan::default()
    };
    let mut main_ms = ctx.store.memberships_in(&main.user_id, &org_ids).await?;
    for m in &old_ms {
        let before = main_ms.remove(&m.org_id);
        let after = match &before {
            Some(b) => MembershipRecord {
                roles: union_roles(&b.roles, &m.roles),
                scope: if b.scope == crate::access::Scope::Subtree || m.scope == crate::access::Scope::Subtree {
                    crate::access::Scope::Subtree
                } else {
                    b.scope
                },
                ..b.clone()
            },
            None => MembershipRecord { user_id: main.user_id.clone(), ..m.clone() }.described_login(main, &main_name),
        };
        plan.memberships.push((m.clone(), before, after));
        let org = &m.org_id;
        plan.invitations
            .extend(ctx.store.all_invitations(org).await?.into_iter().filter(|i| i.invited_by == old.user_id));
        for inbox in ctx.store.inboxes(org).await? {
            if let Some(im) = ctx.store.get_inbox_member(org, &inbox.inbox_id, &old.user_id).await? {
                let main_im = ctx.store.get_inbox_member(org, &inbox.inbox_id, &main.user_id).await?;
                plan.inbox_members.push((im, main_im));
            }
            if inbox.owner_id == old.user_id {
                plan.inboxes_owned.push(inbox);
            }
        }
    }
    for org in &orgs {
        if org.owner_id == old.user_id {
            plan.owned_orgs.push(org.clone());
        }
        let activity = ActivityRecord {
            activity_id: ctx.ulid().to_string(),
            org_id: org.org_id.clone(),
            actor_id: main.user_id.clone(),
            real_actor_id: None,
            merged_actor_id: None,
            action: "login.merged".into(),
            target: Some(format!("{} into {}", old.user_id, main.user_id)),
            at: ctx.now(),
        };
        plan.activity.push((activity, org.lineage_ids()));
    }
    plan.sessions = ctx.store.list_sessions(&old.user_id).await?;
    plan.links = ctx.store.links_of_person(&old.user_id).await?;
    Ok(plan)
}

/// Plan and commit the merge of `old` into the login holding the token's address.
pub async fn merge(
    ctx: &Ctx,
    old: &UserRecord,
    proof: &Proof<'_>,
    main_cred: &CredentialRecord,
    main_code: Option<&str>,
) -> Result<Merged> {
    let main = ctx.store.get_user(&main_cred.user_id).await?.ok_or(Error::InvalidToken)?;
    if main.merged_into.is_some() {
        return Err(Error::InvalidToken);
    }
    // Two-factor on the main login too: both were proven.
    if main.totp.as_ref().is_some_and(|t| t.enabled) {
        crate::service::identity::two_factor::check_second_factor(
            ctx,
            &main,
            Some(main_code.unwrap_or_default()),
            None,
        )
        .await?;
    }
    let mut plan = plan(ctx, old, &main, Some(proof)).await?;
    plan.notice = merge_notice(ctx, &main, old).await;
    let notice = plan.notice.clone();
    let organizations = plan.memberships.len();
    // Moved memberships carry the main login's name and address from the plan: no refresh.
    if !ctx.store.commit_merge(&plan).await? {
        begin_job(ctx, &plan).await?;
        run_job_from(ctx, &main, old, Some(plan), usize::MAX).await?;
    }
    crate::service::notify::outbox::handed_on(ctx, notice).await;
    Ok(Merged { merged_into: main.user_id.clone(), email: main.login_key().to_owned(), organizations })
}

/// The notice to the main login (when it has an address), to record with the merge's head.
async fn merge_notice(ctx: &Ctx, main: &UserRecord, old: &UserRecord) -> Vec<crate::store::OutboxMail> {
    use crate::domain::EmailType;
    if main.email.is_none() {
        return Vec::new();
    }
    let vars = crate::service::notify::compose::vars([
        ("merged_email", old.login_key().into()),
        ("link", format!("{}/login", ctx.config.public_url).into()),
    ]);
    let job = crate::service::notify::compose::to_user(ctx, main, None, EmailType::MergeNotice, vars).await;
    crate::service::notify::compose::notice(ctx, EmailType::MergeNotice, job)
}

/// The first step of a merge too large for one transaction: the proof is consumed, the old
/// login ends, both logins are locked; this runner holds the job.
pub async fn begin_job(ctx: &Ctx, plan: &MergePlan) -> Result<()> {
    let now = ctx.now();
    ctx.store.begin_merge_job(plan, now, now + chrono::Duration::seconds(LEASE_SECS)).await
}

/// Move what is left, `max_steps` transactions at most, then unlock both logins if all moved.
/// Plans again when something changed meanwhile. `Ok(true)` when the merge is complete.
pub async fn run_job(ctx: &Ctx, main_id: &UserId, old_id: &UserId, max_steps: usize) -> Result<bool> {
    let main = ctx.store.get_user(main_id).await?.ok_or(Error::NotFound("login"))?;
    let old = ctx.store.get_user(old_id).await?.ok_or(Error::NotFound("login"))?;
    run_job_from(ctx, &main, &old, None, max_steps).await
}

/// `run_job`, starting from a plan already made (by the runner that began the job).
async fn run_job_from(
    ctx: &Ctx,
    main: &UserRecord,
    old: &UserRecord,
    mut planned: Option<MergePlan>,
    max_steps: usize,
) -> Result<bool> {
    let (main_id, old_id) = (&main.user_id, &old.user_id);
    for _ in 0..5 {
        let plan = match planned.take() {
            Some(p) => p,
            None => plan(ctx, old, main, None).await?,
        };
        match ctx.store.continue_merge_job(&plan, main_id, old_id, max_steps).await {
            Ok(false) => return Ok(false),
            Ok(true) => {
                ctx.store.finish_merge_job(main_id, old_id).await?;
                return Ok(true);
            }
            Err(Error::Conflict) => continue,
            Err(e) => return Err(e),
        }
    }
    Err(Error::MergeInProgress)
}

/// What a reader answers when it finds a merge lock on a person's memberships: the old
/// login has ended; the main login waits for the job. Readers never write (most functions
/// may only read); the job is completed by the person's next login (`resume`).
pub fn locked(lock: &MergeLockRecord) -> Error {
    match lock.side {
        MergeSide::Source => Error::SessionEnded,
        MergeSide::Target => Error::MergeInProgress,
    }
}

/// At login of a main login with a merge job pending: take over the job if its runner's lease
/// ran out and complete it, so the merged state is there when the session starts. One still
/// being run answers `merge_in_progress`.
pub async fn resume(ctx: &Ctx, main: &UserRecord) -> Result<()> {
    let Some(lock) = ctx.store.get_merge_lock(&main.user_id).await? else { return Ok(()) };
    let now = ctx.now();
    let until = now + chrono::Duration::seconds(LEASE_SECS);
    if lock.side != MergeSide::Target || !ctx.store.take_merge_lease(&main.user_id, now, until).await? {
        return Err(locked(&lock));
    }
    if run_job(ctx, &lock.main_user_id, &lock.old_user_id, usize::MAX).await? {
        Ok(())
    } else {
        Err(Error::MergeInProgress)
    }
}
