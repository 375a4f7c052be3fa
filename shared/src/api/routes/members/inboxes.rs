//! Inboxes, their members and assignment lists.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::access::{ManageMembers, ReadMembers, ReadOrg};
use crate::api::AppState;
use crate::api::doc::{Routes, routes};
use crate::api::extract::{JsonBody, OrgAccess, PageParams, QueryParams};
use crate::api::problem::Problem;
use crate::domain::{InboxId, Phone, UserId};
use crate::error::Result;
use crate::service::members::inboxes::{self, InboxActivity};
use crate::store::{Assignments, InboxMemberRecord, InboxRecord};

pub fn routes() -> Routes {
    routes!(
        create_handler,
        list_handler,
        phone_handler,
        add_member_handler,
        inbox_members_handler,
        delete_handler,
        remove_member_handler,
        assignments_handler,
        activity_handler
    )
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
pub struct InboxPath {
    #[allow(dead_code)]
    org_id: String,
    inbox_id: String,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
pub struct InboxMemberPath {
    #[allow(dead_code)]
    org_id: String,
    inbox_id: String,
    user_id: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateInbox {
    name: String,
    /// E.164, e.g. +31201234567; can be chosen later.
    phone: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct InboxList {
    inboxes: Vec<InboxRecord>,
}

/// Create an inbox (a team phone line).
#[utoipa::path(post, path = "/v1/orgs/{org_id}/inboxes", tag = "inboxes", params(("org_id" = String, Path)),
    request_body = CreateInbox, security(("bearer" = [])), responses((status = 201, body = InboxRecord), (status = 422, body = Problem)))]
async fn create_handler(
    State(ctx): State<AppState>,
    OrgAccess(access): OrgAccess,
    JsonBody(req): JsonBody<CreateInbox>,
) -> Result<(StatusCode, Json<InboxRecord>)> {
    let permit = access.permit::<ManageMembers>()?;
    let phone = req.phone.as_deref().map(|p| Phone::parse(p, "phone")).transpose()?;
    Ok((StatusCode::CREATED, Json(inboxes::create(&ctx, &permit, &req.name, phone).await?)))
}

/// The organization's inboxes.
#[utoipa::path(get, path = "/v1/orgs/{org_id}/inboxes", tag = "inboxes", params(("org_id" = String, Path)),
    security(("bearer" = [])), responses((status = 200, body = InboxList)))]
async fn list_handler(State(ctx): State<AppState>, OrgAccess(access): OrgAccess) -> Result<Json<InboxList>> {
    let permit = access.permit::<ReadOrg>()?;
    Ok(Json(InboxList { inboxes: inboxes::list(&ctx, &permit).await? }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetPhone {
    phone: String,
}

/// Choose the inbox's phone number (its owner, or an admin).
#[utoipa::path(put, path = "/v1/orgs/{org_id}/inboxes/{inbox_id}/phone", tag = "inboxes", params(InboxPath),
    request_body = SetPhone, security(("bearer" = [])), responses((status = 200, body = InboxRecord)))]
async fn phone_handler(
    State(ctx): State<AppState>,
    OrgAccess(access): OrgAccess,
    Path(p): Path<InboxPath>,
    JsonBody(req): JsonBody<SetPhone>,
) -> Result<Json<InboxRecord>> {
    let id = InboxId::parse(&p.inbox_id, "inbox_id")?;
    Ok(Json(inboxes::set_phone(&ctx, &access, &id, &Phone::parse(&req.phone, "phone")?).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddMember {
    user_id: String,
}

/// Add a member to an inbox; they join conversation assignment and the ring group.
#[utoipa::path(post, path = "/v1/orgs/{org_id}/inboxes/{inbox_id}/members", tag = "inboxes", params(InboxPath),
    request_body = AddMember, security(("bearer" = [])), responses((status = 201, body = InboxMemberRecord)))]
async fn add_member_handler(
    State(ctx): State<AppState>,
    OrgAccess(access): OrgAccess,
    Path(p): Path<InboxPath>,
    JsonBody(req): JsonBody<AddMember>,
) -> Result<(StatusCode, Json<InboxMemberRecord>)> {
    let permit = access.permit::<ManageMembers>()?;
    let id = InboxId::parse(&p.inbox_id, "inbox_id")?;
    let user = UserId::parse(&req.user_id, "user_id")?;
    Ok((StatusCode::CREATED, Json(inboxes::add_member(&ctx, &permit, &id, &user).await?)))
}

/// Remove a member from an inbox (not from the organization); refused while they are on any assignment list.
#[utoipa::path(delete, path = "/v1/orgs/{org_id}/inboxes/{inbox_id}/members/{user_id}", tag = "inboxes", params(InboxMemberPath),
    security(("bearer" = [])), responses((status = 204), (status = 409, description = "still assigned; `assigned_in` lists where", body = Problem)))]
