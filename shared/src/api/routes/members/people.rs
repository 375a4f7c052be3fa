//! People an admin adds directly (`POST /v1/orgs/{id}/users`), and proving one's own mobile
//! number (`/v1/me/mobile/…`): the routes of `service::members::people`.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::ToSchema;

use crate::access::ManageMembers;
use crate::api::AppState;
use crate::api::doc::{Routes, routes};
use crate::api::extract::{Auth, JsonBody, OrgAccess};
use crate::api::problem::Problem;
use crate::domain::{Email, Password, PersonName, Phone, Roles, Username};
use crate::error::{Error, Result};
use crate::service::members::people::{self, CodeSent, CreatedUser, NewUser, NewUserLogin};

pub fn create_user() -> Routes {
    routes!(create_user_handler)
}

pub fn mobile() -> Routes {
    routes!(send_code_handler, verify_code_handler)
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
