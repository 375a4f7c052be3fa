//! The Email settings tab: which types go out and how often, the header logo, and the
//! templates per type and language (read, save, preview, reset to default).

use std::collections::{BTreeMap, BTreeSet};

use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use crate::access::UpdateOrg;
use crate::api::AppState;
use crate::api::doc::{Routes, routes};
use crate::api::extract::{JsonBody, OrgAccess, QueryParams};
use crate::api::problem::Problem;
use crate::api::routes::members::imports::RawBody;
use crate::api::routes::orgs::settings::{if_match, if_match_tagged, json_with_etag};
use crate::domain::logo::{LOGO_MAX_BYTES, Logo};
use crate::domain::template_text::{Part, TemplateParts, TemplateText};
use crate::domain::{EmailType, Interval, Language, TypeSetting};
use crate::error::{Error, Result};
use crate::service::notify::email_settings::{self, EmailSettingsDoc};
use crate::service::notify::email_templates::{self, EmailPreview, TemplateDoc};
use crate::service::orgs::settings::of_access;

pub fn routes() -> Routes {
    routes!(
        get_handler,
        patch_handler,
        get_logo_handler,
        put_logo_handler,
        delete_logo_handler,
        get_template_handler,
        put_template_handler,
        reset_template_handler,
        preview_handler
    )
}

/// One type's change: a field left out keeps its current value.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TypeInput {
    enabled: Option<bool>,
    /// `immediate`, `hourly`, `daily` or `weekly` (the last three for activity emails only).
    #[schema(value_type = Option<Interval>)]
    interval: Option<String>,
}

/// A merge patch of the email settings.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EmailSettingsPatch {
    /// Per type key: the new choice, or `null` to inherit again.
    #[serde(default)]
    #[schema(value_type = BTreeMap<String, TypeInput>)]
    types: BTreeMap<String, Option<TypeInput>>,
    /// Replaces the types this organization fixes for every organization beneath it.
    #[schema(value_type = Option<Vec<EmailType>>)]
    locks: Option<Vec<String>>,
}

type Changes = (BTreeMap<EmailType, Option<TypeSetting>>, Option<BTreeSet<EmailType>>);

impl EmailSettingsPatch {
    fn parse(self, access: &crate::access::Access) -> Result<Changes> {
        let mut changes = BTreeMap::new();
        for (key, input) in self.types {
            let field = format!("types.{key}");
            let ty = EmailType::parse(&key, &field)?;
            let Some(input) = input else {
                changes.insert(ty, None);
                continue;
            };
            let current = email_settings::resolve_type(&access.org, &access.ancestors, ty);
            let enabled = input.enabled.unwrap_or(current.enabled);
            if !enabled && !ty.can_switch_off() {
                return Err(Error::validation(
                    "email_type_required",
                    format!("{field}.enabled"),
                    "validation and registration emails cannot be switched off",
                ));
            }
            let interval = match input.interval {
                Some(raw) => Interval::parse(&raw, &format!("{field}.interval"))?,
                None => current.interval,
            };
            if interval != Interval::Immediate && !ty.takes_interval() {
                return Err(Error::validation(
                    "email_type_immediate",
                    format!("{field}.interval"),
                    "only activity emails can be gathered into digests; this one goes out at once",
                ));
            }
            changes.insert(ty, Some(TypeSetting { enabled, interval }));
        }
        let locks = self
            .locks
            .map(|l| l.iter().enumerate().map(|(i, k)| EmailType::parse(k, &format!("locks[{i}]"))).collect())
            .transpose()?;
        Ok((changes, locks))
    }
}

fn with_etag(doc: EmailSettingsDoc) -> Response {
    let etag = doc.etag.clone();
    json_with_etag(doc, &etag)
}

/// Every email type with what applies here, the logo, and the locks.
#[utoipa::path(get, path = "/v1/orgs/{org_id}/email-settings", tag = "email settings", params(("org_id" = String, Path)),
    security(("bearer" = [])),
    responses((status = 200, body = EmailSettingsDoc, headers(("ETag" = String))), (status = 403, body = Problem)))]
