//! Closing and restoring organizations; exporting their data.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use utoipa::IntoParams;

use crate::access::{ManageSubAccount, ReadContacts, TransferOwnership, UpdateOrg};
use crate::api::AppState;
use crate::api::doc::{Routes, routes};
use crate::api::extract::{Auth, JsonBody, OrgAccess};
use crate::api::problem::Problem;
use crate::domain::{ExportId, OrgId};
use crate::error::Result;
use crate::service::identity::accounts::OrgView;
use crate::service::orgs::exports::{self, Download, ExportView};
use crate::service::orgs::lifecycle;

pub fn closing() -> Routes {
    routes!(close_handler, restore_handler)
}

pub fn exports() -> Routes {
    routes!(request_handler, export_handler, download_handler)
}

/// The organization's `version` as last read: closing what one has not seen is refused.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CloseRequest {
    version: u64,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct ExportPath {
    #[allow(dead_code)]
    org_id: String,
    export_id: String,
}

/// Close the organization with every sub-account beneath it: members lose access on their
/// next request, invitations stop working, seats stop counting (a billing event says so).
/// The owner closes a top-level organization; an ancestor's admin who may change it closes a
/// sub-account. It can be restored for 30 days (`purge_after`); then everything is deleted.
#[utoipa::path(post, path = "/v1/orgs/{org_id}/close", tag = "organizations", params(("org_id" = String, Path)),
    request_body = CloseRequest, security(("bearer" = [])),
    responses((status = 200, body = OrgView), (status = 403, body = Problem),
              (status = 409, description = "the organization changed since `version`", body = Problem), (status = 422, body = Problem)))]
async fn close_handler(
    State(ctx): State<AppState>,
    OrgAccess(access): OrgAccess,
    JsonBody(req): JsonBody<CloseRequest>,
) -> Result<Json<OrgView>> {
    Ok(Json(if access.org.parent_id.is_none() {
        lifecycle::close_top_level(&ctx, &access.permit::<TransferOwnership>()?, req.version).await?
    } else {
        lifecycle::close_sub_account(&ctx, &access.permit::<ManageSubAccount>()?, req.version).await?
    }))
}

/// Restore a closed organization as it was, within 30 days of closing it.
#[utoipa::path(post, path = "/v1/orgs/{org_id}/restore", tag = "organizations", params(("org_id" = String, Path)),
    security(("bearer" = [])),
    responses((status = 200, body = OrgView), (status = 403, body = Problem), (status = 409, body = Problem),
              (status = 410, description = "the 30 days have passed", body = Problem), (status = 422, body = Problem)))]
async fn restore_handler(
    State(ctx): State<AppState>,
    Auth(auth): Auth,
    Path(org_id): Path<String>,
) -> Result<Json<OrgView>> {
    let org = OrgId::parse(&org_id, "org_id")?;
    Ok(Json(lifecycle::restore(&ctx, &auth, &org).await?))
}

/// Export the organization's data as one JSON document, written by a job: poll it for its
/// progress, then download it.
#[utoipa::path(post, path = "/v1/orgs/{org_id}/exports", tag = "organizations", params(("org_id" = String, Path)),
    security(("bearer" = [])),
    responses((status = 202, body = ExportView), (status = 403, body = Problem)))]
async fn request_handler(State(ctx): State<AppState>, OrgAccess(access): OrgAccess) -> Result<Response> {
    let permit = access.permit::<UpdateOrg>()?;
    // The export holds contacts and members: personal data.
    access.permit::<ReadContacts>()?;
    Ok((StatusCode::ACCEPTED, Json(exports::request(&ctx, &permit).await?)).into_response())
}

#[utoipa::path(get, path = "/v1/orgs/{org_id}/exports/{export_id}", tag = "organizations", params(ExportPath),
    security(("bearer" = [])),
    responses((status = 200, body = ExportView), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
async fn export_handler(
    State(ctx): State<AppState>,
    OrgAccess(access): OrgAccess,
    Path(p): Path<ExportPath>,
) -> Result<Json<ExportView>> {
    let permit = access.permit::<UpdateOrg>()?;
    let id = ExportId::parse(&p.export_id, "export_id")?;
    Ok(Json(exports::get(&ctx, &permit, &id).await?))
}

/// The finished export: a redirect to a presigned download valid for 5 minutes (the file
/// itself on the embedded default).
#[utoipa::path(get, path = "/v1/orgs/{org_id}/exports/{export_id}/download", tag = "organizations", params(ExportPath),
    security(("bearer" = [])),
    responses((status = 200, description = "the export (embedded default)", content_type = "application/json"),
              (status = 303, description = "to the presigned download", headers(("Location" = String))),
              (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
async fn download_handler(
    State(ctx): State<AppState>,
    OrgAccess(access): OrgAccess,
    Path(p): Path<ExportPath>,
) -> Result<Response> {
    let permit = access.permit::<UpdateOrg>()?;
    let id = ExportId::parse(&p.export_id, "export_id")?;
    Ok(match exports::download(&ctx, &permit, &id).await? {
        Download::Redirect(url) => {
            let mut resp = StatusCode::SEE_OTHER.into_response();
            if let Ok(v) = HeaderValue::from_str(&url) {
                resp.headers_mut().insert(header::LOCATION, v);
            }
            resp
        }
        Download::Bytes { bytes, file_name } => {
            let disposition = format!("attachment; filename=\"{file_name}\"");
            let mut resp = (StatusCode::OK, bytes).into_response();
            resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
            if let Ok(v) = HeaderValue::from_str(&disposition) {
                resp.headers_mut().insert(header::CONTENT_DISPOSITION, v);
            }
            resp
        }
    })
}
