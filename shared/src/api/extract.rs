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
        let is_json =
            req.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|v| {
                v.split(';').next().is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json"))
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
        let token = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
            .ok_or(Error::Unauthenticated)?;
        let auth = service::authenticate(state, token.trim()).await?;
        let span = tracing::Span::current();
        span.record("user_id", auth.user_id.as_str());
        if let Some(org) = &auth.session.active_org {
            span.record("org_id", org.as_str());
        }
        Ok(Auth(auth))
    }
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

/// Used by hosts to attach the address before routing.
pub fn set_client_addr(req: &mut Request<Body>, addr: String) {
    req.extensions_mut().insert(ClientAddr(addr));
}
