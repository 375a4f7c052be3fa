//! The `Idempotency-Key` layer: on the routes that create or charge something, a request
//! with the header is claimed, run once, and its answer kept for repeats.

use axum::body::{Body, to_bytes};
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::AppState;
use crate::domain::idempotency_key::{HEADER, IdempotencyKey};
use crate::error::Error;
use crate::service::idempotency::{self, Begin};
use crate::store::StoredAnswer;

/// The POST routes that create or charge something. A key on any other route is ignored:
/// those are idempotent already, or (login, refresh) answer with fresh secrets that must
/// never be stored.
pub const ROUTES: [&str; 17] = [
    "/v1/auth/register",
    "/v1/orgs",
    "/v1/orgs/{org_id}/sub-accounts",
    "/v1/orgs/{org_id}/invitations",
    "/v1/invitations/accept",
    "/v1/me/invitations/{org_id}/accept",
    "/v1/orgs/{org_id}/seats/purchase",
    "/v1/orgs/{org_id}/imports",
    "/v1/orgs/{org_id}/users",
    "/v1/orgs/{org_id}/inboxes",
    "/v1/orgs/{org_id}/contact-groups",
    "/v1/orgs/{org_id}/contact-groups/{group_id}/contacts",
    "/v1/orgs/{org_id}/message-templates",
    "/v1/orgs/{org_id}/exports",
    "/v1/orgs/{org_id}/domains",
    "/v1/orgs/{org_id}/email-to-sms-domains",
    "/v1/orgs/{org_id}/sso-providers",
];

/// The routes of [`ROUTES`] open to anyone; every other one needs a bearer token.
const PUBLIC: [&str; 2] = ["/v1/auth/register", "/v1/invitations/accept"];

/// Bodies of the creating routes are small JSON documents; a larger one is refused by the
/// route itself, so reading this much here loses nothing.
const MAX_REQUEST: usize = 1024 * 1024;

/// Headers of an answer worth replaying.
const KEPT_HEADERS: [header::HeaderName; 3] = [header::CONTENT_TYPE, header::LOCATION, header::ETAG];

pub async fn guard(State(ctx): State<AppState>, req: Request, next: Next) -> Response {
    let route = req.extensions().get::<MatchedPath>().map(|p| p.as_str().to_owned());
    let Some(raw) = req.headers().get(HEADER) else { return next.run(req).await };
    let Some(route) = route.filter(|r| req.method() == Method::POST && ROUTES.contains(&r.as_str())) else {
        return next.run(req).await;
    };
    // The caller, from the access token alone (no lookup): the route authenticates fully.
    let caller = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
        .and_then(|t| ctx.keys.verify(t.trim(), ctx.now().timestamp()).ok())
        .map(|c| c.sub);
    // Authentication comes before anything else: without a valid token the route answers
    // 401, whatever the key looks like.
    if caller.is_none() && !PUBLIC.contains(&route.as_str()) {
        return next.run(req).await;
    }
    // A value that is not visible ASCII is refused like an empty one.
    let key = match IdempotencyKey::parse(raw.to_str().unwrap_or_default()) {
        Ok(k) => k,
        Err(e) => return e.into_response(),
    };
    let (parts, body) = req.into_parts();
    let Ok(bytes) = to_bytes(body, MAX_REQUEST).await else {
        return Error::BodyTooLarge { limit: MAX_REQUEST }.into_response();
    };
    let path = parts.uri.path().to_owned();
    let slot = match idempotency::begin(&ctx, caller.as_ref(), &key, parts.method.as_str(), &path, &bytes).await {
        Ok(Begin::Run(slot)) => slot,
        Ok(Begin::Replay(answer)) => return replay(answer),
        Err(e) => return e.into_response(),
    };
    let resp = next.run(Request::from_parts(parts, Body::from(bytes))).await;
    let (mut parts, body) = resp.into_parts();
    let Ok(bytes) = to_bytes(body, idempotency::MAX_KEPT_BODY + 1).await else {
        // Too large to keep (no creating route answers this much): nothing is kept.
        if let Err(e) = idempotency::finish(&ctx, &slot, None).await {
            tracing::warn!(error = %e, "idempotency key not released");
        }
        return crate::error::Error::internal("answer too large").into_response();
    };
    // A failure a retry may fix gives the key up; everything else is the answer for good.
    let retryable = parts.status.is_server_error() || parts.status.as_u16() == 429;
    let answer = (!retryable).then(|| StoredAnswer {
        status: parts.status.as_u16(),
        headers: KEPT_HEADERS
            .iter()
            .filter_map(|h| Some((h.as_str().to_owned(), parts.headers.get(h)?.to_str().ok()?.to_owned())))
            .collect(),
        body: String::from_utf8_lossy(&bytes).into_owned(),
    });
    if let Err(e) = idempotency::finish(&ctx, &slot, answer).await {
        // The effect happened; only the record of the answer is missing. A repeat after the
        // lease runs again and meets the operation's own conditions.
        tracing::warn!(error = %e, "idempotent answer not kept");
    }
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(bytes))
}

fn replay(answer: StoredAnswer) -> Response {
    let status = axum::http::StatusCode::from_u16(answer.status).unwrap_or(axum::http::StatusCode::OK);
    let mut resp = (status, answer.body).into_response();
    for (name, value) in &answer.headers {
        if let (Ok(n), Ok(v)) = (header::HeaderName::try_from(name.as_str()), HeaderValue::from_str(value)) {
            resp.headers_mut().insert(n, v);
        }
    }
    // Stripe's name for it; the draft defines none.
    resp.headers_mut().insert("idempotent-replayed", HeaderValue::from_static("true"));
    resp
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_keyed_route_is_a_post_the_api_serves() {
        let doc = super::super::openapi(&super::super::Function::ALL);
        for route in super::ROUTES {
            let item = doc.paths.paths.get(route).unwrap_or_else(|| panic!("{route} is not a route"));
            let post = item.post.as_ref().unwrap_or_else(|| panic!("{route} takes no POST"));
            let params = post.parameters.as_deref().unwrap_or_default();
            assert!(params.iter().any(|p| p.name == "Idempotency-Key"), "{route} documents the header");
        }
    }
}
