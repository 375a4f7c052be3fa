//! Two-factor authentication (TOTP).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::ToSchema;

use crate::api::AppState;
use crate::api::doc::{Routes, routes};
use crate::api::extract::{Auth, JsonBody};
use crate::api::problem::Problem;
use crate::domain::Password;
use crate::error::Result;
use crate::service::TokenPair;
use crate::service::identity::two_factor::{self, Enrolment, RecoveryCodes};

pub fn routes() -> Routes {
    routes!(enroll_handler, confirm_handler, disable_handler)
}

pub fn login_step() -> Routes {
    routes!(login_2fa_handler)
}

/// Start two-factor enrolment: a new secret, returned once as an `otpauth://` URI.
#[utoipa::path(post, path = "/v1/me/2fa", tag = "me", security(("bearer" = [])),
    responses((status = 201, body = Enrolment), (status = 409, body = Problem)))]
async fn enroll_handler(State(ctx): State<AppState>, Auth(auth): Auth) -> Result<(StatusCode, Json<Enrolment>)> {
    Ok((StatusCode::CREATED, Json(two_factor::enroll(&ctx, &auth).await?)))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CodeRequest {
    code: String,
}

/// Confirm enrolment with a first code; returns the ten recovery codes once.
#[utoipa::path(post, path = "/v1/me/2fa/confirm", tag = "me", request_body = CodeRequest, security(("bearer" = [])),
    responses((status = 200, body = RecoveryCodes), (status = 401, description = "wrong code", body = Problem)))]
async fn confirm_handler(
    State(ctx): State<AppState>,
    Auth(auth): Auth,
    JsonBody(req): JsonBody<CodeRequest>,
) -> Result<Json<RecoveryCodes>> {
    Ok(Json(two_factor::confirm(&ctx, &auth, &req.code).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DisableRequest {
    password: String,
    code: Option<String>,
    recovery_code: Option<String>,
}

/// Turn two-factor off (password and a code required).
#[utoipa::path(post, path = "/v1/me/2fa/disable", tag = "me", request_body = DisableRequest, security(("bearer" = [])),
    responses((status = 204), (status = 401, body = Problem), (status = 422, body = Problem)))]
async fn disable_handler(
    State(ctx): State<AppState>,
    Auth(auth): Auth,
    JsonBody(req): JsonBody<DisableRequest>,
) -> Result<StatusCode> {
    let password = Password::parse_attempt(&req.password, "password")?;
    two_factor::disable(&ctx, &auth, &password, req.code.as_deref(), req.recovery_code.as_deref()).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SecondStep {
    mfa_token: String,
    code: Option<String>,
    recovery_code: Option<String>,
}

/// The second login step: the challenge and a code (or a recovery code).
#[utoipa::path(post, path = "/v1/auth/login/2fa", tag = "auth", request_body = SecondStep,
    responses((status = 200, body = TokenPair), (status = 400, description = "challenge unknown, used, expired or out of tries", body = Problem),
              (status = 401, description = "wrong or reused code", body = Problem)))]
async fn login_2fa_handler(
    State(ctx): State<AppState>,
    JsonBody(req): JsonBody<SecondStep>,
) -> Result<Json<TokenPair>> {
    Ok(Json(
        two_factor::login_second_factor(&ctx, &req.mfa_token, req.code.as_deref(), req.recovery_code.as_deref())
            .await?,
    ))
}
