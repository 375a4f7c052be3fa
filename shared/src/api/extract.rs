//! Request extractors that fail with problem+json: JSON bodies (size-limited, strict about
//! unknown fields and types), the bearer-token session, and the caller's address.

use axum::body::Body;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::header;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use super::AppState;
use crate::error::Error;
use crate::service::{self, Authenticated};

/// A JSON body parsed into `T`, with the path of the offending field on failure.
pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for JsonBody<T> {
    type Rejection = Error;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Error> {
        let is_json = req.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|v| {
            // A JSON merge patch (RFC 7396) is JSON too.
            v.split(';').next().is_some_and(|m| {
                let m = m.trim();
                m.eq_ignore_ascii_case("application/json") || m.eq_ignore_ascii_case("application/merge-patch+json")
            })
        });
        if !is_json {
            return Err(Error::UnsupportedMediaType);
        }
        let limit = state.config.max_body_bytes;
        let bytes = axum::body::to_bytes(req.into_body(), limit).await.map_err(|_| Error::BodyTooLarge { limit })?;
        parse_json(&bytes)
    }
}

pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<JsonBody<T>, Error> {
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    match serde_path_to_error::deserialize(de) {
        Ok(v) => Ok(JsonBody(v)),
        Err(e) => {
            let path = e.path().to_string();
            let inner = e.into_inner();
            if inner.is_data() {
                // Unknown fields report the parent path; name the field itself.
                let msg = inner.to_string();
                let field = if path == "." {
                    msg.strip_prefix("missing field `").and_then(|r| r.split('`').next()).unwrap_or(".").to_owned()
                } else {
                    path
                };
                let msg = msg.split(" at line").next().unwrap_or_default().to_owned();
                Err(Error::validation("invalid_field", field, msg))
            } else {
                Err(Error::MalformedBody(inner.to_string()))
            }
        }
    }
}

/// The signed-in caller. Rejects with 401 when the token or its session is not valid.
pub struct Auth(pub Authenticated);

impl FromRequestParts<AppState> for Auth {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Error> {
        let token = bearer(parts).ok_or(Error::Unauthenticated)?;
        let auth = service::authenticate(state, token).await?;
        let span = tracing::Span::current();
        span.record("user_id", auth.user_id.as_str());
        if let Some(org) = &auth.session.active_org {
            span.record("org_id", org.as_str());
        }
        Ok(Auth(auth))
    }
}

/// The signed-in caller with their profile, read in the session's round trip: for routes
/// that show the person (`GET /v1/me`).
pub struct AuthProfile(pub Authenticated, pub crate::store::UserRecord);

impl FromRequestParts<AppState> for AuthProfile {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Error> {
        let token = bearer(parts).ok_or(Error::Unauthenticated)?;
        let (auth, profile) = service::authenticate_with_profile(state, token).await?;
        tracing::Span::current().record("user_id", auth.user_id.as_str());
        Ok(AuthProfile(auth, profile))
    }
}

fn bearer(parts: &Parts) -> Option<&str> {
    parts
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
        .map(str::trim)
}

/// The caller's network address, as set by the hosting layer (API Gateway's source IP in
/// Lambda, the socket peer locally). "unknown" when neither is available.
#[derive(Debug, Clone)]
pub struct ClientAddr(pub String);

impl FromRequestParts<AppState> for ClientAddr {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, _: &AppState) -> Result<Self, Error> {
        Ok(parts.extensions.get::<ClientAddr>().cloned().unwrap_or_else(|| ClientAddr("unknown".into())))
    }
}

/// The host's id for this invocation (Lambda's request id), logged with the request.
#[derive(Debug, Clone)]
pub struct InvocationId(pub String);

/// The AWS principal that signed the request, as API Gateway verified it (routes with the
/// `AWS_IAM` authorizer); attached by the Lambda host.
#[derive(Debug, Clone)]
pub struct IamCaller(pub String);

/// A call from the messaging service, never from a user: in AWS the route is IAM-authorized
/// and the verified principal must be the configured one (assumed-role ARNs name the role);
/// the embedded default takes the shared token it was started with.
pub struct ServiceCaller;

impl FromRequestParts<AppState> for ServiceCaller {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Error> {
        if let Some(IamCaller(arn)) = parts.extensions.get::<IamCaller>() {
            return match &state.config.messaging_service_role {
                Some(role) if is_session_of(arn, role) => Ok(ServiceCaller),
                _ => Err(Error::Forbidden),
            };
        }
        let presented = parts.headers.get("x-switchboard-service-token").and_then(|v| v.to_str().ok());
        match (&state.config.service_token, presented) {
            (Some(expected), Some(given)) if crate::auth::secret::hashes_equal(expected, given) => Ok(ServiceCaller),
            _ => Err(Error::Forbidden),
        }
    }
}

