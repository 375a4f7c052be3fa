//! Notifications: a person's feed in an organization (unread count, pages, marking read),
//! their preference page, the messaging service's ingestion route, and one-click unsubscribe.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::access::ReadOrg;
use crate::api::AppState;
use crate::api::doc::{Routes, routes};
use crate::api::extract::{JsonBody, OrgAccess, PageParams, QueryParams, ServiceCaller};
use crate::api::problem::Problem;
use crate::domain::notification::EventInput;
use crate::domain::{DigestTime, EmailType};
use crate::error::{Error, Result};
use crate::service::notify::notification_prefs::{
    self, NotificationPage, PreferenceChange, Preferences, UnsubscribeView,
};
use crate::service::notify::notifications::{self, Ingested};

pub fn feed() -> Routes {
    routes!(list_handler, unread_handler, read_handler, read_all_handler, get_prefs_handler, put_prefs_handler)
}

pub fn events() -> Routes {
    routes!(event_handler)
}

pub fn unsubscribe() -> Routes {
    routes!(unsubscribe_preview_handler, unsubscribe_handler)
}

/// The organization's notifications for the caller, newest first.
#[utoipa::path(get, path = "/v1/orgs/{org_id}/notifications", tag = "notifications",
    params(("org_id" = String, Path), PageParams), security(("bearer" = [])),
    responses((status = 200, body = NotificationPage), (status = 403, body = Problem), (status = 422, body = Problem)))]
async fn list_handler(
    State(ctx): State<AppState>,
    OrgAccess(access): OrgAccess,
    QueryParams(q): QueryParams<PageParams>,
) -> Result<Json<NotificationPage>> {
    let permit = access.permit::<ReadOrg>()?;
    Ok(Json(notification_prefs::list(&ctx, &permit, q.limit(), q.cursor()?.as_ref()).await?))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UnreadCount {
    unread: i64,
}

/// How many of the caller's notifications here are unread (one read).
#[utoipa::path(get, path = "/v1/orgs/{org_id}/notifications/unread-count", tag = "notifications",
    params(("org_id" = String, Path)), security(("bearer" = [])),
    responses((status = 200, body = UnreadCount), (status = 403, body = Problem)))]
async fn unread_handler(State(ctx): State<AppState>, OrgAccess(access): OrgAccess) -> Result<Json<UnreadCount>> {
    let permit = access.permit::<ReadOrg>()?;
    Ok(Json(UnreadCount { unread: notification_prefs::unread(&ctx, &permit).await? }))
}

/// Mark one notification read; answers the unread count after.
#[utoipa::path(post, path = "/v1/orgs/{org_id}/notifications/{notification_id}/read", tag = "notifications",
    params(("org_id" = String, Path), ("notification_id" = String, Path)), security(("bearer" = [])),
    responses((status = 200, body = UnreadCount), (status = 403, body = Problem), (status = 404, body = Problem)))]
async fn read_handler(
    State(ctx): State<AppState>,
    OrgAccess(access): OrgAccess,
    Path(path): Path<(String, String)>,
) -> Result<Json<UnreadCount>> {
    let permit = access.permit::<ReadOrg>()?;
    Ok(Json(UnreadCount { unread: notification_prefs::mark_read(&ctx, &permit, &path.1).await? }))
}

/// Mark every notification here read.
#[utoipa::path(post, path = "/v1/orgs/{org_id}/notifications/read-all", tag = "notifications",
    params(("org_id" = String, Path)), security(("bearer" = [])),
    responses((status = 204), (status = 403, body = Problem)))]
async fn read_all_handler(State(ctx): State<AppState>, OrgAccess(access): OrgAccess) -> Result<StatusCode> {
    let permit = access.permit::<ReadOrg>()?;
    notification_prefs::mark_all_read(&ctx, &permit).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The caller's preference page here: each type they may receive, whether they do, and when
/// digests come.
#[utoipa::path(get, path = "/v1/orgs/{org_id}/notification-preferences", tag = "notifications",
    params(("org_id" = String, Path)), security(("bearer" = [])),
    responses((status = 200, body = Preferences), (status = 403, body = Problem)))]
