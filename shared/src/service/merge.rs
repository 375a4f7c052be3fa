//! Merging a login into another one the person also controls: proven by the link sent to the
//! main login's address (and both logins' second factor where on). Everything the old login
//! held moves in one transaction; the old login ends.

use serde::Serialize;

use super::Ctx;
use crate::domain::{OrgId, Role, UserId};
use crate::error::{Error, Result};
use crate::store::{ActivityRecord, CredentialRecord, MembershipRecord, MergePlan, TokenRecord, UserRecord};

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Merged {
    /// The login everything now belongs to; sign in with it from now on.
    #[schema(value_type = String)]
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

/// Read everything the merge moves. Round trips: a handful, plus one or two per organization
/// the old login belongs to (its invitations and inboxes).
pub async fn plan(
    ctx: &Ctx,
    old: &UserRecord,
    old_cred: &CredentialRecord,
    main: &UserRecord,
    token_hash: &str,
    token: &TokenRecord,
) -> Result<MergePlan> {
    let old_ms = ctx.store.all_memberships(&old.user_id).await?;
    let org_ids: Vec<OrgId> = old_ms.iter().map(|m| m.org_id.clone()).collect();
    let orgs = if org_ids.is_empty() { Vec::new() } else { ctx.store.get_orgs(&org_ids).await? };
    let main_name = format!("{} {}", main.first_name, main.last_name);
    let mut plan = MergePlan {
        token_hash: token_hash.to_owned(),
        token: Some(token.clone()),
        old_credential: Some(old_cred.clone()),
        old_user: Some(old.clone()),
        main_user: Some(main.clone()),
        ..MergePlan::default()
    };
    for m in &old_ms {
        let before = ctx.store.get_membership(&main.user_id, &m.org_id).await?;
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
            None => MembershipRecord { user_id: main.user_id.clone(), ..m.clone() }.described(&main.email, &main_name),
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
    old_cred: &CredentialRecord,
    main_cred: &CredentialRecord,
    token_hash: &str,
    token: &TokenRecord,
    main_code: Option<&str>,
) -> Result<Merged> {
    let main = ctx.store.get_user(&main_cred.user_id).await?.ok_or(Error::InvalidToken)?;
    if main.merged_into.is_some() {
        return Err(Error::InvalidToken);
    }
    // Two-factor on the main login too: both were proven.
    if main.totp.as_ref().is_some_and(|t| t.enabled) {
        super::two_factor::check_second_factor(ctx, &main, Some(main_code.unwrap_or_default()), None).await?;
    }
    let plan = plan(ctx, old, old_cred, &main, token_hash, token).await?;
    ctx.store.commit_merge(&plan).await?;
    ctx.store.refresh_member_copies(&main).await?;
    Ok(Merged {
        merged_into: main.user_id.clone(),
        email: main.email.to_string(),
        organizations: plan.memberships.len(),
    })
}
