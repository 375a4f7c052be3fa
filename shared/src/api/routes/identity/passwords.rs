//! Forgotten passwords: asking for a reset link, and choosing a new password with it.

use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::ToSchema;

use crate::api::AppState;
use crate::api::doc::{Routes, routes};
use crate::api::extract::{ClientAddr, JsonBody};
use crate::api::problem::Problem;
use crate::domain::{Email, Password};
use crate::error::Result;
use crate::service::identity::passwords;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ForgotRequest {
    email: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResetRequest {
    token: String,
    password: String,
}

pub fn passwords() -> Routes {
    routes!(forgot_handler, reset_handler)
}

/// Ask for a password-reset link. The answer is the same whether or not the address has a login.
#[utoipa::path(post, path = "/v1/auth/forgot-password", tag = "auth", request_body = ForgotRequest, responses((status = 202)))]
async fn forgot_handler(
    State(ctx): State<AppState>,
    ClientAddr(addr): ClientAddr,
    JsonBody(req): JsonBody<ForgotRequest>,
) -> Result<StatusCode> {
    passwords::forgot(&ctx, &Email::parse(&req.email, "email")?, &addr).await?;
    Ok(StatusCode::ACCEPTED)
}

/// Choose a new password with the emailed token; every session of the login ends.
#[utoipa::path(post, path = "/v1/auth/reset-password", tag = "auth", request_body = ResetRequest,
    responses((status = 204), (status = 400, body = Problem), (status = 422, body = Problem)))]
async fn reset_handler(State(ctx): State<AppState>, JsonBody(req): JsonBody<ResetRequest>) -> Result<StatusCode> {
    let password = Password::parse_new(&req.password, "password")?;
    passwords::reset(&ctx, &req.token, &password).await?;
    Ok(StatusCode::NO_CONTENT)
}
