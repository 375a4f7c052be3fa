//! Invitations, members and seats.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::access::{Manage, ManageMembers, ReadMembers, Scope, TransferOwnership};
use crate::api::AppState;
use crate::api::doc::{Routes, routes};
use crate::api::extract::{JsonBody, MaybeAuth, OrgAccess, QueryParams};
use crate::api::problem::Problem;
use crate::domain::{Language, Password, PersonName, Roles, UserId};
use crate::error::Result;
use crate::service::members::invitations::{self, Accepted, InviteEntry, InviteReport, NewMember};
use crate::service::members::manage::{
    self, MemberChange, MemberPage, MemberView, PendingPage, SeatChoice, SeatFigures, SeatQuote,
};
use crate::service::members::shared_accounts::{self, Links};
use crate::store::{Cursor, MemberStatus, SharedLinkRecord};

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InviteRequest {
    /// Up to 100 addresses, each with its roles.
    invitations: Vec<InviteEntry>,
    /// 1 to 30; 7 when absent.
    expires_in_days: Option<i64>,
}

pub fn invite() -> Routes {
    routes!(invite_handler)
}

/// Invite one or many people by email. Each address gets its own outcome.
#[utoipa::path(post, path = "/v1/orgs/{org_id}/invitations", tag = "members", params(("org_id" = String, Path)),
    request_body = InviteRequest, security(("bearer" = [])),
    responses((status = 200, body = InviteReport), (status = 403, body = Problem), (status = 422, body = Problem)))]
async fn invite_handler(
    State(ctx): State<AppState>,
    OrgAccess(access): OrgAccess,
    JsonBody(req): JsonBody<InviteRequest>,
) -> Result<axum::response::Response> {
    let permit = access.permit::<ManageMembers>()?;
    let report = invitations::invite(&ctx, &permit, &req.invitations, req.expires_in_days).await?;
    // Some addresses met a busy engine: sending those again will likely work.
    let busy = report.results.iter().any(|r| r.is_busy());
    let mut resp = Json(report).into_response();
    if busy {
        resp.headers_mut().insert(axum::http::header::RETRY_AFTER, axum::http::HeaderValue::from_static("1"));
    }
    Ok(resp)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AcceptRequest {
    token: String,
    /// For a person without a login.
    first_name: Option<String>,
    last_name: Option<String>,
    password: Option<String>,
    language: Option<String>,
}

pub fn accept() -> Routes {
    routes!(accept_handler)
}

/// Accept an invitation: signed in with the invited address, or as a new person choosing a name and password.
#[utoipa::path(post, path = "/v1/invitations/accept", tag = "members", request_body = AcceptRequest,
    responses((status = 201, body = Accepted), (status = 400, description = "invalid, used, revoked or expired token", body = Problem),
              (status = 403, description = "signed in as another address", body = Problem),
              (status = 409, description = "already a member, or the address has a login: sign in first", body = Problem)))]
async fn accept_handler(
    State(ctx): State<AppState>,
    MaybeAuth(auth): MaybeAuth,
    JsonBody(req): JsonBody<AcceptRequest>,
) -> Result<(StatusCode, Json<Accepted>)> {
    let new = match (&auth, &req.password) {
        (None, Some(pw)) => Some(NewMember {
            first_name: PersonName::parse(req.first_name.as_deref().unwrap_or_default(), "first_name")?,
            last_name: PersonName::parse(req.last_name.as_deref().unwrap_or_default(), "last_name")?,
            password: Password::parse_new(pw, "password")?,
            language: req.language.as_deref().map(|l| Language::parse(l, "language")).transpose()?,
        }),
        _ => None,
    };
    let accepted = invitations::accept(&ctx, &req.token, auth.as_ref(), new).await?;
    Ok((StatusCode::CREATED, Json(accepted)))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    cursor: Option<String>,
    limit: Option<i32>,
    /// Part of a name or address.
    q: Option<String>,
}

impl ListParams {
    fn cursor(&self) -> Result<Option<Cursor>> {
        self.cursor.as_deref().map(|c| Cursor::parse(c, "cursor")).transpose()
    }
    fn limit(&self) -> i32 {
        self.limit.unwrap_or(50).clamp(1, 200)
    }
}

