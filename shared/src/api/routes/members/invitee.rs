//! The invited person's routes: previewing an invitation link, and the invitations waiting for
//! a signed-in person, accepted or declined (served by the accept-invitation function).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::ToSchema;

use crate::api::AppState;
use crate::api::doc::{Routes, routes};
use crate::api::extract::{Auth, JsonBody};
use crate::api::problem::Problem;
use crate::domain::OrgId;
use crate::error::Result;
use crate::service::members::invitations::Accepted;
use crate::service::members::invitee::{self, InvitationPreview, MyInvitations};

pub fn routes() -> Routes {
    routes!(preview_handler, mine_handler, accept_handler, decline_handler)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InvitationPreviewRequest {
    token: String,
}

/// What an invitation link offers, for its holder: organization, inviter, expiry, and whether
/// the address already has a login. The token travels in the body, never in a URL.
#[utoipa::path(post, path = "/v1/invitations/preview", tag = "members", request_body = InvitationPreviewRequest,
    responses((status = 200, body = InvitationPreview), (status = 400, description = "invalid, used, revoked or expired token", body = Problem)))]
async fn preview_handler(
    State(ctx): State<AppState>,
    JsonBody(req): JsonBody<InvitationPreviewRequest>,
) -> Result<Json<InvitationPreview>> {
    Ok(Json(invitee::preview(&ctx, &req.token).await?))
}

/// Invitations waiting for my (verified) address, in every organization.
#[utoipa::path(get, path = "/v1/me/invitations", tag = "me", security(("bearer" = [])),
    responses((status = 200, body = MyInvitations), (status = 409, description = "no verified address", body = Problem)))]
async fn mine_handler(State(ctx): State<AppState>, Auth(auth): Auth) -> Result<Json<MyInvitations>> {
    Ok(Json(invitee::mine(&ctx, &auth).await?))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
pub struct InvitationOrg {
    org_id: String,
}

/// Accept an invitation to my address.
#[utoipa::path(post, path = "/v1/me/invitations/{org_id}/accept", tag = "me", params(InvitationOrg), security(("bearer" = [])),
    responses((status = 201, body = Accepted), (status = 404, body = Problem), (status = 409, body = Problem)))]
async fn accept_handler(
    State(ctx): State<AppState>,
    Auth(auth): Auth,
    Path(p): Path<InvitationOrg>,
) -> Result<(StatusCode, Json<Accepted>)> {
    let org = OrgId::parse(&p.org_id, "org_id")?;
    Ok((StatusCode::CREATED, Json(invitee::accept(&ctx, &auth, &org).await?)))
}

/// Decline an invitation to my address; the inviter's organization gets its seat back.
#[utoipa::path(post, path = "/v1/me/invitations/{org_id}/decline", tag = "me", params(InvitationOrg), security(("bearer" = [])),
    responses((status = 204), (status = 404, body = Problem)))]
async fn decline_handler(
    State(ctx): State<AppState>,
    Auth(auth): Auth,
    Path(p): Path<InvitationOrg>,
) -> Result<StatusCode> {
    invitee::decline(&ctx, &auth, &OrgId::parse(&p.org_id, "org_id")?).await?;
    Ok(StatusCode::NO_CONTENT)
}
