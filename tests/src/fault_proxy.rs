//! A fault-injecting HTTP proxy on loopback, in front of dynoxide or moto. The SDK talks to
//! it as it would to AWS; chosen requests (by operation, every k-th, at most n times) get
//! the answers production engines give under stress: throttling, transaction conflicts,
//! internal errors, a response that never comes, a dropped connection — before or after
//! the engine carried the request out. Everything else is forwarded untouched, so the SDK's
//! own retries and our code's handling of what comes back are what a test exercises.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response};

/// What a matching request gets instead of (or after) the engine's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// DynamoDB's `ProvisionedThroughputExceededException` (400).
    ProvisionedThroughput,
    /// `ThrottlingException` (DynamoDB, SQS) or `Throttling` (SES, SNS) (400).
    Throttling,
    /// A `TransactionCanceledException` whose first reason is `TransactionConflict` (400).
    TransactionConflict,
    /// `InternalServerError` (500).
    Internal,
    /// The connection closes before the request reaches the engine.
    Drop,
    /// The engine carries the request out; the connection closes before its answer.
    DropAfterApply,
    /// No answer until the SDK's attempt timeout ([`crate::ATTEMPT_TIMEOUT`]) has passed,
    /// then a close.
    Timeout,
}

/// When a fault applies: the operation (`TransactWriteItems`, `SendRawEmail`, …), every
/// `every`-th matching request, at most `times` times.
#[derive(Debug, Clone)]
pub struct Rule {
    pub operation: String,
    pub fault: Fault,
    pub every: u32,
    pub times: u32,
    needle: Option<String>,
    skip: u32,
    seen: u32,
    injected: u32,
}

impl Rule {
    pub fn new(operation: &str, fault: Fault) -> Rule {
        Rule {
            operation: operation.into(),
            fault,
            every: 1,
            times: u32::MAX,
            needle: None,
            skip: 0,
            seen: 0,
            injected: 0,
        }
    }

    pub fn every(mut self, k: u32) -> Rule {
        self.every = k.max(1);
        self
    }

    pub fn times(mut self, n: u32) -> Rule {
        self.times = n;
        self
    }

    /// Only requests whose body contains `needle` (e.g. one address among many).
    pub fn containing(mut self, needle: &str) -> Rule {
        self.needle = Some(needle.into());
        self
    }

    /// Let the first `n` matching requests through untouched.
    pub fn after(mut self, n: u32) -> Rule {
        self.skip = n;
        self
    }

    fn fires(&mut self, op: &str, body: &[u8]) -> bool {
        if self.operation != op || self.injected >= self.times {
            return false;
        }
        if let Some(n) = &self.needle
            && !body.windows(n.len()).any(|w| w == n.as_bytes())
        {
            return false;
        }
        if self.skip > 0 {
            self.skip -= 1;
            return false;
        }
        self.seen += 1;
        if !self.seen.is_multiple_of(self.every) {
            return false;
        }
        self.injected += 1;
        true
    }
}

#[derive(Default)]
struct State {
    rules: Vec<Rule>,
    /// Every request seen, by operation, and what it got (`None`: forwarded).
    log: Vec<(String, Option<Fault>)>,
    /// The partition keys (table and index) each forwarded DynamoDB write touched, with when.
    writes: Vec<(String, std::time::Instant)>,
}

/// Writes to one partition key, as the proxy saw them.
#[derive(Debug, Clone)]
pub struct KeyWrites {
    /// `pk`, or `<index>:<index pk>` for an index partition a put fills.
    pub key: String,
    pub writes: usize,
    /// The most writes within any one second.
    pub peak_per_second: usize,
}

/// The partition keys a DynamoDB write request touches: `pk` of each item written, updated
/// or deleted, and the index keys of each item put.
fn written_keys(op: &str, body: &[u8]) -> Vec<String> {
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(body) else { return Vec::new() };
    let mut keys = Vec::new();
    let mut item = |it: &serde_json::Value, put: bool| {
        if let Some(pk) = it["pk"]["S"].as_str() {
            keys.push(pk.to_owned());
        }
        if put {
            for index in ["gsi1", "gsi2", "gsi3"] {
                if let Some(k) = it[format!("{index}pk")]["S"].as_str() {
                    keys.push(format!("{index}:{k}"));
                }
            }
        }
    };
    match op {
        "PutItem" => item(&v["Item"], true),
        "UpdateItem" | "DeleteItem" => item(&v["Key"], false),
        "TransactWriteItems" => {
            for t in v["TransactItems"].as_array().into_iter().flatten() {
                item(&t["Put"]["Item"], true);
                item(&t["Update"]["Key"], false);
                item(&t["Delete"]["Key"], false);
            }
        }
        "BatchWriteItem" => {
            for reqs in v["RequestItems"].as_object().into_iter().flat_map(|o| o.values()) {
                for r in reqs.as_array().into_iter().flatten() {
                    item(&r["PutRequest"]["Item"], true);
                    item(&r["DeleteRequest"]["Key"], false);
                }
            }
        }
        _ => {}
    }
    keys
}

