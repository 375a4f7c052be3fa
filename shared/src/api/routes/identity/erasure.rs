//! A person deletes their own login (GDPR Art. 17).

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
use crate::service::identity::erasure;

pub fn routes() -> Routes {
    routes!(delete_handler)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeleteLogin {
    /// The login's password, again.
    password: String,
}

/// Delete my login for good: refused while I own an organization (transfer or close it
/// first). Memberships, credentials, profile, sessions, links and pending tokens are
/// deleted; activity keeps a pseudonym; the address can register again.
#[utoipa::path(delete, path = "/v1/me", tag = "me", request_body = DeleteLogin, security(("bearer" = [])),
    responses((status = 204), (status = 401, body = Problem), (status = 409, description = "still the owner of an organization", body = Problem),
              (status = 422, body = Problem)))]
async fn delete_handler(
    State(ctx): State<AppState>,
    Auth(auth): Auth,
    JsonBody(req): JsonBody<DeleteLogin>,
) -> Result<StatusCode> {
    let password = Password::parse_attempt(&req.password, "password")?;
    erasure::delete_me(&ctx, &auth, &password).await?;
    Ok(StatusCode::NO_CONTENT)
}
