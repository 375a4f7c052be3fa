//! Changing one's own email address.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::ToSchema;

use crate::api::AppState;
use crate::api::doc::{Routes, routes};
use crate::api::extract::{Auth, JsonBody};
use crate::api::problem::Problem;
use crate::domain::{Email, Password};
use crate::error::Result;
use crate::service::identity::email_change::{self, Confirmed};

pub fn routes() -> Routes {
    routes!(request_handler, confirm_handler)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangeEmailRequest {
    new_email: String,
    password: String,
    /// Required when two-factor is on.
    code: Option<String>,
}

/// Ask to change one's email address: a link goes to the new address, a notice to the old.
#[utoipa::path(post, path = "/v1/me/email", tag = "me", request_body = ChangeEmailRequest, security(("bearer" = [])),
    responses((status = 202), (status = 409, description = "pending for another login, or already yours", body = Problem),
              (status = 422, body = Problem)))]
async fn request_handler(
    State(ctx): State<AppState>,
    Auth(auth): Auth,
    JsonBody(req): JsonBody<ChangeEmailRequest>,
) -> Result<StatusCode> {
    let new = Email::parse(&req.new_email, "new_email")?;
    let password = Password::parse_attempt(&req.password, "password")?;
    email_change::request(&ctx, &auth, &new, &password, req.code.as_deref()).await?;
    Ok(StatusCode::ACCEPTED)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConfirmEmailRequest {
    token: String,
    /// When the address belongs to another login with two-factor on: a code of that login.
    code: Option<String>,
}

/// Confirm the new address with the emailed link's token (signed in as the same login).
#[utoipa::path(post, path = "/v1/me/email/confirm", tag = "me", request_body = ConfirmEmailRequest, security(("bearer" = [])),
    responses((status = 200, description = "the address changed, or this login merged into the one that had it", body = Confirmed),
              (status = 400, body = Problem), (status = 409, body = Problem)))]
async fn confirm_handler(
    State(ctx): State<AppState>,
    Auth(auth): Auth,
    JsonBody(req): JsonBody<ConfirmEmailRequest>,
) -> Result<Json<Confirmed>> {
    Ok(Json(email_change::confirm(&ctx, &auth, &req.token, req.code.as_deref()).await?))
}
