//! Domains an organization claims: company domains (whose addresses are its coworkers') and
//! email-to-SMS sender domains. A claim is the organization's until verified by DNS; a
//! verified domain is owned through a guard item per kind, unique across all organizations,
//! written in the same transaction as the claim (and, for company domains, the organization's
//! list on its own item, which the access check reads anyway).
//!
//! Keys:
//! - claim `ORG#<org>` / `DOMAIN#<kind>#<domain>` (TTL while unverified);
//! - guard `CDOMAIN#<domain>` / `GUARD` (company) or `E2SDOMAIN#<domain>` / `GUARD` (email-to-SMS).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::{DomainName, OrgId};
use crate::error::{Error, Result};
use crate::store::items::{from_item, to_item, with_ttl};
use crate::store::ops::{Item, key, s};
use crate::store::tx::{self, Guard, Tx, TxError};
use crate::store::{ActivityRecord, OrgRecord, Store};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DomainKind {
    /// The company's own addresses.
    Company,
    /// Senders whose email becomes SMS on this account.
    EmailToSms,
}

impl DomainKind {
    fn tag(self) -> &'static str {
        match self {
            DomainKind::Company => "company",
            DomainKind::EmailToSms => "e2s",
        }
    }

    fn guard_prefix(self) -> &'static str {
        match self {
            DomainKind::Company => "CDOMAIN#",
            DomainKind::EmailToSms => "E2SDOMAIN#",
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DomainClaimRecord {
    pub org_id: OrgId,
    pub domain: DomainName,
    pub kind: DomainKind,
    /// Published by the admin in DNS, so not a secret: kept as is to be shown again.
    pub token: String,
    pub created_at: DateTime<Utc>,
    /// Unverified claims lapse then (and DynamoDB's TTL removes them).
    pub expires_at: DateTime<Utc>,
    #[serde(default)]
    pub verified_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub checked_at: Option<DateTime<Utc>>,
}

impl crate::store::items::Entity for DomainClaimRecord {
    const TYPE: &'static str = "domain_claim";
}

impl DomainClaimRecord {
    pub fn sk(kind: DomainKind, d: &DomainName) -> String {
        format!("DOMAIN#{}#{}", kind.tag(), d.as_str())
    }

    pub fn sk_prefix(kind: DomainKind) -> String {
        format!("DOMAIN#{}#", kind.tag())
    }

    fn item(&self) -> Result<Item> {
        let item = to_item(self, OrgRecord::pk(&self.org_id), Self::sk(self.kind, &self.domain))?;
        Ok(if self.verified_at.is_none() { with_ttl(item, self.expires_at) } else { item })
    }

    pub fn is_live(&self, now: DateTime<Utc>) -> bool {
        self.verified_at.is_some() || self.expires_at > now
    }
}

/// Who owns a verified domain.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DomainGuardRecord {
    pub org_id: OrgId,
    pub domain: DomainName,
    pub verified_at: DateTime<Utc>,
}

impl crate::store::items::Entity for DomainGuardRecord {
    const TYPE: &'static str = "domain_guard";
}

impl DomainGuardRecord {
    pub fn pk(kind: DomainKind, d: &DomainName) -> String {
        format!("{}{}", kind.guard_prefix(), d.as_str())
    }
    pub const SK: &'static str = "GUARD";
}

impl Store {
    /// Record a new claim (or renew an unverified one with a new token).
    pub async fn put_domain_claim(
        &self,
        claim: &DomainClaimRecord,
        activity: &ActivityRecord,
        lineage: &[OrgId],
    ) -> Result<()> {
        let t = self.table_name();
        let put = aws_sdk_dynamodb::types::Put::builder()
            .table_name(t)
            .set_item(Some(claim.item()?))
            // Not yet verified: the attribute is absent, or NULL (an earlier claim of it).
            // Claiming again issues a new token and expiry over it.
            .condition_expression("attribute_not_exists(verified_at) OR attribute_type(verified_at, :null)")
            .expression_attribute_values(":null", aws_sdk_dynamodb::types::AttributeValue::S("NULL".into()))
            .build()
            .map_err(crate::store::error::storage)?;
        let mut items = vec![aws_sdk_dynamodb::types::TransactWriteItem::builder().put(put).build()];
        for item in activity.items(lineage)? {
            items.push(tx::put_new(t, item)?);
        }
        match self.transact(items).await {
            Ok(()) => Ok(()),
            Err(TxError::Conditions(_)) => Err(Error::DomainAlreadyVerified),
            Err(TxError::Other(e)) => Err(e),
        }
    }

    pub async fn get_domain_claim(
        &self,
        org: &OrgId,
        kind: DomainKind,
        d: &DomainName,
    ) -> Result<Option<DomainClaimRecord>> {
        self.get_item(&OrgRecord::pk(org), &DomainClaimRecord::sk(kind, d)).await?.map(from_item).transpose()
    }

    /// Every claim of one kind of an organization (at most a few hundred: one query).
    pub async fn domain_claims(&self, org: &OrgId, kind: DomainKind) -> Result<Vec<DomainClaimRecord>> {
        self.query_all(&OrgRecord::pk(org), &DomainClaimRecord::sk_prefix(kind)).await
    }

    /// The owner of a verified domain: one read.
    pub async fn domain_owner(&self, kind: DomainKind, d: &DomainName) -> Result<Option<DomainGuardRecord>> {
        self.get_item(&DomainGuardRecord::pk(kind, d), DomainGuardRecord::SK).await?.map(from_item).transpose()
    }

