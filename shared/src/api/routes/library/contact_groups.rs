//! Contact groups: an organization's own and those shared with it from above, whom a group is
//! shared with, and the contacts in it (personal data: read with the contacts permission).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use crate::access::{ManageContacts, ReadContacts, ReadOrg, UpdateOrg};
use crate::api::AppState;
use crate::api::doc::{Routes, routes};
use crate::api::extract::{JsonBody, OrgAccess, PageParams, QueryParams};
use crate::api::problem::Problem;
use crate::api::routes::orgs::settings::{if_match_tagged, json_with_etag_status};
use crate::domain::contact::Contact;
use crate::domain::contact_group::GroupName;
use crate::domain::{GroupId, OrgId, Phone};
use crate::error::{Error, Result};
use crate::service::library::contact_groups::{self, ContactPage, ContactView, GroupPage, GroupView};
use crate::store::ShareTo;

pub fn groups() -> Routes {
    routes!(list_handler, create_handler, get_handler, patch_handler, delete_handler, share_handler)
}

pub fn contacts() -> Routes {
    routes!(contacts_handler, add_handler, put_contact_handler, delete_contact_handler)
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct GroupPath {
    #[allow(dead_code)]
    org_id: String,
    group_id: String,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct ContactPath {
    #[allow(dead_code)]
    org_id: String,
    group_id: String,
    /// The contact's number, E.164 (`+` may be sent as `%2B`).
    phone: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GroupRequest {
    /// Following the organization's naming convention when it has one (`part / part / …`).
    #[schema(max_length = 120)]
    name: String,
}

/// `mode` `all` (every organization beneath, including later ones), `chosen` with `org_ids`
/// (those sub-accounts and what lies beneath them), or `none` (revoke every share).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ShareRequest {
    mode: String,
    #[schema(max_items = 50)]
    org_ids: Option<Vec<String>>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewContact {
    #[schema(max_length = 100)]
    name: String,
    /// E.164, e.g. `+64211234567`.
    phone: String,
    email: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddContacts {
    /// 1 to 99 contacts, added together or not at all.
    #[schema(min_items = 1, max_items = 99)]
    contacts: Vec<NewContact>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ContactChange {
    #[schema(max_length = 100)]
    name: String,
    email: Option<String>,
}

fn group_id(raw: &str) -> Result<GroupId> {
    GroupId::parse(raw, "group_id")
}

fn tagged(status: StatusCode, g: GroupView) -> Response {
    let etag = g.etag.clone();
    json_with_etag_status(status, g, &etag)
}

/// Groups this organization can use: those shared with it from above (read-only here) first,
/// then its own.
#[utoipa::path(get, path = "/v1/orgs/{org_id}/contact-groups", tag = "contacts",
    params(("org_id" = String, Path), PageParams), security(("bearer" = [])),
    responses((status = 200, body = GroupPage), (status = 403, body = Problem), (status = 422, body = Problem)))]
async fn list_handler(
    State(ctx): State<AppState>,
    OrgAccess(access): OrgAccess,
    QueryParams(q): QueryParams<PageParams>,
) -> Result<Json<GroupPage>> {
    let permit = access.permit::<ReadOrg>()?;
    Ok(Json(contact_groups::list(&ctx, &permit, q.limit(), q.cursor()?.as_ref()).await?))
}

#[utoipa::path(post, path = "/v1/orgs/{org_id}/contact-groups", tag = "contacts",
    params(("org_id" = String, Path)), request_body = GroupRequest, security(("bearer" = [])),
    responses((status = 201, body = GroupView, headers(("ETag" = String))), (status = 403, body = Problem), (status = 422, body = Problem)))]
async fn create_handler(
    State(ctx): State<AppState>,
    OrgAccess(access): OrgAccess,
    JsonBody(req): JsonBody<GroupRequest>,
) -> Result<Response> {
    let permit = access.permit::<ManageContacts>()?;
    let name = GroupName::parse(&req.name, "name", contact_groups::naming(&permit).as_ref())?;
    Ok(tagged(StatusCode::CREATED, contact_groups::create(&ctx, &permit, name).await?))
}

#[utoipa::path(get, path = "/v1/orgs/{org_id}/contact-groups/{group_id}", tag = "contacts", params(GroupPath),
    security(("bearer" = [])),
    responses((status = 200, body = GroupView, headers(("ETag" = String))), (status = 403, body = Problem), (status = 404, body = Problem)))]
