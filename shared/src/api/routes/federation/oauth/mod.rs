//! The OAuth authorization server's endpoints. The consent page (the web client's
//! `/oauth/authorize`) calls the authorize API with the person's session; the token and
//! revocation endpoints speak RFC 6749/7009 (form bodies, `{"error": …}` answers).

pub mod apps;

use crate::error::OAuthCode;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::header::{AUTHORIZATION, CACHE_CONTROL, PRAGMA, WWW_AUTHENTICATE};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::api::AppState;
use crate::api::doc::{Routes, routes};
use crate::api::extract::{Auth, JsonBody, QueryParams, ServiceCaller, form_fields};
use crate::api::problem::Problem;
use crate::error::{Error, Result};
use crate::service::federation::oauth::tokens::{self, TokenRequest, TokenResponse};
use crate::service::federation::oauth::{
    self, AuthorizeRequest, Authorized, ConsentPrompt, Introspection, RedirectTo, ServerMetadata, UserInfo,
};

pub fn authorize() -> Routes {
    routes!(prompt_handler, decide_handler, authorized_handler, unauthorize_handler)
}

pub fn introspection() -> Routes {
    routes!(introspect_handler)
}

pub fn tokens() -> Routes {
    routes!(token_handler, revoke_handler, metadata_handler, userinfo_handler)
}

/// An authorization request's parameters (RFC 6749 §4.1.1, RFC 7636).
#[derive(Debug, Deserialize, IntoParams, ToSchema)]
#[into_params(parameter_in = Query)]
pub struct AuthorizeParams {
    client_id: String,
    redirect_uri: Option<String>,
    /// `code`.
    response_type: Option<String>,
    /// Space-separated scopes.
    scope: Option<String>,
    state: Option<String>,
    code_challenge: Option<String>,
    /// `S256`.
    code_challenge_method: Option<String>,
}

impl AuthorizeParams {
    fn request(self) -> AuthorizeRequest {
        AuthorizeRequest {
            client_id: self.client_id,
            redirect_uri: self.redirect_uri,
            response_type: self.response_type,
            scope: self.scope,
            state: self.state,
            code_challenge: self.code_challenge,
            code_challenge_method: self.code_challenge_method,
        }
    }
}

/// What the consent page shows: `prompt`, or `redirect_to` when the request carries an
/// error the client must hear about.
#[derive(Debug, Serialize, ToSchema)]
pub struct PromptAnswer {
    prompt: Option<ConsentPrompt>,
    redirect_to: Option<String>,
}

/// Check an authorization request for the signed-in person and describe it for consent.
#[utoipa::path(get, path = "/v1/oauth/authorize", tag = "oauth", params(AuthorizeParams), security(("bearer" = [])),
    responses((status = 200, body = PromptAnswer), (status = 400, description = "unknown client, unregistered redirect URI, another organization's application", body = Problem),
              (status = 401, body = Problem), (status = 422, body = Problem)))]
async fn prompt_handler(
    State(ctx): State<AppState>,
    Auth(auth): Auth,
    QueryParams(q): QueryParams<AuthorizeParams>,
) -> Result<Json<PromptAnswer>> {
    Ok(Json(match oauth::prompt(&ctx, &auth, &q.request()).await? {
        Ok(p) => PromptAnswer { prompt: Some(p), redirect_to: None },
        Err(r) => PromptAnswer { prompt: None, redirect_to: Some(r.redirect_to) },
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct Decision {
    #[serde(flatten)]
    params: AuthorizeParams,
    /// `allow` or `deny`.
    decision: String,
}

/// The person's decision: where to send the browser (the client's redirect URI with a code,
/// or with `error=access_denied`).
#[utoipa::path(post, path = "/v1/oauth/authorize", tag = "oauth", request_body = Decision, security(("bearer" = [])),
    responses((status = 200, body = RedirectTo), (status = 400, body = Problem), (status = 401, body = Problem), (status = 422, body = Problem)))]
async fn decide_handler(
    State(ctx): State<AppState>,
    Auth(auth): Auth,
    JsonBody(d): JsonBody<Decision>,
) -> Result<Json<RedirectTo>> {
    let allow = match d.decision.as_str() {
        "allow" => true,
        "deny" => false,
        _ => return Err(Error::validation("invalid_decision", "decision", "must be allow or deny")),
    };
    Ok(Json(oauth::decide(&ctx, &auth, &d.params.request(), allow).await?))
}

/// The applications the signed-in person authorized.
#[utoipa::path(get, path = "/v1/me/applications", tag = "oauth", security(("bearer" = [])),
    responses((status = 200, body = Vec<Authorized>), (status = 401, body = Problem)))]
async fn authorized_handler(State(ctx): State<AppState>, Auth(auth): Auth) -> Result<Json<Vec<Authorized>>> {
    Ok(Json(oauth::authorized(&ctx, &auth).await?))
}

