//! Importing users from CSV, XLS and XLSX files.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{FromRequest, Path, Request, State};
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use serde::Deserialize;
use utoipa::ToSchema;

use crate::access::ManageMembers;
use crate::api::AppState;
use crate::api::doc::{Routes, routes};
use crate::api::extract::{JsonBody, OrgAccess, QueryParams};
use crate::api::problem::Problem;
use crate::domain::OrgId;
use crate::error::{Error, Result};
use crate::import::limits::{MAX_DIRECT_BYTES, MAX_FILE_BYTES};
use crate::service::members::imports::{self, JobView, Preview, PreviewRequest, StartRequest, UploadView};

/// A raw request body of at most `LIMIT` bytes.
pub struct RawBody<const LIMIT: usize>(pub Bytes);

impl<const LIMIT: usize> FromRequest<AppState> for RawBody<LIMIT> {
    type Rejection = Error;

    async fn from_request(req: Request, _: &AppState) -> std::result::Result<Self, Error> {
        let bytes =
            axum::body::to_bytes(req.into_body(), LIMIT).await.map_err(|_| Error::BodyTooLarge { limit: LIMIT })?;
        Ok(RawBody(bytes))
    }
}

pub fn routes() -> Routes {
    routes!(
        upload_file_handler,
        presign_handler,
        preview_handler,
        start_handler,
        job_handler,
        report_handler,
        local_upload_handler
    )
}

#[derive(Deserialize)]
struct UploadPath {
    #[allow(dead_code)]
    org_id: String,
    upload_id: String,
}

#[derive(Deserialize)]
struct JobPath {
    #[allow(dead_code)]
    org_id: String,
    job_id: String,
}

/// Upload a file of at most 4 MiB in the request body (any content type: the format is
/// recognized from the content). Larger files: a presigned upload.
#[utoipa::path(post, path = "/v1/orgs/{org_id}/imports/files", tag = "imports", params(("org_id" = String, Path)),
    request_body(content = Vec<u8>, content_type = "application/octet-stream"), security(("bearer" = [])),
    responses((status = 201, body = UploadView), (status = 403, body = Problem), (status = 413, body = Problem)))]
async fn upload_file_handler(
    State(ctx): State<AppState>,
    OrgAccess(access): OrgAccess,
    RawBody(bytes): RawBody<MAX_DIRECT_BYTES>,
) -> Result<(StatusCode, Json<UploadView>)> {
    let permit = access.permit::<ManageMembers>()?;
    Ok((StatusCode::CREATED, Json(imports::upload_direct(&ctx, &permit, bytes.to_vec()).await?)))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PresignRequest {
    /// The file's exact size in bytes (at most 20 MiB); the upload must match it.
    size: u64,
}

/// Start a larger upload: PUT the file to the returned URL with the returned headers.
#[utoipa::path(post, path = "/v1/orgs/{org_id}/imports/uploads", tag = "imports", params(("org_id" = String, Path)),
    request_body = PresignRequest, security(("bearer" = [])),
    responses((status = 201, body = UploadView), (status = 403, body = Problem), (status = 422, body = Problem)))]
async fn presign_handler(
    State(ctx): State<AppState>,
    OrgAccess(access): OrgAccess,
    JsonBody(req): JsonBody<PresignRequest>,
) -> Result<(StatusCode, Json<UploadView>)> {
    let permit = access.permit::<ManageMembers>()?;
    Ok((StatusCode::CREATED, Json(imports::upload_presigned(&ctx, &permit, req.size).await?)))
}

/// What the file holds: sheets, first rows, the suggested mapping, delimiter and encoding,
/// and how many seats the import needs against how many are free.
#[utoipa::path(post, path = "/v1/orgs/{org_id}/imports/uploads/{upload_id}/preview", tag = "imports",
    params(("org_id" = String, Path), ("upload_id" = String, Path)), request_body = PreviewRequest, security(("bearer" = [])),
    responses((status = 200, body = Preview), (status = 403, body = Problem), (status = 422, body = Problem)))]
