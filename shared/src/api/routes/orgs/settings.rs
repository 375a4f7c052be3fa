//! Company settings (Account and Advanced tabs), aliases, and the policy document clients read.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Deserializer};
use utoipa::ToSchema;

use crate::access::{ReadOrg, UpdateOrg};
use crate::api::AppState;
use crate::api::doc::{Routes, routes};
use crate::api::extract::{JsonBody, OrgAccess};
use crate::api::problem::Problem;
use crate::domain::settings::{
    Contact, DISCLAIMER_MAX, JoinMode, JoinRole, Locks, OrgAddress, PASSWORD_MIN_RANGE, SettingKey, SettingsChange,
    parse_text,
};
use crate::domain::{Alias, ClientType, Country, Email, Language, Phone, Timezone};
use crate::error::{Error, Result};
use crate::service::orgs::settings::{self, PolicyDoc, SettingsDoc};

pub fn routes() -> Routes {
    routes!(get_settings_handler, patch_settings_handler, aliases_handler, policy_handler)
}

/// Absent stays `None`; `null` becomes `Some(None)`: RFC 7396 merge-patch semantics.
pub(crate) fn present<'de, T: Deserialize<'de>, D: Deserializer<'de>>(
    d: D,
) -> std::result::Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddressInput {
    street: Option<String>,
    number: Option<String>,
    zip: Option<String>,
    city: Option<String>,
    /// ISO 3166-1 alpha-2, e.g. `NL`.
    country: Option<String>,
    /// E.164, e.g. `+31201234567`.
    phone: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ContactInput {
    first_name: Option<String>,
    last_name: Option<String>,
    job_title: Option<String>,
    email: Option<String>,
    phone: Option<String>,
}

/// A merge patch of the settings: a field left out stays as it is, `null` clears it (the
/// organization then inherits it), a value sets it.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SettingsPatch {
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<AddressInput>)]
    details: Option<Option<AddressInput>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<ContactInput>)]
    contact: Option<Option<ContactInput>>,
    /// Plain text, at most 2,000 characters.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, max_length = 2000)]
    disclaimer: Option<Option<String>>,
    /// `en`, `nl` or `de`.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    default_language: Option<Option<String>>,
    /// An IANA timezone name.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    default_timezone: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<JoinMode>)]
    join_mode: Option<Option<JoinMode>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<JoinRole>)]
    join_role: Option<Option<JoinRole>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<bool>)]
    coworkers_on_company_domains_only: Option<Option<bool>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<bool>)]
    two_factor_required: Option<Option<bool>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<i32>, minimum = 8, maximum = 64)]
    min_password_length: Option<Option<i64>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<Vec<ClientType>>)]
    disabled_clients: Option<Option<Vec<String>>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<bool>)]
    mobile_pin_required: Option<Option<bool>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<bool>)]
    export_conversations_pdf: Option<Option<bool>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<bool>)]
    group_chat_by_email: Option<Option<bool>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<bool>)]
    message_content_in_mobile_notifications: Option<Option<bool>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<bool>)]
    message_content_in_emails: Option<Option<bool>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<bool>)]
    like_messages: Option<Option<bool>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<bool>)]
    delete_own_messages: Option<Option<bool>>,
    /// The parts every contact group name has, e.g. `["Business unit", "Territory", "Workgroup"]`.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<Vec<String>>)]
    contact_group_naming: Option<Option<Vec<String>>>,
    /// Replaces the settings this organization fixes for every organization beneath it.
    #[schema(value_type = Option<Vec<SettingKey>>)]
    locks: Option<Vec<SettingKey>>,
}

fn opt_text(raw: Option<String>, field: &str, max: usize) -> Result<Option<String>> {
    raw.filter(|v| !v.trim().is_empty()).map(|v| parse_text(&v, field, max, false, "invalid_text")).transpose()
}

fn address(a: AddressInput) -> Result<OrgAddress> {
    Ok(OrgAddress {
        street: opt_text(a.street, "details.street", 100)?,
        number: opt_text(a.number, "details.number", 20)?,
        zip: opt_text(a.zip, "details.zip", 16)?,
        city: opt_text(a.city, "details.city", 100)?,
        country: a.country.map(|c| Country::parse(&c, "details.country")).transpose()?,
        phone: a.phone.map(|p| Phone::parse(&p, "details.phone")).transpose()?,
    })
}

fn contact(c: ContactInput) -> Result<Contact> {
    Ok(Contact {
        first_name: opt_text(c.first_name, "contact.first_name", 100)?,
        last_name: opt_text(c.last_name, "contact.last_name", 100)?,
        job_title: opt_text(c.job_title, "contact.job_title", 100)?,
        email: c.email.map(|e| Email::parse(&e, "contact.email")).transpose()?,
        phone: c.phone.map(|p| Phone::parse(&p, "contact.phone")).transpose()?,
    })
}

