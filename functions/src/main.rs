//! `bootstrap`: the binary of every Switchboard Lambda function (see the crate's docs).

// One invocation at a time per execution environment: a single-threaded runtime starts faster
// than a pool of workers and loses nothing; password hashing still runs on blocking threads.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    let handler = functions::Handler::from_env()?;
    functions::run(handler).await
}
