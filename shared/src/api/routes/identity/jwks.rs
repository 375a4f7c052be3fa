//! Public signing keys, so other services verify access tokens without a shared secret.

use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;

use crate::api::AppState;
use crate::api::doc::{Routes, routes};

pub fn routes() -> Routes {
    routes!(jwks_handler)
}

/// The JSON Web Key Set of the access-token signing keys.
#[utoipa::path(get, path = "/.well-known/jwks.json", tag = "auth",
    responses((status = 200, description = "JWK Set (RFC 7517)", body = Object)))]
async fn jwks_handler(State(ctx): State<AppState>) -> impl IntoResponse {
    ([(header::CACHE_CONTROL, "public, max-age=300")], Json(ctx.keys.jwks().clone()))
}
