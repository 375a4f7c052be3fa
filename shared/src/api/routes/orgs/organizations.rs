//! Organizations and sub-accounts.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::ToSchema;

use crate::access::{CreateSubAccount, ManageSubAccount, ReadActivity, ReadOrg, UpdateOrg};
use crate::api::AppState;
use crate::api::doc::{Routes, routes};
use crate::api::extract::{Auth, JsonBody, OrgAccess, PageParams, QueryParams};
use crate::api::problem::Problem;
use crate::domain::{LoginDomain, OrgName, UserId};
use crate::error::Result;
use crate::service::orgs::organizations::{self, ActivityPage, OrgDetails, OrgPage};
use crate::service::{self, OrgView};
use crate::store::OrgStatus;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateOrgRequest {
    name: String,
    /// `en`, `nl` or `de`: the organization's default language (the creator's when absent).
    language: Option<String>,
}

pub fn create_org() -> Routes {
    routes!(create_org_handler)
}

/// Create another top-level organization with the same login (a trial, owned by the caller).
#[utoipa::path(post, path = "/v1/orgs", tag = "organizations", request_body = CreateOrgRequest, security(("bearer" = [])),
    responses((status = 201, body = OrgView), (status = 422, body = Problem)))]
async fn create_org_handler(
    State(ctx): State<AppState>,
    Auth(auth): Auth,
    JsonBody(req): JsonBody<CreateOrgRequest>,
) -> Result<(StatusCode, Json<OrgView>)> {
    let name = OrgName::parse(&req.name, "name")?;
    let language = req.language.as_deref().map(|l| crate::domain::Language::parse(l, "language")).transpose()?;
    Ok((StatusCode::CREATED, Json(organizations::create_org(&ctx, &auth, name, language).await?)))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateSubAccountRequest {
    name: String,
    /// An existing member of the parent to own the sub-account; the caller when absent.
    owner_id: Option<String>,
}

pub fn create_sub_account() -> Routes {
    routes!(create_sub_account_handler)
}

/// Create a sub-account beneath an organization (admins of it or of an ancestor allowed to change it).
#[utoipa::path(post, path = "/v1/orgs/{org_id}/sub-accounts", tag = "organizations", params(("org_id" = String, Path)),
    request_body = CreateSubAccountRequest, security(("bearer" = [])),
    responses((status = 201, body = OrgView), (status = 403, body = Problem), (status = 422, body = Problem)))]
async fn create_sub_account_handler(
    State(ctx): State<AppState>,
    OrgAccess(access): OrgAccess,
    JsonBody(req): JsonBody<CreateSubAccountRequest>,
) -> Result<(StatusCode, Json<OrgView>)> {
    let permit = access.permit::<CreateSubAccount>()?;
    let name = OrgName::parse(&req.name, "name")?;
    let owner = req.owner_id.as_deref().map(|o| UserId::parse(o, "owner_id")).transpose()?;
    Ok((StatusCode::CREATED, Json(organizations::create_sub_account(&ctx, &permit, name, owner).await?)))
}

pub fn manage() -> Routes {
    routes!(
        get_org_handler,
        rename_handler,
        children_handler,
        subtree_handler,
        suspend_handler,
        reactivate_handler,
        login_domain_handler
    )
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginDomainRequest {
    /// e.g. `acme`; `null` clears it.
    login_domain: Option<String>,
    /// The `version` last read; a concurrent change makes this request fail with 409.
    version: u64,
}

/// Set the organization's login domain: people without an email address log in as
/// `logindomain\username`. Unique among all organizations.
#[utoipa::path(put, path = "/v1/orgs/{org_id}/login-domain", tag = "organizations", params(("org_id" = String, Path)),
    request_body = LoginDomainRequest, security(("bearer" = [])),
    responses((status = 200, body = OrgView), (status = 403, body = Problem),
              (status = 409, description = "taken by another organization, or a concurrent change", body = Problem),
              (status = 422, body = Problem)))]
async fn login_domain_handler(
    State(ctx): State<AppState>,
    OrgAccess(access): OrgAccess,
    JsonBody(req): JsonBody<LoginDomainRequest>,
) -> Result<Json<OrgView>> {
    let permit = access.permit::<UpdateOrg>()?;
    let domain = req.login_domain.as_deref().map(|d| LoginDomain::parse(d, "login_domain")).transpose()?;
    Ok(Json(organizations::set_login_domain(&ctx, &permit, domain, req.version).await?))
}

/// An organization as the caller sees it, with their roles and permissions there.
#[utoipa::path(get, path = "/v1/orgs/{org_id}", tag = "organizations", params(("org_id" = String, Path)),
    security(("bearer" = [])), responses((status = 200, body = OrgDetails), (status = 403, body = Problem)))]
