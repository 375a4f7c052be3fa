//! Message templates: an organization's own, and those kept above it (read-only here).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use crate::access::{ReadOrg, UpdateOrg};
use crate::api::AppState;
use crate::api::doc::{Routes, routes};
use crate::api::extract::{JsonBody, OrgAccess, PageParams, QueryParams};
use crate::api::problem::Problem;
use crate::api::routes::orgs::settings::{if_match_tagged, json_with_etag_status};
use crate::domain::TemplateId;
use crate::domain::message_template::{TemplateBody, TemplateLanguage, TemplateName};
use crate::error::Result;
use crate::service::library::message_templates::{self, TemplateInput, TemplatePage, TemplateView};

pub fn routes() -> Routes {
    routes!(list_handler, create_handler, get_handler, put_handler, delete_handler)
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct TemplatePath {
    #[allow(dead_code)]
    org_id: String,
    template_id: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TemplateRequest {
    #[schema(max_length = 80)]
    name: String,
    /// A language tag such as `en`, `mi` or `nl-BE`.
    language: String,
    /// Up to 1600 characters; placeholders are `{{name}}`.
    #[schema(max_length = 1600)]
    body: String,
}

impl TemplateRequest {
    fn parse(&self) -> Result<TemplateInput> {
        Ok(TemplateInput {
            name: TemplateName::parse(&self.name, "name")?,
            language: TemplateLanguage::parse(&self.language, "language")?,
            body: TemplateBody::parse(&self.body, "body")?,
        })
    }
}

fn id(raw: &str) -> Result<TemplateId> {
    TemplateId::parse(raw, "template_id")
}

fn tagged(status: StatusCode, t: TemplateView) -> Response {
    let etag = t.etag.clone();
    json_with_etag_status(status, t, &etag)
}

/// Templates this organization can use: its own, then those kept by each organization above.
#[utoipa::path(get, path = "/v1/orgs/{org_id}/message-templates", tag = "templates",
    params(("org_id" = String, Path), PageParams), security(("bearer" = [])),
    responses((status = 200, body = TemplatePage), (status = 403, body = Problem), (status = 422, body = Problem)))]
async fn list_handler(
    State(ctx): State<AppState>,
    OrgAccess(access): OrgAccess,
    QueryParams(q): QueryParams<PageParams>,
) -> Result<Json<TemplatePage>> {
    let permit = access.permit::<ReadOrg>()?;
    Ok(Json(message_templates::list(&ctx, &permit, q.limit(), q.cursor()?.as_ref()).await?))
}

#[utoipa::path(post, path = "/v1/orgs/{org_id}/message-templates", tag = "templates",
    params(("org_id" = String, Path)), request_body = TemplateRequest, security(("bearer" = [])),
    responses((status = 201, body = TemplateView, headers(("ETag" = String))), (status = 403, body = Problem), (status = 422, body = Problem)))]
async fn create_handler(
    State(ctx): State<AppState>,
    OrgAccess(access): OrgAccess,
    JsonBody(req): JsonBody<TemplateRequest>,
) -> Result<Response> {
    let permit = access.permit::<UpdateOrg>()?;
    let input = req.parse()?;
    Ok(tagged(StatusCode::CREATED, message_templates::create(&ctx, &permit, input).await?))
}

#[utoipa::path(get, path = "/v1/orgs/{org_id}/message-templates/{template_id}", tag = "templates",
    params(TemplatePath), security(("bearer" = [])),
    responses((status = 200, body = TemplateView, headers(("ETag" = String))), (status = 403, body = Problem), (status = 404, body = Problem)))]
async fn get_handler(
    State(ctx): State<AppState>,
    OrgAccess(access): OrgAccess,
    Path(p): Path<TemplatePath>,
) -> Result<Response> {
    let permit = access.permit::<ReadOrg>()?;
    Ok(tagged(StatusCode::OK, message_templates::get(&ctx, &permit, &id(&p.template_id)?).await?))
}

/// Replace an own template (one kept above is changed there).
#[utoipa::path(put, path = "/v1/orgs/{org_id}/message-templates/{template_id}", tag = "templates",
    params(TemplatePath, ("If-Match" = String, Header, description = "the template's ETag")),
    request_body = TemplateRequest, security(("bearer" = [])),
    responses((status = 200, body = TemplateView, headers(("ETag" = String))), (status = 403, body = Problem), (status = 404, body = Problem),
              (status = 412, body = Problem), (status = 422, body = Problem), (status = 428, body = Problem)))]
async fn put_handler(
    State(ctx): State<AppState>,
    OrgAccess(access): OrgAccess,
    Path(p): Path<TemplatePath>,
    headers: HeaderMap,
    JsonBody(req): JsonBody<TemplateRequest>,
) -> Result<Response> {
    let permit = access.permit::<UpdateOrg>()?;
    let tid = id(&p.template_id)?;
    let input = req.parse()?;
    let version = if_match_tagged(&headers, 'm')?;
    Ok(tagged(StatusCode::OK, message_templates::update(&ctx, &permit, &tid, version, input).await?))
}

#[utoipa::path(delete, path = "/v1/orgs/{org_id}/message-templates/{template_id}", tag = "templates",
    params(TemplatePath, ("If-Match" = String, Header, description = "the template's ETag")), security(("bearer" = [])),
    responses((status = 204), (status = 403, body = Problem), (status = 404, body = Problem), (status = 412, body = Problem), (status = 428, body = Problem)))]
async fn delete_handler(
    State(ctx): State<AppState>,
    OrgAccess(access): OrgAccess,
    Path(p): Path<TemplatePath>,
    headers: HeaderMap,
) -> Result<StatusCode> {
    let permit = access.permit::<UpdateOrg>()?;
    let tid = id(&p.template_id)?;
    let version = if_match_tagged(&headers, 'm')?;
    message_templates::delete(&ctx, &permit, &tid, version).await?;
    Ok(StatusCode::NO_CONTENT)
}
