//! Closing an organization (with everything beneath it), restoring it within the window, and
//! purging it for good after that.

use std::time::Instant;

use crate::access::{ManageSubAccount, Permit, TransferOwnership};
use crate::domain::{OrgId, Role};
use crate::error::{Error, Result};
use crate::service::identity::accounts::OrgView;
use crate::service::{Authenticated, Ctx, activity_record, permit_activity};
use crate::store::{BillingEvent, Closure, Deleted, MemberStatus, OrgRecord, OrgStatus, OutboxEvent};

/// How long a closed organization can be restored.
pub const RESTORE_DAYS: i64 = 30;

fn events(
    ctx: &Ctx,
    org: &OrgRecord,
    actor: &crate::domain::UserId,
    kind: &str,
    seats: u32,
) -> (BillingEvent, OutboxEvent) {
    let billing = crate::service::billing_event(ctx, &org.org_id, actor, kind, seats, 0);
    let detail = serde_json::json!({
        "organization_id": org.org_id, "root_id": org.root_id, "includes_sub_accounts": true,
        "seats": seats, "purge_after": org.closure.as_ref().map(|c| c.purge_after),
    });
    (billing, crate::service::outbox_event(ctx, kind, detail))
}

async fn close(
    ctx: &Ctx,
    org: &OrgRecord,
    expected_version: u64,
    actor: &crate::domain::UserId,
    act: crate::store::ActivityRecord,
) -> Result<OrgView> {
    if org.status == OrgStatus::Closed {
        return Err(Error::OrgClosed);
    }
    // Closing what the caller has not seen (a rename, a suspension since) is refused.
    if org.version != expected_version {
        return Err(Error::Conflict);
    }
    let now = ctx.now();
    let closure = Closure {
        closed_at: now,
        closed_by: actor.clone(),
        purge_after: now + chrono::Duration::days(RESTORE_DAYS),
        previous: org.status,
    };
    let mut closed = org.clone();
    closed.status = OrgStatus::Closed;
    closed.closure = Some(closure.clone());
    closed.version += 1;
    // Seats stop counting: the billing system is told how many stop with it.
    let seats = ctx.store.get_seats(&org.org_id).await?.purchased;
    let (billing, outbox) = events(ctx, &closed, actor, "organization.closed", seats);
    ctx.store.close_org(org, &closure, &billing, &outbox, &act).await?;
    Ok(OrgView::from(&closed))
}

/// The owner closes a top-level organization, with every sub-account beneath it.
pub async fn close_top_level(ctx: &Ctx, permit: &Permit<TransferOwnership>, version: u64) -> Result<OrgView> {
    if permit.org.parent_id.is_some() {
        return Err(Error::Forbidden);
    }
    let act = permit_activity(ctx, permit, "organization.closed", Some(permit.org.org_id.to_string()));
    close(ctx, &permit.org, version, &permit.user_id, act).await
}

/// An ancestor's admin, within their right to change it, closes a sub-account and its subtree.
pub async fn close_sub_account(ctx: &Ctx, permit: &Permit<ManageSubAccount>, version: u64) -> Result<OrgView> {
    if permit.org.parent_id.is_none() {
        return Err(Error::Forbidden);
    }
    let act = permit_activity(ctx, permit, "subaccount.closed", Some(permit.org.org_id.to_string()));
    close(ctx, &permit.org, version, &permit.user_id, act).await
}

