//! One structured log line per request: request ids (ours and the host's), function, route,
//! status, latency, user and organization (recorded by the auth extractor), the DynamoDB calls
//! the request made and the capacity they consumed, and whether it was a cold start.

use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument;

use crate::api::extract::InvocationId;
use crate::store::count_calls;

pub const REQUEST_ID: &str = "x-request-id";

pub async fn trace_request(
    axum::extract::State(state): axum::extract::State<crate::api::AppState>,
    req: Request,
    next: Next,
) -> Response {
    let request_id = req
        .headers()
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| v.len() <= 128 && v.bytes().all(|b| b.is_ascii_graphic()))
        .map(str::to_owned)
        .unwrap_or_else(|| ulid::Ulid::new().to_string());
    let route = req.extensions().get::<MatchedPath>().map(|p| p.as_str().to_owned()).unwrap_or_default();
    let invocation = req.extensions().get::<InvocationId>().map(|i| i.0.clone()).unwrap_or_default();
    let span = tracing::info_span!(
        "request",
        request_id = %request_id,
        aws_request_id = %invocation,
        function = crate::telemetry::function(),
        method = %req.method(),
        route = %route,
        user_id = tracing::field::Empty,
        org_id = tracing::field::Empty,
    );
    let started = Instant::now();
    let (mut resp, usage) = count_calls(next.run(req).instrument(span.clone())).await;
    let cold_start = crate::telemetry::take_cold_start();
    span.in_scope(|| {
        tracing::info!(
            status = resp.status().as_u16(),
            latency_ms = started.elapsed().as_secs_f64() * 1000.0,
            dynamodb_calls = usage.calls,
            consumed_capacity = usage.capacity_units,
            cold_start,
            "request finished"
        );
    });
    if state.config.server_timing
        && let Ok(v) = HeaderValue::from_str(&format!("dynamodb;calls={}", usage.calls))
    {
        resp.headers_mut().append(axum::http::header::HeaderName::from_static("server-timing"), v);
    }
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        resp.headers_mut().insert(REQUEST_ID, v);
    }
    // Answers carry tokens, secrets and personal data: no cache may keep them (RFC 6749
    // §5.1). A route with public content (the JWKS) says so itself.
    resp.headers_mut().entry(axum::http::header::CACHE_CONTROL).or_insert(HeaderValue::from_static("no-store"));
    resp
}