async fn preview_handler(
    State(ctx): State<AppState>,
    OrgAccess(access): OrgAccess,
    Path(p): Path<UploadPath>,
    JsonBody(req): JsonBody<PreviewRequest>,
) -> Result<Json<Preview>> {
    let permit = access.permit::<ManageMembers>()?;
    Ok(Json(imports::preview(&ctx, &permit, &p.upload_id, req).await?))
}

/// Import: answered at once with the job; a worker imports the rows. Refused whole (409
/// `no_free_seats`, with how many to buy) when the file needs more seats than are free.
#[utoipa::path(post, path = "/v1/orgs/{org_id}/imports", tag = "imports", params(("org_id" = String, Path)),
    request_body = StartRequest, security(("bearer" = [])),
    responses((status = 202, body = JobView), (status = 403, body = Problem), (status = 409, body = Problem),
              (status = 422, body = Problem)))]
async fn start_handler(
    State(ctx): State<AppState>,
    OrgAccess(access): OrgAccess,
    JsonBody(req): JsonBody<StartRequest>,
) -> Result<(StatusCode, Json<JobView>)> {
    let permit = access.permit::<ManageMembers>()?;
    Ok((StatusCode::ACCEPTED, Json(imports::start(&ctx, &permit, req).await?)))
}

/// Progress of an import: rows done of the total, and counts by outcome.
#[utoipa::path(get, path = "/v1/orgs/{org_id}/imports/{job_id}", tag = "imports",
    params(("org_id" = String, Path), ("job_id" = String, Path)), security(("bearer" = [])),
    responses((status = 200, body = JobView), (status = 403, body = Problem), (status = 404, body = Problem)))]
async fn job_handler(
    State(ctx): State<AppState>,
    OrgAccess(access): OrgAccess,
    Path(p): Path<JobPath>,
) -> Result<Json<JobView>> {
    let permit = access.permit::<ManageMembers>()?;
    Ok(Json(imports::job(&ctx, &permit, &p.job_id).await?))
}

/// The per-row report (row, outcome, login, code, field, reason) as CSV.
#[utoipa::path(get, path = "/v1/orgs/{org_id}/imports/{job_id}/report.csv", tag = "imports",
    params(("org_id" = String, Path), ("job_id" = String, Path)), security(("bearer" = [])),
    responses((status = 200, content_type = "text/csv", body = String), (status = 403, body = Problem)))]
async fn report_handler(
    State(ctx): State<AppState>,
    OrgAccess(access): OrgAccess,
    Path(p): Path<JobPath>,
) -> Result<impl IntoResponse> {
    let permit = access.permit::<ManageMembers>()?;
    let csv = imports::report_csv(&ctx, &permit, &p.job_id).await?;
    Ok(([(header::CONTENT_TYPE, "text/csv; charset=utf-8")], csv))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TokenQuery {
    token: String,
}

#[derive(Deserialize)]
struct LocalUploadPath {
    org: String,
    upload_id: String,
}

/// The embedded default's stand-in for a presigned S3 PUT (404 where files go to S3).
#[utoipa::path(put, path = "/v1/uploads/{org}/{upload_id}", tag = "imports",
    params(("org" = String, Path), ("upload_id" = String, Path), TokenQuery),
    request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    responses((status = 204), (status = 400, body = Problem), (status = 404, body = Problem)))]
async fn local_upload_handler(
    State(ctx): State<AppState>,
    Path(p): Path<LocalUploadPath>,
    QueryParams(q): QueryParams<TokenQuery>,
    RawBody(bytes): RawBody<{ MAX_FILE_BYTES as usize }>,
) -> Result<StatusCode> {
    let org = OrgId::parse(&p.org, "org")?;
    imports::receive_local_upload(&ctx, &org, &p.upload_id, &q.token, bytes.to_vec()).await?;
    Ok(StatusCode::NO_CONTENT)
}
