//! Finding one's company and joining it; join requests; creating a user directly; proving a
//! mobile number by SMS.

use crate::api::doc::Routes;
use crate::api::doc::routes;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::ToSchema;

use crate::access::ManageMembers;
use crate::api::AppState;
use crate::api::extract::{Auth, ClientAddr, JsonBody, OrgAccess, PageParams, QueryParams};
use crate::api::problem::Problem;
use crate::domain::{Email, OrgId, Password, PersonName, Phone, Roles, UserId, Username};
use crate::error::{Error, Result};
use crate::service::members::people::{self, CodeSent, CreatedUser, NewUser, NewUserLogin};
use crate::service::orgs::directory::{self, FoundPage, JoinAnswer, JoinRequestPage};

pub fn routes() -> Routes {
    Routes::new()
        .routes(routes!(find_handler))
        .routes(routes!(join_handler))
        .routes(routes!(requests_handler))
        .routes(routes!(approve_handler))
        .routes(routes!(deny_handler))
}

pub fn create_user() -> Routes {
    Routes::new().routes(routes!(create_user_handler))
}

pub fn mobile() -> Routes {
    Routes::new().routes(routes!(send_code_handler)).routes(routes!(verify_code_handler))
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

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateUserRequest {
    first_name: String,
    last_name: String,
    /// The address they log in with; or give `username` (with the organization's login domain).
    email: Option<String>,
    username: Option<String>,
    /// Optional (required with `username`); otherwise they set one through the emailed link.
    password: Option<String>,
    /// E.164.
    mobile: Option<String>,
    /// Default `["agent"]`.
    roles: Option<Vec<String>>,
}

/// Add a user: an address on a verified company domain (or a username) becomes a member at once,
/// taking a seat; any other address is invited. The answer does not tell whether the address
/// already had a login.
#[utoipa::path(post, path = "/v1/orgs/{org_id}/users", tag = "members", params(("org_id" = String, Path)),
    request_body = CreateUserRequest, security(("bearer" = [])),
    responses((status = 201, body = CreatedUser), (status = 403, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
async fn create_user_handler(
    State(ctx): State<AppState>,
    OrgAccess(access): OrgAccess,
    JsonBody(req): JsonBody<CreateUserRequest>,
) -> Result<(StatusCode, Json<CreatedUser>)> {
    let permit = access.permit::<ManageMembers>()?;
    let login = match (&req.email, &req.username) {
        (Some(e), None) => NewUserLogin::Email(Email::parse(e, "email")?),
        (None, Some(u)) => NewUserLogin::Username(Username::parse(u, "username")?),
        _ => return Err(Error::validation("invalid_field", "email", "give either email or username")),
    };
    let roles = req.roles.unwrap_or_else(|| vec!["agent".into()]);
    let roles = Roles::parse(&roles, "roles")?;
    if roles.contains(crate::domain::Role::Owner) {
        return Err(Error::validation("invalid_role", "roles", "ownership is transferred, not given"));
    }
    let input = NewUser {
        first_name: PersonName::parse(&req.first_name, "first_name")?,
        last_name: PersonName::parse(&req.last_name, "last_name")?,
        login,
        password: req.password.as_deref().map(|p| Password::parse_new(p, "password")).transpose()?,
        mobile: req.mobile.as_deref().map(|m| Phone::parse(m, "mobile")).transpose()?,
        roles,
    };
    Ok((StatusCode::CREATED, Json(people::create_user(&ctx, &permit, input).await?)))
}

/// Send a code by SMS to your profile's mobile number (five an hour).
#[utoipa::path(post, path = "/v1/me/mobile/verification", tag = "profile", security(("bearer" = [])),
    responses((status = 202, body = CodeSent), (status = 422, description = "no mobile number", body = Problem), (status = 429, body = Problem)))]
async fn send_code_handler(State(ctx): State<AppState>, Auth(auth): Auth) -> Result<(StatusCode, Json<CodeSent>)> {
    Ok((StatusCode::ACCEPTED, Json(people::send_mobile_code(&ctx, &auth).await?)))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MobileCodeRequest {
    #[schema(max_length = 12)]
    code: String,
}

/// Prove your mobile number with the code it received.
#[utoipa::path(post, path = "/v1/me/mobile/verify", tag = "profile", request_body = MobileCodeRequest, security(("bearer" = [])),
    responses((status = 204), (status = 401, description = "wrong, expired or used-up code", body = Problem)))]
async fn verify_code_handler(
    State(ctx): State<AppState>,
    Auth(auth): Auth,
    JsonBody(req): JsonBody<MobileCodeRequest>,
) -> Result<StatusCode> {
    people::verify_mobile_code(&ctx, &auth, &req.code).await?;
    Ok(StatusCode::NO_CONTENT)
}
