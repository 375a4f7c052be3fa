//! The Lambda entry point every function binary shares: set up logging and the AWS clients
//! once per cold start, then serve that function's routes.

use std::sync::Arc;

use lambda_http::request::RequestContext;
use lambda_http::{Request, RequestExt};
use switchboard::api::{self, Function, extract::ClientAddr};

pub async fn run(function: Function) -> Result<(), lambda_http::Error> {
    switchboard::telemetry::init();
    let ctx = switchboard::config::ctx_from_env().await?;
    let router = api::router(Arc::new(ctx), &[function]);
    let app = tower::ServiceBuilder::new()
        .map_request(|mut req: Request| {
            // API Gateway's view of the caller, used to throttle login failures per address.
            let addr = match req.request_context_ref() {
                Some(RequestContext::ApiGatewayV2(c)) => c.http.source_ip.clone(),
                _ => None,
            };
            if let Some(a) = addr {
                req.extensions_mut().insert(ClientAddr(a));
            }
            req
        })
        .service(router);
    lambda_http::run(app).await
}
