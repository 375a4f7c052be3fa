//! The email worker: drains the SQS email queue at the pace SES allows, deciding the requests
//! whose email depends on whether an address has a login. Throttled jobs are
//! reported as batch-item failures, so SQS retries them (and dead-letters them eventually).

use std::sync::Arc;

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use lambda_runtime::{LambdaEvent, service_fn};
use switchboard::mail::queue::Received;
use switchboard::service::email_requests::process_batch;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    switchboard::telemetry::init();
    let ctx = Arc::new(switchboard::config::ctx_from_env().await?);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| {
        let ctx = ctx.clone();
        async move {
            let batch = event
                .payload
                .records
                .into_iter()
                .map(|r| Received {
                    id: r.message_id.unwrap_or_default(),
                    body: r.body.unwrap_or_default(),
                    receive_count: r
                        .attributes
                        .get("ApproximateReceiveCount")
                        .and_then(|c| c.parse().ok())
                        .unwrap_or(1),
                })
                .collect();
            let retry = process_batch(&ctx, batch).await;
            let mut response = SqsBatchResponse::default();
            response.batch_item_failures = retry
                .into_iter()
                .map(|id| {
                    let mut f = BatchItemFailure::default();
                    f.item_identifier = id;
                    f
                })
                .collect();
            Ok::<_, lambda_runtime::Error>(response)
        }
    }))
    .await
}
