//! Personal settings: profile, password, sessions.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::api::AppState;
use crate::api::doc::{Routes, routes};
use crate::api::extract::{Auth, JsonBody};
use crate::api::problem::Problem;
use crate::domain::{Language, Password, PersonName, Phone, SessionId, Timezone};
use crate::error::{Error, Result};
use crate::service::identity::profile::{self, Sessions};
use crate::store::ProfileChange;

pub fn routes() -> Routes {
    routes!(update_handler, password_handler, sessions_handler, end_session_handler)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProfileRequest {
    first_name: Option<String>,
    last_name: Option<String>,
    /// Empty to clear.
    job_title: Option<String>,
    /// E.164; empty to clear.
    mobile: Option<String>,
    language: Option<String>,
    /// An IANA timezone name (when digests come); empty to use the organization's.
    timezone: Option<String>,
}

fn optional_text(raw: Option<&str>, field: &str, max: usize) -> Result<Option<Option<String>>> {
    match raw.map(str::trim) {
        None => Ok(None),
        Some("") => Ok(Some(None)),
        Some(t) if t.chars().count() > max || t.chars().any(char::is_control) => {
            Err(Error::validation("invalid_field", field, format!("must be at most {max} characters of text")))
        }
        Some(t) => Ok(Some(Some(t.to_owned()))),
    }
}

/// Change one's name, job title, mobile number, language or timezone.
#[utoipa::path(patch, path = "/v1/me", tag = "me", request_body = ProfileRequest, security(("bearer" = [])),
    responses((status = 200, body = crate::service::identity::accounts::UserView), (status = 422, body = Problem)))]
async fn update_handler(
    State(ctx): State<AppState>,
    Auth(auth): Auth,
    JsonBody(req): JsonBody<ProfileRequest>,
) -> Result<Json<crate::service::identity::accounts::UserView>> {
    let change = ProfileChange {
        first_name: req
            .first_name
            .as_deref()
            .map(|n| PersonName::parse(n, "first_name").map(|n| n.as_str().to_owned()))
            .transpose()?,
        last_name: req
            .last_name
            .as_deref()
            .map(|n| PersonName::parse(n, "last_name").map(|n| n.as_str().to_owned()))
            .transpose()?,
        job_title: optional_text(req.job_title.as_deref(), "job_title", 100)?,
        mobile: match req.mobile.as_deref().map(str::trim) {
            None => None,
            Some("") => Some(None),
            Some(m) => Some(Some(Phone::parse(m, "mobile")?)),
        },
        language: req.language.as_deref().map(|l| Language::parse(l, "language")).transpose()?,
        timezone: match req.timezone.as_deref().map(str::trim) {
            None => None,
            Some("") => Some(None),
            Some(t) => Some(Some(Timezone::parse(t, "timezone")?)),
        },
    };
    Ok(Json(profile::update(&ctx, &auth, &change).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordRequest {
    current_password: String,
    new_password: String,
    /// End every other session (this one stays).
    #[serde(default)]
    end_other_sessions: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PasswordChanged {
    sessions_ended: usize,
}

/// Change one's password (the current one is required).
#[utoipa::path(post, path = "/v1/me/password", tag = "me", request_body = PasswordRequest, security(("bearer" = [])),
    responses((status = 200, body = PasswordChanged), (status = 422, body = Problem)))]
async fn password_handler(
    State(ctx): State<AppState>,
    Auth(auth): Auth,
    JsonBody(req): JsonBody<PasswordRequest>,
) -> Result<Json<PasswordChanged>> {
    let current = Password::parse_attempt(&req.current_password, "current_password")?;
    let new = Password::parse_new(&req.new_password, "new_password")?;
    let sessions_ended = profile::change_password(&ctx, &auth, &current, &new, req.end_other_sessions).await?;
    Ok(Json(PasswordChanged { sessions_ended }))
}

/// One's sessions: client type, organization, created, last used.
#[utoipa::path(get, path = "/v1/me/sessions", tag = "me", security(("bearer" = [])), responses((status = 200, body = Sessions)))]
async fn sessions_handler(State(ctx): State<AppState>, Auth(auth): Auth) -> Result<Json<Sessions>> {
    Ok(Json(profile::sessions(&ctx, &auth).await?))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
pub struct SessionPath {
    session_id: String,
}

/// End one of one's sessions (on any client).
#[utoipa::path(delete, path = "/v1/me/sessions/{session_id}", tag = "me", params(SessionPath), security(("bearer" = [])),
    responses((status = 204), (status = 404, body = Problem)))]
async fn end_session_handler(
    State(ctx): State<AppState>,
    Auth(auth): Auth,
    Path(p): Path<SessionPath>,
) -> Result<StatusCode> {
    profile::end_session(&ctx, &auth, &SessionId::parse(&p.session_id, "session_id")?).await?;
    Ok(StatusCode::NO_CONTENT)
}