/// Whether `caller` (as API Gateway reports it) is the role `role_arn` itself or a session of
/// it: `arn:<partition>:iam::<account>:role/<path/>name` signs as
/// `arn:<partition>:sts::<account>:assumed-role/<name>/<session>`. The account is compared
/// too, so a same-named role elsewhere does not pass.
fn is_session_of(caller: &str, role_arn: &str) -> bool {
    if caller == role_arn {
        return true;
    }
    let Some((prefix, path)) = role_arn.split_once(":role/") else { return false };
    let Some((partition, account)) = prefix.split_once(":iam::") else { return false };
    let name = path.rsplit('/').next().unwrap_or(path);
    caller.starts_with(&format!("{partition}:sts::{account}:assumed-role/{name}/"))
}

/// Used by hosts to attach the address before routing.
pub fn set_client_addr(req: &mut Request<Body>, addr: String) {
    req.extensions_mut().insert(ClientAddr(addr));
}

/// The caller's access to the organization named by the `{org_id}` path segment, computed
/// from their memberships on every request. Handlers turn it into a permit for the one
/// permission they need.
pub struct OrgAccess(pub crate::access::Access);

impl FromRequestParts<AppState> for OrgAccess {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Error> {
        let Auth(auth) = Auth::from_request_parts(parts, state).await?;
        let axum::extract::Path(params) =
            axum::extract::Path::<std::collections::HashMap<String, String>>::from_request_parts(parts, state)
                .await
                .map_err(|_| Error::validation("invalid_id", "org_id", "is not an organization id"))?;
        let raw = params.get("org_id").map(String::as_str).unwrap_or_default();
        let org = crate::domain::OrgId::parse(raw, "org_id")?;
        let started = Some(&auth.session.session_id);
        let access = match &auth.session.acting_as {
            // Acting as a shared account: its access applies, while the link still exists.
            Some(shared) => {
                let active = auth.session.active_org.as_ref().ok_or(Error::Forbidden)?;
                service::members::shared_accounts::check_link(state, &auth.user_id, active, shared).await?;
                let mut access = service::access_to(state, shared, &org, started).await?;
                access.real_user_id = Some(auth.user_id.clone());
                access
            }
            None => service::access_to(state, &auth.user_id, &org, started).await?,
        };
        // The organization's policies (two-factor required, disabled clients) apply to every
        // request, not only to the token's issue.
        service::orgs::settings::admit(&access, &auth.session)?;
        Ok(OrgAccess(access))
    }
}

/// `?cursor=…&limit=…` of list endpoints.
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Page size, 1 to 200 (default 50).
    pub limit: Option<i32>,
}

impl PageParams {
    pub fn limit(&self) -> i32 {
        self.limit.unwrap_or(50).clamp(1, 200)
    }

    pub fn cursor(&self) -> Result<Option<crate::store::Cursor>, Error> {
        self.cursor.as_deref().map(|c| crate::store::Cursor::parse(c, "cursor")).transpose()
    }
}

/// Query-string extraction that fails with problem+json.
pub struct QueryParams<T>(pub T);

impl<T: DeserializeOwned + Send> FromRequestParts<AppState> for QueryParams<T> {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Error> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|q| QueryParams(q.0))
            .map_err(|e| Error::validation("invalid_query", "query", e.body_text()))
    }
}

/// The signed-in caller if an Authorization header is present (it must then be valid).
pub struct MaybeAuth(pub Option<Authenticated>);

impl FromRequestParts<AppState> for MaybeAuth {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Error> {
        if parts.headers.contains_key(header::AUTHORIZATION) {
            Ok(MaybeAuth(Some(Auth::from_request_parts(parts, state).await?.0)))
        } else {
            Ok(MaybeAuth(None))
        }
    }
}

/// The fields of a form-encoded body (`application/x-www-form-urlencoded`, decoded); any
/// other content type is `unsupported_media_type`. For the endpoints whose protocols fix
/// form bodies: OAuth, SAML's HTTP-POST binding, one-click unsubscribe.
pub fn form_fields(headers: &axum::http::HeaderMap, body: &str) -> Result<Vec<(String, String)>, Error> {
    let ct = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default();
    if !ct.trim().to_ascii_lowercase().starts_with("application/x-www-form-urlencoded") {
        return Err(Error::UnsupportedMediaType);
    }
    Ok(url::form_urlencoded::parse(body.as_bytes()).into_owned().collect())
}

/// The caller's `User-Agent`, at most 512 characters: with the client type, what tells a
/// new device.
pub fn user_agent(headers: &axum::http::HeaderMap) -> String {
    headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.chars().take(512).collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_role_session_is_matched_with_its_account() {
        let role = "arn:aws:iam::111122223333:role/service/messaging";
        assert!(super::is_session_of("arn:aws:sts::111122223333:assumed-role/messaging/i-0abc", role));
        assert!(super::is_session_of(role, role));
        assert!(!super::is_session_of("arn:aws:sts::999988887777:assumed-role/messaging/i-0abc", role));
        assert!(!super::is_session_of("arn:aws:sts::111122223333:assumed-role/messaging-admin/x", role));
        assert!(!super::is_session_of("arn:aws:iam::111122223333:user/messaging", role));
    }
}
