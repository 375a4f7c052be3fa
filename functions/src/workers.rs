//! The queue workers. The email worker drains the SQS email queue at the pace SES allows,
//! deciding the requests whose email depends on whether an address has a login; throttled jobs
//! are reported as batch-item failures, so SQS retries them (and dead-letters them eventually).
//! The import worker takes one job message at a time: a job that would outlast the invocation
//! stops at a checkpoint a minute before the deadline and is sent on again; a failed run is
//! retried by SQS (dead-lettered after five receives), resuming after the last checkpoint.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use lambda_runtime::{LambdaEvent, service_fn};
use switchboard::mail::queue::Received;
use switchboard::service::Ctx;
use switchboard::service::members::imports::{JobMessage, RunOutcome, run_job};
use switchboard::service::notify::email_requests::process_batch;
use switchboard::store::count_calls;

/// Serve SQS batches with `work`, logging one line per invocation as the HTTP layer does per
/// request: ids, records, retries, DynamoDB calls and capacity, latency, cold start.
async fn serve_sqs<F, Fut>(ctx: Arc<Ctx>, work: F) -> Result<(), lambda_runtime::Error>
where
    F: Fn(Arc<Ctx>, LambdaEvent<SqsEvent>) -> Fut,
    Fut: Future<Output = SqsBatchResponse>,
{
    let work = &work;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| {
        let ctx = ctx.clone();
        async move {
            let started = Instant::now();
            let aws_request_id = event.context.request_id.clone();
            let records = event.payload.records.len();
            let name = switchboard::telemetry::function();
            let (response, usage) = count_calls(switchboard::aws::as_function(name, work(ctx, event))).await;
            tracing::info!(
                aws_request_id,
                function = switchboard::telemetry::function(),
                records,
                retried = response.batch_item_failures.len(),
                dynamodb_calls = usage.calls,
                consumed_capacity = usage.capacity_units,
                latency_ms = started.elapsed().as_secs_f64() * 1000.0,
                cold_start = switchboard::telemetry::take_cold_start(),
                "invocation finished"
            );
            Ok::<_, lambda_runtime::Error>(response)
        }
    }))
    .await
}

pub async fn mail(ctx: Arc<Ctx>) -> Result<(), lambda_runtime::Error> {
    serve_sqs(ctx, |ctx, event| async move { failures(process_batch(&ctx, received(event.payload)).await) }).await
}

pub async fn imports(ctx: Arc<Ctx>) -> Result<(), lambda_runtime::Error> {
    serve_sqs(ctx, |ctx, event| async move {
        let now_ms = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or_default();
        let left = Duration::from_millis(event.context.deadline.saturating_sub(now_ms));
        let deadline = Instant::now() + left;
        let mut response = SqsBatchResponse::default();
        for record in event.payload.records {
            let id = record.message_id.clone().unwrap_or_default();
            let outcome = match serde_json::from_str::<JobMessage>(record.body.as_deref().unwrap_or_default()) {
                Ok(msg) => match run_job(&ctx, &msg.org_id, &msg.job_id, Some(deadline)).await {
                    Ok(RunOutcome::Paused) => ctx.imports.enqueue(&ctx, msg).await.map(|_| ()),
                    Ok(_) => Ok(()),
                    Err(e) => Err(e),
                },
                // A malformed message will never run: drop it (it is logged).
                Err(e) => {
                    tracing::error!(error = %e, "malformed import message");
                    Ok(())
                }
            };
            if let Err(e) = outcome {
                tracing::error!(error = %e, "import run failed; SQS will deliver it again");
                let mut f = BatchItemFailure::default();
                f.item_identifier = id;
                response.batch_item_failures.push(f);
            }
        }
        response
    })
    .await
}

fn received(event: SqsEvent) -> Vec<Received> {
    event
        .records
        .into_iter()
        .map(|r| Received {
            id: r.message_id.unwrap_or_default(),
            body: r.body.unwrap_or_default(),
            receive_count: r.attributes.get("ApproximateReceiveCount").and_then(|c| c.parse().ok()).unwrap_or(1),
        })
        .collect()
}

