//! Single sign-on providers an admin configures (the Advanced tab's alternative sign-in):
//! each from the provider's entity ID and metadata, with this service's own metadata to
//! install at the provider.

pub mod link;
pub mod login;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use crate::access::{Permit, UpdateOrg};
use crate::domain::sso::{EntityId, ProviderName};
use crate::domain::{OrgId, Role};
use crate::error::{Error, Result};
use crate::saml::{metadata, request};
use crate::service::{Ctx, permit_activity};
use crate::store::{SsoProviderRecord, StoredCert};

/// Where this service is, for one provider: the URLs the admin gives the provider.
#[derive(Debug, Serialize, ToSchema)]
pub struct ServiceProvider {
    /// This service's entity ID for the provider (the audience of its assertions).
    pub entity_id: String,
    /// Where the provider posts its responses (HTTP-POST binding).
    pub acs_url: String,
    /// This service's metadata, to download and install at the provider.
    pub metadata_url: String,
    pub name_id_format: &'static str,
}

pub fn sp_entity_id(ctx: &Ctx, name: &ProviderName) -> String {
    format!("{}/v1/sso/{}/metadata", ctx.config.api_url.trim_end_matches('/'), name.as_str())
}

pub fn acs_url(ctx: &Ctx, name: &ProviderName) -> String {
    format!("{}/v1/sso/{}/acs", ctx.config.api_url.trim_end_matches('/'), name.as_str())
}

fn service_provider(ctx: &Ctx, name: &ProviderName) -> ServiceProvider {
    ServiceProvider {
        entity_id: sp_entity_id(ctx, name),
        acs_url: acs_url(ctx, name),
        metadata_url: sp_entity_id(ctx, name),
        name_id_format: request::NAMEID_EMAIL,
    }
}