    /// Mark a claim verified: the guard must be free (or already this organization's), and a
    /// company domain joins the organization's list, all at once.
    pub async fn verify_domain(
        &self,
        claim: &DomainClaimRecord,
        now: DateTime<Utc>,
        activity: &ActivityRecord,
        lineage: &[OrgId],
    ) -> Result<()> {
        let t = self.table_name();
        let guard = DomainGuardRecord { org_id: claim.org_id.clone(), domain: claim.domain.clone(), verified_at: now };
        let guard_put = aws_sdk_dynamodb::types::Put::builder()
            .table_name(t)
            .set_item(Some(to_item(
                &guard,
                DomainGuardRecord::pk(claim.kind, &claim.domain),
                DomainGuardRecord::SK.into(),
            )?))
            .condition_expression("attribute_not_exists(#pk) OR org_id = :o")
            .expression_attribute_names("#pk", crate::store::table::PRIMARY.hash)
            .expression_attribute_values(":o", s(claim.org_id.as_str()))
            .build()
            .map_err(crate::store::error::storage)?;
        let claim_update =
            tx::update_builder(t, key(OrgRecord::pk(&claim.org_id), DomainClaimRecord::sk(claim.kind, &claim.domain)))
                .condition_expression("#token = :token")
                .update_expression("SET verified_at = :now, checked_at = :now REMOVE #ttl")
                .expression_attribute_names("#token", "token")
                .expression_attribute_names("#ttl", crate::store::table::TTL_ATTRIBUTE)
                .expression_attribute_values(":token", s(&claim.token))
                .expression_attribute_values(":now", s(now.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)));
        let mut items = Tx::new();
        items
            .guarded(Guard::Name, aws_sdk_dynamodb::types::TransactWriteItem::builder().put(guard_put).build())
            .push(tx::update(claim_update)?);
        if claim.kind == DomainKind::Company {
            let org_update = tx::update_builder(t, key(OrgRecord::pk(&claim.org_id), OrgRecord::SK))
                .condition_expression("attribute_exists(#pk) AND NOT contains(company_domains, :d)")
                .update_expression("SET company_domains = list_append(if_not_exists(company_domains, :empty), :dl)")
                .expression_attribute_names("#pk", crate::store::table::PRIMARY.hash)
                .expression_attribute_values(":d", s(claim.domain.as_str()))
                .expression_attribute_values(
                    ":dl",
                    aws_sdk_dynamodb::types::AttributeValue::L(vec![s(claim.domain.as_str())]),
                )
                .expression_attribute_values(":empty", aws_sdk_dynamodb::types::AttributeValue::L(Vec::new()));
            items.push(tx::update(org_update)?);
        }
        for item in activity.items(lineage)? {
            items.push(tx::put_new(t, item)?);
        }
        match self.transact(items).await {
            Ok(()) => Ok(()),
            Err(TxError::Conditions(f)) if f.has(Guard::Name) => Err(Error::DomainTaken),
            Err(TxError::Conditions(_)) => Err(Error::Conflict),
            Err(TxError::Other(e)) => Err(e),
        }
    }

    /// Note a passed re-check of a verified domain.
    pub async fn touch_domain_claim(&self, claim: &DomainClaimRecord, now: DateTime<Utc>) -> Result<()> {
        let update = self
            .client
            .update_item()
            .table_name(self.table_name())
            .set_key(Some(key(OrgRecord::pk(&claim.org_id), DomainClaimRecord::sk(claim.kind, &claim.domain))))
            .condition_expression("attribute_exists(verified_at)")
            .update_expression("SET checked_at = :now")
            .expression_attribute_values(":now", s(now.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)))
            .send()
            .await;
        crate::store::error::applied(update).map(|_| ())
    }

    /// Remove a claim; a verified one frees its guard and leaves the organization's list.
    /// `org` is the organization as read by this request: its list gives the entry's index.
    pub async fn remove_domain(
        &self,
        org: &OrgRecord,
        claim: &DomainClaimRecord,
        activity: &ActivityRecord,
    ) -> Result<()> {
        let t = self.table_name();
        let delete = |k: Item, cond: Option<(&str, &str)>| -> Result<aws_sdk_dynamodb::types::TransactWriteItem> {
            let mut d = aws_sdk_dynamodb::types::Delete::builder().table_name(t).set_key(Some(k));
            if let Some((expr, org)) = cond {
                d = d.condition_expression(expr).expression_attribute_values(":o", s(org));
            }
            Ok(aws_sdk_dynamodb::types::TransactWriteItem::builder()
                .delete(d.build().map_err(crate::store::error::storage)?)
                .build())
        };
        let mut items = vec![delete(
            key(OrgRecord::pk(&claim.org_id), DomainClaimRecord::sk(claim.kind, &claim.domain)),
            Some(("org_id = :o", claim.org_id.as_str())),
        )?];
        if claim.verified_at.is_some() {
            items.push(delete(
                key(DomainGuardRecord::pk(claim.kind, &claim.domain), DomainGuardRecord::SK),
                Some(("org_id = :o", claim.org_id.as_str())),
            )?);
            if claim.kind == DomainKind::Company
                && let Some(i) = org.company.company_domains.iter().position(|d| d == &claim.domain)
            {
                let org_update = tx::update_builder(t, key(OrgRecord::pk(&org.org_id), OrgRecord::SK))
                    .condition_expression(format!("company_domains[{i}] = :d"))
                    .update_expression(format!("REMOVE company_domains[{i}]"))
                    .expression_attribute_values(":d", s(claim.domain.as_str()));
                items.push(tx::update(org_update)?);
            }
        }
        for item in activity.items(&org.lineage_ids())? {
            items.push(tx::put_new(t, item)?);
        }
        match self.transact(items).await {
            Ok(()) => Ok(()),
            Err(TxError::Conditions(_)) => Err(Error::Conflict),
            Err(TxError::Other(e)) => Err(e),
        }
    }
}
