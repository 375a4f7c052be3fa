//! OAuth applications, authorization codes, grants (the refresh-token family of one
//! person's authorization of one application) and remembered consent.
//!
//! Keys: application `OAPP#<client_id>` / `APP` (GSI1 `OAPPORG#<org>` / `APP#<client_id>`);
//! code `OACODE#<sha256 of code>` / `CODE` (TTL: its expiry); grant `USER#<user>` /
//! `OAGRANT#<client_id>#<grant_id>` (TTL: its expiry), so one query finds a person's grants
//! for an application; consent `USER#<user>` / `OACONSENT#<client_id>`.

use aws_sdk_dynamodb::types::ReturnValue;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::oauth::{CodeChallenge, RedirectUri, Scopes};
use crate::domain::{OrgId, UserId};
use crate::error::{Error, Result};
use crate::store::error::{is_condition_failed, storage};
use crate::store::items::{from_item, to_item, with_gsi1, with_ttl};
use crate::store::members::member_ops::activity_items;
use crate::store::ops::{Item, QueryDir, key, s};
use crate::store::table::{GSI1, PRIMARY};
use crate::store::tx;
use crate::store::{ActivityRecord, Store};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AppRecord {
    pub client_id: String,
    pub org_id: OrgId,
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    pub redirect_uris: Vec<RedirectUri>,
    /// The scopes it may ask for.
    pub resources: Scopes,
    /// Confidential clients hold a secret; public ones (native, single-page) rely on PKCE.
    pub confidential: bool,
    /// SHA-256 of the secret (256 random bits, so a fast hash suffices).
    #[serde(default)]
    pub secret_hash: Option<String>,
    #[serde(default)]
    pub secret_created_at: Option<DateTime<Utc>>,
    pub created_by: UserId,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: u64,
}

impl crate::store::items::Entity for AppRecord {
    const TYPE: &'static str = "oauth_app";
}

impl AppRecord {
    pub fn pk(client_id: &str) -> String {
        format!("OAPP#{client_id}")
    }
    pub const SK: &'static str = "APP";