/// A signing certificate, as the admin sees it.
#[derive(Debug, Serialize, ToSchema)]
pub struct CertView {
    pub subject: String,
    /// SHA-256 of the certificate, hex.
    pub fingerprint: String,
    pub not_before: DateTime<Utc>,
    pub not_after: DateTime<Utc>,
    pub expired: bool,
    /// Expires within 30 days: upload the provider's new metadata soon.
    pub expires_soon: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ProviderView {
    /// What people type on the alternative sign-in page.
    pub name: String,
    pub title: String,
    pub entity_id: String,
    pub enabled: bool,
    /// Where sign-in requests go, and by which binding (`redirect` or `post`).
    pub sso_url: String,
    pub binding: &'static str,
    pub certificates: Vec<CertView>,
    /// Unknown people signing in become members (a seat, a verified company domain).
    pub jit_provisioning: bool,
    pub jit_role: Role,
    pub counts_as_second_factor: bool,
    pub service_provider: ServiceProvider,
    /// Where the alternative sign-in page sends people (`?client=`).
    pub sign_in_url: String,
    /// Send in `If-Match` to change the provider.
    pub etag: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

pub fn etag_of(version: u64) -> String {
    format!("\"p{version}\"")
}

pub fn view(ctx: &Ctx, p: &SsoProviderRecord) -> ProviderView {
    let now = ctx.now();
    let (sso_url, binding) = match (&p.sso_redirect, &p.sso_post) {
        (Some(r), _) => (r.clone(), "redirect"),
        (None, Some(u)) => (u.clone(), "post"),
        (None, None) => (String::new(), "redirect"),
    };
    ProviderView {
        name: p.name.as_str().to_owned(),
        title: p.title.clone(),
        entity_id: p.entity_id.as_str().to_owned(),
        enabled: p.enabled,
        sso_url,
        binding,
        certificates: p
            .certs
            .iter()
            .map(|c| CertView {
                subject: c.subject.clone(),
                fingerprint: c.fingerprint.clone(),
                not_before: c.not_before,
                not_after: c.not_after,
                expired: c.not_after <= now,
                expires_soon: c.not_after <= now + chrono::Duration::days(30),
            })
            .collect(),
        jit_provisioning: p.jit,
        jit_role: p.jit_role,
        counts_as_second_factor: p.counts_as_second_factor,
        service_provider: service_provider(ctx, &p.name),
        sign_in_url: format!("{}/v1/sso/{}/login", ctx.config.api_url.trim_end_matches('/'), p.name.as_str()),
        etag: etag_of(p.version),
        created_at: p.created_at,
        updated_at: p.updated_at,
    }
}

/// The provider's metadata, read for `entity_id`.
pub fn read_metadata(xml: &str, entity_id: &EntityId) -> Result<metadata::IdpMetadata> {
    metadata::parse(xml, entity_id.as_str()).map_err(|e| Error::validation("invalid_saml_metadata", "metadata_xml", e))
}

fn stored(md: &metadata::IdpMetadata) -> Vec<StoredCert> {
    md.certs
        .iter()
        .map(|c| StoredCert {
            der_base64: STANDARD.encode(&c.der),
            subject: c.subject.clone(),
            fingerprint: c.fingerprint.clone(),
            not_before: c.not_before,
            not_after: c.not_after,
        })
        .collect()
}

/// Who just-in-time members become: never more than an agent, so a provider's sign-in
/// cannot hand out administration.
pub fn jit_role(role: Role) -> Result<Role> {
    match role {
        Role::Agent | Role::Viewer => Ok(role),
        _ => Err(Error::validation("invalid_jit_role", "jit_role", "must be agent or viewer")),
    }
}

pub struct NewProvider {
    pub name: ProviderName,
    pub title: String,
    pub entity_id: EntityId,
    pub metadata: metadata::IdpMetadata,
    pub jit: bool,
    pub jit_role: Role,
    pub counts_as_second_factor: bool,
}

pub async fn create(ctx: &Ctx, permit: &Permit<UpdateOrg>, p: NewProvider) -> Result<ProviderView> {
    let now = ctx.now();
    let record = SsoProviderRecord {
        name: p.name,
        org_id: permit.org.org_id.clone(),
        title: p.title,
        entity_id: p.entity_id,
        sso_redirect: p.metadata.sso_redirect.clone(),
        sso_post: p.metadata.sso_post.clone(),
        certs: stored(&p.metadata),
        jit: p.jit,
        jit_role: p.jit_role,
        counts_as_second_factor: p.counts_as_second_factor,
        enabled: true,
        created_at: now,
        updated_at: now,
        version: 1,
    };
    let act = permit_activity(ctx, permit, "sso.provider_added", Some(record.name.as_str().to_owned()));
    if !ctx.store.put_sso_provider(&record, &act, &permit.org.lineage_ids()).await? {
        return Err(Error::ProviderNameTaken);
    }
    Ok(view(ctx, &record))
}

/// The organization's providers, by name.
pub async fn list(ctx: &Ctx, permit: &Permit<UpdateOrg>) -> Result<Vec<ProviderView>> {
    let all = ctx.store.sso_providers(&permit.org.org_id).await?;
    Ok(all.iter().map(|p| view(ctx, p)).collect())
}

/// One of this organization's providers: another organization's is not found, the same as
/// one that does not exist.
pub async fn own(ctx: &Ctx, org: &OrgId, name: &ProviderName) -> Result<SsoProviderRecord> {
    match ctx.store.sso_provider(name).await? {
        Some(p) if &p.org_id == org => Ok(p),
        _ => Err(Error::NotFound("provider")),
    }
}

/// A change to a provider; absent fields stay as they are. New metadata replaces the
/// certificates and endpoints (a key rollover), checked against the entity ID.
#[derive(Default)]
pub struct ProviderChange {
    pub title: Option<String>,
    pub entity_id: Option<EntityId>,
    pub metadata_xml: Option<String>,
    pub jit: Option<bool>,
    pub jit_role: Option<Role>,
    pub counts_as_second_factor: Option<bool>,
    pub enabled: Option<bool>,
}

pub async fn update(
    ctx: &Ctx,
    permit: &Permit<UpdateOrg>,
    name: &ProviderName,
    version: u64,
    change: ProviderChange,
) -> Result<ProviderView> {
    let mut p = own(ctx, &permit.org.org_id, name).await?;
    if p.version != version {
        return Err(Error::PreconditionFailed);
    }
    if change.entity_id.is_some() && change.metadata_xml.is_none() {
        return Err(Error::validation(
            "metadata_required",
            "metadata_xml",
            "a new entity ID needs the provider's metadata",
        ));
    }
    if let Some(xml) = &change.metadata_xml {
        let entity = change.entity_id.clone().unwrap_or_else(|| p.entity_id.clone());
        let md = read_metadata(xml, &entity)?;
        p.entity_id = entity;
        p.sso_redirect = md.sso_redirect.clone();
        p.sso_post = md.sso_post.clone();
        p.certs = stored(&md);
    }
    if let Some(t) = change.title {
        p.title = t;
    }
    p.jit = change.jit.unwrap_or(p.jit);
    p.jit_role = change.jit_role.unwrap_or(p.jit_role);
    p.counts_as_second_factor = change.counts_as_second_factor.unwrap_or(p.counts_as_second_factor);
    p.enabled = change.enabled.unwrap_or(p.enabled);
    p.updated_at = ctx.now();
    p.version = version + 1;
    let act = permit_activity(ctx, permit, "sso.provider_changed", Some(name.as_str().to_owned()));
    if !ctx.store.replace_sso_provider(&p, version, &act, &permit.org.lineage_ids()).await? {
        return Err(Error::PreconditionFailed);
    }
    Ok(view(ctx, &p))
}

pub async fn delete(ctx: &Ctx, permit: &Permit<UpdateOrg>, name: &ProviderName) -> Result<()> {
    let act = permit_activity(ctx, permit, "sso.provider_removed", Some(name.as_str().to_owned()));
    if ctx.store.delete_sso_provider(&permit.org.org_id, name, &act, &permit.org.lineage_ids()).await? {
        Ok(())
    } else {
        Err(Error::NotFound("provider"))
    }
}

/// This service's SAML metadata for a provider (public: the provider's admin downloads it).
pub async fn sp_metadata(ctx: &Ctx, name: &ProviderName) -> Result<String> {
    match ctx.store.sso_provider(name).await? {
        Some(_) => Ok(request::sp_metadata(&sp_entity_id(ctx, name), &acs_url(ctx, name))),
        None => Err(Error::NotFound("provider")),
    }
}
