//! Alternative sign-in (SAML single sign-on): the providers an admin configures, and the
//! public side a browser walks through (start, the provider's answer, the code exchange),
//! plus this service's metadata for each provider.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::header::{CONTENT_TYPE, LOCATION};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use crate::access::UpdateOrg;
use crate::api::AppState;
use crate::api::doc::{Routes, routes};
use crate::api::extract::{Auth, JsonBody, OrgAccess, QueryParams, form_fields, user_agent};
use crate::api::problem::Problem;
use crate::api::routes::orgs::settings::{if_match_tagged, json_with_etag_status};
use crate::domain::settings::parse_text;
use crate::domain::sso::{EntityId, ProviderName};
use crate::domain::{ClientType, Role};
use crate::error::{Error, Result};
use crate::service::LoginOutcome;
use crate::service::federation::sso::link::{self, LinkStart};
use crate::service::federation::sso::login::{self, Started};
use crate::service::federation::sso::{self, NewProvider, ProviderChange, ProviderView};

pub fn providers() -> Routes {
    routes!(list_handler, create_handler, get_handler, patch_handler, delete_handler)
}

pub fn sign_in() -> Routes {
    routes!(metadata_handler, start_handler, acs_handler, exchange_handler, link_handler)
}

/// The cookie that binds a sign-in to the browser that started it.
const BROWSER_COOKIE: &str = "sb_saml";

/// The cookie [`start_handler`] sets: HttpOnly, only for the SSO paths, gone when the request
/// expires. The provider posts its answer from its own site, so over HTTPS the cookie is
/// `SameSite=None` (sent on that cross-site POST); a plain-HTTP local service keeps `Lax`,
/// which a provider on the same host still reaches.
fn browser_cookie(ctx: &AppState, secret: &str) -> String {
    let site = if ctx.config.public_url.starts_with("https://") { "SameSite=None; Secure" } else { "SameSite=Lax" };
    format!("{BROWSER_COOKIE}={secret}; Path=/v1/sso/; Max-Age=600; HttpOnly; {site}")
}

fn cookie_of<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim())
}

const TITLE_MAX: usize = 100;

/// A provider to add: the SAML entity ID and metadata XML from the identity provider.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProviderRequest {
    /// For the admins' own reference.
    #[schema(max_length = 100)]
    title: String,
    /// Typed on the alternative sign-in page: lower-case letters and digits, unique.
    #[schema(pattern = "^[a-z0-9]{2,40}$")]
    name: String,
    #[schema(max_length = 1024)]
    entity_id: String,
    /// The provider's metadata (an `EntityDescriptor`, or an `EntitiesDescriptor` holding it).
    metadata_xml: String,
    /// Make people the provider signs in members when they are not yet (needs a free seat
    /// and an address on a verified company domain).
    #[serde(default)]
    jit_provisioning: bool,
    /// `agent` (default) or `viewer`.
    jit_role: Option<Role>,
    /// The provider's sign-in stands in for this service's two-factor step.
    #[serde(default)]
    counts_as_second_factor: bool,
}

/// A change to a provider; what is left out stays. New `metadata_xml` replaces the
/// certificates and endpoints (key rollover).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProviderPatch {
    #[schema(max_length = 100)]
    title: Option<String>,
    #[schema(max_length = 1024)]
    entity_id: Option<String>,
    metadata_xml: Option<String>,
    jit_provisioning: Option<bool>,
    jit_role: Option<Role>,
    counts_as_second_factor: Option<bool>,
    enabled: Option<bool>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct ProviderPath {
    #[allow(dead_code)]
    org_id: String,
    name: String,
}

fn title(t: &str) -> Result<String> {
    parse_text(t, "title", TITLE_MAX, false, "invalid_title")
}

fn with_etag(status: StatusCode, v: ProviderView) -> Response {
    let etag = v.etag.clone();
    json_with_etag_status(status, v, &etag)
}

/// The organization's single sign-on providers.
#[utoipa::path(get, path = "/v1/orgs/{org_id}/sso-providers", tag = "sso", params(("org_id" = String, Path)),
    security(("bearer" = [])), responses((status = 200, body = Vec<ProviderView>), (status = 403, body = Problem)))]
async fn list_handler(State(ctx): State<AppState>, OrgAccess(access): OrgAccess) -> Result<Json<Vec<ProviderView>>> {
    let permit = access.permit::<UpdateOrg>()?;
    Ok(Json(sso::list(&ctx, &permit).await?))
}

/// Add a provider from its entity ID and metadata. The answer holds this service's entity ID,
/// assertion consumer URL and metadata URL to install at the provider.
#[utoipa::path(post, path = "/v1/orgs/{org_id}/sso-providers", tag = "sso", params(("org_id" = String, Path)),
    request_body = ProviderRequest, security(("bearer" = [])),
    responses((status = 201, body = ProviderView, headers(("ETag" = String))), (status = 403, body = Problem),
              (status = 409, description = "the name is taken", body = Problem), (status = 422, body = Problem)))]