async fn get_handler(
    State(ctx): State<AppState>,
    OrgAccess(access): OrgAccess,
    Path(p): Path<GroupPath>,
) -> Result<Response> {
    let permit = access.permit::<ReadOrg>()?;
    Ok(tagged(StatusCode::OK, contact_groups::get(&ctx, &permit, &group_id(&p.group_id)?).await?))
}

/// Rename an own group (a shared one is renamed where it is kept).
#[utoipa::path(patch, path = "/v1/orgs/{org_id}/contact-groups/{group_id}", tag = "contacts",
    params(GroupPath, ("If-Match" = String, Header, description = "the group's ETag")),
    request_body = GroupRequest, security(("bearer" = [])),
    responses((status = 200, body = GroupView, headers(("ETag" = String))), (status = 403, body = Problem), (status = 404, body = Problem),
              (status = 412, body = Problem), (status = 422, body = Problem), (status = 428, body = Problem)))]
async fn patch_handler(
    State(ctx): State<AppState>,
    OrgAccess(access): OrgAccess,
    Path(p): Path<GroupPath>,
    headers: HeaderMap,
    JsonBody(req): JsonBody<GroupRequest>,
) -> Result<Response> {
    let permit = access.permit::<ManageContacts>()?;
    let id = group_id(&p.group_id)?;
    let name = GroupName::parse(&req.name, "name", contact_groups::naming(&permit).as_ref())?;
    let version = if_match_tagged(&headers, 'g')?;
    Ok(tagged(StatusCode::OK, contact_groups::rename(&ctx, &permit, &id, name, version).await?))
}

/// Delete an own group with its contacts; every share of it ends at once.
#[utoipa::path(delete, path = "/v1/orgs/{org_id}/contact-groups/{group_id}", tag = "contacts",
    params(GroupPath, ("If-Match" = String, Header, description = "the group's ETag")), security(("bearer" = [])),
    responses((status = 204), (status = 403, body = Problem), (status = 404, body = Problem), (status = 412, body = Problem), (status = 428, body = Problem)))]
async fn delete_handler(
    State(ctx): State<AppState>,
    OrgAccess(access): OrgAccess,
    Path(p): Path<GroupPath>,
    headers: HeaderMap,
) -> Result<StatusCode> {
    let permit = access.permit::<ManageContacts>()?;
    let id = group_id(&p.group_id)?;
    let version = if_match_tagged(&headers, 'g')?;
    contact_groups::delete(&ctx, &permit, &id, version).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Whom an own group is shared with, replacing the previous choice. Revoking (`none`, or a
/// sub-account left out) takes effect on the sub-account's next request.
#[utoipa::path(put, path = "/v1/orgs/{org_id}/contact-groups/{group_id}/sharing", tag = "contacts", params(GroupPath),
    request_body = ShareRequest, security(("bearer" = [])),
    responses((status = 200, body = GroupView, headers(("ETag" = String))), (status = 403, body = Problem), (status = 404, body = Problem),
              (status = 409, body = Problem), (status = 422, body = Problem)))]
async fn share_handler(
    State(ctx): State<AppState>,
    OrgAccess(access): OrgAccess,
    Path(p): Path<GroupPath>,
    JsonBody(req): JsonBody<ShareRequest>,
) -> Result<Response> {
    let permit = access.permit::<UpdateOrg>()?;
    let id = group_id(&p.group_id)?;
    let to = match (req.mode.as_str(), req.org_ids) {
        ("none", None) => None,
        ("all", None) => Some(ShareTo::All),
        ("chosen", Some(ids)) => Some(ShareTo::Chosen(
            ids.iter().enumerate().map(|(i, o)| OrgId::parse(o, &format!("org_ids[{i}]"))).collect::<Result<_>>()?,
        )),
        ("chosen", None) => return Err(Error::validation("invalid_share", "org_ids", "is required with mode chosen")),
        ("none" | "all", Some(_)) => {
            return Err(Error::validation("invalid_share", "org_ids", "is only sent with mode chosen"));
        }
        _ => return Err(Error::validation("invalid_share", "mode", "must be all, chosen or none")),
    };
    Ok(tagged(StatusCode::OK, contact_groups::share(&ctx, &permit, &id, to).await?))
}