/// `patch` with each of `nested` that it sets to an object merged over the kept one, member
/// by member: a member set to `null` is removed, any other replaces; members not named stay.
fn merge_nested(mut patch: serde_json::Value, kept: &serde_json::Value, nested: &[&str]) -> serde_json::Value {
    use serde_json::Value;
    let Value::Object(fields) = &mut patch else { return patch };
    for name in nested {
        let Some(Value::Object(changes)) = fields.get(*name) else { continue };
        let mut merged = match kept.get(*name) {
            Some(Value::Object(k)) => k.clone(),
            _ => serde_json::Map::new(),
        };
        for (k, v) in changes {
            if v.is_null() {
                merged.remove(k);
            } else {
                merged.insert(k.clone(), v.clone());
            }
        }
        merged.retain(|_, v| !v.is_null());
        fields.insert((*name).to_owned(), Value::Object(merged));
    }
    patch
}

/// Parse a nested `Option<Option<raw>>` field with `f`.
fn each<R, T>(v: Option<Option<R>>, f: impl FnOnce(R) -> Result<T>) -> Result<Option<Option<T>>> {
    v.map(|inner| inner.map(f).transpose()).transpose()
}

impl SettingsPatch {
    fn parse(self) -> Result<(SettingsChange, Option<Locks>)> {
        let length = |n: i64| {
            u8::try_from(n).ok().filter(|n| PASSWORD_MIN_RANGE.contains(n)).ok_or_else(|| {
                Error::validation("invalid_password_length", "min_password_length", "must be from 8 to 64")
            })
        };
        let clients = |v: Vec<String>| {
            v.iter().enumerate().map(|(i, c)| ClientType::parse(c, &format!("disabled_clients[{i}]"))).collect()
        };
        let change = SettingsChange {
            details: each(self.details, address)?,
            contact: each(self.contact, contact)?,
            disclaimer: each(self.disclaimer, |d| {
                parse_text(&d, "disclaimer", DISCLAIMER_MAX, true, "invalid_disclaimer")
            })?,
            default_language: each(self.default_language, |l| Language::parse(&l, "default_language"))?,
            default_timezone: each(self.default_timezone, |t| Timezone::parse(&t, "default_timezone"))?,
            join_mode: self.join_mode,
            join_role: self.join_role,
            coworkers_on_company_domains_only: self.coworkers_on_company_domains_only,
            two_factor_required: self.two_factor_required,
            min_password_length: each(self.min_password_length, length)?,
            disabled_clients: each(self.disabled_clients, clients)?,
            mobile_pin_required: self.mobile_pin_required,
            export_conversations_pdf: self.export_conversations_pdf,
            group_chat_by_email: self.group_chat_by_email,
            message_content_in_mobile_notifications: self.message_content_in_mobile_notifications,
            message_content_in_emails: self.message_content_in_emails,
            like_messages: self.like_messages,
            delete_own_messages: self.delete_own_messages,
            email_logo: None,
            theme: None,
            alarm_service: None,
            contact_group_naming: each(self.contact_group_naming, |v| {
                crate::domain::contact_group::GroupNaming::parse(&v, "contact_group_naming")
            })?,
        };
        Ok((change, self.locks.map(|l| l.into_iter().collect())))
    }
}

/// The version named by `If-Match`: required for every change.
pub(crate) fn if_match(headers: &HeaderMap) -> Result<u64> {
    if_match_tagged(headers, 's')
}

/// The version named by `If-Match` for an ETag tagged `tag` (`"t<n>"` for templates).
pub(crate) fn if_match_tagged(headers: &HeaderMap, tag: char) -> Result<u64> {
    let v = headers.get(header::IF_MATCH).ok_or(Error::PreconditionRequired)?;
    settings::version_tagged(v.to_str().map_err(|_| Error::PreconditionFailed)?, tag)
}

/// A JSON answer with its `ETag`, revalidated on every use.
pub(crate) fn json_with_etag<T: serde::Serialize>(body: T, etag: &str) -> Response {
    json_with_etag_status(StatusCode::OK, body, etag)
}

/// As `json_with_etag`, with another status (201 for what a POST created).
pub(crate) fn json_with_etag_status<T: serde::Serialize>(status: StatusCode, body: T, etag: &str) -> Response {
    let mut resp = (status, Json(body)).into_response();
    if let Ok(e) = HeaderValue::from_str(etag) {
        resp.headers_mut().insert(header::ETAG, e);
    }
    resp.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("private, no-cache"));
    resp
}

fn with_etag(doc: SettingsDoc) -> Response {
    let etag = doc.etag.clone();
    json_with_etag(doc, &etag)
}

/// A document every member's client caches: its `ETag` names its content (`prefix` and a
/// hash), so a change anywhere up the tree shows; `If-None-Match` with it answers 304.
pub(crate) fn revalidated<T: serde::Serialize>(headers: &HeaderMap, prefix: &str, doc: &T) -> Result<Response> {
    let body = serde_json::to_vec(doc).map_err(|e| crate::error::Error::internal_from("serializing settings", e))?;
    let etag = format!("\"{prefix}{}\"", &crate::auth::secret::hash(&String::from_utf8_lossy(&body))[..22]);
    let matches = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim().trim_start_matches("W/") == etag || t.trim() == "*"));
    let mut resp = if matches {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        ([(header::CONTENT_TYPE, "application/json")], body).into_response()
    };
    if let Ok(v) = HeaderValue::from_str(&etag) {
        resp.headers_mut().insert(header::ETAG, v);
    }
    resp.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("private, no-cache"));
    Ok(resp)
}