async fn create_handler(
    State(ctx): State<AppState>,
    OrgAccess(access): OrgAccess,
    JsonBody(req): JsonBody<ProviderRequest>,
) -> Result<Response> {
    let permit = access.permit::<UpdateOrg>()?;
    let name = ProviderName::parse(&req.name, "name")?;
    let entity_id = EntityId::parse(&req.entity_id, "entity_id")?;
    let jit_role = sso::jit_role(req.jit_role.unwrap_or(Role::Agent))?;
    let p = NewProvider {
        title: title(&req.title)?,
        metadata: sso::read_metadata(&req.metadata_xml, &entity_id)?,
        name,
        entity_id,
        jit: req.jit_provisioning,
        jit_role,
        counts_as_second_factor: req.counts_as_second_factor,
    };
    Ok(with_etag(StatusCode::CREATED, sso::create(&ctx, &permit, p).await?))
}

/// One provider, with its certificates' expiry.
#[utoipa::path(get, path = "/v1/orgs/{org_id}/sso-providers/{name}", tag = "sso", params(ProviderPath),
    security(("bearer" = [])),
    responses((status = 200, body = ProviderView, headers(("ETag" = String))), (status = 403, body = Problem), (status = 404, body = Problem)))]
async fn get_handler(
    State(ctx): State<AppState>,
    OrgAccess(access): OrgAccess,
    Path(p): Path<ProviderPath>,
) -> Result<Response> {
    let permit = access.permit::<UpdateOrg>()?;
    let name = ProviderName::parse(&p.name, "name")?;
    let record = sso::own(&ctx, &permit.org.org_id, &name).await?;
    Ok(with_etag(StatusCode::OK, sso::view(&ctx, &record)))
}

/// Change a provider (new metadata for a key rollover, provisioning, switching it off).
#[utoipa::path(patch, path = "/v1/orgs/{org_id}/sso-providers/{name}", tag = "sso",
    params(ProviderPath, ("If-Match" = String, Header, description = "the provider's ETag")),
    request_body = ProviderPatch, security(("bearer" = [])),
    responses((status = 200, body = ProviderView, headers(("ETag" = String))), (status = 403, body = Problem), (status = 404, body = Problem),
              (status = 412, body = Problem), (status = 422, body = Problem), (status = 428, body = Problem)))]
async fn patch_handler(
    State(ctx): State<AppState>,
    OrgAccess(access): OrgAccess,
    Path(p): Path<ProviderPath>,
    headers: HeaderMap,
    JsonBody(req): JsonBody<ProviderPatch>,
) -> Result<Response> {
    let permit = access.permit::<UpdateOrg>()?;
    let name = ProviderName::parse(&p.name, "name")?;
    let change = ProviderChange {
        title: req.title.as_deref().map(title).transpose()?,
        entity_id: req.entity_id.as_deref().map(|e| EntityId::parse(e, "entity_id")).transpose()?,
        metadata_xml: req.metadata_xml,
        jit: req.jit_provisioning,
        jit_role: req.jit_role.map(sso::jit_role).transpose()?,
        counts_as_second_factor: req.counts_as_second_factor,
        enabled: req.enabled,
    };
    let version = if_match_tagged(&headers, 'p')?;
    Ok(with_etag(StatusCode::OK, sso::update(&ctx, &permit, &name, version, change).await?))
}

/// Remove a provider: sign-ins through it stop at once.
#[utoipa::path(delete, path = "/v1/orgs/{org_id}/sso-providers/{name}", tag = "sso", params(ProviderPath),
    security(("bearer" = [])), responses((status = 204), (status = 403, body = Problem), (status = 404, body = Problem)))]
async fn delete_handler(
    State(ctx): State<AppState>,
    OrgAccess(access): OrgAccess,
    Path(p): Path<ProviderPath>,
) -> Result<StatusCode> {
    let permit = access.permit::<UpdateOrg>()?;
    let name = ProviderName::parse(&p.name, "name")?;
    sso::delete(&ctx, &permit, &name).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// This service's SAML metadata for the provider, to install there as a trusted service.
#[utoipa::path(get, path = "/v1/sso/{name}/metadata", tag = "sso", params(("name" = String, Path)),
    responses((status = 200, description = "SAML metadata", content_type = "application/samlmetadata+xml", body = String),
              (status = 404, body = Problem), (status = 422, body = Problem)))]
async fn metadata_handler(State(ctx): State<AppState>, Path(name): Path<String>) -> Result<Response> {
    let name = ProviderName::parse(&name, "name")?;
    let xml = sso::sp_metadata(&ctx, &name).await?;
    Ok(([(CONTENT_TYPE, "application/samlmetadata+xml")], xml).into_response())
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StartQuery {
    /// The client type signing in: `web` (default), `desktop`, `mobile`.
    client: Option<ClientType>,
    /// A ticket from `POST /v1/sso/{name}/link`: the signed-in person links the provider.
    link: Option<String>,
}

/// Start signing in at the provider: a redirect to it (or, for a provider that takes only
/// HTTP-POST, a page that posts the request).
#[utoipa::path(get, path = "/v1/sso/{name}/login", tag = "sso", params(("name" = String, Path), StartQuery),
    responses((status = 302, description = "to the identity provider", headers(("Location" = String))),
              (status = 200, description = "a page posting the request", content_type = "text/html", body = String),
              (status = 404, body = Problem), (status = 422, body = Problem)))]