/// A page of a group's contacts, by number (shared groups are read where they are kept).
#[utoipa::path(get, path = "/v1/orgs/{org_id}/contact-groups/{group_id}/contacts", tag = "contacts",
    params(GroupPath, PageParams), security(("bearer" = [])),
    responses((status = 200, body = ContactPage), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
async fn contacts_handler(
    State(ctx): State<AppState>,
    OrgAccess(access): OrgAccess,
    Path(p): Path<GroupPath>,
    QueryParams(q): QueryParams<PageParams>,
) -> Result<Json<ContactPage>> {
    let permit = access.permit::<ReadContacts>()?;
    let id = group_id(&p.group_id)?;
    Ok(Json(contact_groups::contacts(&ctx, &permit, &id, q.limit(), q.cursor()?.as_ref()).await?))
}

/// Add contacts to an own group, all or none: a number already in the group is refused.
#[utoipa::path(post, path = "/v1/orgs/{org_id}/contact-groups/{group_id}/contacts", tag = "contacts",
    params(GroupPath), request_body = AddContacts, security(("bearer" = [])),
    responses((status = 201, body = Vec<ContactView>), (status = 403, body = Problem), (status = 404, body = Problem),
              (status = 409, body = Problem), (status = 422, body = Problem)))]
async fn add_handler(
    State(ctx): State<AppState>,
    OrgAccess(access): OrgAccess,
    Path(p): Path<GroupPath>,
    JsonBody(req): JsonBody<AddContacts>,
) -> Result<Response> {
    let permit = access.permit::<ManageContacts>()?;
    let id = group_id(&p.group_id)?;
    let contacts = req
        .contacts
        .iter()
        .enumerate()
        .map(|(i, c)| Contact::parse(&c.name, &c.phone, c.email.as_deref(), &format!("contacts[{i}]")))
        .collect::<Result<Vec<_>>>()?;
    let added = contact_groups::add_contacts(&ctx, &permit, &id, contacts).await?;
    Ok((StatusCode::CREATED, Json(added)).into_response())
}

/// Change a contact's name and address.
#[utoipa::path(put, path = "/v1/orgs/{org_id}/contact-groups/{group_id}/contacts/{phone}", tag = "contacts",
    params(ContactPath), request_body = ContactChange, security(("bearer" = [])),
    responses((status = 200, body = ContactView), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
async fn put_contact_handler(
    State(ctx): State<AppState>,
    OrgAccess(access): OrgAccess,
    Path(p): Path<ContactPath>,
    JsonBody(req): JsonBody<ContactChange>,
) -> Result<Json<ContactView>> {
    let permit = access.permit::<ManageContacts>()?;
    let id = group_id(&p.group_id)?;
    let contact = Contact::parse(&req.name, &p.phone, req.email.as_deref(), "")?;
    Ok(Json(contact_groups::update_contact(&ctx, &permit, &id, contact).await?))
}

#[utoipa::path(delete, path = "/v1/orgs/{org_id}/contact-groups/{group_id}/contacts/{phone}", tag = "contacts",
    params(ContactPath), security(("bearer" = [])),
    responses((status = 204), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
async fn delete_contact_handler(
    State(ctx): State<AppState>,
    OrgAccess(access): OrgAccess,
    Path(p): Path<ContactPath>,
) -> Result<StatusCode> {
    let permit = access.permit::<ManageContacts>()?;
    let id = group_id(&p.group_id)?;
    let phone = Phone::parse(&p.phone, "phone")?;
    contact_groups::delete_contact(&ctx, &permit, &id, &phone).await?;
    Ok(StatusCode::NO_CONTENT)
}