/// Withdraw an application's authorization (its refresh tokens end now).
#[utoipa::path(delete, path = "/v1/me/applications/{client_id}", tag = "oauth", params(("client_id" = String, Path)),
    security(("bearer" = [])), responses((status = 204), (status = 401, body = Problem), (status = 404, body = Problem)))]
async fn unauthorize_handler(
    State(ctx): State<AppState>,
    Auth(auth): Auth,
    Path(client_id): Path<String>,
) -> Result<StatusCode> {
    oauth::unauthorize(&ctx, &auth, &client_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// An RFC 6749 §5.2 error body.
#[derive(Debug, Serialize, ToSchema)]
pub struct OAuthErrorBody {
    error: String,
    error_description: String,
}

fn no_store() -> [(axum::http::HeaderName, &'static str); 2] {
    [(CACHE_CONTROL, "no-store"), (PRAGMA, "no-cache")]
}

/// Whether the client asked for problem+json (the rest of this API's errors) in `Accept`;
/// OAuth clients do not, and get RFC 6749's body.
fn wants_problem(headers: &HeaderMap) -> bool {
    headers
        .get_all(axum::http::header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.split(',').any(|t| t.trim().starts_with(crate::api::problem::PROBLEM_JSON)))
}

/// Errors as the token and revocation endpoints must answer them (RFC 6749 §5.2), or as
/// problem+json with the same code for a client that asks for it; storage and other faults
/// are problem+json.
fn oauth_error(e: Error, basic: bool, problem: bool) -> Response {
    match e {
        Error::OAuth { .. } if problem => e.into_response(),
        Error::OAuth { code, description } => {
            let status =
                if code == OAuthCode::InvalidClient { StatusCode::UNAUTHORIZED } else { StatusCode::BAD_REQUEST };
            let mut r = (
                status,
                no_store(),
                Json(OAuthErrorBody { error: code.as_str().into(), error_description: description }),
            )
                .into_response();
            if status == StatusCode::UNAUTHORIZED
                && basic
                && let Ok(v) = "Basic realm=\"switchboard\"".parse()
            {
                r.headers_mut().insert(WWW_AUTHENTICATE, v);
            }
            r
        }
        other => other.into_response(),
    }
}

/// A form body and the client credentials that came with it.
struct ClientForm {
    form: Vec<(String, String)>,
    client_id: Option<String>,
    client_secret: Option<String>,
    /// The credentials came as HTTP Basic (a 401 then names the scheme).
    basic: bool,
}

impl ClientForm {
    fn field(&self, k: &str) -> Option<String> {
        self.form.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone())
    }
}

/// The form and HTTP Basic credentials (RFC 6749 §2.3.1: id and secret form-encoded, then
/// base64). Using both ways at once is refused.
fn form_and_client(headers: &HeaderMap, body: &str) -> Result<ClientForm> {
    let form = form_fields(headers, body)?;
    let field = |k: &str| form.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    let basic = headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Basic "));
    let (id, secret, used_basic) = match basic {
        Some(b) => {
            if field("client_secret").is_some() {
                return Err(Error::OAuth {
                    code: OAuthCode::InvalidRequest,
                    description: "use one client authentication method".into(),
                });
            }
            let bad =
                || Error::OAuth { code: OAuthCode::InvalidClient, description: "malformed Basic credentials".into() };
            let raw = base64::engine::general_purpose::STANDARD.decode(b.trim()).map_err(|_| bad())?;
            let text = String::from_utf8(raw).map_err(|_| bad())?;
            let (i, s) = text.split_once(':').ok_or_else(bad)?;
            let dec =
                |x: &str| url::form_urlencoded::parse(format!("v={x}").as_bytes()).next().map(|(_, v)| v.into_owned());
            (dec(i), dec(s), true)
        }
        None => (field("client_id"), field("client_secret"), false),
    };
    Ok(ClientForm { form, client_id: id, client_secret: secret, basic: used_basic })
}

/// The token request form (RFC 6749 §4.1.3, §6, §4.4).
#[derive(Debug, ToSchema)]
#[allow(dead_code)]
pub struct TokenForm {
    /// `authorization_code`, `refresh_token` or `client_credentials`.
    grant_type: String,
    code: Option<String>,
    redirect_uri: Option<String>,
    code_verifier: Option<String>,
    refresh_token: Option<String>,
    scope: Option<String>,
    /// With `client_secret_post`, or for a public client.
    client_id: Option<String>,
    client_secret: Option<String>,
}

/// The token endpoint.
#[utoipa::path(post, path = "/v1/oauth/token", tag = "oauth",
    request_body(content = TokenForm, content_type = "application/x-www-form-urlencoded"),
    responses((status = 200, body = TokenResponse),
              (status = 400, description = "RFC 6749 error; problem+json when asked for in Accept", content((OAuthErrorBody = "application/json"), (Problem = "application/problem+json"))),
              (status = 401, description = "client authentication failed", content((OAuthErrorBody = "application/json"), (Problem = "application/problem+json"))),
              (status = 415, body = Problem)))]
