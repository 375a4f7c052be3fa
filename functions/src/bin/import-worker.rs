//! The import worker: one job message at a time from the SQS import queue. A job that would
//! outlast this invocation stops at a checkpoint a minute before the deadline and is sent on
//! again; a failed run is retried by SQS (and dead-lettered after five receives), resuming
//! after the last checkpoint.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use lambda_runtime::{LambdaEvent, service_fn};
use switchboard::service::imports::{JobMessage, RunOutcome, run_job};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    switchboard::telemetry::init();
    let ctx = Arc::new(switchboard::config::ctx_from_env().await?);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| {
        let ctx = ctx.clone();
        async move {
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
            Ok::<_, lambda_runtime::Error>(response)
        }
    }))
    .await
}
