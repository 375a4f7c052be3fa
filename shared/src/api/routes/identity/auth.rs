//! Registration, login, refresh, logout and email verification.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::api::AppState;
use crate::api::doc::{Routes, routes};
use crate::api::extract::{Auth, ClientAddr, JsonBody};
use crate::api::problem::Problem;
use crate::domain::{ClientType, Email, Language, LoginName, OrgName, Password, PersonName};
use crate::error::Result;
use crate::service::{self, LoginInput, LoginOutcome, RegisterInput, Registered, TokenPair};

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterRequest {
    email: String,
    /// 8 to 128 characters, not a commonly used password.
    password: String,
    first_name: String,
    last_name: String,
    organization_name: String,
    /// en, nl or de; en when absent.
    language: Option<String>,
}

pub fn register() -> Routes {
    routes!(register_handler)
}

/// Create a login and its first organization (a 14-day trial) owned by the registrant. The
/// answer is the same for an address that already has a login (its owner is emailed instead).
#[utoipa::path(post, path = "/v1/auth/register", tag = "auth", request_body = RegisterRequest,
    responses((status = 202, body = Registered), (status = 422, body = Problem)))]
async fn register_handler(
    State(ctx): State<AppState>,
    JsonBody(req): JsonBody<RegisterRequest>,
) -> Result<(StatusCode, Json<Registered>)> {
    let input = RegisterInput {
        email: Email::parse(&req.email, "email")?,
        password: Password::parse_new(&req.password, "password")?,
        first_name: PersonName::parse(&req.first_name, "first_name")?,
        last_name: PersonName::parse(&req.last_name, "last_name")?,
        org_name: OrgName::parse(&req.organization_name, "organization_name")?,
        language: req.language.as_deref().map(|l| Language::parse(l, "language")).transpose()?.unwrap_or_default(),
    };
    Ok((StatusCode::ACCEPTED, Json(service::register(&ctx, input).await?)))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    /// An email address, or `logindomain\username` for a login without one.
    #[serde(alias = "email")]
    login: String,
    password: String,
    client: ClientType,
}

pub fn login() -> Routes {
    routes!(login_handler)
}

/// Start a session for one client; it reopens the organization this client type used last.
#[utoipa::path(post, path = "/v1/auth/login", tag = "auth", request_body = LoginRequest,
    responses((status = 200, description = "tokens, or a second-factor challenge when two-factor is on", body = LoginOutcome),
              (status = 401, description = "unknown email or wrong password (indistinguishable)", body = Problem),
              (status = 429, description = "too many failures from this address", body = Problem)))]
async fn login_handler(
    State(ctx): State<AppState>,
    addr: ClientAddr,
    headers: axum::http::HeaderMap,
    JsonBody(req): JsonBody<LoginRequest>,
) -> Result<Json<LoginOutcome>> {
    let input = LoginInput {
        login: LoginName::parse(&req.login, "login")?,
        password: Password::parse_attempt(&req.password, "password")?,
        client: req.client,
        client_addr: addr.0,
        user_agent: crate::api::extract::user_agent(&headers),
    };
    Ok(Json(service::login(&ctx, input).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    refresh_token: String,
}

pub fn refresh() -> Routes {
    routes!(refresh_handler)
}

/// Exchange a refresh token for a new access and refresh token.
#[utoipa::path(post, path = "/v1/auth/refresh", tag = "auth", request_body = RefreshRequest,
    responses((status = 200, body = TokenPair), (status = 401, body = Problem)))]
async fn refresh_handler(
    State(ctx): State<AppState>,
    JsonBody(req): JsonBody<RefreshRequest>,
) -> Result<Json<TokenPair>> {
    if req.refresh_token.len() > 512 {
        return Err(crate::Error::InvalidRefreshToken);
    }
    Ok(Json(service::refresh(&ctx, &req.refresh_token).await?))
}

pub fn logout() -> Routes {
    routes!(logout_handler, logout_all_handler)
}

/// End the current session.
#[utoipa::path(post, path = "/v1/auth/logout", tag = "auth", security(("bearer" = [])),
    responses((status = 204), (status = 401, body = Problem)))]
async fn logout_handler(State(ctx): State<AppState>, Auth(auth): Auth) -> Result<StatusCode> {
    service::logout(&ctx, &auth).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SessionsEnded {
    pub sessions_ended: usize,
}

/// End every session of the signed-in user, on every client.
#[utoipa::path(post, path = "/v1/auth/logout-all", tag = "auth", security(("bearer" = [])),
    responses((status = 200, body = SessionsEnded), (status = 401, body = Problem)))]
async fn logout_all_handler(State(ctx): State<AppState>, Auth(auth): Auth) -> Result<Json<SessionsEnded>> {
    let sessions_ended = service::logout_everywhere(&ctx, &auth).await?;
    Ok(Json(SessionsEnded { sessions_ended }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VerifyEmailRequest {
    token: String,
}

pub fn verify_email() -> Routes {
    routes!(verify_email_handler, resend_handler)
}

/// Confirm an email address with the token from the emailed link.
#[utoipa::path(post, path = "/v1/auth/verify-email", tag = "auth", request_body = VerifyEmailRequest,
    responses((status = 204), (status = 400, description = "invalid, used or expired token", body = Problem)))]
async fn verify_email_handler(
    State(ctx): State<AppState>,
    JsonBody(req): JsonBody<VerifyEmailRequest>,
) -> Result<StatusCode> {
    service::verify_email(&ctx, &req.token).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Send a new verification link to the signed-in user's address.
#[utoipa::path(post, path = "/v1/auth/verify-email/resend", tag = "auth", security(("bearer" = [])),
    responses((status = 202), (status = 401, body = Problem)))]
async fn resend_handler(State(ctx): State<AppState>, Auth(auth): Auth) -> Result<StatusCode> {
    service::resend_verification(&ctx, &auth).await?;
    Ok(StatusCode::ACCEPTED)
}