async fn get_handler(OrgAccess(access): OrgAccess) -> Result<Response> {
    let permit = access.permit::<UpdateOrg>()?;
    Ok(with_etag(email_settings::read(&permit)))
}

/// Switch types on or off and set how often they go out (a merge patch; `If-Match` required).
#[utoipa::path(patch, path = "/v1/orgs/{org_id}/email-settings", tag = "email settings",
    params(("org_id" = String, Path), ("If-Match" = String, Header, description = "the settings' ETag")),
    request_body = EmailSettingsPatch, security(("bearer" = [])),
    responses((status = 200, body = EmailSettingsDoc, headers(("ETag" = String))), (status = 403, description = "not allowed, or locked above", body = Problem),
              (status = 412, body = Problem), (status = 428, body = Problem), (status = 422, body = Problem)))]
async fn patch_handler(
    State(ctx): State<AppState>,
    OrgAccess(access): OrgAccess,
    headers: HeaderMap,
    JsonBody(req): JsonBody<EmailSettingsPatch>,
) -> Result<Response> {
    let permit = access.permit::<UpdateOrg>()?;
    let (changes, locks) = req.parse(&access)?;
    let version = if_match(&headers)?;
    Ok(with_etag(email_settings::change(&ctx, &permit, version, changes, locks).await?))
}

/// The logo the organization's emails show (its own or inherited).
#[utoipa::path(get, path = "/v1/orgs/{org_id}/email-settings/logo", tag = "email settings", params(("org_id" = String, Path)),
    security(("bearer" = [])),
    responses((status = 200, description = "the PNG or JPEG file", content((Vec<u8> = "image/png"), (Vec<u8> = "image/jpeg"))),
              (status = 403, body = Problem), (status = 404, description = "no logo: emails show the default header", body = Problem)))]
async fn get_logo_handler(State(ctx): State<AppState>, OrgAccess(access): OrgAccess) -> Result<Response> {
    let permit = access.permit::<UpdateOrg>()?;
    let (r, bytes) = email_settings::logo_file(&ctx, &permit).await?;
    let mut resp = bytes.into_response();
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(r.content_type.content_type()));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("private, max-age=300"));
    if let Ok(v) = HeaderValue::from_str(&format!("\"{}\"", r.key.rsplit('/').next().unwrap_or_default())) {
        h.insert(header::ETAG, v);
    }
    Ok(resp)
}

/// Upload the header logo: the file itself as the body, PNG or JPEG (recognised from its
/// bytes), at most 256 KiB and 1200×400 px.
#[utoipa::path(put, path = "/v1/orgs/{org_id}/email-settings/logo", tag = "email settings",
    params(("org_id" = String, Path), ("If-Match" = String, Header, description = "the settings' ETag")),
    request_body(content((Vec<u8> = "image/png"), (Vec<u8> = "image/jpeg"))), security(("bearer" = [])),
    responses((status = 200, body = EmailSettingsDoc, headers(("ETag" = String))), (status = 403, body = Problem),
              (status = 412, body = Problem), (status = 413, body = Problem), (status = 422, body = Problem), (status = 428, body = Problem)))]
async fn put_logo_handler(
    State(ctx): State<AppState>,
    OrgAccess(access): OrgAccess,
    headers: HeaderMap,
    RawBody(bytes): RawBody<LOGO_MAX_BYTES>,
) -> Result<Response> {
    let permit = access.permit::<UpdateOrg>()?;
    let declared = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok());
    let logo = Logo::parse(bytes.to_vec(), declared)?;
    let version = if_match(&headers)?;
    Ok(with_etag(email_settings::set_logo(&ctx, &permit, version, logo).await?))
}

/// Remove the organization's own logo: its emails show the inherited one, or the default.
#[utoipa::path(delete, path = "/v1/orgs/{org_id}/email-settings/logo", tag = "email settings",
    params(("org_id" = String, Path), ("If-Match" = String, Header, description = "the settings' ETag")),
    security(("bearer" = [])),
    responses((status = 200, body = EmailSettingsDoc, headers(("ETag" = String))), (status = 403, body = Problem),
              (status = 412, body = Problem), (status = 428, body = Problem)))]