    fn item(&self) -> Result<Item> {
        let item = to_item(self, Self::pk(&self.client_id), Self::SK.to_owned())?;
        Ok(with_gsi1(item, format!("OAPPORG#{}", self.org_id), format!("APP#{}", self.client_id)))
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AuthCodeRecord {
    pub client_id: String,
    pub user_id: UserId,
    pub org_id: OrgId,
    pub redirect_uri: String,
    pub scopes: Scopes,
    pub challenge: CodeChallenge,
    pub expires_at: DateTime<Utc>,
    /// Set when exchanged: a second exchange finds it and revokes what the first issued.
    /// (Never written as NULL: `attribute_not_exists` must see it absent.)
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grant_id: Option<String>,
}

impl crate::store::items::Entity for AuthCodeRecord {
    const TYPE: &'static str = "oauth_code";
}

impl AuthCodeRecord {
    pub fn pk(hash: &str) -> String {
        format!("OACODE#{hash}")
    }
    pub const SK: &'static str = "CODE";
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GrantRecord {
    pub grant_id: String,
    pub client_id: String,
    pub user_id: UserId,
    pub org_id: OrgId,
    pub scopes: Scopes,
    pub refresh_hash: String,
    /// The refresh token replaced last: presenting it again is reuse, and ends the grant.
    #[serde(default)]
    pub prev_hash: Option<String>,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

impl crate::store::items::Entity for GrantRecord {
    const TYPE: &'static str = "oauth_grant";
}

impl GrantRecord {
    pub fn sk(client_id: &str, grant_id: &str) -> String {
        format!("OAGRANT#{client_id}#{grant_id}")
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ConsentRecord {
    pub client_id: String,
    pub org_id: OrgId,
    pub scopes: Scopes,
    pub granted_at: DateTime<Utc>,
}

impl crate::store::items::Entity for ConsentRecord {
    const TYPE: &'static str = "oauth_consent";
}

impl ConsentRecord {
    pub fn sk(client_id: &str) -> String {
        format!("OACONSENT#{client_id}")
    }
}

/// What exchanging a code found.
pub enum CodeUse {
    First(AuthCodeRecord),
    /// Exchanged before: the grant it started (if any) must end.
    Again(Option<String>),
    Unknown,
}

impl Store {
    /// Register an application with its activity entry.
    pub async fn put_app(&self, app: &AppRecord, act: &ActivityRecord, lineage: &[OrgId]) -> Result<()> {
        let t = self.table_name();
        let mut items = vec![tx::put_new(t, app.item()?)?];
        items.extend(activity_items(t, act, lineage)?);
        if self.transact_applied(items).await? { Ok(()) } else { Err(Error::Conflict) }
    }

    pub async fn app(&self, client_id: &str) -> Result<Option<AppRecord>> {
        self.get_item(&AppRecord::pk(client_id), AppRecord::SK).await?.map(from_item).transpose()
    }

    /// Applications by client id (each once), one round trip per 100; missing ones are absent.
    pub async fn apps_by_id(&self, ids: &[&str]) -> Result<Vec<AppRecord>> {
        let mut unique: Vec<&str> = ids.to_vec();
        unique.sort_unstable();
        unique.dedup();
        let keys = unique.iter().map(|id| key(AppRecord::pk(id), AppRecord::SK)).collect();
        self.batch_get(keys).await?.into_iter().map(from_item).collect()
    }

    /// An organization's applications (GSI1, eventually consistent), at most 100.
    pub async fn apps(&self, org: &OrgId) -> Result<Vec<AppRecord>> {
        let pk = format!("OAPPORG#{org}");
        let page = self.query_prefix(Some(&GSI1), &pk, "APP#", QueryDir::Forward, 100, None).await?;
        page.items.into_iter().map(from_item).collect()
    }

    /// Replace an application still at `version` with its activity entry; `Ok(false)` when
    /// it changed meanwhile.
    pub async fn replace_app(
        &self,
        app: &AppRecord,
        version: u64,
        act: &ActivityRecord,
        lineage: &[OrgId],
    ) -> Result<bool> {
        let t = self.table_name();
        let mut items = vec![tx::replace_owned(t, app.item()?, &app.org_id, version)?];
        items.extend(activity_items(t, act, lineage)?);
        self.transact_applied(items).await
    }

    /// Delete `org`'s application with its activity entry; `Ok(false)` when it has none so named.
    pub async fn delete_app(
        &self,
        org: &OrgId,
        client_id: &str,
        act: &ActivityRecord,
        lineage: &[OrgId],
    ) -> Result<bool> {
        let t = self.table_name();
        let mut items = vec![tx::delete_owned(t, key(AppRecord::pk(client_id), AppRecord::SK), org)?];
        items.extend(activity_items(t, act, lineage)?);
        self.transact_applied(items).await
    }

    pub async fn put_code(&self, hash: &str, code: &AuthCodeRecord) -> Result<()> {
        let item = with_ttl(to_item(code, AuthCodeRecord::pk(hash), AuthCodeRecord::SK.to_owned())?, code.expires_at);
        if self.put_new(item).await? { Ok(()) } else { Err(Error::Conflict) }
    }

    /// Exchange a code once: mark it with the grant it starts, on the condition that it was
    /// not exchanged yet (the caller checks its expiry on what comes back).
    pub async fn use_code(&self, hash: &str, grant_id: &str) -> Result<CodeUse> {
        let res = self
            .client
            .update_item()
            .table_name(self.table_name())
            .set_key(Some(key(AuthCodeRecord::pk(hash), AuthCodeRecord::SK)))
            .update_expression("SET grant_id = :g")
            .condition_expression("attribute_exists(#pk) AND attribute_not_exists(grant_id)")
            .expression_attribute_names("#pk", PRIMARY.hash)
            .expression_attribute_values(":g", s(grant_id))
            .return_values(ReturnValue::AllNew)
            .send()
            .await;
        match res {
            Ok(out) => Ok(CodeUse::First(from_item(out.attributes.unwrap_or_default())?)),
            Err(e) if is_condition_failed(&e) => {
                let found: Option<AuthCodeRecord> =
                    self.get_item(&AuthCodeRecord::pk(hash), AuthCodeRecord::SK).await?.map(from_item).transpose()?;
                Ok(match found {
                    Some(c) if c.grant_id.is_some() => CodeUse::Again(c.grant_id),
                    _ => CodeUse::Unknown,
                })
            }
            Err(e) => Err(storage(e)),
        }
    }

    pub async fn get_code(&self, hash: &str) -> Result<Option<AuthCodeRecord>> {
        self.get_item(&AuthCodeRecord::pk(hash), AuthCodeRecord::SK).await?.map(from_item).transpose()
    }

    pub async fn put_grant(&self, g: &GrantRecord) -> Result<()> {
        let item = with_ttl(
            to_item(g, crate::store::UserRecord::pk(&g.user_id), GrantRecord::sk(&g.client_id, &g.grant_id))?,
            g.expires_at,
        );
        if self.put_new(item).await? { Ok(()) } else { Err(Error::Conflict) }
    }

    pub async fn grant(&self, user: &UserId, client_id: &str, grant_id: &str) -> Result<Option<GrantRecord>> {
        self.get_item(&crate::store::UserRecord::pk(user), &GrantRecord::sk(client_id, grant_id))
            .await?
            .map(from_item)
            .transpose()
    }

    /// Rotate a grant's refresh token from `old` to `new`; `Ok(false)` when `old` is no longer
    /// the current one (a concurrent refresh won).
    pub async fn rotate_grant(&self, g: &GrantRecord, old: &str, new: &str) -> Result<bool> {
        let res = self
            .client
            .update_item()
            .table_name(self.table_name())
            .set_key(Some(key(crate::store::UserRecord::pk(&g.user_id), GrantRecord::sk(&g.client_id, &g.grant_id))))
            .update_expression("SET refresh_hash = :new, prev_hash = :old")
            .condition_expression("refresh_hash = :old")
            .expression_attribute_values(":new", s(new))
            .expression_attribute_values(":old", s(old))
            .send()
            .await;
        crate::store::error::applied(res)
    }

    pub async fn delete_grant(&self, user: &UserId, client_id: &str, grant_id: &str) -> Result<()> {
        self.delete_item(&crate::store::UserRecord::pk(user), &GrantRecord::sk(client_id, grant_id)).await
    }

    /// End every grant of `user` for `client_id` and forget the consent.
    pub async fn revoke_authorization(&self, user: &UserId, client_id: &str) -> Result<usize> {
        let pk = crate::store::UserRecord::pk(user);
        let grants: Vec<GrantRecord> = self.query_all(&pk, &format!("OAGRANT#{client_id}#")).await?;
        let mut keys: Vec<Item> =
            grants.iter().map(|g| key(pk.clone(), GrantRecord::sk(client_id, &g.grant_id))).collect();
        keys.push(key(pk.clone(), ConsentRecord::sk(client_id)));
        let n = grants.len();
        self.batch_write(Vec::new(), keys).await?;
        Ok(n)
    }

    pub async fn put_consent(&self, user: &UserId, c: &ConsentRecord) -> Result<()> {
        let item = to_item(c, crate::store::UserRecord::pk(user), ConsentRecord::sk(&c.client_id))?;
        self.client.put_item().table_name(self.table_name()).set_item(Some(item)).send().await.map_err(storage)?;
        Ok(())
    }

    pub async fn consent(&self, user: &UserId, client_id: &str) -> Result<Option<ConsentRecord>> {
        self.get_item(&crate::store::UserRecord::pk(user), &ConsentRecord::sk(client_id))
            .await?
            .map(from_item)
            .transpose()
    }

    pub async fn consents(&self, user: &UserId) -> Result<Vec<ConsentRecord>> {
        self.query_all(&crate::store::UserRecord::pk(user), "OACONSENT#").await
    }
}
