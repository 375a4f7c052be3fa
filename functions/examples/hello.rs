//! The yardstick for cold starts: the smallest `lambda_http` function, as `cargo lambda new`
//! makes it. `tests/benches/cold_start.rs` starts it beside `bootstrap` and compares.

use lambda_http::{Body, Error, Request, Response, run, service_fn};

async fn handler(_req: Request) -> Result<Response<Body>, Error> {
    Ok(Response::builder().status(200).header("content-type", "text/plain").body("hello".into())?)
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_http::tracing::init_default_subscriber();
    run(service_fn(handler)).await
}
