//! The signed-in user's own view.

use axum::Json;
use axum::extract::{Query, State};
use serde::Deserialize;
use utoipa::IntoParams;

use crate::api::AppState;
use crate::api::doc::{Routes, routes};
use crate::api::extract::{Auth, AuthProfile, PageParams, QueryParams};
use crate::api::problem::Problem;
use crate::error::{Error, Result};
use crate::service::{self, Me, MyOrgsPage};
use crate::store::Cursor;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
}

pub fn routes() -> Routes {
    routes!(me_handler, my_orgs_handler, my_shared_handler)
}

/// The shared accounts the user can switch into (with `act_as` on switch).
#[utoipa::path(get, path = "/v1/me/shared-accounts", tag = "me", security(("bearer" = [])),
    responses((status = 200, body = crate::service::members::shared_accounts::Links), (status = 401, body = Problem)))]
async fn my_shared_handler(
    State(ctx): State<AppState>,
    Auth(auth): Auth,
) -> Result<Json<crate::service::members::shared_accounts::Links>> {
    Ok(Json(crate::service::members::shared_accounts::mine(&ctx, &auth).await?))
}

/// Every organization the user can enter, directly or through an ancestor, with roles.
#[utoipa::path(get, path = "/v1/me/organizations", tag = "me", params(PageParams), security(("bearer" = [])),
    responses((status = 200, body = MyOrgsPage), (status = 401, body = Problem)))]
async fn my_orgs_handler(
    State(ctx): State<AppState>,
    Auth(auth): Auth,
    QueryParams(q): QueryParams<PageParams>,
) -> Result<Json<MyOrgsPage>> {
    Ok(Json(service::my_orgs(&ctx, &auth, q.limit.unwrap_or(100), q.cursor.as_deref()).await?))
}

/// The user, the organization this client is in, and the organizations they belong to.
#[utoipa::path(get, path = "/v1/me", tag = "me", params(PageQuery), security(("bearer" = [])),
    responses((status = 200, body = Me), (status = 401, body = Problem)))]
async fn me_handler(
    State(ctx): State<AppState>,
    AuthProfile(auth, profile): AuthProfile,
    query: std::result::Result<Query<PageQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Me>> {
    let Query(q) = query.map_err(|e| Error::validation("invalid_query", "query", e.body_text()))?;
    let cursor = q.cursor.as_deref().map(|c| Cursor::parse(c, "cursor")).transpose()?;
    Ok(Json(service::me(&ctx, &auth, profile, cursor.as_ref()).await?))
}