pub fn manage() -> Routes {
    routes!(
        members_handler,
        pending_handler,
        edit_invitation_handler,
        revoke_handler,
        resend_handler,
        edit_member_handler,
        delete_member_handler,
        deactivate_handler,
        reactivate_handler,
        sign_out_handler,
        reset_password_handler,
        transfer_handler,
        seats_handler,
        quote_handler,
        purchase_handler,
        remove_seats_handler,
        shared_handler,
        link_handler,
        links_handler,
        unlink_handler,
        reset_2fa_handler
    )
}

/// Active members, searchable by name or address.
#[utoipa::path(get, path = "/v1/orgs/{org_id}/members", tag = "members", params(("org_id" = String, Path), ListParams),
    security(("bearer" = [])), responses((status = 200, body = MemberPage), (status = 403, body = Problem)))]
async fn members_handler(
    State(ctx): State<AppState>,
    OrgAccess(access): OrgAccess,
    QueryParams(q): QueryParams<ListParams>,
) -> Result<Json<MemberPage>> {
    let permit = access.permit::<ReadMembers>()?;
    Ok(Json(manage::members(&ctx, &permit, q.q.as_deref(), q.limit(), q.cursor()?.as_ref()).await?))
}

/// Pending invitations, with who invited, when sent, when they expire.
#[utoipa::path(get, path = "/v1/orgs/{org_id}/invitations", tag = "members", params(("org_id" = String, Path), ListParams),
    security(("bearer" = [])), responses((status = 200, body = PendingPage), (status = 403, body = Problem)))]
async fn pending_handler(
    State(ctx): State<AppState>,
    OrgAccess(access): OrgAccess,
    QueryParams(q): QueryParams<ListParams>,
) -> Result<Json<PendingPage>> {
    let permit = access.permit::<ReadMembers>()?;
    Ok(Json(manage::pending(&ctx, &permit, q.q.as_deref(), q.limit(), q.cursor()?.as_ref()).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EditInvitationRequest {
    roles: Vec<String>,
    scope: Option<Scope>,
    manage: Option<Manage>,
}

/// Change a pending invitation's roles.
#[utoipa::path(patch, path = "/v1/orgs/{org_id}/invitations/{email}", tag = "members",
    params(InvitePath), request_body = EditInvitationRequest, security(("bearer" = [])),
    responses((status = 204), (status = 404, body = Problem)))]
async fn edit_invitation_handler(
    State(ctx): State<AppState>,
    OrgAccess(access): OrgAccess,
    Path(p): Path<InvitePath>,
    JsonBody(req): JsonBody<EditInvitationRequest>,
) -> Result<StatusCode> {
    let permit = access.permit::<ManageMembers>()?;
    let roles = Roles::parse(&req.roles, "roles")?;
    invitations::edit(&ctx, &permit, &p.email, roles, req.scope, req.manage).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Revoke a pending invitation; its seat is free again.
#[utoipa::path(delete, path = "/v1/orgs/{org_id}/invitations/{email}", tag = "members",
    params(InvitePath), security(("bearer" = [])),
    responses((status = 204), (status = 404, body = Problem)))]
async fn revoke_handler(
    State(ctx): State<AppState>,
    OrgAccess(access): OrgAccess,
    Path(p): Path<InvitePath>,
) -> Result<StatusCode> {
    let permit = access.permit::<ManageMembers>()?;
    invitations::revoke(&ctx, &permit, &p.email).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Send a pending invitation again with a new link; the old link stops working.
#[utoipa::path(post, path = "/v1/orgs/{org_id}/invitations/{email}/resend", tag = "members",
    params(InvitePath), security(("bearer" = [])),
    responses((status = 202), (status = 404, body = Problem)))]