#[derive(Clone)]
pub struct FaultProxy {
    pub url: String,
    state: Arc<Mutex<State>>,
}

impl FaultProxy {
    /// Listen on a loopback port and forward to `upstream` (an `http://host:port`).
    pub async fn start(upstream: &str) -> FaultProxy {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind the fault proxy");
        let url = format!("http://{}", listener.local_addr().expect("proxy address"));
        let state = Arc::new(Mutex::new(State::default()));
        let upstream: Arc<str> = upstream.trim_end_matches('/').into();
        let client = reqwest::Client::builder().pool_max_idle_per_host(32).build().expect("proxy client");
        let st = state.clone();
        tokio::spawn(async move {
            loop {
                let Ok((socket, _)) = listener.accept().await else { continue };
                let (st, upstream, client) = (st.clone(), upstream.clone(), client.clone());
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |req| {
                        handle(req, st.clone(), upstream.clone(), client.clone())
                    });
                    // An `Err` from the service closes the connection without an answer:
                    // how `Drop` and `Timeout` look to the client.
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(hyper_util::rt::TokioIo::new(socket), service)
                        .await;
                });
            }
        });
        FaultProxy { url, state }
    }

    /// Add a rule; rules are tried in order and the first that fires wins.
    pub fn inject(&self, rule: Rule) {
        if let Ok(mut s) = self.state.lock() {
            s.rules.push(rule);
        }
    }

    /// Remove every rule (the engine is healthy again).
    pub fn heal(&self) {
        if let Ok(mut s) = self.state.lock() {
            s.rules.clear();
        }
    }

    /// How many times `fault` was injected into `operation`.
    pub fn injected(&self, operation: &str) -> usize {
        self.state.lock().map(|s| s.log.iter().filter(|(o, f)| o == operation && f.is_some()).count()).unwrap_or(0)
    }

    /// Forget the writes seen so far (start counting for one workload).
    pub fn reset_writes(&self) {
        if let Ok(mut s) = self.state.lock() {
            s.writes.clear();
        }
    }

    /// Writes per partition key since the last reset, most written first.
    pub fn writes_by_key(&self) -> Vec<KeyWrites> {
        let Ok(s) = self.state.lock() else { return Vec::new() };
        let mut by_key: std::collections::HashMap<&str, Vec<std::time::Instant>> = Default::default();
        for (k, at) in &s.writes {
            by_key.entry(k.as_str()).or_default().push(*at);
        }
        let mut out: Vec<KeyWrites> = by_key
            .into_iter()
            .map(|(key, mut ats)| {
                ats.sort();
                // The widest run of writes that fits in one second.
                let (mut peak, mut from) = (0, 0);
                for to in 0..ats.len() {
                    while ats[to].duration_since(ats[from]) >= Duration::from_secs(1) {
                        from += 1;
                    }
                    peak = peak.max(to - from + 1);
                }
                KeyWrites { key: key.to_owned(), writes: ats.len(), peak_per_second: peak }
            })
            .collect();
        out.sort_by(|a, b| b.writes.cmp(&a.writes).then(a.key.cmp(&b.key)));
        out
    }

    /// How many `operation` requests reached the proxy, injected or not.
    pub fn seen(&self, operation: &str) -> usize {
        self.state.lock().map(|s| s.log.iter().filter(|(o, _)| o == operation).count()).unwrap_or(0)
    }
}

/// The operation a request names: `X-Amz-Target` for JSON protocols (DynamoDB, SQS),
/// the `Action` form field for query protocols (SES, SNS), else the S3 method.
fn operation_of(req: &hyper::http::request::Parts, body: &[u8]) -> String {
    if let Some(t) = req.headers.get("x-amz-target").and_then(|v| v.to_str().ok()) {
        return t.rsplit('.').next().unwrap_or(t).to_owned();
    }
    if let Some(action) = url::form_urlencoded::parse(body).find(|(k, _)| k == "Action") {
        return action.1.into_owned();
    }
    format!("S3:{}", req.method)
}

fn json_protocol(req: &hyper::http::request::Parts) -> bool {
    req.headers.get("x-amz-target").is_some()
}

type Answer = Result<Response<Full<Bytes>>, std::io::Error>;