async fn get_org_handler(State(ctx): State<AppState>, OrgAccess(access): OrgAccess) -> Result<Json<OrgDetails>> {
    let permit = access.permit::<ReadOrg>()?;
    Ok(Json(organizations::details(&ctx, &access, &permit).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RenameRequest {
    name: String,
    /// The `version` last read; a concurrent change makes this request fail with 409.
    version: u64,
}

/// Rename an organization.
#[utoipa::path(patch, path = "/v1/orgs/{org_id}", tag = "organizations", params(("org_id" = String, Path)),
    request_body = RenameRequest, security(("bearer" = [])),
    responses((status = 200, body = OrgView), (status = 403, body = Problem), (status = 409, body = Problem)))]
async fn rename_handler(
    State(ctx): State<AppState>,
    OrgAccess(access): OrgAccess,
    JsonBody(req): JsonBody<RenameRequest>,
) -> Result<Json<OrgView>> {
    let permit = access.permit::<UpdateOrg>()?;
    let name = OrgName::parse(&req.name, "name")?;
    Ok(Json(organizations::rename(&ctx, &permit, name, req.version).await?))
}

/// Direct sub-accounts of an organization.
#[utoipa::path(get, path = "/v1/orgs/{org_id}/children", tag = "organizations",
    params(("org_id" = String, Path), PageParams), security(("bearer" = [])),
    responses((status = 200, body = OrgPage), (status = 403, body = Problem)))]
async fn children_handler(
    State(ctx): State<AppState>,
    OrgAccess(access): OrgAccess,
    QueryParams(q): QueryParams<PageParams>,
) -> Result<Json<OrgPage>> {
    let permit = access.permit::<ReadOrg>()?;
    Ok(Json(organizations::children(&ctx, &permit, q.limit(), q.cursor()?.as_ref()).await?))
}

/// The organization and every sub-account beneath it, in tree order.
#[utoipa::path(get, path = "/v1/orgs/{org_id}/subtree", tag = "organizations",
    params(("org_id" = String, Path), PageParams), security(("bearer" = [])),
    responses((status = 200, body = OrgPage), (status = 403, body = Problem)))]
async fn subtree_handler(
    State(ctx): State<AppState>,
    OrgAccess(access): OrgAccess,
    QueryParams(q): QueryParams<PageParams>,
) -> Result<Json<OrgPage>> {
    let permit = access.permit::<ReadOrg>()?;
    Ok(Json(organizations::subtree(&ctx, &permit, q.limit(), q.cursor()?.as_ref()).await?))
}

/// Suspend a sub-account: its members can no longer switch into it; its parents still see it.
#[utoipa::path(post, path = "/v1/orgs/{org_id}/suspend", tag = "organizations", params(("org_id" = String, Path)),
    security(("bearer" = [])), responses((status = 200, body = OrgView), (status = 403, body = Problem)))]
async fn suspend_handler(State(ctx): State<AppState>, OrgAccess(access): OrgAccess) -> Result<Json<OrgView>> {
    let permit = access.permit::<ManageSubAccount>()?;
    Ok(Json(organizations::set_status(&ctx, &permit, OrgStatus::Suspended).await?))
}

/// Reactivate a suspended sub-account.
#[utoipa::path(post, path = "/v1/orgs/{org_id}/reactivate", tag = "organizations", params(("org_id" = String, Path)),
    security(("bearer" = [])), responses((status = 200, body = OrgView), (status = 403, body = Problem)))]
async fn reactivate_handler(State(ctx): State<AppState>, OrgAccess(access): OrgAccess) -> Result<Json<OrgView>> {
    let permit = access.permit::<ManageSubAccount>()?;
    Ok(Json(organizations::set_status(&ctx, &permit, OrgStatus::Active).await?))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ActivityParams {
    cursor: Option<String>,
    limit: Option<i32>,
    /// Only the organization's own activity, without its sub-accounts'.
    own_only: Option<bool>,
}

pub fn activity() -> Routes {
    routes!(activity_handler)
}

/// Activity of an organization and all its sub-accounts, newest first.
#[utoipa::path(get, path = "/v1/orgs/{org_id}/activity", tag = "organizations",
    params(("org_id" = String, Path), ActivityParams), security(("bearer" = [])),
    responses((status = 200, body = ActivityPage), (status = 403, body = Problem)))]
async fn activity_handler(
    State(ctx): State<AppState>,
    OrgAccess(access): OrgAccess,
    QueryParams(q): QueryParams<ActivityParams>,
) -> Result<Json<ActivityPage>> {
    let permit = access.permit::<ReadActivity>()?;
    let page = PageParams { cursor: q.cursor, limit: q.limit };
    let own_only = q.own_only.unwrap_or(false);
    Ok(Json(organizations::activity_feed(&ctx, &permit, own_only, page.limit(), page.cursor()?.as_ref()).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SwitchRequest {
    organization_id: String,
    /// A shared account of that organization to act as (the caller must be linked to it).
    act_as: Option<String>,
}

pub fn switch() -> Routes {
    routes!(switch_handler)
}

/// Switch this session (this client only) to another organization, without logging in again.
#[utoipa::path(post, path = "/v1/auth/switch", tag = "auth", request_body = SwitchRequest, security(("bearer" = [])),
    responses((status = 200, body = service::Switched), (status = 403, description = "cannot enter, or suspended", body = Problem)))]
async fn switch_handler(
    State(ctx): State<AppState>,
    Auth(auth): Auth,
    JsonBody(req): JsonBody<SwitchRequest>,
) -> Result<Json<service::Switched>> {
    let org = crate::domain::OrgId::parse(&req.organization_id, "organization_id")?;
    let act_as = req.act_as.as_deref().map(|a| UserId::parse(a, "act_as")).transpose()?;
    Ok(Json(service::switch_org(&ctx, &auth, &org, act_as.as_ref()).await?))
}
