//! One member, one pending invitation, and leaving an organization (served by the members
//! function beside the members page's lists).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;

use crate::access::ReadMembers;
use crate::api::AppState;
use crate::api::doc::{Routes, routes};
use crate::api::extract::OrgAccess;
use crate::api::problem::Problem;
use crate::api::routes::members::manage::{InvitePath, MemberPath, user_param};
use crate::domain::Email;
use crate::error::Result;
use crate::service::members::manage::{self, MemberView, PendingView};

pub fn routes() -> Routes {
    routes!(member_handler, invitation_handler, leave_handler)
}

/// One member: roles, reach, change rights, status.
#[utoipa::path(get, path = "/v1/orgs/{org_id}/members/{user_id}", tag = "members", params(MemberPath),
    security(("bearer" = [])), responses((status = 200, body = MemberView), (status = 403, body = Problem), (status = 404, body = Problem)))]
async fn member_handler(
    State(ctx): State<AppState>,
    OrgAccess(access): OrgAccess,
    Path(p): Path<MemberPath>,
) -> Result<Json<MemberView>> {
    let permit = access.permit::<ReadMembers>()?;
    Ok(Json(manage::member_view(&ctx, &permit, &user_param(&p)?).await?))
}

/// One pending invitation.
#[utoipa::path(get, path = "/v1/orgs/{org_id}/invitations/{email}", tag = "members", params(InvitePath),
    security(("bearer" = [])), responses((status = 200, body = PendingView), (status = 403, body = Problem), (status = 404, body = Problem)))]
async fn invitation_handler(
    State(ctx): State<AppState>,
    OrgAccess(access): OrgAccess,
    Path(p): Path<InvitePath>,
) -> Result<Json<PendingView>> {
    let permit = access.permit::<ReadMembers>()?;
    Ok(Json(manage::invitation_view(&ctx, &permit, &Email::parse(&p.email, "email")?).await?))
}

/// Leave the organization (any member but the owner). Their seat stays paid and free.
#[utoipa::path(post, path = "/v1/orgs/{org_id}/leave", tag = "members", params(("org_id" = String, Path)),
    security(("bearer" = [])), responses((status = 204), (status = 403, body = Problem), (status = 409, body = Problem)))]
async fn leave_handler(State(ctx): State<AppState>, OrgAccess(access): OrgAccess) -> Result<StatusCode> {
    manage::leave(&ctx, &access).await?;
    Ok(StatusCode::NO_CONTENT)
}
