//! Counts DynamoDB round trips and the capacity they consume: in total per store, and per
//! request through a task-local scope that the HTTP layer opens, so logs and benchmarks show
//! calls and capacity units per operation.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use aws_sdk_dynamodb::operation as op;
use aws_sdk_dynamodb::types::{ConsumedCapacity, ReturnConsumedCapacity};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::{
    AfterDeserializationInterceptorContextRef, BeforeSerializationInterceptorContextMut,
    BeforeTransmitInterceptorContextRef,
};
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;

/// Capacity is summed in thousandths of a unit, so an atomic integer holds it exactly.
const MILLI: f64 = 1000.0;

#[derive(Debug, Default)]
struct Tally {
    calls: AtomicU64,
    milli_units: AtomicU64,
}

tokio::task_local! {
    static REQUEST: Arc<Tally>;
}

/// What a scope's DynamoDB calls cost.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Usage {
    pub calls: u64,
    /// Read and write capacity units together, as DynamoDB reports them.
    pub capacity_units: f64,
}

#[derive(Clone, Debug, Default)]
pub struct CallCounter(Arc<Tally>);

impl CallCounter {
    pub fn total(&self) -> u64 {
        self.0.calls.load(Ordering::Relaxed)
    }

    /// Capacity units consumed in total, as DynamoDB reported them.
    pub fn units(&self) -> f64 {
        self.0.milli_units.load(Ordering::Relaxed) as f64 / MILLI
    }
}

/// Ask every operation the store uses to report its consumed capacity.
fn request_capacity(input: &mut aws_smithy_runtime_api::client::interceptors::context::Input) {
    let total = Some(ReturnConsumedCapacity::Total);
    macro_rules! ask {
        ($($m:ident :: $t:ident),*) => {
            $(if let Some(i) = input.downcast_mut::<op::$m::$t>() { i.return_consumed_capacity = total; return; })*
        };
    }
    ask!(
        get_item::GetItemInput,
        put_item::PutItemInput,
        update_item::UpdateItemInput,
        delete_item::DeleteItemInput,
        query::QueryInput,
        batch_get_item::BatchGetItemInput,
        batch_write_item::BatchWriteItemInput,
        transact_write_items::TransactWriteItemsInput,
        transact_get_items::TransactGetItemsInput
    );
}

fn units(c: &ConsumedCapacity) -> f64 {
    c.capacity_units.unwrap_or_default()
}

fn reported_capacity(output: &aws_smithy_runtime_api::client::interceptors::context::Output) -> f64 {
    macro_rules! one {
        ($($m:ident :: $t:ident),*) => {
            $(if let Some(o) = output.downcast_ref::<op::$m::$t>() { return o.consumed_capacity.as_ref().map(units).unwrap_or_default(); })*
        };
    }
    macro_rules! many {
        ($($m:ident :: $t:ident),*) => {
            $(if let Some(o) = output.downcast_ref::<op::$m::$t>() { return o.consumed_capacity.iter().flatten().map(units).sum(); })*
        };
    }
    one!(
        get_item::GetItemOutput,
        put_item::PutItemOutput,
        update_item::UpdateItemOutput,
        delete_item::DeleteItemOutput,
        query::QueryOutput
    );
    many!(
        batch_get_item::BatchGetItemOutput,
        batch_write_item::BatchWriteItemOutput,
        transact_write_items::TransactWriteItemsOutput,
        transact_get_items::TransactGetItemsOutput
    );
    0.0
}

impl Intercept for CallCounter {
    fn name(&self) -> &'static str {
        "switchboard-call-counter"
    }

    fn modify_before_serialization(
        &self,
        ctx: &mut BeforeSerializationInterceptorContextMut<'_>,
        _rc: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        request_capacity(ctx.input_mut());
        Ok(())
    }

    // Once per attempt, so an SDK retry counts as the round trip it is.
    fn read_before_transmit(
        &self,
        _ctx: &BeforeTransmitInterceptorContextRef<'_>,
        _rc: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        self.0.calls.fetch_add(1, Ordering::Relaxed);
        let _ = REQUEST.try_with(|t| t.calls.fetch_add(1, Ordering::Relaxed));
        Ok(())
    }

    fn read_after_deserialization(
        &self,
        ctx: &AfterDeserializationInterceptorContextRef<'_>,
        _rc: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if let Ok(output) = ctx.output_or_error() {
            let milli = (reported_capacity(output) * MILLI).round() as u64;
            self.0.milli_units.fetch_add(milli, Ordering::Relaxed);
            let _ = REQUEST.try_with(|t| t.milli_units.fetch_add(milli, Ordering::Relaxed));
        }
        Ok(())
    }
}

/// Run `fut`, returning its output and what its DynamoDB calls cost.
pub async fn count_calls<F: Future>(fut: F) -> (F::Output, Usage) {
    let tally = Arc::new(Tally::default());
    let out = REQUEST.scope(tally.clone(), fut).await;
    let usage = Usage {
        calls: tally.calls.load(Ordering::Relaxed),
        capacity_units: tally.milli_units.load(Ordering::Relaxed) as f64 / MILLI,
    };
    (out, usage)
}
