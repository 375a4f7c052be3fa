//! Company domains and email-to-SMS sender domains: claimed by an admin, proven by a TXT
//! record, owned by the first organization that proves one (of each kind), freed on removal.

use chrono::Duration;
use serde::Serialize;

use crate::access::{Permit, UpdateOrg};
use crate::domain::{DomainName, OrgId, OwnedDomain};
use crate::error::{Error, Result};
use crate::service::{Ctx, permit_activity};
use crate::store::{DomainClaimRecord, DomainKind};

/// Unverified claims lapse after this long.
pub const CLAIM_DAYS: i64 = 7;
/// Where the token is published, below the domain.
pub const CHALLENGE_LABEL: &str = "_switchboard-challenge";
const VALUE_PREFIX: &str = "switchboard-verification=";

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DomainView {
    #[schema(value_type = String)]
    pub domain: DomainName,
    pub kind: DomainKind,
    pub verified: bool,
    pub verified_at: Option<chrono::DateTime<chrono::Utc>>,
    pub checked_at: Option<chrono::DateTime<chrono::Utc>>,
    /// For an unverified claim: when it lapses.
    pub expires_at: Option<chrono::DateTime<chrono::Utc>>,
    /// What to publish to prove control of the domain.
    pub verification: Challenge,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Challenge {
    pub record_type: &'static str,
    /// e.g. `_switchboard-challenge.example.com`.
    pub record_name: String,
    pub value: String,
}

fn record_name(d: &DomainName) -> String {
    format!("{CHALLENGE_LABEL}.{}", d.as_str())
}

fn view(c: &DomainClaimRecord) -> DomainView {
    DomainView {
        domain: c.domain.clone(),
        kind: c.kind,
        verified: c.verified_at.is_some(),
        verified_at: c.verified_at,
        checked_at: c.checked_at,
        expires_at: c.verified_at.is_none().then_some(c.expires_at),
        verification: Challenge {
            record_type: "TXT",
            record_name: record_name(&c.domain),
            value: format!("{VALUE_PREFIX}{}", c.token),
        },
    }
}

fn action(kind: DomainKind, what: &str) -> String {
    match kind {
        DomainKind::Company => format!("company_domain.{what}"),
        DomainKind::EmailToSms => format!("email_to_sms_domain.{what}"),
    }
}

/// Claim a domain (public and free-mail domains are refused when parsed). Claiming again
/// before verification gives a new token and a new expiry.
pub async fn add(ctx: &Ctx, permit: &Permit<UpdateOrg>, kind: DomainKind, domain: OwnedDomain) -> Result<DomainView> {
    let now = ctx.now();
    let (token, _) = crate::auth::secret::new_secret(ctx.random.as_ref());
    let claim = DomainClaimRecord {
        org_id: permit.org.org_id.clone(),
        domain: domain.name().clone(),
        kind,
        token,
        created_at: now,
        expires_at: now + Duration::days(CLAIM_DAYS),
        verified_at: None,
        checked_at: None,
    };
    let act = permit_activity(ctx, permit, &action(kind, "added"), Some(domain.as_str().to_owned()));
    ctx.store.put_domain_claim(&claim, &act, &permit.org.lineage_ids()).await?;
    Ok(view(&claim))
}

pub async fn list(ctx: &Ctx, permit: &Permit<UpdateOrg>, kind: DomainKind) -> Result<Vec<DomainView>> {
    let now = ctx.now();
    let claims = ctx.store.domain_claims(&permit.org.org_id, kind).await?;
    Ok(claims.iter().filter(|c| c.is_live(now)).map(view).collect())
}

async fn live_claim(ctx: &Ctx, org: &OrgId, kind: DomainKind, d: &DomainName) -> Result<DomainClaimRecord> {
    match ctx.store.get_domain_claim(org, kind, d).await? {
        Some(c) if c.is_live(ctx.now()) => Ok(c),
        _ => Err(Error::NotFound("domain")),
    }
}

/// Look the token up in DNS now; verify the claim (taking the domain) or, for a verified one,
/// record the re-check. A failed re-check leaves ownership as it is and says so.
pub async fn verify(ctx: &Ctx, permit: &Permit<UpdateOrg>, kind: DomainKind, d: &DomainName) -> Result<DomainView> {
    let claim = live_claim(ctx, &permit.org.org_id, kind, d).await?;
    let name = record_name(d);
    let expected = format!("{VALUE_PREFIX}{}", claim.token);
    let records = ctx.dns.txt(&name).await?;
    if !records.iter().any(|r| r.trim() == expected) {
        return Err(Error::DomainUnverified { record: name });
    }
    let now = ctx.now();
    let mut after = claim.clone();
    if claim.verified_at.is_some() {
        ctx.store.touch_domain_claim(&claim, now).await?;
    } else {
        let act = permit_activity(ctx, permit, &action(kind, "verified"), Some(d.as_str().to_owned()));
        ctx.store.verify_domain(&claim, now, &act, &permit.org.lineage_ids()).await?;
        after.verified_at = Some(now);
    }
    after.checked_at = Some(now);
    Ok(view(&after))
}

/// Remove a claim or a verified domain (which becomes free for others).
pub async fn remove(ctx: &Ctx, permit: &Permit<UpdateOrg>, kind: DomainKind, d: &DomainName) -> Result<()> {
    let claim = live_claim(ctx, &permit.org.org_id, kind, d).await?;
    let act = permit_activity(ctx, permit, &action(kind, "removed"), Some(d.as_str().to_owned()));
    ctx.store.remove_domain(&permit.org, &claim, &act).await
}

/// The account an email-to-SMS sender's domain is whitelisted on, and whether it can take
/// messages: three reads at most (the domain, the organization, its ancestors).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SenderAccount {
    #[schema(value_type = String)]
    pub domain: DomainName,
    pub organization_id: OrgId,
    /// The account as its people find it: `closed` or `suspended` when it, or an organization
    /// above it, is; then nothing should be routed into it.
    pub status: crate::store::OrgStatus,
}

pub async fn email_to_sms_account(ctx: &Ctx, d: &DomainName) -> Result<SenderAccount> {
    use crate::store::OrgStatus;
    let guard = ctx.store.domain_owner(DomainKind::EmailToSms, d).await?.ok_or(Error::NotFound("domain"))?;
    let org = ctx.store.get_org(&guard.org_id).await?.ok_or(Error::NotFound("domain"))?;
    let above = ctx.store.get_orgs(&org.ancestors).await?;
    let statuses: Vec<OrgStatus> = std::iter::once(org.status).chain(above.iter().map(|o| o.status)).collect();
    let status = if statuses.contains(&OrgStatus::Closed) {
        OrgStatus::Closed
    } else if statuses.contains(&OrgStatus::Suspended) {
        OrgStatus::Suspended
    } else {
        OrgStatus::Active
    };
    Ok(SenderAccount { domain: guard.domain, organization_id: guard.org_id, status })
}
