//! The Theme tab: the colors every member's client applies, presets to start from, previews
//! of a draft, saving with a contrast check, and removing the theme.

use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use serde::Deserialize;
use utoipa::ToSchema;

use crate::access::{ReadOrg, UpdateOrg};
use crate::api::AppState;
use crate::api::doc::{Routes, routes};
use crate::api::extract::{Auth, JsonBody, OrgAccess};
use crate::api::problem::Problem;
use crate::api::routes::orgs::settings::{if_match, json_with_etag, revalidated};
use crate::domain::theme::{Color, ComponentColors, PRESETS, Preset, Theme};
use crate::error::{Error, Result};
use crate::service::orgs::theme::{self, ThemeDoc};

pub fn routes() -> Routes {
    routes!(get_handler, put_handler, delete_handler, preview_handler, presets_handler)
}

/// One component's colors, `#RRGGBB`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ColorsInput {
    #[schema(pattern = "^#[0-9A-Fa-f]{6}$")]
    background: String,
    #[schema(pattern = "^#[0-9A-Fa-f]{6}$")]
    hover: String,
    #[schema(pattern = "^#[0-9A-Fa-f]{6}$")]
    select: String,
    /// The text drawn on it; black or white (whichever reads better) when left out.
    #[schema(pattern = "^#[0-9A-Fa-f]{6}$")]
    text: Option<String>,
}

/// Every component's colors.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ThemeInput {
    header: ColorsInput,
    sidebar: ColorsInput,
    menu_item: ColorsInput,
    button: ColorsInput,
    /// Link colors are drawn on the page (white): background is the link's color.
    link: ColorsInput,
}

/// A theme to save or preview: its colors, or a preset by id.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ThemeRequest {
    theme: Option<ThemeInput>,
    /// `harbour`, `evergreen` or `ember`.
    preset: Option<String>,
    /// Save even though some text is under 4.5:1 on its background.
    #[serde(default)]
    accept_low_contrast: bool,
}

fn colors(c: ColorsInput, field: &str) -> Result<ComponentColors> {
    Ok(ComponentColors {
        background: Color::parse(&c.background, &format!("theme.{field}.background"))?,
        hover: Color::parse(&c.hover, &format!("theme.{field}.hover"))?,
        select: Color::parse(&c.select, &format!("theme.{field}.select"))?,
        text: c.text.map(|t| Color::parse(&t, &format!("theme.{field}.text"))).transpose()?,
    })
}

impl ThemeRequest {
    fn parse(self) -> Result<(Theme, bool)> {
        let theme =
            match (self.theme, self.preset) {
                (Some(t), None) => Theme {
                    header: colors(t.header, "header")?,
                    sidebar: colors(t.sidebar, "sidebar")?,
                    menu_item: colors(t.menu_item, "menu_item")?,
                    button: colors(t.button, "button")?,
                    link: colors(t.link, "link")?,
                },
                (None, Some(id)) => PRESETS.iter().find(|p| p.id == id).map(|p| p.theme).ok_or_else(|| {
                    Error::validation("unknown_preset", "preset", "must be harbour, evergreen or ember")
                })?,
                _ => return Err(Error::validation("theme_or_preset", "theme", "send either theme or preset")),
            };
        Ok((theme, self.accept_low_contrast))
    }
}

/// The theme in force here: its own, the nearest ancestor's, or the default; with the CSS
/// custom properties a client applies. Revalidate with `If-None-Match`.
#[utoipa::path(get, path = "/v1/orgs/{org_id}/theme", tag = "theme",
    params(("org_id" = String, Path), ("If-None-Match" = Option<String>, Header, description = "an ETag of this document")),
    security(("bearer" = [])),
    responses((status = 200, body = ThemeDoc, headers(("ETag" = String))), (status = 304, description = "unchanged"),
              (status = 403, body = Problem)))]
async fn get_handler(OrgAccess(access): OrgAccess, headers: HeaderMap) -> Result<Response> {
    let permit = access.permit::<ReadOrg>()?;
    revalidated(&headers, "c", &theme::read(&permit))
}

fn answer(doc: ThemeDoc) -> Response {
    let etag = doc.settings_etag.clone();
    json_with_etag(doc, &etag)
}

/// Save the organization's own theme (a preset or colors). Text under 4.5:1 on any
/// background is refused (`low_contrast`, naming the pairs) unless `accept_low_contrast`.
#[utoipa::path(put, path = "/v1/orgs/{org_id}/theme", tag = "theme",
    params(("org_id" = String, Path), ("If-Match" = String, Header, description = "the settings' ETag")),
    request_body = ThemeRequest, security(("bearer" = [])),
    responses((status = 200, body = ThemeDoc, headers(("ETag" = String))), (status = 403, description = "not allowed, or locked above", body = Problem),
              (status = 412, body = Problem), (status = 422, body = Problem), (status = 428, body = Problem)))]
async fn put_handler(
    State(ctx): State<AppState>,
    OrgAccess(access): OrgAccess,
    headers: HeaderMap,
    JsonBody(req): JsonBody<ThemeRequest>,
) -> Result<Response> {
    let permit = access.permit::<UpdateOrg>()?;
    let (t, accept) = req.parse()?;
    let version = if_match(&headers)?;
    Ok(answer(theme::save(&ctx, &permit, version, t, accept).await?))
}

/// Remove the theme: the organization shows its nearest ancestor's, or the default.
#[utoipa::path(delete, path = "/v1/orgs/{org_id}/theme", tag = "theme",
    params(("org_id" = String, Path), ("If-Match" = String, Header, description = "the settings' ETag")),
    security(("bearer" = [])),
    responses((status = 200, body = ThemeDoc, headers(("ETag" = String))), (status = 403, body = Problem),
              (status = 412, body = Problem), (status = 428, body = Problem)))]
async fn delete_handler(
    State(ctx): State<AppState>,
    OrgAccess(access): OrgAccess,
    headers: HeaderMap,
) -> Result<Response> {
    let permit = access.permit::<UpdateOrg>()?;
    let version = if_match(&headers)?;
    Ok(answer(theme::remove(&ctx, &permit, version).await?))
}

/// What a draft theme looks like: resolved colors, CSS custom properties and contrast;
/// nothing is saved.
#[utoipa::path(post, path = "/v1/orgs/{org_id}/theme/preview", tag = "theme", params(("org_id" = String, Path)),
    request_body = ThemeRequest, security(("bearer" = [])),
    responses((status = 200, body = ThemeDoc), (status = 403, body = Problem), (status = 422, body = Problem)))]
async fn preview_handler(
    OrgAccess(access): OrgAccess,
    JsonBody(req): JsonBody<ThemeRequest>,
) -> Result<Json<ThemeDoc>> {
    let permit = access.permit::<UpdateOrg>()?;
    let (t, _) = req.parse()?;
    Ok(Json(theme::preview(&permit, t)))
}

/// The three themes to start from.
#[utoipa::path(get, path = "/v1/theme-presets", tag = "theme", security(("bearer" = [])),
    responses((status = 200, body = Vec<Preset>), (status = 401, body = Problem)))]
async fn presets_handler(Auth(_signed_in): Auth) -> Json<&'static [Preset]> {
    Json(&PRESETS)
}
