//! Single sign-on providers, sign-in requests in flight and the assertion replay guard.
//!
//! Keys: provider `SSO#<name>` / `SSO` (GSI1 `SSOORG#<org>` / `SSO#<name>` lists an
//! organization's); the name is the key, so `put_new` makes it unique across the service
//! and a sign-in reads the provider in one GetItem. A request `SAMLREQ#<id>` / `SAMLREQ`
//! (TTL: its expiry); a seen assertion `SAMLSEEN#<sha256(entity, assertion id)>` /
//! `SAMLSEEN` (TTL: until the assertion could no longer be presented); a person's link to a
//! provider `USER#<id>` / `SSOLINK#<name>`.

use aws_sdk_dynamodb::types::{Delete, ReturnValue, TransactWriteItem};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::sso::{EntityId, ProviderName};
use crate::domain::{ClientType, OrgId, Role, UserId};
use crate::error::{Error, Result};
use crate::store::error::storage;
use crate::store::items::{from_item, to_item, with_gsi1, with_ttl};
use crate::store::members::member_ops::activity_items;
use crate::store::ops::{QueryDir, key};
use crate::store::table::{GSI1, PRIMARY};
use crate::store::tx::{self, Guard, Tx, TxError};
use crate::store::{ActivityRecord, Store};

/// A signing certificate as kept: its DER (base64) and what admins are shown of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredCert {
    pub der_base64: String,
    pub subject: String,
    pub fingerprint: String,
    pub not_before: DateTime<Utc>,
    pub not_after: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SsoProviderRecord {
    pub name: ProviderName,
    pub org_id: OrgId,
    pub title: String,
    pub entity_id: EntityId,
    #[serde(default)]
    pub sso_redirect: Option<String>,
    #[serde(default)]
    pub sso_post: Option<String>,
    pub certs: Vec<StoredCert>,
    /// People signing in who are not members yet become members (with `jit_role`) when a
    /// seat is free and their address is on a verified company domain.
    pub jit: bool,
    pub jit_role: Role,
    /// The provider's sign-in counts as the second factor (the provider enforces its own).
    pub counts_as_second_factor: bool,
    pub enabled: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: u64,
}

impl crate::store::items::Entity for SsoProviderRecord {
    const TYPE: &'static str = "sso_provider";
}

impl SsoProviderRecord {
    pub fn pk(name: &ProviderName) -> String {
        format!("SSO#{}", name.as_str())
    }
    pub const SK: &'static str = "SSO";
    fn gsi1pk(org: &OrgId) -> String {
        format!("SSOORG#{org}")
    }

    fn item(&self) -> Result<crate::store::ops::Item> {
        let item = to_item(self, Self::pk(&self.name), Self::SK.to_owned())?;
        Ok(with_gsi1(item, Self::gsi1pk(&self.org_id), format!("SSO#{}", self.name.as_str())))
    }
}

/// A sign-in request sent to a provider, waiting for its answer.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SamlRequestRecord {
    pub request_id: String,
    pub provider: ProviderName,
    pub org_id: OrgId,
    pub client: ClientType,
    pub expires_at: DateTime<Utc>,
    /// SHA-256 of the secret in the starting browser's cookie: the answer is taken only from
    /// that browser, so nobody's sign-in can be planted in someone else's.
    #[serde(default)]
    pub browser: String,
    /// A signed-in person linking the provider to their login.
    #[serde(default)]
    pub link_for: Option<UserId>,
}

impl crate::store::items::Entity for SamlRequestRecord {
    const TYPE: &'static str = "saml_request";
}

/// A person's consent that a provider signs them in to its organization, although their
/// address is not on one of its verified company domains. Made by signing in at the provider
/// from a session opened with their own credentials.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SsoLinkRecord {
    pub user_id: UserId,
    pub provider: ProviderName,
    pub org_id: OrgId,
    /// The provider's entity when linked: another provider under the same name is not it.
    pub entity_id: EntityId,
    pub linked_at: DateTime<Utc>,
}

impl crate::store::items::Entity for SsoLinkRecord {
    const TYPE: &'static str = "sso_link";
}

impl SsoLinkRecord {
    pub fn pk(user: &UserId) -> String {
        crate::store::UserRecord::pk(user)
    }
    pub fn sk(provider: &ProviderName) -> String {
        format!("SSOLINK#{}", provider.as_str())
    }
}

impl SamlRequestRecord {
    pub fn pk(id: &str) -> String {
        format!("SAMLREQ#{id}")
    }
    pub const SK: &'static str = "SAMLREQ";
}

/// Why a response's request could not be used.
#[derive(Debug)]
pub enum Consumed {
    Ok(SamlRequestRecord),
    /// No such request for this provider, already answered, or expired.
    UnknownRequest,
    /// The assertion was presented before.
    Replayed,
}

/// An assertion already used: the same one again is a replay.
struct SeenAssertion;

impl crate::store::items::Entity for SeenAssertion {
    const TYPE: &'static str = "saml_assertion_seen";
}

impl Store {
    /// Add a provider with its activity entry; `Ok(false)` when the name is taken (by anyone).
    pub async fn put_sso_provider(
        &self,
        p: &SsoProviderRecord,
        act: &ActivityRecord,
        lineage: &[OrgId],
    ) -> Result<bool> {
        let t = self.table_name();
        let mut items = vec![tx::put_new(t, p.item()?)?];
        items.extend(activity_items(t, act, lineage)?);
        self.transact_applied(items).await
    }

