//! The organizations a user can enter (directly or through an ancestor), and switching the
//! organization a session works in.

use std::collections::{BTreeMap, BTreeSet};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};

use crate::access::{Effective, Permission, Standing, effective, reaches_below};
use crate::domain::{OrgId, Role, UserId};
use crate::error::{Error, Result};
use crate::service::identity::accounts::OrgView;
use crate::service::orgs::organizations::access_to;
use crate::service::{Authenticated, Ctx};
use crate::store::{Cursor, MembershipRecord, OrgRecord};

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct MyOrg {
    pub organization: OrgView,
    pub roles: Vec<Role>,
    pub permissions: Vec<Permission>,
    pub inherited: bool,
    /// For an organization whose parent the user cannot enter: that parent's name, and nothing more.
    pub parent_name: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct MyOrgsPage {
    /// In tree order under each top organization the user reaches; `parent_id` and `depth`
    /// rebuild the tree.
    pub organizations: Vec<MyOrg>,
    pub next_cursor: Option<String>,
}

/// Where the walk over the user's reachable trees stopped.
#[derive(Debug, Default, Serialize, Deserialize)]
struct WalkCursor {
    /// Index into the sorted list of subtree roots; equal to its length for the single orgs.
    r: usize,
    /// Position inside that subtree.
    k: Option<String>,
}

impl WalkCursor {
    fn parse(raw: &str) -> Result<Self> {
        let bad = || Error::validation("invalid_cursor", "cursor", "is not a cursor this API issued");
        let bytes = URL_SAFE_NO_PAD.decode(raw).map_err(|_| bad())?;
        serde_json::from_slice(&bytes).map_err(|_| bad())
    }

    fn encode(&self) -> Result<String> {
        Ok(URL_SAFE_NO_PAD
            .encode(serde_json::to_vec(self).map_err(|e| crate::error::Error::internal_from("encoding a cursor", e))?))
    }
}

/// Memberships whose organization no other reaching membership already covers: one subtree
/// query each. Memberships limited to their organization (and not covered) are read singly.
fn plan_walk(ms: &[MembershipRecord]) -> (Vec<&MembershipRecord>, Vec<&MembershipRecord>) {
    let reaching: BTreeSet<&OrgId> = ms.iter().filter(|m| reaches_below(m)).map(|m| &m.org_id).collect();
    let covered = |m: &MembershipRecord| m.org_ancestors.iter().any(|a| reaching.contains(a));
    let mut roots: Vec<&MembershipRecord> = ms.iter().filter(|m| reaches_below(m) && !covered(m)).collect();
    let mut singles: Vec<&MembershipRecord> =
        ms.iter().filter(|m| !reaches_below(m) && !covered(m) && !reaching.contains(&m.org_id)).collect();
    roots.sort_by(|a, b| a.org_id.cmp(&b.org_id));
    singles.sort_by(|a, b| a.org_id.cmp(&b.org_id));
    (roots, singles)
}

/// One page of every organization the user can enter. Round trips: the user's memberships
/// (one query per 1,000), one index query per subtree root the page touches, one batch read
/// for organizations limited to themselves, one for the names of unreachable parents.
pub async fn my_orgs(ctx: &Ctx, auth: &Authenticated, limit: i32, cursor: Option<&str>) -> Result<MyOrgsPage> {
    let limit = limit.clamp(1, 200);
    let user = &auth.user_id;
    let ms = match ctx.store.memberships_and_lock(user).await? {
        (ms, None) => ms,
        (_, Some(lock)) => return Err(crate::service::identity::merge::locked(&lock)),
    };
    let (roots, singles) = plan_walk(&ms);
    let mut at = cursor.map(WalkCursor::parse).transpose()?.unwrap_or_default();
    let mut found: Vec<OrgRecord> = Vec::new();
    let mut next = None;
    while at.r < roots.len() && (found.len() as i32) < limit {
        let root = roots[at.r];
        let c = at.k.as_deref().map(|k| Cursor::parse(k, "cursor")).transpose()?;
        let page =
            ctx.store.subtree(root.root_id(), &root.org_tree_path(), limit - found.len() as i32, c.as_ref()).await?;
        found.extend(page.items);
        match page.next {
            Some(k) => at.k = Some(k.as_str().to_owned()),
            None => at = WalkCursor { r: at.r + 1, k: None },
        }
    }
    if at.r < roots.len() {
        next = Some(at.encode()?);
    } else if at.r == roots.len() && (found.len() as i32) < limit && !singles.is_empty() {
        let ids: Vec<OrgId> = singles.iter().map(|m| m.org_id.clone()).collect();
        let mut orgs = ctx.store.get_orgs(&ids).await?;
        orgs.sort_by(|a, b| a.org_id.cmp(&b.org_id));
        found.extend(orgs);
    } else if at.r == roots.len() && !singles.is_empty() {
        next = Some(at.encode()?);
    }

    // The ancestors of what was found that the walk did not bring (suspension above locks a
    // subtree; unreachable parents are shown by name): one batch read, none for a tree's owner.
    let reachable: BTreeMap<&OrgId, &OrgRecord> = found.iter().map(|o| (&o.org_id, o)).collect();
    let missing: Vec<OrgId> = found
        .iter()
        .flat_map(|o| o.ancestors.iter())
        .filter(|a| !reachable.contains_key(a))
        .cloned()
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let above = if missing.is_empty() { Vec::new() } else { ctx.store.get_orgs(&missing).await? };
    let started = Some(&auth.session.session_id);
    let standing_of = |o: &OrgRecord| -> Effective {
        let ancestors: Vec<OrgRecord> = o
            .ancestors
            .iter()
            .filter_map(|a| reachable.get(a).copied().or_else(|| above.iter().find(|x| &x.org_id == a)))
            .cloned()
            .collect();
        effective(user, &o.org_id, &o.ancestors, &ms, Standing::of(o, &ancestors, started))
    };
    let organizations = found
        .iter()
        .filter_map(|o| {
            let e = standing_of(o);
            e.permissions.contains(&Permission::OrgRead).then(|| {
                let parent_name = o
                    .parent_id
                    .as_ref()
                    .filter(|p| !reachable.contains_key(p))
                    .and_then(|p| above.iter().find(|x| &x.org_id == p))
                    .filter(|p| !standing_of(p).permissions.contains(&Permission::OrgRead))
                    .map(|p| p.name.clone());
                MyOrg {
                    organization: OrgView::from(o),
                    roles: e.roles.into_iter().collect(),
                    permissions: e.permissions.into_iter().collect(),
                    inherited: !e.direct,
                    parent_name,
                }
            })
        })
        .collect();
    Ok(MyOrgsPage { organizations, next_cursor: next })
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Switched {
    /// A new access token for the organization; the refresh token stays as it was.
    pub access_token: String,
    pub token_type: &'static str,
    pub expires_in: i64,
    pub organization_id: OrgId,
    pub roles: Vec<Role>,
    pub permissions: Vec<Permission>,
    /// The shared account the session acts as, if any.
    pub acting_as: Option<UserId>,
}

/// Make `org` the active organization of the caller's session (this client only) and the
/// organization this client type reopens at the next login.
///
/// With `act_as`, the session acts in the name of that shared account of the organization,
/// which the user must be linked to; its roles then apply, and activity records both.
pub async fn switch_org(ctx: &Ctx, auth: &Authenticated, org: &OrgId, act_as: Option<&UserId>) -> Result<Switched> {
    let identity = match act_as {
        Some(shared) => {
            crate::service::members::shared_accounts::check_link(ctx, &auth.user_id, org, shared).await?;
            shared
        }
        None => &auth.user_id,
    };
    let access = access_to(ctx, identity, org, Some(&auth.session.session_id)).await?;
    if access.suspended {
        return Err(Error::OrgSuspended);
    }
    crate::service::orgs::settings::admit(&access, &auth.session)?;
    ctx.store.switch_org(&auth.session, org, auth.session.client, act_as).await?;
    let mut session = auth.session.clone();
    session.active_org = Some(org.clone());
    session.acting_as = act_as.cloned();
    let roles: Vec<Role> = access.roles.iter().copied().collect();
    let access_token = crate::service::identity::sessions::access_token(ctx, &session, &roles)?;
    Ok(Switched {
        access_token,
        token_type: "Bearer",
        expires_in: ctx.config.access_ttl.num_seconds(),
        organization_id: org.clone(),
        roles,
        permissions: access.permissions.iter().copied().collect(),
        acting_as: act_as.cloned(),
    })
}