async fn delete_logo_handler(
    State(ctx): State<AppState>,
    OrgAccess(access): OrgAccess,
    headers: HeaderMap,
) -> Result<Response> {
    let permit = access.permit::<UpdateOrg>()?;
    let version = if_match(&headers)?;
    Ok(with_etag(email_settings::remove_logo(&ctx, &permit, version).await?))
}

#[derive(Deserialize)]
struct TemplatePath {
    #[allow(dead_code)]
    org_id: String,
    email_type: String,
}

/// Which language's template; the organization's default language when left out.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LanguageQuery {
    /// `en`, `nl` or `de`.
    language: Option<String>,
}

fn language(access: &crate::access::Access, q: &LanguageQuery) -> Result<Language> {
    match &q.language {
        Some(l) => Language::parse(l, "language"),
        None => Ok(of_access(access).language()),
    }
}

/// The catalogue knows every type; another key names no resource.
fn email_type(raw: &str) -> Result<EmailType> {
    EmailType::parse(raw, "email_type").map_err(|_| Error::NotFound("email type"))
}

fn with_template_etag(doc: TemplateDoc) -> Response {
    let etag = doc.etag.clone();
    json_with_etag(doc, &etag)
}

/// A template as an organization writes it.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TemplateInput {
    /// One line, at most 300 characters.
    #[schema(max_length = 300)]
    subject: String,
    /// The heading in the email: one line, at most 300 characters.
    #[schema(max_length = 300)]
    title: String,
    /// Plain text, at most 10,000 characters; paragraphs are separated by a blank line and
    /// `[label](link)` makes a link (a button when it stands alone).
    #[schema(max_length = 10000)]
    body: String,
}

impl TemplateInput {
    fn parse(self, ty: EmailType) -> Result<TemplateParts> {
        Ok(TemplateParts {
            subject: TemplateText::parse(&self.subject, Part::Subject, ty, "subject")?,
            title: TemplateText::parse(&self.title, Part::Title, ty, "title")?,
            body: TemplateText::parse(&self.body, Part::Body, ty, "body")?,
        })
    }
}

/// The template in force for a type and language: the organization's own, an ancestor's, or
/// the default; with the variables it may use.
#[utoipa::path(get, path = "/v1/orgs/{org_id}/email-templates/{email_type}", tag = "email settings",
    params(("org_id" = String, Path), ("email_type" = EmailType, Path), LanguageQuery), security(("bearer" = [])),
    responses((status = 200, body = TemplateDoc, headers(("ETag" = String))), (status = 403, body = Problem), (status = 404, body = Problem),
              (status = 422, body = Problem)))]
async fn get_template_handler(
    State(ctx): State<AppState>,
    OrgAccess(access): OrgAccess,
    Path(path): Path<TemplatePath>,
    QueryParams(q): QueryParams<LanguageQuery>,
) -> Result<Response> {
    let permit = access.permit::<UpdateOrg>()?;
    let ty = email_type(&path.email_type)?;
    let lang = language(&access, &q)?;
    Ok(with_template_etag(email_templates::read(&ctx, &permit, ty, lang).await?))
}

/// Save the organization's template for a type and language. A template that does not parse,
/// or uses a variable the type does not offer, is refused with its line and column.
#[utoipa::path(put, path = "/v1/orgs/{org_id}/email-templates/{email_type}", tag = "email settings",
    params(("org_id" = String, Path), ("email_type" = EmailType, Path), LanguageQuery,
           ("If-Match" = String, Header, description = "the template's ETag")),
    request_body = TemplateInput, security(("bearer" = [])),
    responses((status = 200, body = TemplateDoc, headers(("ETag" = String))), (status = 403, body = Problem), (status = 404, body = Problem),
              (status = 412, body = Problem), (status = 413, description = "the body is over 64 KiB", body = Problem),
              (status = 422, description = "invalid template: `line` and `column` say where", body = Problem), (status = 428, body = Problem)))]