    pub async fn sso_provider(&self, name: &ProviderName) -> Result<Option<SsoProviderRecord>> {
        self.get_item(&SsoProviderRecord::pk(name), SsoProviderRecord::SK).await?.map(from_item).transpose()
    }

    /// An organization's providers (GSI1, eventually consistent), at most 100.
    pub async fn sso_providers(&self, org: &OrgId) -> Result<Vec<SsoProviderRecord>> {
        let pk = SsoProviderRecord::gsi1pk(org);
        let page = self.query_prefix(Some(&GSI1), &pk, "SSO#", QueryDir::Forward, 100, None).await?;
        page.items.into_iter().map(from_item).collect()
    }

    /// Replace a provider of `p.org_id` still at `version`, with its activity entry;
    /// `Ok(false)` when it changed meanwhile or is not that organization's.
    pub async fn replace_sso_provider(
        &self,
        p: &SsoProviderRecord,
        version: u64,
        act: &ActivityRecord,
        lineage: &[OrgId],
    ) -> Result<bool> {
        let t = self.table_name();
        let mut items = vec![tx::replace_owned(t, p.item()?, &p.org_id, version)?];
        items.extend(activity_items(t, act, lineage)?);
        self.transact_applied(items).await
    }

    /// Delete `org`'s provider with its activity entry; `Ok(false)` when it has none by that name.
    pub async fn delete_sso_provider(
        &self,
        org: &OrgId,
        name: &ProviderName,
        act: &ActivityRecord,
        lineage: &[OrgId],
    ) -> Result<bool> {
        let t = self.table_name();
        let mut items = vec![tx::delete_owned(t, key(SsoProviderRecord::pk(name), SsoProviderRecord::SK), org)?];
        items.extend(activity_items(t, act, lineage)?);
        self.transact_applied(items).await
    }

    pub async fn put_saml_request(&self, r: &SamlRequestRecord) -> Result<()> {
        let item =
            with_ttl(to_item(r, SamlRequestRecord::pk(&r.request_id), SamlRequestRecord::SK.to_owned())?, r.expires_at);
        if self.put_new(item).await? { Ok(()) } else { Err(Error::Conflict) }
    }

    /// Use up the request a response answers and record its assertion as seen, in one
    /// transaction: a second presentation of either fails, and neither is used without the
    /// other.
    pub async fn consume_saml_request(
        &self,
        request_id: &str,
        provider: &ProviderName,
        now: DateTime<Utc>,
        seen_key: &str,
        seen_until: DateTime<Utc>,
        browser_hash: &str,
    ) -> Result<Consumed> {
        let t = self.table_name();
        let pk = SamlRequestRecord::pk(request_id);
        let Some(item) = self.get_item(&pk, SamlRequestRecord::SK).await? else { return Ok(Consumed::UnknownRequest) };
        let record: SamlRequestRecord = from_item(item)?;
        let same_browser = crate::auth::secret::hashes_equal(&record.browser, browser_hash);
        if &record.provider != provider || record.expires_at <= now || !same_browser {
            return Ok(Consumed::UnknownRequest);
        }
        let delete = Delete::builder()
            .table_name(t)
            .set_key(Some(key(pk, SamlRequestRecord::SK)))
            .condition_expression("attribute_exists(#pk)")
            .expression_attribute_names("#pk", PRIMARY.hash)
            .build()
            .map_err(storage)?;
        let seen = key(format!("SAMLSEEN#{seen_key}"), "SAMLSEEN");
        let seen = with_ttl(crate::store::items::typed::<SeenAssertion>(seen), seen_until);
        let mut items = Tx::new();
        items
            .guarded(Guard::Token, TransactWriteItem::builder().delete(delete).build())
            .guarded(Guard::Once, tx::put_new(t, seen)?);
        match self.transact(items).await {
            Ok(()) => Ok(Consumed::Ok(record)),
            // The assertion was seen, and the request it answers is still there: a replay.
            Err(TxError::Conditions(f)) if f.has(Guard::Once) && !f.has(Guard::Token) => Ok(Consumed::Replayed),
            Err(TxError::Conditions(_)) => Ok(Consumed::UnknownRequest),
            Err(TxError::Other(e)) => Err(e),
        }
    }

    pub async fn put_sso_link(&self, l: &SsoLinkRecord) -> Result<()> {
        let item = to_item(l, SsoLinkRecord::pk(&l.user_id), SsoLinkRecord::sk(&l.provider))?;
        self.client.put_item().table_name(self.table_name()).set_item(Some(item)).send().await.map_err(storage)?;
        Ok(())
    }

    pub async fn sso_link(&self, user: &UserId, provider: &ProviderName) -> Result<Option<SsoLinkRecord>> {
        self.get_item(&SsoLinkRecord::pk(user), &SsoLinkRecord::sk(provider)).await?.map(from_item).transpose()
    }

    /// Take a one-time token: delete it and return what it held, if it was there.
    pub async fn take_token(&self, hash: &str) -> Result<Option<crate::store::TokenRecord>> {
        let out = self
            .client
            .delete_item()
            .table_name(self.table_name())
            .set_key(Some(key(crate::store::TokenRecord::pk(hash), crate::store::TokenRecord::SK)))
            .return_values(ReturnValue::AllOld)
            .send()
            .await
            .map_err(storage)?;
        out.attributes.filter(|a| !a.is_empty()).map(from_item).transpose()
    }
}
