//! Applications (Advanced tab): admins register integrations, rotate their secrets and
//! remove them.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use crate::access::UpdateOrg;
use crate::api::AppState;
use crate::api::doc::{Routes, routes};
use crate::api::extract::{JsonBody, OrgAccess};
use crate::api::problem::Problem;
use crate::api::routes::orgs::settings::{if_match_tagged, json_with_etag_status};
use crate::domain::oauth::{REDIRECT_URIS_MAX, RedirectUri, Scopes};
use crate::domain::settings::parse_text;
use crate::error::{Error, Result};
use crate::service::federation::oauth::apps::{self, AppChange, AppView, AppWithSecret, NewApp};

pub fn routes() -> Routes {
    routes!(list_handler, create_handler, get_handler, patch_handler, delete_handler, secret_handler)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AppRequest {
    #[schema(max_length = 100)]
    name: String,
    #[schema(max_length = 500)]
    description: Option<String>,
    /// Exact URLs the authorization may return to: https, or http on a loopback address.
    #[schema(max_items = 10)]
    redirect_uris: Vec<String>,
    /// Scopes it may request: `profile`, `members:read`, `messaging-api`.
    resources: Vec<String>,
    /// `confidential` (default: a server that keeps a secret) or `public` (native and
    /// browser apps, PKCE only).
    client_type: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AppPatch {
    #[schema(max_length = 100)]
    name: Option<String>,
    /// `null` removes it.
    #[serde(default, deserialize_with = "crate::api::routes::orgs::settings::present")]
    #[schema(max_length = 500)]
    description: Option<Option<String>>,
    #[schema(max_items = 10)]
    redirect_uris: Option<Vec<String>>,
    resources: Option<Vec<String>>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct AppPath {
    #[allow(dead_code)]
    org_id: String,
    client_id: String,
}

fn name(n: &str) -> Result<String> {
    parse_text(n, "name", 100, false, "invalid_name")
}

fn description(d: &str) -> Result<String> {
    parse_text(d, "description", 500, true, "invalid_description")
}

fn redirect_uris(v: &[String]) -> Result<Vec<RedirectUri>> {
    if v.is_empty() || v.len() > REDIRECT_URIS_MAX {
        return Err(Error::validation("invalid_redirect_uri", "redirect_uris", "give 1 to 10 redirect URLs"));
    }
    v.iter().enumerate().map(|(i, u)| RedirectUri::parse(u, &format!("redirect_uris[{i}]"))).collect()
}

fn resources(v: &[String]) -> Result<Scopes> {
    Scopes::parse(&v.join(" ")).map_err(|e| Error::validation("invalid_resource", "resources", e))
}

fn tagged(status: StatusCode, etag: String, body: impl serde::Serialize) -> Response {
    json_with_etag_status(status, body, &etag)
}

/// The organization's applications.
#[utoipa::path(get, path = "/v1/orgs/{org_id}/applications", tag = "applications", params(("org_id" = String, Path)),
    security(("bearer" = [])), responses((status = 200, body = Vec<AppView>), (status = 403, body = Problem)))]
async fn list_handler(State(ctx): State<AppState>, OrgAccess(access): OrgAccess) -> Result<Json<Vec<AppView>>> {
    let permit = access.permit::<UpdateOrg>()?;
    Ok(Json(apps::list(&ctx, &permit).await?))
}

/// Register an application. A confidential one gets its `client_secret` in this answer only.
#[utoipa::path(post, path = "/v1/orgs/{org_id}/applications", tag = "applications", params(("org_id" = String, Path)),
    request_body = AppRequest, security(("bearer" = [])),
    responses((status = 201, body = AppWithSecret), (status = 403, body = Problem), (status = 422, body = Problem)))]