async fn resend_handler(
    State(ctx): State<AppState>,
    OrgAccess(access): OrgAccess,
    Path(p): Path<InvitePath>,
) -> Result<StatusCode> {
    let permit = access.permit::<ManageMembers>()?;
    invitations::resend(&ctx, &permit, &p.email, None).await?;
    Ok(StatusCode::ACCEPTED)
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
pub struct InvitePath {
    #[allow(dead_code)]
    org_id: String,
    pub(in crate::api::routes) email: String,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
pub struct MemberPath {
    #[allow(dead_code)]
    org_id: String,
    user_id: String,
}

pub(in crate::api::routes) fn user_param(p: &MemberPath) -> Result<UserId> {
    UserId::parse(&p.user_id, "user_id")
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EditMemberRequest {
    roles: Option<Vec<String>>,
    scope: Option<Scope>,
    manage: Option<Manage>,
}

/// Change a member's roles (promote, demote), reach down the tree, or change rights below.
#[utoipa::path(patch, path = "/v1/orgs/{org_id}/members/{user_id}", tag = "members",
    params(MemberPath), request_body = EditMemberRequest, security(("bearer" = [])),
    responses((status = 200, body = MemberView), (status = 409, body = Problem)))]
async fn edit_member_handler(
    State(ctx): State<AppState>,
    OrgAccess(access): OrgAccess,
    Path(p): Path<MemberPath>,
    JsonBody(req): JsonBody<EditMemberRequest>,
) -> Result<Json<MemberView>> {
    let permit = access.permit::<ManageMembers>()?;
    let change = MemberChange {
        roles: req.roles.as_deref().map(|r| Roles::parse(r, "roles")).transpose()?,
        scope: req.scope,
        manage: req.manage,
    };
    Ok(Json(manage::edit(&ctx, &permit, &user_param(&p)?, change).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeleteMemberRequest {
    /// Who takes over the member's conversations, contacts and inboxes.
    reassign_to: String,
    seat: SeatChoice,
}

/// Delete a member, reassigning what they owned; keep or remove their seat.
#[utoipa::path(delete, path = "/v1/orgs/{org_id}/members/{user_id}", tag = "members",
    params(MemberPath), request_body = DeleteMemberRequest, security(("bearer" = [])),
    responses((status = 204), (status = 409, body = Problem)))]
async fn delete_member_handler(
    State(ctx): State<AppState>,
    OrgAccess(access): OrgAccess,
    Path(p): Path<MemberPath>,
    JsonBody(req): JsonBody<DeleteMemberRequest>,
) -> Result<StatusCode> {
    let permit = access.permit::<ManageMembers>()?;
    let heir = UserId::parse(&req.reassign_to, "reassign_to")?;
    manage::delete(&ctx, &permit, &user_param(&p)?, &heir, req.seat).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Deactivate a member: they can no longer enter this organization; their sessions in it end.
#[utoipa::path(post, path = "/v1/orgs/{org_id}/members/{user_id}/deactivate", tag = "members",
    params(MemberPath), security(("bearer" = [])), responses((status = 200, body = MemberView)))]
async fn deactivate_handler(
    State(ctx): State<AppState>,
    OrgAccess(access): OrgAccess,
    Path(p): Path<MemberPath>,
) -> Result<Json<MemberView>> {
    let permit = access.permit::<ManageMembers>()?;
    Ok(Json(manage::set_status(&ctx, &permit, &user_param(&p)?, MemberStatus::Deactivated).await?))
}

/// Reactivate a member.
#[utoipa::path(post, path = "/v1/orgs/{org_id}/members/{user_id}/reactivate", tag = "members",
    params(MemberPath), security(("bearer" = [])), responses((status = 200, body = MemberView)))]
async fn reactivate_handler(
    State(ctx): State<AppState>,
    OrgAccess(access): OrgAccess,
    Path(p): Path<MemberPath>,
) -> Result<Json<MemberView>> {
    let permit = access.permit::<ManageMembers>()?;
    Ok(Json(manage::set_status(&ctx, &permit, &user_param(&p)?, MemberStatus::Active).await?))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SignedOut {
    sessions_ended: usize,
}

/// Sign a member out of every client working in this organization.
#[utoipa::path(post, path = "/v1/orgs/{org_id}/members/{user_id}/sign-out", tag = "members",
    params(MemberPath), security(("bearer" = [])), responses((status = 200, body = SignedOut)))]