/// Restore a closed organization as it was, within the window: an ancestor's admin who may
/// change it (a sub-account), or its owner (a top-level organization).
pub async fn restore(ctx: &Ctx, auth: &Authenticated, org_id: &OrgId) -> Result<OrgView> {
    let access = crate::service::access_to(ctx, &auth.user_id, org_id, Some(&auth.session.session_id)).await;
    // The session's own limits first, as on every organization route (a session a provider
    // opened works beneath that provider's organization only).
    if let Ok(a) = &access {
        crate::service::orgs::settings::admit(a, &auth.session)?;
    }
    let org = match access {
        Ok(access) if access.org.parent_id.is_some() => {
            let permit = access.permit::<ManageSubAccount>()?;
            permit.org
        }
        // A top-level organization that is not closed: its owner is told so.
        Ok(access) if access.roles.contains(&Role::Owner) => {
            return Err(Error::validation("not_closed", "org_id", "is not closed"));
        }
        Ok(_) => return Err(Error::Forbidden),
        Err(Error::OrgClosed) => {
            let org = ctx.store.get_org(org_id).await?.ok_or(Error::Forbidden)?;
            if auth.session.confined_to.as_ref().is_some_and(|c| !org.lineage().any(|o| o == c)) {
                return Err(Error::SessionConfined);
            }
            let m = ctx.store.get_membership(&auth.user_id, org_id).await?;
            let owner = m.is_some_and(|m| m.roles.contains(&Role::Owner) && m.status == MemberStatus::Active);
            if org.parent_id.is_some() || !owner {
                return Err(Error::OrgClosed);
            }
            org
        }
        Err(e) => return Err(e),
    };
    let Some(closure) = org.closure.clone().filter(|_| org.status == OrgStatus::Closed) else {
        return Err(Error::validation("not_closed", "org_id", "is not closed"));
    };
    if ctx.now() >= closure.purge_after {
        return Err(Error::RestoreWindowPassed);
    }
    let action = if org.parent_id.is_some() { "subaccount.restored" } else { "organization.restored" };
    let act = activity_record(ctx, &org.org_id, &auth.user_id, None, action, Some(org.org_id.to_string()));
    let seats = ctx.store.get_seats(&org.org_id).await?.purchased;
    let (billing, outbox) = events(ctx, &org, &auth.user_id, "organization.restored", seats);
    match ctx.store.restore_org(&org, closure.previous, ctx.now(), &billing, &outbox, &act).await {
        Err(Error::Conflict) if ctx.now() >= closure.purge_after => return Err(Error::RestoreWindowPassed),
        r => r?,
    }
    let mut restored = org;
    restored.status = closure.previous;
    restored.closure = None;
    restored.version += 1;
    Ok(OrgView::from(&restored))
}

/// What a purge run did.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct PurgeReport {
    /// Organizations deleted for good (sub-accounts included).
    pub organizations: usize,
    pub deleted: Deleted,
    /// Nothing due is left (false: the deadline came first; the next run goes on).
    pub finished: bool,
}

/// Purge every closed organization whose window has passed at `now`, with its subtree,
/// deepest first, until done or `deadline`. Resumable: a run that stops leaves the rest for
/// the next, which finds it again from the due index.
pub async fn purge_due(ctx: &Ctx, now: chrono::DateTime<chrono::Utc>, deadline: Instant) -> Result<PurgeReport> {
    let mut report = PurgeReport::default();
    // Index reads lag deletes a little: what this run purged may still be listed.
    let mut purged = std::collections::BTreeSet::new();
    loop {
        let due: Vec<OrgRecord> =
            ctx.store.due_purges(now, 10).await?.into_iter().filter(|o| !purged.contains(&o.org_id)).collect();
        if due.is_empty() {
            report.finished = true;
            return Ok(report);
        }
        for org in due {
            if Instant::now() >= deadline {
                return Ok(report);
            }
            // The subtree, deepest first: a parent outlives its children.
            let mut tree = Vec::new();
            let mut cursor = None;
            loop {
                let page = ctx.store.subtree(&org.root_id, &org.tree_path(), 1000, cursor.as_ref()).await?;
                tree.extend(page.items);
                match page.next {
                    Some(c) => cursor = Some(c),
                    None => break,
                }
            }
            tree.sort_by_key(|o| std::cmp::Reverse(o.depth));
            if !tree.iter().any(|o| o.org_id == org.org_id) {
                tree.push(org.clone());
            }
            for o in &tree {
                if Instant::now() >= deadline {
                    return Ok(report);
                }
                if purged.contains(&o.org_id) {
                    continue;
                }
                report.deleted += purge_one(ctx, o, deadline).await?;
                report.organizations += 1;
                purged.insert(o.org_id.clone());
            }
        }
    }
}

/// Everything of one organization, in the resumable order (see `store::lifecycle`).
async fn purge_one(ctx: &Ctx, org: &OrgRecord, deadline: Instant) -> Result<Deleted> {
    let mut done = Deleted::default();
    loop {
        let page = ctx.store.purge_org_partition_page(&org.org_id).await?;
        done += page;
        if page.items == 0 {
            break;
        }
        if Instant::now() >= deadline {
            return Ok(done);
        }
    }
    let mut seen = std::collections::BTreeSet::new();
    loop {
        let (page, members) = ctx.store.purge_members_page(&org.org_id).await?;
        done += page;
        let before = seen.len();
        seen.extend(members);
        if seen.len() == before {
            break;
        }
    }
    done.items += ctx.store.delete_partition(&format!("FEED#{}", org.org_id)).await?;
    done.items += ctx.store.purge_indexed(&org.org_id).await?;
    for prefix in ["imports", "logos", "exports"] {
        done.objects += ctx.files.delete_prefix(&format!("{prefix}/{}", org.org_id)).await?;
    }
    done.items += ctx.store.purge_org_item(org).await?;
    tracing::info!(org = %org.org_id, items = done.items, objects = done.objects, "organization purged");
    Ok(done)
}