async fn put_template_handler(
    State(ctx): State<AppState>,
    OrgAccess(access): OrgAccess,
    Path(path): Path<TemplatePath>,
    QueryParams(q): QueryParams<LanguageQuery>,
    headers: HeaderMap,
    JsonBody(req): JsonBody<TemplateInput>,
) -> Result<Response> {
    let permit = access.permit::<UpdateOrg>()?;
    let ty = email_type(&path.email_type)?;
    let lang = language(&access, &q)?;
    let parts = req.parse(ty)?;
    let version = if_match_tagged(&headers, 't')?;
    Ok(with_template_etag(email_templates::write(&ctx, &permit, ty, lang, version, Some(parts)).await?))
}

/// Reset to default: remove the organization's template for a type and language.
#[utoipa::path(delete, path = "/v1/orgs/{org_id}/email-templates/{email_type}", tag = "email settings",
    params(("org_id" = String, Path), ("email_type" = EmailType, Path), LanguageQuery,
           ("If-Match" = String, Header, description = "the template's ETag")),
    security(("bearer" = [])),
    responses((status = 200, body = TemplateDoc, headers(("ETag" = String))), (status = 403, body = Problem), (status = 404, body = Problem),
              (status = 412, body = Problem), (status = 422, body = Problem), (status = 428, body = Problem)))]
async fn reset_template_handler(
    State(ctx): State<AppState>,
    OrgAccess(access): OrgAccess,
    Path(path): Path<TemplatePath>,
    QueryParams(q): QueryParams<LanguageQuery>,
    headers: HeaderMap,
) -> Result<Response> {
    let permit = access.permit::<UpdateOrg>()?;
    let ty = email_type(&path.email_type)?;
    let lang = language(&access, &q)?;
    let version = if_match_tagged(&headers, 't')?;
    Ok(with_template_etag(email_templates::write(&ctx, &permit, ty, lang, version, None).await?))
}

/// A draft to preview; parts left out are taken from the template in force.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PreviewInput {
    #[schema(max_length = 300)]
    subject: Option<String>,
    #[schema(max_length = 300)]
    title: Option<String>,
    #[schema(max_length = 10000)]
    body: Option<String>,
}

/// Render the template (or a draft) with the type's sample values, without sending anything:
/// subject, title, HTML and text.
#[utoipa::path(post, path = "/v1/orgs/{org_id}/email-templates/{email_type}/preview", tag = "email settings",
    params(("org_id" = String, Path), ("email_type" = EmailType, Path), LanguageQuery),
    request_body = PreviewInput, security(("bearer" = [])),
    responses((status = 200, body = EmailPreview), (status = 403, body = Problem), (status = 404, body = Problem),
              (status = 413, description = "the body is over 64 KiB", body = Problem),
              (status = 422, description = "invalid template: `line` and `column` say where", body = Problem)))]
async fn preview_handler(
    State(ctx): State<AppState>,
    OrgAccess(access): OrgAccess,
    Path(path): Path<TemplatePath>,
    QueryParams(q): QueryParams<LanguageQuery>,
    JsonBody(req): JsonBody<PreviewInput>,
) -> Result<axum::Json<EmailPreview>> {
    let permit = access.permit::<UpdateOrg>()?;
    let ty = email_type(&path.email_type)?;
    let lang = language(&access, &q)?;
    let draft = if req.subject.is_none() && req.title.is_none() && req.body.is_none() {
        None
    } else {
        let current = email_templates::read(&ctx, &permit, ty, lang).await?;
        let input = TemplateInput {
            subject: req.subject.unwrap_or(current.subject),
            title: req.title.unwrap_or(current.title),
            body: req.body.unwrap_or(current.body),
        };
        Some(input.parse(ty)?)
    };
    Ok(axum::Json(email_templates::preview(&ctx, &permit, ty, lang, draft).await?))
}
