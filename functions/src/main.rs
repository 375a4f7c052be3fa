//! `bootstrap`: the binary of every Switchboard Lambda function (see the crate's docs).

// One invocation at a time per execution environment: a single-threaded runtime starts faster
// than a pool of workers and loses nothing. Password hashing runs on blocking threads, at most
// two: each holds an argon2 block array (19 MiB) in its own allocator arena, so an unbounded
// pool would grow the function's memory with every thread it ever started.
fn main() -> Result<(), lambda_runtime::Error> {
    let handler = functions::Handler::from_env()?;
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .max_blocking_threads(2)
        .build()?
        .block_on(functions::run(handler))
}