/// The organization's own, inherited and effective settings, its locks and who locked what
/// above it (admins of it, and of ancestors that may change it).
#[utoipa::path(get, path = "/v1/orgs/{org_id}/settings", tag = "settings", params(("org_id" = String, Path)),
    security(("bearer" = [])),
    responses((status = 200, body = SettingsDoc, headers(("ETag" = String))), (status = 403, body = Problem)))]
async fn get_settings_handler(OrgAccess(access): OrgAccess) -> Result<Response> {
    let permit = access.permit::<UpdateOrg>()?;
    Ok(with_etag(settings::read(&permit)))
}

/// Change settings (a merge patch). `If-Match` must carry the ETag last read.
#[utoipa::path(patch, path = "/v1/orgs/{org_id}/settings", tag = "settings",
    params(("org_id" = String, Path), ("If-Match" = String, Header, description = "the settings' ETag")),
    request_body(content((SettingsPatch = "application/json"), (SettingsPatch = "application/merge-patch+json"))), security(("bearer" = [])),
    responses((status = 200, body = SettingsDoc, headers(("ETag" = String))), (status = 403, description = "not allowed, or locked above", body = Problem),
              (status = 412, body = Problem), (status = 428, body = Problem), (status = 422, body = Problem)))]
async fn patch_settings_handler(
    State(ctx): State<AppState>,
    OrgAccess(access): OrgAccess,
    headers: HeaderMap,
    JsonBody(raw): JsonBody<serde_json::Value>,
) -> Result<Response> {
    let permit = access.permit::<UpdateOrg>()?;
    // Nested objects merge member by member (RFC 7396 §2) over what is kept, as read with
    // the version `If-Match` names (the change is conditioned on it).
    let kept = serde_json::to_value(&permit.org.company.settings)
        .map_err(|e| crate::error::Error::internal_from("serializing settings", e))?;
    let merged = merge_nested(raw, &kept, &["details", "contact"]);
    let bytes =
        serde_json::to_vec(&merged).map_err(|e| crate::error::Error::internal_from("serializing settings", e))?;
    let JsonBody(req) = crate::api::extract::parse_json::<SettingsPatch>(&bytes)?;
    // Bad input is told as such first, whatever the precondition says.
    let (change, locks) = req.parse()?;
    let version = if_match(&headers)?;
    Ok(with_etag(settings::change(&ctx, &permit, version, change, locks).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AliasesRequest {
    /// Other names the organization is known by, at most 20 of at most 100 characters.
    #[schema(max_items = 20)]
    aliases: Vec<String>,
}

/// Replace the aliases of a top-level organization (found by them at registration).
#[utoipa::path(put, path = "/v1/orgs/{org_id}/aliases", tag = "settings",
    params(("org_id" = String, Path), ("If-Match" = String, Header, description = "the settings' ETag")),
    request_body = AliasesRequest, security(("bearer" = [])),
    responses((status = 200, body = SettingsDoc, headers(("ETag" = String))), (status = 403, body = Problem),
              (status = 412, body = Problem), (status = 428, body = Problem), (status = 422, body = Problem)))]
async fn aliases_handler(
    State(ctx): State<AppState>,
    OrgAccess(access): OrgAccess,
    headers: HeaderMap,
    JsonBody(req): JsonBody<AliasesRequest>,
) -> Result<Response> {
    let permit = access.permit::<UpdateOrg>()?;
    if req.aliases.len() > crate::domain::settings::ALIASES_MAX {
        return Err(Error::validation("too_many_aliases", "aliases", "at most 20 aliases"));
    }
    let aliases = req
        .aliases
        .iter()
        .enumerate()
        .map(|(i, a)| Alias::parse(a, &format!("aliases[{i}]")))
        .collect::<Result<Vec<_>>>()?;
    let version = if_match(&headers)?;
    Ok(with_etag(settings::set_aliases(&ctx, &permit, version, aliases).await?))
}

/// The policy every member's client reads and enforces; revalidate with `If-None-Match`.
#[utoipa::path(get, path = "/v1/orgs/{org_id}/policy", tag = "settings",
    params(("org_id" = String, Path), ("If-None-Match" = Option<String>, Header, description = "an ETag of this document")),
    security(("bearer" = [])),
    responses((status = 200, body = PolicyDoc, headers(("ETag" = String))), (status = 304, description = "unchanged"),
              (status = 403, body = Problem)))]
async fn policy_handler(OrgAccess(access): OrgAccess, headers: HeaderMap) -> Result<Response> {
    let permit = access.permit::<ReadOrg>()?;
    revalidated(&headers, "p", &settings::policy(&access, &permit))
}
