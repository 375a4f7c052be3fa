//! Counts DynamoDB round trips: in total per store, and per request through a task-local
//! scope that the HTTP layer opens, so logs and benchmarks can show calls per operation.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextRef;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;

tokio::task_local! {
    static REQUEST_CALLS: Arc<AtomicU64>;
}

#[derive(Clone, Debug, Default)]
pub struct CallCounter(Arc<AtomicU64>);

impl CallCounter {
    pub fn total(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

impl Intercept for CallCounter {
    fn name(&self) -> &'static str {
        "switchboard-call-counter"
    }

    // Once per attempt, so an SDK retry counts as the round trip it is.
    fn read_before_transmit(
        &self,
        _ctx: &BeforeTransmitInterceptorContextRef<'_>,
        _rc: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        self.0.fetch_add(1, Ordering::Relaxed);
        let _ = REQUEST_CALLS.try_with(|c| c.fetch_add(1, Ordering::Relaxed));
        Ok(())
    }
}

/// Run `fut`, returning its output and the DynamoDB calls it made.
pub async fn count_calls<F: Future>(fut: F) -> (F::Output, u64) {
    let counter = Arc::new(AtomicU64::new(0));
    let out = REQUEST_CALLS.scope(counter.clone(), fut).await;
    (out, counter.load(Ordering::Relaxed))
}
