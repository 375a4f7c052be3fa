//! Company domains and email-to-SMS sender domains, and the messaging service's lookup of a
//! sender's account.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::ToSchema;

use crate::access::UpdateOrg;
use crate::api::AppState;
use crate::api::doc::{Routes, routes};
use crate::api::extract::{JsonBody, OrgAccess, ServiceCaller};
use crate::api::problem::Problem;
use crate::domain::{DomainName, OwnedDomain};
use crate::error::Result;
use crate::service::orgs::domains::{self, DomainView, SenderAccount};
use crate::store::DomainKind;

pub fn routes() -> Routes {
    routes!(list_company, add_company, verify_company, remove_company, list_e2s, add_e2s, verify_e2s, remove_e2s)
}

pub fn sender_lookup() -> Routes {
    routes!(sender_account)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddDomainRequest {
    /// e.g. `example.com` (internationalized names are accepted and stored as punycode).
    #[schema(max_length = 253)]
    domain: String,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
pub struct DomainPath {
    #[allow(dead_code)]
    org_id: String,
    domain: String,
}

async fn add(
    ctx: &AppState,
    access: OrgAccess,
    kind: DomainKind,
    req: AddDomainRequest,
) -> Result<(StatusCode, Json<DomainView>)> {
    let permit = access.0.permit::<UpdateOrg>()?;
    let domain = OwnedDomain::parse(&req.domain, "domain")?;
    Ok((StatusCode::CREATED, Json(domains::add(ctx, &permit, kind, domain).await?)))
}

async fn list(ctx: &AppState, access: OrgAccess, kind: DomainKind) -> Result<Json<Vec<DomainView>>> {
    let permit = access.0.permit::<UpdateOrg>()?;
    Ok(Json(domains::list(ctx, &permit, kind).await?))
}

async fn verify(ctx: &AppState, access: OrgAccess, kind: DomainKind, p: DomainPath) -> Result<Json<DomainView>> {
    let permit = access.0.permit::<UpdateOrg>()?;
    let d = DomainName::parse(&p.domain, "domain")?;
    Ok(Json(domains::verify(ctx, &permit, kind, &d).await?))
}

async fn remove(ctx: &AppState, access: OrgAccess, kind: DomainKind, p: DomainPath) -> Result<StatusCode> {
    let permit = access.0.permit::<UpdateOrg>()?;
    let d = DomainName::parse(&p.domain, "domain")?;
    domains::remove(ctx, &permit, kind, &d).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Claim a company domain: publish the TXT record returned, then verify.
#[utoipa::path(post, path = "/v1/orgs/{org_id}/domains", tag = "settings", params(("org_id" = String, Path)),
    request_body = AddDomainRequest, security(("bearer" = [])),
    responses((status = 201, body = DomainView), (status = 403, body = Problem),
              (status = 409, description = "already verified", body = Problem), (status = 422, description = "not a domain, or a public one", body = Problem)))]
async fn add_company(
    State(ctx): State<AppState>,
    a: OrgAccess,
    JsonBody(req): JsonBody<AddDomainRequest>,
) -> Result<(StatusCode, Json<DomainView>)> {
    add(&ctx, a, DomainKind::Company, req).await
}

/// The organization's company domains, verified and claimed.
#[utoipa::path(get, path = "/v1/orgs/{org_id}/domains", tag = "settings", params(("org_id" = String, Path)),
    security(("bearer" = [])), responses((status = 200, body = Vec<DomainView>), (status = 403, body = Problem)))]
async fn list_company(State(ctx): State<AppState>, a: OrgAccess) -> Result<Json<Vec<DomainView>>> {
    list(&ctx, a, DomainKind::Company).await
}

/// Look the TXT record up now: verifies the domain (the first organization to do so owns it)
/// or re-checks a verified one.
#[utoipa::path(post, path = "/v1/orgs/{org_id}/domains/{domain}/verify", tag = "settings", params(DomainPath),
    security(("bearer" = [])),
    responses((status = 200, body = DomainView), (status = 403, body = Problem), (status = 404, body = Problem),
              (status = 409, description = "another organization owns it", body = Problem),
              (status = 422, description = "record not found", body = Problem), (status = 503, body = Problem)))]
