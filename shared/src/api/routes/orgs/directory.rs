//! Finding one's company and joining it; join requests; creating a user directly; proving a
//! mobile number by SMS.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;

use crate::access::ManageMembers;
use crate::api::AppState;
use crate::api::doc::{Routes, routes};
use crate::api::extract::{Auth, ClientAddr, OrgAccess, PageParams, QueryParams};
use crate::api::problem::Problem;
use crate::domain::{OrgId, UserId};
use crate::error::{Error, Result};
use crate::service::orgs::directory::{self, FoundPage, JoinAnswer, JoinRequestPage};

pub fn routes() -> Routes {
    routes!(find_handler, join_handler, requests_handler, approve_handler, deny_handler)
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FindParams {
    /// The start of the organization's name or an alias (at least three letters or digits;
    /// case and accents do not matter). Without it: the owner of your address's domain.
    #[param(max_length = 120)]
    name: Option<String>,
}

/// Organizations you may ask to join: by your verified address's domain and by name.
/// Public data only; limited per client address.
#[utoipa::path(get, path = "/v1/directory/organizations", tag = "directory", params(FindParams),
    security(("bearer" = [])),
    responses((status = 200, body = FoundPage), (status = 409, description = "no verified address", body = Problem),
              (status = 422, body = Problem), (status = 429, body = Problem)))]
async fn find_handler(
    State(ctx): State<AppState>,
    Auth(auth): Auth,
    ClientAddr(addr): ClientAddr,
    QueryParams(q): QueryParams<FindParams>,
) -> Result<Json<FoundPage>> {
    if q.name.as_ref().is_some_and(|n| n.chars().count() > 120) {
        return Err(Error::validation("query_too_long", "name", "at most 120 characters"));
    }
    Ok(Json(directory::find(&ctx, &auth, &addr, q.name.as_deref()).await?))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
pub struct JoinPath {
    org_id: String,
}

/// Join an organization with your verified address on one of its verified domains: at once
/// (`automatic`) or once an admin approves (`request`).
#[utoipa::path(post, path = "/v1/directory/organizations/{org_id}/join", tag = "directory", params(JoinPath),
    security(("bearer" = [])),
    responses((status = 200, body = JoinAnswer), (status = 403, description = "joining is not open to you", body = Problem),
              (status = 409, description = "already a member, no free seat, or no verified address", body = Problem)))]
async fn join_handler(
    State(ctx): State<AppState>,
    Auth(auth): Auth,
    Path(p): Path<JoinPath>,
) -> Result<Json<JoinAnswer>> {
    let org = OrgId::parse(&p.org_id, "org_id").map_err(|_| Error::JoinNotAllowed)?;
    Ok(Json(directory::join(&ctx, &auth, &org).await?))
}

/// People asking to join this organization.
#[utoipa::path(get, path = "/v1/orgs/{org_id}/join-requests", tag = "directory", params(("org_id" = String, Path), PageParams),
    security(("bearer" = [])), responses((status = 200, body = JoinRequestPage), (status = 403, body = Problem)))]
async fn requests_handler(
    State(ctx): State<AppState>,
    OrgAccess(access): OrgAccess,
    QueryParams(q): QueryParams<PageParams>,
) -> Result<Json<JoinRequestPage>> {
    let permit = access.permit::<ManageMembers>()?;
    Ok(Json(directory::requests(&ctx, &permit, q.limit(), q.cursor()?.as_ref()).await?))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
pub struct RequestPath {
    #[allow(dead_code)]
    org_id: String,
    user_id: String,
}

/// Approve a join request: the person becomes a member with the join role, taking a seat.
#[utoipa::path(post, path = "/v1/orgs/{org_id}/join-requests/{user_id}/approve", tag = "directory", params(RequestPath),
    security(("bearer" = [])),
    responses((status = 204), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem),
              (status = 422, body = Problem)))]
async fn approve_handler(
    State(ctx): State<AppState>,
    OrgAccess(access): OrgAccess,
    Path(p): Path<RequestPath>,
) -> Result<StatusCode> {
    let permit = access.permit::<ManageMembers>()?;
    let user = UserId::parse(&p.user_id, "user_id")?;
    directory::approve(&ctx, &permit, &user).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Turn a join request down.
#[utoipa::path(delete, path = "/v1/orgs/{org_id}/join-requests/{user_id}", tag = "directory", params(RequestPath),
    security(("bearer" = [])), responses((status = 204), (status = 403, body = Problem), (status = 404, body = Problem)))]
async fn deny_handler(
    State(ctx): State<AppState>,
    OrgAccess(access): OrgAccess,
    Path(p): Path<RequestPath>,
) -> Result<StatusCode> {
    let permit = access.permit::<ManageMembers>()?;
    let user = UserId::parse(&p.user_id, "user_id")?;
    directory::deny(&ctx, &permit, &user).await?;
    Ok(StatusCode::NO_CONTENT)
}