async fn sign_out_handler(
    State(ctx): State<AppState>,
    OrgAccess(access): OrgAccess,
    Path(p): Path<MemberPath>,
) -> Result<Json<SignedOut>> {
    let permit = access.permit::<ManageMembers>()?;
    Ok(Json(SignedOut { sessions_ended: manage::sign_out(&ctx, &permit, &user_param(&p)?).await? }))
}

/// Email a member a password-reset link.
#[utoipa::path(post, path = "/v1/orgs/{org_id}/members/{user_id}/reset-password", tag = "members",
    params(MemberPath), security(("bearer" = [])), responses((status = 202)))]
async fn reset_password_handler(
    State(ctx): State<AppState>,
    OrgAccess(access): OrgAccess,
    Path(p): Path<MemberPath>,
) -> Result<StatusCode> {
    let permit = access.permit::<ManageMembers>()?;
    manage::reset_password(&ctx, &permit, &user_param(&p)?).await?;
    Ok(StatusCode::ACCEPTED)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TransferRequest {
    user_id: String,
}

/// Transfer ownership to another active member; the previous owner stays an admin.
#[utoipa::path(post, path = "/v1/orgs/{org_id}/transfer-ownership", tag = "members", params(("org_id" = String, Path)),
    request_body = TransferRequest, security(("bearer" = [])), responses((status = 204), (status = 422, body = Problem)))]
async fn transfer_handler(
    State(ctx): State<AppState>,
    OrgAccess(access): OrgAccess,
    JsonBody(req): JsonBody<TransferRequest>,
) -> Result<StatusCode> {
    let permit = access.permit::<TransferOwnership>()?;
    manage::transfer_ownership(&ctx, &permit, &UserId::parse(&req.user_id, "user_id")?).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Seats: purchased, used, pending, free.
#[utoipa::path(get, path = "/v1/orgs/{org_id}/seats", tag = "members", params(("org_id" = String, Path)),
    security(("bearer" = [])), responses((status = 200, body = SeatFigures)))]
async fn seats_handler(State(ctx): State<AppState>, OrgAccess(access): OrgAccess) -> Result<Json<SeatFigures>> {
    let permit = access.permit::<ReadMembers>()?;
    Ok(Json(manage::seats(&ctx, &permit).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SeatCount {
    count: u32,
}

/// The price of more seats, shown before buying.
#[utoipa::path(post, path = "/v1/orgs/{org_id}/seats/quote", tag = "members", params(("org_id" = String, Path)),
    request_body = SeatCount, security(("bearer" = [])), responses((status = 200, body = SeatQuote)))]
async fn quote_handler(
    State(ctx): State<AppState>,
    OrgAccess(access): OrgAccess,
    JsonBody(req): JsonBody<SeatCount>,
) -> Result<Json<SeatQuote>> {
    let permit = access.permit::<ManageMembers>()?;
    Ok(Json(manage::quote(&ctx, &permit.org, req.count)?))
}

/// Buy seats (recorded as a billing event for the billing system to charge).
#[utoipa::path(post, path = "/v1/orgs/{org_id}/seats/purchase", tag = "members", params(("org_id" = String, Path)),
    request_body = SeatCount, security(("bearer" = [])), responses((status = 200, body = SeatQuote)))]
async fn purchase_handler(
    State(ctx): State<AppState>,
    OrgAccess(access): OrgAccess,
    JsonBody(req): JsonBody<SeatCount>,
) -> Result<Json<SeatQuote>> {
    let permit = access.permit::<ManageMembers>()?;
    Ok(Json(manage::buy_seats(&ctx, &permit, req.count).await?))
}

/// Remove unassigned seats.
#[utoipa::path(post, path = "/v1/orgs/{org_id}/seats/remove", tag = "members", params(("org_id" = String, Path)),
    request_body = SeatCount, security(("bearer" = [])), responses((status = 200, body = SeatFigures), (status = 409, body = Problem)))]
