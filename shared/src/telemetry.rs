//! Logging set-up shared by every binary: JSON lines, filtered by `RUST_LOG`. A Lambda
//! function also names itself, and its first request is flagged as the cold start.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};

use tracing_subscriber::EnvFilter;

static FUNCTION: OnceLock<&'static str> = OnceLock::new();
static COLD: AtomicBool = AtomicBool::new(true);

pub fn init() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        EnvFilter::new("info,aws_smithy_runtime=error,aws_smithy_runtime_api=error,aws_config=warn")
    });
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_current_span(true)
        .with_span_list(false)
        .with_target(false)
        .try_init();
}

/// `init`, for a Lambda function called `name` (a field of every request's log line).
pub fn init_function(name: &'static str) {
    let _ = FUNCTION.set(name);
    init();
}

/// The function this process serves ("local" for the embedded server and tests).
pub fn function() -> &'static str {
    FUNCTION.get().copied().unwrap_or("local")
}

/// True exactly once per process: for the first invocation after init.
pub fn take_cold_start() -> bool {
    COLD.swap(false, Ordering::Relaxed)
}