async fn get_prefs_handler(State(ctx): State<AppState>, OrgAccess(access): OrgAccess) -> Result<Json<Preferences>> {
    let permit = access.permit::<ReadOrg>()?;
    Ok(Json(notification_prefs::preferences(&ctx, &permit).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PreferencesRequest {
    /// Types to stop receiving (not those the organization locked).
    #[serde(default)]
    off: Vec<String>,
    /// Types to receive again.
    #[serde(default)]
    on: Vec<String>,
    /// Local hour (0–23) of daily and weekly digests.
    #[schema(minimum = 0, maximum = 23)]
    digest_hour: Option<i64>,
    /// `monday` … `sunday`: the day of weekly digests.
    digest_weekday: Option<String>,
}

fn types(raw: &[String], field: &str) -> Result<Vec<EmailType>> {
    raw.iter()
        .enumerate()
        .map(|(i, t)| {
            let f = format!("{field}[{i}]");
            let ty = EmailType::parse(t, &f)?;
            if ty.can_switch_off() {
                Ok(ty)
            } else {
                Err(Error::validation("email_type_required", f, "this email type always goes out"))
            }
        })
        .collect()
}

/// Change the caller's choices here; answers the page after.
#[utoipa::path(put, path = "/v1/orgs/{org_id}/notification-preferences", tag = "notifications",
    params(("org_id" = String, Path)), request_body = PreferencesRequest, security(("bearer" = [])),
    responses((status = 200, body = Preferences), (status = 403, body = Problem), (status = 422, body = Problem)))]
async fn put_prefs_handler(
    State(ctx): State<AppState>,
    OrgAccess(access): OrgAccess,
    JsonBody(req): JsonBody<PreferencesRequest>,
) -> Result<Json<Preferences>> {
    let off = types(&req.off, "off")?;
    let on = types(&req.on, "on")?;
    let time = match (req.digest_hour, req.digest_weekday.as_deref()) {
        (None, None) => None,
        (h, w) => {
            let hour = u32::try_from(h.unwrap_or(i64::from(DigestTime::DEFAULT.hour)))
                .map_err(|_| Error::validation("invalid_digest_time", "digest_hour", "the hour must be 0 to 23"))?;
            let field = if w.is_some() { "digest_weekday" } else { "digest_hour" };
            Some(DigestTime::parse(hour, w.unwrap_or(DigestTime::DEFAULT.weekday_name()), field)?)
        }
    };
    let permit = access.permit::<ReadOrg>()?;
    Ok(Json(notification_prefs::set_preferences(&ctx, &permit, PreferenceChange { off, on, time }).await?))
}

/// For the messaging service only (IAM-authorized in AWS): record one event. A redelivery
/// with the same idempotency key records nothing twice.
#[utoipa::path(post, path = "/internal/v1/notification-events", tag = "internal",
    params(("x-switchboard-service-token" = Option<String>, Header, description = "embedded default only")),
    request_body = EventInput,
    responses((status = 202, body = Ingested), (status = 403, body = Problem), (status = 422, body = Problem)))]
async fn event_handler(
    State(ctx): State<AppState>,
    _caller: ServiceCaller,
    JsonBody(input): JsonBody<EventInput>,
) -> Result<(StatusCode, Json<Ingested>)> {
    let event = input.parse()?;
    Ok((StatusCode::ACCEPTED, Json(notifications::ingest(&ctx, &event).await?)))
}

/// What an unsubscribe link would switch off. Changes nothing: link scanners fetch GET links.
#[utoipa::path(get, path = "/v1/unsubscribe/{token}", tag = "notifications", params(("token" = String, Path)),
    responses((status = 200, body = UnsubscribeView), (status = 400, body = Problem)))]
async fn unsubscribe_preview_handler(
    State(ctx): State<AppState>,
    Path(token): Path<String>,
) -> Result<Json<UnsubscribeView>> {
    Ok(Json(notification_prefs::unsubscribe_preview(&ctx, &token).await?))
}

/// The body of a one-click unsubscribe (RFC 8058, section 3.1).
#[derive(Debug, ToSchema)]
pub struct OneClick {
    #[schema(rename = "List-Unsubscribe", pattern = "^One-Click$")]
    #[allow(dead_code)]
    list_unsubscribe: String,
}

/// RFC 8058 asks for exactly `List-Unsubscribe=One-Click`, form-encoded: anything else is a
/// request of another kind, refused before the link is looked at.
fn one_click(headers: &HeaderMap, body: &str) -> Result<()> {
    let one = crate::api::extract::form_fields(headers, body)?
        .iter()
        .any(|(k, v)| k == "List-Unsubscribe" && v == "One-Click");
    if one { Ok(()) } else { Err(Error::validation("one_click_required", "List-Unsubscribe", "must be One-Click")) }
}

/// One-click unsubscribe (RFC 8058): a mail client POSTs `List-Unsubscribe=One-Click` here.
#[utoipa::path(post, path = "/v1/unsubscribe/{token}", tag = "notifications", params(("token" = String, Path)),
    request_body(content = OneClick, content_type = "application/x-www-form-urlencoded"),
    responses((status = 200, body = UnsubscribeView), (status = 400, body = Problem), (status = 415, body = Problem),
              (status = 422, body = Problem)))]
async fn unsubscribe_handler(
    State(ctx): State<AppState>,
    Path(token): Path<String>,
    headers: HeaderMap,
    body: String,
) -> Result<Json<UnsubscribeView>> {
    one_click(&headers, &body)?;
    Ok(Json(notification_prefs::unsubscribe(&ctx, &token).await?))
}