async fn remove_seats_handler(
    State(ctx): State<AppState>,
    OrgAccess(access): OrgAccess,
    JsonBody(req): JsonBody<SeatCount>,
) -> Result<Json<SeatFigures>> {
    let permit = access.permit::<ManageMembers>()?;
    Ok(Json(manage::remove_seats(&ctx, &permit, req.count).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SharedFlag {
    shared: bool,
}

/// Mark a member as a shared account (linked users may act as it), or back to personal.
#[utoipa::path(put, path = "/v1/orgs/{org_id}/members/{user_id}/shared", tag = "members", params(MemberPath),
    request_body = SharedFlag, security(("bearer" = [])), responses((status = 204), (status = 409, body = Problem)))]
async fn shared_handler(
    State(ctx): State<AppState>,
    OrgAccess(access): OrgAccess,
    Path(p): Path<MemberPath>,
    JsonBody(req): JsonBody<SharedFlag>,
) -> Result<StatusCode> {
    let permit = access.permit::<ManageMembers>()?;
    shared_accounts::set_shared(&ctx, &permit, &user_param(&p)?, req.shared).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LinkRequest {
    user_id: String,
}

/// Link a person to a shared account.
#[utoipa::path(post, path = "/v1/orgs/{org_id}/members/{user_id}/links", tag = "members", params(MemberPath),
    request_body = LinkRequest, security(("bearer" = [])), responses((status = 201, body = SharedLinkRecord), (status = 422, body = Problem)))]
async fn link_handler(
    State(ctx): State<AppState>,
    OrgAccess(access): OrgAccess,
    Path(p): Path<MemberPath>,
    JsonBody(req): JsonBody<LinkRequest>,
) -> Result<(StatusCode, Json<SharedLinkRecord>)> {
    let permit = access.permit::<ManageMembers>()?;
    let person = UserId::parse(&req.user_id, "user_id")?;
    Ok((StatusCode::CREATED, Json(shared_accounts::link(&ctx, &permit, &user_param(&p)?, &person).await?)))
}

/// The people linked to a shared account.
#[utoipa::path(get, path = "/v1/orgs/{org_id}/members/{user_id}/links", tag = "members", params(MemberPath),
    security(("bearer" = [])), responses((status = 200, body = Links)))]
async fn links_handler(
    State(ctx): State<AppState>,
    OrgAccess(access): OrgAccess,
    Path(p): Path<MemberPath>,
) -> Result<Json<Links>> {
    let permit = access.permit::<ManageMembers>()?;
    Ok(Json(shared_accounts::links(&ctx, &permit, &user_param(&p)?).await?))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
pub struct LinkPath {
    #[allow(dead_code)]
    org_id: String,
    user_id: String,
    linked_id: String,
}

/// Unlink a person from a shared account; their sessions acting as it are refused at once.
#[utoipa::path(delete, path = "/v1/orgs/{org_id}/members/{user_id}/links/{linked_id}", tag = "members", params(LinkPath),
    security(("bearer" = [])), responses((status = 204), (status = 404, body = Problem)))]
async fn unlink_handler(
    State(ctx): State<AppState>,
    OrgAccess(access): OrgAccess,
    Path(p): Path<LinkPath>,
) -> Result<StatusCode> {
    let permit = access.permit::<ManageMembers>()?;
    let shared_id = UserId::parse(&p.user_id, "user_id")?;
    shared_accounts::unlink(&ctx, &permit, &shared_id, &UserId::parse(&p.linked_id, "linked_id")?).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Reset a member's two-factor authentication (a lost phone); their sessions end.
#[utoipa::path(post, path = "/v1/orgs/{org_id}/members/{user_id}/reset-2fa", tag = "members", params(MemberPath),
    security(("bearer" = [])), responses((status = 204), (status = 404, body = Problem)))]
async fn reset_2fa_handler(
    State(ctx): State<AppState>,
    OrgAccess(access): OrgAccess,
    Path(p): Path<MemberPath>,
) -> Result<StatusCode> {
    let permit = access.permit::<ManageMembers>()?;
    crate::service::identity::two_factor::reset_for_member(&ctx, &permit, &user_param(&p)?).await?;
    Ok(StatusCode::NO_CONTENT)
}