async fn handle(req: Request<Incoming>, st: Arc<Mutex<State>>, upstream: Arc<str>, client: reqwest::Client) -> Answer {
    let (parts, body) = req.into_parts();
    let body = body.collect().await.map_err(std::io::Error::other)?.to_bytes();
    let op = operation_of(&parts, &body);
    let fault = {
        let mut s = st.lock().map_err(|_| std::io::Error::other("poisoned"))?;
        let fault = s.rules.iter_mut().find_map(|r| r.fires(&op, &body).then_some(r.fault));
        s.log.push((op.clone(), fault));
        if fault.is_none() {
            let now = std::time::Instant::now();
            let keys = written_keys(&op, &body);
            s.writes.extend(keys.into_iter().map(|k| (k, now)));
        }
        fault
    };
    let json = json_protocol(&parts);
    match fault {
        None => forward(&client, &upstream, parts, body).await,
        Some(Fault::Drop) => Err(std::io::Error::other("fault: connection dropped")),
        Some(Fault::DropAfterApply) => {
            forward(&client, &upstream, parts, body).await?;
            Err(std::io::Error::other("fault: answer lost after the engine applied the request"))
        }
        Some(Fault::Timeout) => {
            tokio::time::sleep(crate::ATTEMPT_TIMEOUT + Duration::from_millis(500)).await;
            Err(std::io::Error::other("fault: no answer in time"))
        }
        Some(f) => Ok(error_answer(f, json, &body)),
    }
}

async fn forward(client: &reqwest::Client, upstream: &str, parts: hyper::http::request::Parts, body: Bytes) -> Answer {
    let path = parts.uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    let mut out = client.request(parts.method.clone(), format!("{upstream}{path}")).body(body);
    for (name, value) in &parts.headers {
        if name != hyper::header::HOST && name != hyper::header::CONTENT_LENGTH {
            out = out.header(name, value);
        }
    }
    let resp = out.send().await.map_err(std::io::Error::other)?;
    let mut answer = Response::builder().status(resp.status());
    for (name, value) in resp.headers() {
        if name != hyper::header::CONTENT_LENGTH && name != hyper::header::TRANSFER_ENCODING {
            answer = answer.header(name, value);
        }
    }
    let bytes = resp.bytes().await.map_err(std::io::Error::other)?;
    answer.body(Full::new(bytes)).map_err(std::io::Error::other)
}

/// The engine's own error shapes: JSON with `__type` for JSON protocols, the query
/// protocols' XML `ErrorResponse` otherwise.
fn error_answer(fault: Fault, json: bool, body: &[u8]) -> Response<Full<Bytes>> {
    let (status, code, message) = match fault {
        Fault::ProvisionedThroughput => (
            400,
            "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException",
            "The level of configured provisioned throughput for the table was exceeded.",
        ),
        Fault::Throttling if json => (400, "com.amazon.coral.availability#ThrottlingException", "Rate exceeded"),
        Fault::Throttling => (400, "Throttling", "Maximum sending rate exceeded."),
        Fault::TransactionConflict => (
            400,
            "com.amazonaws.dynamodb.v20120810#TransactionCanceledException",
            "Transaction cancelled, please refer cancellation reasons for specific reasons",
        ),
        _ if json => (500, "com.amazonaws.dynamodb.v20120810#InternalServerError", "Internal server error"),
        _ => (500, "InternalFailure", "The request processing has failed because of an unknown error."),
    };
    let payload = if json {
        let mut v = serde_json::json!({"__type": code, "message": message});
        if fault == Fault::TransactionConflict {
            // One reason per item, as DynamoDB gives them.
            let n = serde_json::from_slice::<serde_json::Value>(body)
                .ok()
                .and_then(|b| b["TransactItems"].as_array().map(Vec::len))
                .unwrap_or(1);
            let mut reasons = vec![serde_json::json!({"Code": "None"}); n.max(1)];
            reasons[0] =
                serde_json::json!({"Code": "TransactionConflict", "Message": "Transaction is ongoing for the item"});
            v["CancellationReasons"] = serde_json::Value::Array(reasons);
        }
        v.to_string()
    } else {
        let kind = if status == 500 { "Receiver" } else { "Sender" };
        format!(
            "<ErrorResponse><Error><Type>{kind}</Type><Code>{code}</Code><Message>{message}</Message></Error>\
             <RequestId>fault-proxy</RequestId></ErrorResponse>"
        )
    };
    let content_type = if json { "application/x-amz-json-1.0" } else { "text/xml" };
    let mut resp = Response::new(Full::new(Bytes::from(payload)));
    *resp.status_mut() = hyper::StatusCode::from_u16(status).unwrap_or(hyper::StatusCode::INTERNAL_SERVER_ERROR);
    if let Ok(v) = hyper::header::HeaderValue::from_str(content_type) {
        resp.headers_mut().insert(hyper::header::CONTENT_TYPE, v);
    }
    resp
}