async fn verify_company(
    State(ctx): State<AppState>,
    a: OrgAccess,
    Path(p): Path<DomainPath>,
) -> Result<Json<DomainView>> {
    verify(&ctx, a, DomainKind::Company, p).await
}

/// Remove a company domain (a verified one becomes free for other organizations).
#[utoipa::path(delete, path = "/v1/orgs/{org_id}/domains/{domain}", tag = "settings", params(DomainPath),
    security(("bearer" = [])), responses((status = 204), (status = 403, body = Problem), (status = 404, body = Problem)))]
async fn remove_company(State(ctx): State<AppState>, a: OrgAccess, Path(p): Path<DomainPath>) -> Result<StatusCode> {
    remove(&ctx, a, DomainKind::Company, p).await
}

/// Whitelist a sender domain for email-to-SMS on this account (one account per domain).
#[utoipa::path(post, path = "/v1/orgs/{org_id}/email-to-sms-domains", tag = "settings", params(("org_id" = String, Path)),
    request_body = AddDomainRequest, security(("bearer" = [])),
    responses((status = 201, body = DomainView), (status = 403, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
async fn add_e2s(
    State(ctx): State<AppState>,
    a: OrgAccess,
    JsonBody(req): JsonBody<AddDomainRequest>,
) -> Result<(StatusCode, Json<DomainView>)> {
    add(&ctx, a, DomainKind::EmailToSms, req).await
}

/// The account's email-to-SMS sender domains.
#[utoipa::path(get, path = "/v1/orgs/{org_id}/email-to-sms-domains", tag = "settings", params(("org_id" = String, Path)),
    security(("bearer" = [])), responses((status = 200, body = Vec<DomainView>), (status = 403, body = Problem)))]
async fn list_e2s(State(ctx): State<AppState>, a: OrgAccess) -> Result<Json<Vec<DomainView>>> {
    list(&ctx, a, DomainKind::EmailToSms).await
}

/// Verify (or re-check) an email-to-SMS sender domain by its TXT record.
#[utoipa::path(post, path = "/v1/orgs/{org_id}/email-to-sms-domains/{domain}/verify", tag = "settings", params(DomainPath),
    security(("bearer" = [])),
    responses((status = 200, body = DomainView), (status = 403, body = Problem), (status = 404, body = Problem),
              (status = 409, body = Problem), (status = 422, body = Problem), (status = 503, body = Problem)))]
async fn verify_e2s(State(ctx): State<AppState>, a: OrgAccess, Path(p): Path<DomainPath>) -> Result<Json<DomainView>> {
    verify(&ctx, a, DomainKind::EmailToSms, p).await
}

/// Stop email-to-SMS for a sender domain on this account.
#[utoipa::path(delete, path = "/v1/orgs/{org_id}/email-to-sms-domains/{domain}", tag = "settings", params(DomainPath),
    security(("bearer" = [])), responses((status = 204), (status = 403, body = Problem), (status = 404, body = Problem)))]
async fn remove_e2s(State(ctx): State<AppState>, a: OrgAccess, Path(p): Path<DomainPath>) -> Result<StatusCode> {
    remove(&ctx, a, DomainKind::EmailToSms, p).await
}

/// For the messaging service only (IAM-authorized in AWS): the account a sender's domain is
/// whitelisted on, with its status (route nothing into one that is closed or suspended).
#[utoipa::path(get, path = "/internal/v1/email-to-sms/senders/{domain}", tag = "internal",
    params(("domain" = String, Path), ("x-switchboard-service-token" = Option<String>, Header, description = "embedded default only")),
    responses((status = 200, body = SenderAccount), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
async fn sender_account(
    State(ctx): State<AppState>,
    _caller: ServiceCaller,
    Path(domain): Path<String>,
) -> Result<Json<SenderAccount>> {
    let d = DomainName::parse(&domain, "domain")?;
    Ok(Json(domains::email_to_sms_account(&ctx, &d).await?))
}
