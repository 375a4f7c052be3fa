//! Applications an admin registers for integrations (the Advanced tab's Applications): a
//! client id, a secret shown once (stored only as its hash), redirect URLs and the resources
//! it may ask for.

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use crate::access::{Permit, UpdateOrg};
use crate::auth::secret;
use crate::domain::OrgId;
use crate::domain::oauth::{RedirectUri, Scopes};
use crate::error::{Error, Result};
use crate::service::{Ctx, permit_activity};
use crate::store::AppRecord;

#[derive(Debug, Serialize, ToSchema)]
pub struct AppView {
    pub client_id: String,
    pub name: String,
    pub description: Option<String>,
    pub redirect_uris: Vec<String>,
    /// The scopes it may request.
    pub resources: Vec<String>,
    /// `confidential` (holds a secret) or `public` (native or browser app: PKCE only).
    pub client_type: &'static str,
    pub secret_created_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Send in `If-Match` to change the application.
    pub etag: String,
}

/// An application with its secret, which is shown this once.
#[derive(Debug, Serialize, ToSchema)]
pub struct AppWithSecret {
    #[serde(flatten)]
    pub app: AppView,
    /// Only now: it is stored as a hash. Absent for public clients.
    pub client_secret: Option<String>,
}

pub fn view(a: &AppRecord) -> AppView {
    AppView {
        client_id: a.client_id.clone(),
        name: a.name.clone(),
        description: a.description.clone(),
        redirect_uris: a.redirect_uris.iter().map(|r| r.as_str().to_owned()).collect(),
        resources: a.resources.0.iter().map(|s| s.as_str().to_owned()).collect(),
        client_type: if a.confidential { "confidential" } else { "public" },
        secret_created_at: a.secret_created_at,
        created_at: a.created_at,
        updated_at: a.updated_at,
        etag: format!("\"a{}\"", a.version),
    }
}

pub struct NewApp {
    pub name: String,
    pub description: Option<String>,
    pub redirect_uris: Vec<RedirectUri>,
    pub resources: Scopes,
    pub confidential: bool,
}

pub async fn create(ctx: &Ctx, permit: &Permit<UpdateOrg>, n: NewApp) -> Result<AppWithSecret> {
    if n.resources.is_empty() {
        return Err(Error::validation("resources_required", "resources", "choose at least one resource"));
    }
    let now = ctx.now();
    let client_id = format!("app_{}", ctx.ulid());
    let (secret_text, hash) = if n.confidential {
        let (s, h) = secret::new_secret(ctx.random.as_ref());
        (Some(s), Some(h))
    } else {
        (None, None)
    };
    let app = AppRecord {
        client_id,
        org_id: permit.org.org_id.clone(),
        name: n.name,
        description: n.description,
        redirect_uris: n.redirect_uris,
        resources: n.resources,
        confidential: n.confidential,
        secret_hash: hash,
        secret_created_at: secret_text.as_ref().map(|_| now),
        created_by: permit.user_id.clone(),
        created_at: now,
        updated_at: now,
        version: 1,
    };
    let act = permit_activity(ctx, permit, "application.registered", Some(app.client_id.clone()));
    ctx.store.put_app(&app, &act, &permit.org.lineage_ids()).await?;
    Ok(AppWithSecret { app: view(&app), client_secret: secret_text })
}

pub async fn list(ctx: &Ctx, permit: &Permit<UpdateOrg>) -> Result<Vec<AppView>> {
    Ok(ctx.store.apps(&permit.org.org_id).await?.iter().map(view).collect())
}

/// This organization's application: another's is not found, like one that does not exist.
pub async fn own(ctx: &Ctx, org: &OrgId, client_id: &str) -> Result<AppRecord> {
    match ctx.store.app(client_id).await? {
        Some(a) if &a.org_id == org => Ok(a),
        _ => Err(Error::NotFound("application")),
    }
}

#[derive(Default)]
pub struct AppChange {
    pub name: Option<String>,
    pub description: Option<Option<String>>,
    pub redirect_uris: Option<Vec<RedirectUri>>,
    pub resources: Option<Scopes>,
}

async fn store_change(
    ctx: &Ctx,
    permit: &Permit<UpdateOrg>,
    mut a: AppRecord,
    version: u64,
    action: &str,
) -> Result<AppRecord> {
    a.version = version + 1;
    a.updated_at = ctx.now();
    let act = permit_activity(ctx, permit, action, Some(a.client_id.clone()));
    if !ctx.store.replace_app(&a, version, &act, &permit.org.lineage_ids()).await? {
        return Err(Error::PreconditionFailed);
    }
    Ok(a)
}

/// Change an application. Fewer resources take effect on the next token request; tokens
/// already issued keep their scopes until they expire or are revoked.
pub async fn update(
    ctx: &Ctx,
    permit: &Permit<UpdateOrg>,
    client_id: &str,
    version: u64,
    c: AppChange,
) -> Result<AppView> {
    let mut a = own(ctx, &permit.org.org_id, client_id).await?;
    if a.version != version {
        return Err(Error::PreconditionFailed);
    }
    if c.resources.as_ref().is_some_and(Scopes::is_empty) {
        return Err(Error::validation("resources_required", "resources", "choose at least one resource"));
    }
    a.name = c.name.unwrap_or(a.name);
    a.description = c.description.unwrap_or(a.description);
    a.redirect_uris = c.redirect_uris.unwrap_or(a.redirect_uris);
    a.resources = c.resources.unwrap_or(a.resources);
    Ok(view(&store_change(ctx, permit, a, version, "application.changed").await?))
}

/// A new secret, shown once; the old one stops working at once.
pub async fn rotate_secret(ctx: &Ctx, permit: &Permit<UpdateOrg>, client_id: &str) -> Result<AppWithSecret> {
    let mut a = own(ctx, &permit.org.org_id, client_id).await?;
    if !a.confidential {
        return Err(Error::validation("public_client", "client_id", "a public client has no secret"));
    }
    let (s, h) = secret::new_secret(ctx.random.as_ref());
    a.secret_hash = Some(h);
    a.secret_created_at = Some(ctx.now());
    let version = a.version;
    let a = store_change(ctx, permit, a, version, "application.secret_rotated").await?;
    Ok(AppWithSecret { app: view(&a), client_secret: Some(s) })
}

/// Remove an application: its tokens and grants stop working on their next use.
pub async fn delete(ctx: &Ctx, permit: &Permit<UpdateOrg>, client_id: &str) -> Result<()> {
    let act = permit_activity(ctx, permit, "application.removed", Some(client_id.to_owned()));
    if ctx.store.delete_app(&permit.org.org_id, client_id, &act, &permit.org.lineage_ids()).await? {
        Ok(())
    } else {
        Err(Error::NotFound("application"))
    }
}
