//! An API Gateway (HTTP API, payload 2.0) on loopback in front of the real function binaries:
//! each request goes to the function whose routes hold it (read from that function's own
//! OpenAPI document), as an event through the Lambda Runtime API its instances poll. A
//! function's instances start on its first request. For soaking the handlers as Lambda runs
//! them, without AWS.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::Child;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use switchboard::api::Function;
use tokio::sync::Mutex;

use crate::lambda_host::{RuntimeApi, http_event, lambda_env, spawn};

/// One route: its method and path segments (`None`: a parameter).
struct Route {
    method: String,
    segments: Vec<Option<String>>,
    function: &'static str,
}

impl Route {
    fn matches(&self, method: &str, path: &[&str]) -> bool {
        self.method == method
            && self.segments.len() == path.len()
            && self.segments.iter().zip(path).all(|(s, p)| s.as_deref().is_none_or(|s| s == *p))
    }
}

struct Running {
    api: RuntimeApi,
    children: Vec<Child>,
}

struct State {
    routes: Vec<Route>,
    binary: PathBuf,
    env: Vec<(String, String)>,
    logs: PathBuf,
    instances: usize,
    running: Mutex<HashMap<&'static str, Arc<Running>>>,
}

pub struct Gateway {
    pub base: String,
    state: Arc<State>,
}

/// Every route of every function, from each function's OpenAPI document.
fn routes() -> Vec<Route> {
    let mut out = Vec::new();
    for f in Function::ALL {
        let doc = serde_json::to_value(switchboard::api::openapi(&[f])).unwrap_or_default();
        for (path, ops) in doc["paths"].as_object().into_iter().flatten() {
            for method in ops.as_object().into_iter().flat_map(|o| o.keys()) {
                let segments = path
                    .trim_start_matches('/')
                    .split('/')
                    .map(|s| (!s.starts_with('{')).then(|| s.to_owned()))
                    .collect();
                out.push(Route { method: method.to_uppercase(), segments, function: f.name() });
            }
        }
    }
    // Literal segments win over parameters (`/v1/orgs/mine` before `/v1/orgs/{id}`).
    out.sort_by_key(|r| r.segments.iter().filter(|s| s.is_none()).count());
    out
}

impl Gateway {
    /// Serve on a loopback port; `env` is what every function gets besides Lambda's own.
    pub async fn start(binary: PathBuf, env: Vec<(String, String)>, logs: PathBuf, instances: usize) -> Gateway {
        std::fs::create_dir_all(&logs).expect("log folder");
        let state =
            Arc::new(State { routes: routes(), binary, env, logs, instances, running: Mutex::new(HashMap::new()) });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind the gateway");
        let base = format!("http://{}", listener.local_addr().expect("gateway address"));
        let st = state.clone();
        let app = axum::Router::new().fallback(move |m: Method, u: Uri, h: HeaderMap, b: Bytes| {
            let st = st.clone();
            async move { handle(st, m, u, h, b).await }
        });
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Gateway { base, state }
    }

    /// The process ids of every function instance started so far.
    pub async fn pids(&self) -> Vec<(&'static str, u32)> {
        let running = self.state.running.lock().await;
        running.iter().flat_map(|(name, r)| r.children.iter().map(move |c| (*name, c.id()))).collect()
    }

    /// Stop every instance.
    pub async fn stop(&self) {
        let mut running = self.state.running.lock().await;
        for (_, r) in running.drain() {
            if let Ok(mut r) = Arc::try_unwrap(r) {
                for c in &mut r.children {
                    let _ = c.kill();
                    let _ = c.wait();
                }
            }
        }
    }
}

async fn instance(st: &State, function: &'static str) -> std::io::Result<Arc<Running>> {
    let mut running = st.running.lock().await;
    if let Some(r) = running.get(function) {
        return Ok(r.clone());
    }
    let api = RuntimeApi::start().await?;
    let mut children = Vec::with_capacity(st.instances);
    for i in 0..st.instances {
        let mut env = lambda_env(&api.address(), function, 768);
        env.extend(st.env.iter().cloned());
        children.push(spawn(&st.binary, &env, &st.logs.join(format!("{function}-{i}.log")))?);
    }
    let r = Arc::new(Running { api, children });
    running.insert(function, r.clone());
    Ok(r)
}

fn problem(status: StatusCode, detail: String) -> Response {
    (status, [("content-type", "application/problem+json")], serde_json::json!({"title": detail}).to_string())
        .into_response()
}

async fn handle(st: Arc<State>, method: Method, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    let path = uri.path();
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let Some(route) = st.routes.iter().find(|r| r.matches(method.as_str(), &parts)) else {
        return problem(StatusCode::NOT_FOUND, format!("no function serves {method} {path}"));
    };
    let running = match instance(&st, route.function).await {
        Ok(r) => r,
        Err(e) => return problem(StatusCode::BAD_GATEWAY, format!("{} did not start: {e}", route.function)),
    };
    let text = (!body.is_empty()).then(|| String::from_utf8_lossy(&body).into_owned());
    let mut event = http_event(method.as_str(), path, text.as_deref());
    event["rawQueryString"] = uri.query().unwrap_or_default().into();
    for (k, v) in &headers {
        if let Ok(v) = v.to_str() {
            event["headers"][k.as_str()] = v.into();
        }
    }
    let answer = match running.api.call(&event, Duration::from_secs(30)).await {
        Ok(a) => a,
        Err(e) => return problem(StatusCode::BAD_GATEWAY, format!("{}: {e}", route.function)),
    };
    let Ok(v) = serde_json::from_str::<serde_json::Value>(&answer) else {
        return problem(StatusCode::BAD_GATEWAY, format!("{} answered no JSON", route.function));
    };
    let status =
        StatusCode::from_u16(v["statusCode"].as_u64().unwrap_or(502) as u16).unwrap_or(StatusCode::BAD_GATEWAY);
    let raw = v["body"].as_str().unwrap_or_default();
    let bytes = if v["isBase64Encoded"].as_bool().unwrap_or(false) {
        base64::engine::general_purpose::STANDARD.decode(raw).unwrap_or_default()
    } else {
        raw.as_bytes().to_vec()
    };
    let mut resp = (status, bytes).into_response();
    for (k, val) in v["headers"].as_object().into_iter().flatten() {
        if let (Ok(k), Some(Ok(val))) =
            (axum::http::HeaderName::from_bytes(k.as_bytes()), val.as_str().map(axum::http::HeaderValue::from_str))
        {
            resp.headers_mut().insert(k, val);
        }
    }
    resp
}