async fn start_handler(
    State(ctx): State<AppState>,
    Path(name): Path<String>,
    QueryParams(q): QueryParams<StartQuery>,
) -> Result<Response> {
    let name = ProviderName::parse(&name, "name")?;
    let no_store = (axum::http::header::CACHE_CONTROL, "no-store");
    let start = login::start(&ctx, &name, q.client.unwrap_or(ClientType::Web), q.link.as_deref()).await?;
    let cookie = (axum::http::header::SET_COOKIE, browser_cookie(&ctx, &start.browser_secret));
    Ok(match start.started {
        Started::Redirect(url) => (StatusCode::FOUND, [(LOCATION, url)], [no_store], [cookie]).into_response(),
        Started::Form(html) => {
            let csp = (
                axum::http::header::CONTENT_SECURITY_POLICY,
                "default-src 'none'; script-src 'unsafe-inline'; form-action https:",
            );
            (StatusCode::OK, [(CONTENT_TYPE, "text/html; charset=utf-8"), no_store, csp], [cookie], html)
                .into_response()
        }
    })
}

/// The provider's answer (HTTP-POST binding).
#[derive(Debug, ToSchema)]
pub struct SamlPost {
    #[schema(rename = "SAMLResponse")]
    #[allow(dead_code)]
    saml_response: String,
    #[schema(rename = "RelayState")]
    #[allow(dead_code)]
    relay_state: Option<String>,
}

/// The assertion consumer service: the provider posts its signed response here. A passing
/// sign-in redirects (303) to the client's `/sso/callback?code=…`.
#[utoipa::path(post, path = "/v1/sso/{name}/acs", tag = "sso", params(("name" = String, Path)),
    request_body(content = SamlPost, content_type = "application/x-www-form-urlencoded"),
    responses((status = 303, description = "to the client with a one-time code", headers(("Location" = String))),
              (status = 400, description = "the response was refused", body = Problem), (status = 403, body = Problem),
              (status = 404, body = Problem), (status = 415, body = Problem), (status = 422, body = Problem)))]
async fn acs_handler(
    State(ctx): State<AppState>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: String,
) -> Result<Response> {
    let form = form_fields(&headers, &body)?;
    let name = ProviderName::parse(&name, "name")?;
    let response = form.into_iter().find(|(k, _)| k == "SAMLResponse").map(|(_, v)| v).ok_or_else(|| {
        Error::validation("saml_response_required", "SAMLResponse", "the form carries no SAMLResponse")
    })?;
    let browser = cookie_of(&headers, BROWSER_COOKIE);
    let signed_in = login::consume(&ctx, &name, &response, browser).await?;
    // The cookie has done its work.
    let spent = format!("{BROWSER_COOKIE}=; Path=/v1/sso/; Max-Age=0; HttpOnly");
    Ok((
        StatusCode::SEE_OTHER,
        [
            (LOCATION, signed_in.redirect_to.as_str()),
            (axum::http::header::CACHE_CONTROL, "no-store"),
            (axum::http::header::SET_COOKIE, spent.as_str()),
        ],
    )
        .into_response())
}

/// Link the provider to your login (for an address off its organization's verified company
/// domains): open the answered URL in your browser and sign in at the provider as yourself.
/// Only a session opened with your own credentials may link.
#[utoipa::path(post, path = "/v1/sso/{name}/link", tag = "sso", params(("name" = String, Path)), security(("bearer" = [])),
    responses((status = 201, body = LinkStart), (status = 401, body = Problem), (status = 403, body = Problem),
              (status = 404, body = Problem), (status = 422, body = Problem)))]
async fn link_handler(
    State(ctx): State<AppState>,
    Auth(auth): Auth,
    Path(name): Path<String>,
) -> Result<(StatusCode, Json<LinkStart>)> {
    let name = ProviderName::parse(&name, "name")?;
    Ok((StatusCode::CREATED, Json(link::start_link(&ctx, &auth, &name).await?)))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExchangeRequest {
    /// The `code` the callback received; usable once, for two minutes.
    code: String,
}

/// Exchange the callback's code for tokens (or the two-factor step), as login answers.
#[utoipa::path(post, path = "/v1/auth/sso/token", tag = "sso", request_body = ExchangeRequest,
    responses((status = 200, body = LoginOutcome), (status = 400, body = Problem), (status = 422, body = Problem)))]
async fn exchange_handler(
    State(ctx): State<AppState>,
    headers: HeaderMap,
    JsonBody(req): JsonBody<ExchangeRequest>,
) -> Result<Json<LoginOutcome>> {
    Ok(Json(login::exchange(&ctx, &req.code, &user_agent(&headers)).await?))
}
