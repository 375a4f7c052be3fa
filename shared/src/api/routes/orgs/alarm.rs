//! The alarm service (Advanced tab): an admin's configuration of where the mobile app's
//! alarm messages go, and the messaging service's read of it.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use serde::Deserialize;
use utoipa::ToSchema;

use crate::access::UpdateOrg;
use crate::api::AppState;
use crate::api::doc::{Routes, routes};
use crate::api::extract::{JsonBody, OrgAccess, ServiceCaller};
use crate::api::problem::Problem;
use crate::api::routes::orgs::settings::{if_match, json_with_etag};
use crate::domain::OrgId;
use crate::domain::alarm::{AlarmFields, AlarmService};
use crate::error::Result;
use crate::service::orgs::alarm::{self, AlarmDoc, AlarmTarget};

pub fn routes() -> Routes {
    routes!(get_handler, put_handler, delete_handler)
}

pub fn lookup() -> Routes {
    routes!(lookup_handler)
}

/// An alarm service. `ascom` takes `host`, `port`, `subject` and `call_id`; `none` takes
/// nothing else and stops an ancestor's alarm service from applying here.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AlarmRequest {
    /// `ascom` or `none`.
    #[serde(rename = "type")]
    kind: String,
    #[schema(max_length = 253)]
    host: Option<String>,
    #[schema(minimum = 1, maximum = 65535)]
    port: Option<i64>,
    #[schema(max_length = 64)]
    subject: Option<String>,
    #[schema(max_length = 32)]
    call_id: Option<String>,
}

fn answer(doc: AlarmDoc) -> Response {
    let etag = doc.etag.clone();
    json_with_etag(doc, &etag)
}

/// The organization's alarm service: its own, what applies (perhaps an ancestor's), and
/// whether an ancestor locked it.
#[utoipa::path(get, path = "/v1/orgs/{org_id}/alarm-service", tag = "settings", params(("org_id" = String, Path)),
    security(("bearer" = [])),
    responses((status = 200, body = AlarmDoc, headers(("ETag" = String))), (status = 403, body = Problem)))]
async fn get_handler(OrgAccess(access): OrgAccess) -> Result<Response> {
    let permit = access.permit::<UpdateOrg>()?;
    Ok(answer(alarm::read(&permit)))
}

/// Set the organization's own alarm service, validated per type.
#[utoipa::path(put, path = "/v1/orgs/{org_id}/alarm-service", tag = "settings",
    params(("org_id" = String, Path), ("If-Match" = String, Header, description = "the settings' ETag")),
    request_body = AlarmRequest, security(("bearer" = [])),
    responses((status = 200, body = AlarmDoc, headers(("ETag" = String))), (status = 403, description = "not allowed, or locked above", body = Problem),
              (status = 412, body = Problem), (status = 422, body = Problem), (status = 428, body = Problem)))]
async fn put_handler(
    State(ctx): State<AppState>,
    OrgAccess(access): OrgAccess,
    headers: HeaderMap,
    JsonBody(req): JsonBody<AlarmRequest>,
) -> Result<Response> {
    let permit = access.permit::<UpdateOrg>()?;
    let alarm = AlarmService::parse(AlarmFields {
        kind: req.kind,
        host: req.host,
        port: req.port,
        subject: req.subject,
        call_id: req.call_id,
    })?;
    let version = if_match(&headers)?;
    Ok(answer(alarm::save(&ctx, &permit, version, alarm).await?))
}

/// Remove the organization's own alarm service: an ancestor's applies again, if any.
#[utoipa::path(delete, path = "/v1/orgs/{org_id}/alarm-service", tag = "settings",
    params(("org_id" = String, Path), ("If-Match" = String, Header, description = "the settings' ETag")),
    security(("bearer" = [])),
    responses((status = 200, body = AlarmDoc, headers(("ETag" = String))), (status = 403, body = Problem),
              (status = 412, body = Problem), (status = 428, body = Problem)))]
async fn delete_handler(
    State(ctx): State<AppState>,
    OrgAccess(access): OrgAccess,
    headers: HeaderMap,
) -> Result<Response> {
    let permit = access.permit::<UpdateOrg>()?;
    let version = if_match(&headers)?;
    Ok(answer(alarm::remove(&ctx, &permit, version).await?))
}

/// For the messaging service only (IAM-authorized in AWS): where this organization's alarm
/// messages go. Two reads at most (the organization, then its ancestors).
#[utoipa::path(get, path = "/internal/v1/orgs/{org_id}/alarm-service", tag = "internal",
    params(("org_id" = String, Path), ("x-switchboard-service-token" = Option<String>, Header, description = "embedded default only")),
    responses((status = 200, body = AlarmTarget), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
async fn lookup_handler(
    State(ctx): State<AppState>,
    _caller: ServiceCaller,
    Path(org_id): Path<String>,
) -> Result<Json<AlarmTarget>> {
    let id = OrgId::parse(&org_id, "org_id")?;
    Ok(Json(alarm::for_messaging(&ctx, &id).await?))
}