async fn remove_member_handler(
    State(ctx): State<AppState>,
    OrgAccess(access): OrgAccess,
    Path(p): Path<InboxMemberPath>,
) -> Result<StatusCode> {
    let permit = access.permit::<ManageMembers>()?;
    let id = InboxId::parse(&p.inbox_id, "inbox_id")?;
    inboxes::remove_member(&ctx, &permit, &id, &UserId::parse(&p.user_id, "user_id")?).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The four assignment lists, as a request (unknown fields refused like every other body).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssignmentsRequest {
    conversation_assignment: bool,
    ring_group: bool,
    ivr: bool,
    call_distribution: bool,
}

/// Put a member on or off the inbox's assignment lists.
#[utoipa::path(put, path = "/v1/orgs/{org_id}/inboxes/{inbox_id}/members/{user_id}/assignments", tag = "inboxes",
    params(InboxMemberPath), request_body = AssignmentsRequest, security(("bearer" = [])), responses((status = 200, body = InboxMemberRecord)))]
async fn assignments_handler(
    State(ctx): State<AppState>,
    OrgAccess(access): OrgAccess,
    Path(p): Path<InboxMemberPath>,
    JsonBody(req): JsonBody<AssignmentsRequest>,
) -> Result<Json<InboxMemberRecord>> {
    let permit = access.permit::<ManageMembers>()?;
    let id = InboxId::parse(&p.inbox_id, "inbox_id")?;
    let AssignmentsRequest { conversation_assignment, ring_group, ivr, call_distribution } = req;
    let lists = Assignments { conversation_assignment, ring_group, ivr, call_distribution };
    Ok(Json(inboxes::set_assignments(&ctx, &permit, &id, &UserId::parse(&p.user_id, "user_id")?, lists).await?))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct InboxMembers {
    members: Vec<InboxMemberRecord>,
}

/// The members of an inbox with their four assignment flags.
#[utoipa::path(get, path = "/v1/orgs/{org_id}/inboxes/{inbox_id}/members", tag = "inboxes", params(InboxPath),
    security(("bearer" = [])), responses((status = 200, body = InboxMembers), (status = 403, body = Problem), (status = 404, body = Problem)))]
async fn inbox_members_handler(
    State(ctx): State<AppState>,
    OrgAccess(access): OrgAccess,
    Path(p): Path<InboxPath>,
) -> Result<Json<InboxMembers>> {
    let permit = access.permit::<ReadMembers>()?;
    let id = InboxId::parse(&p.inbox_id, "inbox_id")?;
    Ok(Json(InboxMembers { members: inboxes::members(&ctx, &permit, &id).await? }))
}

/// Delete an inbox; its members leave it and the messaging service is told.
#[utoipa::path(delete, path = "/v1/orgs/{org_id}/inboxes/{inbox_id}", tag = "inboxes", params(InboxPath),
    security(("bearer" = [])), responses((status = 204), (status = 403, body = Problem), (status = 404, body = Problem)))]
async fn delete_handler(
    State(ctx): State<AppState>,
    OrgAccess(access): OrgAccess,
    Path(p): Path<InboxPath>,
) -> Result<StatusCode> {
    let permit = access.permit::<ManageMembers>()?;
    inboxes::delete(&ctx, &permit, &InboxId::parse(&p.inbox_id, "inbox_id")?).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// An inbox's activity: for its members only (admins add themselves first).
#[utoipa::path(get, path = "/v1/orgs/{org_id}/inboxes/{inbox_id}/activity", tag = "inboxes", params(InboxPath, PageParams),
    security(("bearer" = [])), responses((status = 200, body = InboxActivity), (status = 403, body = Problem)))]
async fn activity_handler(
    State(ctx): State<AppState>,
    OrgAccess(access): OrgAccess,
    Path(p): Path<InboxPath>,
    QueryParams(q): QueryParams<PageParams>,
) -> Result<Json<InboxActivity>> {
    let id = InboxId::parse(&p.inbox_id, "inbox_id")?;
    Ok(Json(inboxes::activity_feed(&ctx, &access, &id, q.limit(), q.cursor()?.as_ref()).await?))
}
