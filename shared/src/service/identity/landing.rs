//! Where a session lands: the organization a client type used last, else another it can work
//! in, and the record of where it landed, so the next sign-in on that client opens there.

use crate::access::Access;
use crate::domain::{ClientType, OrgId, SessionId, UserId};
use crate::error::{Error, Result};
use crate::service::Ctx;
use crate::service::identity::sessions::Refusal;
use crate::service::orgs::organizations::access_to;
use crate::store::{MemberStatus, UserRecord};

/// What an organization's policies look at when a session works in it.
#[derive(Debug, Clone, Copy)]
pub(in crate::service) struct Gate<'a> {
    pub client: ClientType,
    pub second_factor: bool,
    /// The identity provider's organization a single sign-on opened the session in.
    pub confined_to: Option<&'a OrgId>,
}

/// The organization a new session starts in: the one this client type used last if the user
/// can still enter it and it is active, else another such organization they belong to
/// directly, else none. The refusal says why the session is outside the organization it would
/// have opened in: the last one, or (none recorded for this client yet) the first candidate
/// whose policy kept it out, so a client that never worked anywhere still hears why.
pub(in crate::service) async fn reopen_org(
    ctx: &Ctx,
    user: &crate::store::UserRecord,
    gate: Gate<'_>,
    preferred: Option<&OrgId>,
) -> Result<(Option<Access>, Option<Refusal>)> {
    let last = preferred.or_else(|| user.last_org_for(gate.client));
    let mut refused = None;
    if let Some(org) = last {
        match workable(ctx, &user.user_id, org, None, gate).await {
            Ok(Some(a)) => return Ok((Some(a), None)),
            Ok(None) => {}
            Err(e) if e.is_policy_refusal() => {
                refused = Some(Refusal { organization_id: org.clone(), code: e.code() });
            }
            Err(e) => return Err(e),
        }
    }
    let (access, fallback_refused) = fallback_org(ctx, &user.user_id, last, None, gate).await?;
    Ok((access, refused.or(fallback_refused)))
}

/// Candidates tried before giving up: a login with that many unusable memberships in a row
/// starts without an organization and switches.
const FALLBACK_TRIES: usize = 3;

/// An organization the user belongs to directly, can enter and that is active, other than
/// `except`: one query for the memberships, then two round trips per candidate tried. With it,
/// the first policy refusal met on the way.
pub(in crate::service) async fn fallback_org(
    ctx: &Ctx,
    user: &UserId,
    except: Option<&OrgId>,
    session: Option<&SessionId>,
    gate: Gate<'_>,
) -> Result<(Option<Access>, Option<Refusal>)> {
    let page = ctx.store.memberships(user, 25, None).await?;
    let candidates = page
        .items
        .iter()
        .filter(|m| m.status == MemberStatus::Active && Some(&m.org_id) != except)
        .take(FALLBACK_TRIES);
    let mut refused = None;
    for m in candidates {
        match workable(ctx, user, &m.org_id, session, gate).await {
            Ok(Some(a)) => return Ok((Some(a), None)),
            Ok(None) => {}
            Err(e) if e.is_policy_refusal() => {
                refused = refused.or(Some(Refusal { organization_id: m.org_id.clone(), code: e.code() }));
            }
            Err(e) => return Err(e),
        }
    }
    Ok((None, refused))
}

/// The user's access to `org` if a session may work in it now: enterable, not suspended,
/// and admitted by its policies (their refusal is the error).
pub(in crate::service) async fn workable(
    ctx: &Ctx,
    user: &UserId,
    org: &OrgId,
    session: Option<&SessionId>,
    gate: Gate<'_>,
) -> Result<Option<Access>> {
    match access_to(ctx, user, org, session).await {
        Ok(a) if !a.suspended => {
            crate::service::orgs::settings::admit_client(&a, gate.client, gate.second_factor, gate.confined_to)?;
            Ok(Some(a))
        }
        // Closing is stronger than suspending, and like it never costs a person their sign-in:
        // they land elsewhere (or nowhere), and may restore or erase from there.
        Ok(_) | Err(Error::Forbidden | Error::OrgSuspended | Error::OrgClosed) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Remember that `client` landed in `org` (a sign-in, an accepted invitation), unless it is
/// already the organization recorded for that client: the next sign-in there opens in it.
/// A failure is only logged: the sign-in or acceptance it follows stands.
pub(crate) async fn note_landing(ctx: &Ctx, user: &UserRecord, client: ClientType, org: &OrgId) {
    if user.last_org_for(client) == Some(org) {
        return;
    }
    if let Err(e) = ctx.store.note_last_org(&user.user_id, client, org).await {
        tracing::warn!(error = %e, "the organization a client landed in is not recorded");
    }
}