fn failures(ids: Vec<String>) -> SqsBatchResponse {
    let mut response = SqsBatchResponse::default();
    response.batch_item_failures = ids
        .into_iter()
        .map(|id| {
            let mut f = BatchItemFailure::default();
            f.item_identifier = id;
            f
        })
        .collect();
    response
}

pub async fn events(ctx: Arc<Ctx>) -> Result<(), lambda_runtime::Error> {
    serve_sqs(ctx, |ctx, event| async move {
        failures(switchboard::service::notify::notifications::process_events(&ctx, received(event.payload)).await)
    })
    .await
}

/// One invocation, logged as the SQS workers are; an error fails the invocation (EventBridge
/// or SNS retries it).
async fn serve_once<E, F, Fut>(ctx: Arc<Ctx>, work: F) -> Result<(), lambda_runtime::Error>
where
    E: serde::de::DeserializeOwned + Send + 'static,
    F: Fn(Arc<Ctx>, E) -> Fut,
    Fut: Future<Output = switchboard::error::Result<serde_json::Value>>,
{
    let work = &work;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<E>| {
        let ctx = ctx.clone();
        async move {
            let started = Instant::now();
            let aws_request_id = event.context.request_id.clone();
            let name = switchboard::telemetry::function();
            let (result, usage) = count_calls(switchboard::aws::as_function(name, work(ctx, event.payload))).await;
            tracing::info!(
                aws_request_id,
                function = switchboard::telemetry::function(),
                ok = result.is_ok(),
                dynamodb_calls = usage.calls,
                consumed_capacity = usage.capacity_units,
                latency_ms = started.elapsed().as_secs_f64() * 1000.0,
                cold_start = switchboard::telemetry::take_cold_start(),
                "invocation finished"
            );
            result.map_err(|e| lambda_runtime::Error::from(e.to_string()))
        }
    }))
    .await
}

pub async fn digests(ctx: Arc<Ctx>) -> Result<(), lambda_runtime::Error> {
    serve_once(ctx, |ctx, event: serde_json::Value| async move {
        let report = switchboard::service::notify::digests::on_schedule(&ctx, &event).await?;
        serde_json::to_value(report)
            .map_err(|e| switchboard::error::Error::internal_from("serializing a run report", e))
    })
    .await
}

pub async fn ses_feedback(ctx: Arc<Ctx>) -> Result<(), lambda_runtime::Error> {
    serve_once(ctx, |ctx, event: serde_json::Value| async move {
        let suppressed = switchboard::service::notify::suppression::on_sns(&ctx, &event).await?;
        Ok(serde_json::json!({ "suppressed": suppressed }))
    })
    .await
}

/// The purge of closed organizations past their restore window, on an hourly schedule. A run
/// stops two minutes before the function's 15-minute timeout; the next goes on.
pub async fn purge(ctx: Arc<Ctx>) -> Result<(), lambda_runtime::Error> {
    serve_once(ctx, |ctx, _event: serde_json::Value| async move {
        let deadline = Instant::now() + Duration::from_secs(13 * 60);
        let report = switchboard::service::orgs::lifecycle::purge_due(&ctx, ctx.now(), deadline).await?;
        serde_json::to_value(report)
            .map_err(|e| switchboard::error::Error::internal_from("serializing a run report", e))
    })
    .await
}

/// Data exports, one job per message.
pub async fn exports(ctx: Arc<Ctx>) -> Result<(), lambda_runtime::Error> {
    use switchboard::service::orgs::exports::{ExportMessage, run_job};
    serve_sqs(ctx, |ctx, event| async move {
        let mut response = SqsBatchResponse::default();
        for record in event.payload.records {
            let id = record.message_id.clone().unwrap_or_default();
            let outcome = match serde_json::from_str::<ExportMessage>(record.body.as_deref().unwrap_or_default()) {
                Ok(msg) => run_job(&ctx, &msg.org_id, &msg.export_id).await,
                Err(e) => {
                    tracing::error!(error = %e, "malformed export message");
                    Ok(())
                }
            };
            if let Err(e) = outcome {
                tracing::error!(error = %e, "export failed; SQS will deliver it again");
                let mut f = BatchItemFailure::default();
                f.item_identifier = id;
                response.batch_item_failures.push(f);
            }
        }
        response
    })
    .await
}