async fn token_handler(State(ctx): State<AppState>, headers: HeaderMap, body: String) -> Response {
    let f = match form_and_client(&headers, &body) {
        Ok(x) => x,
        Err(e) => return oauth_error(e, false, wants_problem(&headers)),
    };
    let req = TokenRequest {
        grant_type: f.field("grant_type").unwrap_or_default(),
        code: f.field("code"),
        redirect_uri: f.field("redirect_uri"),
        code_verifier: f.field("code_verifier"),
        refresh_token: f.field("refresh_token"),
        scope: f.field("scope"),
        client_id: f.client_id.clone(),
        client_secret: f.client_secret.clone(),
    };
    match tokens::token(&ctx, req).await {
        Ok(t) => (StatusCode::OK, no_store(), Json(t)).into_response(),
        Err(e) => oauth_error(e, f.basic, wants_problem(&headers)),
    }
}

/// The revocation form (RFC 7009 §2.1).
#[derive(Debug, ToSchema)]
#[allow(dead_code)]
pub struct RevokeForm {
    token: String,
    token_type_hint: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
}

/// Revoke a refresh or access token (and the authorization behind it). Always 200 for an
/// authenticated client, whether the token was known or not.
#[utoipa::path(post, path = "/v1/oauth/revoke", tag = "oauth",
    request_body(content = RevokeForm, content_type = "application/x-www-form-urlencoded"),
    responses((status = 200, description = "revoked, or never valid"),
              (status = 400, description = "RFC 6749 error; problem+json when asked for in Accept", content((OAuthErrorBody = "application/json"), (Problem = "application/problem+json"))),
              (status = 401, description = "client authentication failed", content((OAuthErrorBody = "application/json"), (Problem = "application/problem+json"))),
              (status = 415, body = Problem)))]
async fn revoke_handler(State(ctx): State<AppState>, headers: HeaderMap, body: String) -> Response {
    let f = match form_and_client(&headers, &body) {
        Ok(x) => x,
        Err(e) => return oauth_error(e, false, wants_problem(&headers)),
    };
    let Some(token) = f.field("token") else {
        let e = Error::OAuth { code: OAuthCode::InvalidRequest, description: "token is required".into() };
        return oauth_error(e, f.basic, wants_problem(&headers));
    };
    match tokens::revoke(&ctx, f.client_id.as_deref(), f.client_secret.as_deref(), &token).await {
        Ok(()) => (StatusCode::OK, no_store()).into_response(),
        Err(e) => oauth_error(e, f.basic, wants_problem(&headers)),
    }
}

/// Authorization server metadata (RFC 8414).
#[utoipa::path(get, path = "/.well-known/oauth-authorization-server", tag = "oauth",
    responses((status = 200, body = ServerMetadata)))]
async fn metadata_handler(State(ctx): State<AppState>) -> Json<ServerMetadata> {
    Json(oauth::metadata(&ctx))
}

/// The person an integration's access token (scope `profile`) stands for.
#[utoipa::path(get, path = "/v1/oauth/userinfo", tag = "oauth", security(("bearer" = [])),
    responses((status = 200, body = UserInfo), (status = 400, body = Problem), (status = 401, body = Problem),
              (status = 403, description = "the token lacks the profile scope", body = Problem)))]
async fn userinfo_handler(State(ctx): State<AppState>, headers: HeaderMap) -> Result<Json<UserInfo>> {
    let bearer = headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or(Error::Unauthenticated)?;
    Ok(Json(oauth::userinfo(&ctx, bearer.trim()).await?))
}

/// The introspection form (RFC 7662 §2.1).
#[derive(Debug, ToSchema)]
#[allow(dead_code)]
pub struct IntrospectForm {
    token: String,
    token_type_hint: Option<String>,
}

/// For the messaging service only (IAM-authorized in AWS): is this access token valid now?
#[utoipa::path(post, path = "/internal/v1/oauth/introspect", tag = "internal",
    params(("x-switchboard-service-token" = Option<String>, Header, description = "embedded default only")),
    request_body(content = IntrospectForm, content_type = "application/x-www-form-urlencoded"),
    responses((status = 200, body = Introspection), (status = 403, body = Problem), (status = 415, body = Problem),
              (status = 422, body = Problem)))]
async fn introspect_handler(
    State(ctx): State<AppState>,
    _caller: ServiceCaller,
    headers: HeaderMap,
    body: String,
) -> Result<Json<Introspection>> {
    let f = form_and_client(&headers, &body)?;
    let token = f.field("token").ok_or_else(|| Error::validation("token_required", "token", "is required"))?;
    Ok(Json(oauth::introspect(&ctx, &token).await?))
}