async fn create_handler(
    State(ctx): State<AppState>,
    OrgAccess(access): OrgAccess,
    JsonBody(req): JsonBody<AppRequest>,
) -> Result<Response> {
    let permit = access.permit::<UpdateOrg>()?;
    let confidential = match req.client_type.as_deref() {
        None | Some("confidential") => true,
        Some("public") => false,
        Some(_) => {
            return Err(Error::validation("invalid_client_type", "client_type", "must be confidential or public"));
        }
    };
    let n = NewApp {
        name: name(&req.name)?,
        description: req.description.as_deref().map(description).transpose()?,
        redirect_uris: redirect_uris(&req.redirect_uris)?,
        resources: resources(&req.resources)?,
        confidential,
    };
    let created = apps::create(&ctx, &permit, n).await?;
    Ok(tagged(StatusCode::CREATED, created.app.etag.clone(), created))
}

#[utoipa::path(get, path = "/v1/orgs/{org_id}/applications/{client_id}", tag = "applications", params(AppPath),
    security(("bearer" = [])),
    responses((status = 200, body = AppView, headers(("ETag" = String))), (status = 403, body = Problem), (status = 404, body = Problem)))]
async fn get_handler(
    State(ctx): State<AppState>,
    OrgAccess(access): OrgAccess,
    Path(p): Path<AppPath>,
) -> Result<Response> {
    let permit = access.permit::<UpdateOrg>()?;
    let v = apps::view(&apps::own(&ctx, &permit.org.org_id, &p.client_id).await?);
    Ok(tagged(StatusCode::OK, v.etag.clone(), v))
}

#[utoipa::path(patch, path = "/v1/orgs/{org_id}/applications/{client_id}", tag = "applications",
    params(AppPath, ("If-Match" = String, Header, description = "the application's ETag")),
    request_body = AppPatch, security(("bearer" = [])),
    responses((status = 200, body = AppView, headers(("ETag" = String))), (status = 403, body = Problem), (status = 404, body = Problem),
              (status = 412, body = Problem), (status = 422, body = Problem), (status = 428, body = Problem)))]
async fn patch_handler(
    State(ctx): State<AppState>,
    OrgAccess(access): OrgAccess,
    Path(p): Path<AppPath>,
    headers: HeaderMap,
    JsonBody(req): JsonBody<AppPatch>,
) -> Result<Response> {
    let permit = access.permit::<UpdateOrg>()?;
    let change = AppChange {
        name: req.name.as_deref().map(name).transpose()?,
        description: req.description.map(|d| d.as_deref().map(description).transpose()).transpose()?,
        redirect_uris: req.redirect_uris.as_deref().map(redirect_uris).transpose()?,
        resources: req.resources.as_deref().map(resources).transpose()?,
    };
    let version = if_match_tagged(&headers, 'a')?;
    let v = apps::update(&ctx, &permit, &p.client_id, version, change).await?;
    Ok(tagged(StatusCode::OK, v.etag.clone(), v))
}

/// Remove an application: its tokens stop working at this service's resources at once.
#[utoipa::path(delete, path = "/v1/orgs/{org_id}/applications/{client_id}", tag = "applications", params(AppPath),
    security(("bearer" = [])), responses((status = 204), (status = 403, body = Problem), (status = 404, body = Problem)))]
async fn delete_handler(
    State(ctx): State<AppState>,
    OrgAccess(access): OrgAccess,
    Path(p): Path<AppPath>,
) -> Result<StatusCode> {
    let permit = access.permit::<UpdateOrg>()?;
    apps::delete(&ctx, &permit, &p.client_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A new client secret, shown once; the old one stops working at once.
#[utoipa::path(post, path = "/v1/orgs/{org_id}/applications/{client_id}/secret", tag = "applications", params(AppPath),
    security(("bearer" = [])),
    responses((status = 200, body = AppWithSecret), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
async fn secret_handler(
    State(ctx): State<AppState>,
    OrgAccess(access): OrgAccess,
    Path(p): Path<AppPath>,
) -> Result<Json<AppWithSecret>> {
    let permit = access.permit::<UpdateOrg>()?;
    Ok(Json(apps::rotate_secret(&ctx, &permit, &p.client_id).await?))
}
