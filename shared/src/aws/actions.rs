//! Which AWS actions each function performs, so a test can hold the template's IAM policies
//! to what the code really calls (a missing grant fails in production only; a stale one is
//! privilege nobody needs). Every SDK client carries the recorder; it writes nothing unless
//! `SWITCHBOARD_RECORD_ACTIONS` names a file, which the test script sets for the e2e run.

use std::collections::HashSet;
use std::io::Write;
use std::sync::{LazyLock, Mutex};

use aws_sdk_dynamodb::operation::query::QueryInput;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsInput;
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::BeforeSerializationInterceptorContextRef;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;

tokio::task_local! {
    static FUNCTION: &'static str;
}

/// Run `fut` as the work of the function (or worker) called `name`.
pub async fn as_function<F: Future>(name: &'static str, fut: F) -> F::Output {
    FUNCTION.scope(name, fut).await
}

struct Sink {
    file: Mutex<Option<std::fs::File>>,
    seen: Mutex<HashSet<String>>,
}

static SINK: LazyLock<Option<Sink>> = LazyLock::new(|| {
    let path = std::env::var("SWITCHBOARD_RECORD_ACTIONS").ok().filter(|p| !p.is_empty())?;
    let file = std::fs::OpenOptions::new().create(true).append(true).open(path).ok()?;
    Some(Sink { file: Mutex::new(Some(file)), seen: Mutex::new(HashSet::new()) })
});

/// The IAM actions an SDK call needs. Most operations are their own action; a DynamoDB
/// transaction needs the action of each item in it, SQS batches the single-message action,
/// and S3's `HeadObject`, `ListObjectsV2` and `DeleteObjects` are allowed by `s3:GetObject`,
/// `s3:ListBucket` and `s3:DeleteObject`, a multipart upload's steps by `s3:PutObject`.
/// A single-item call on an `IDEMP#` record, which a policy may grant by leading key alone.
fn idempotency_item(input: &aws_smithy_runtime_api::client::interceptors::context::Input) -> bool {
    use aws_sdk_dynamodb::operation::{
        delete_item::DeleteItemInput, put_item::PutItemInput, update_item::UpdateItemInput,
    };
    let pk = |m: Option<&std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>>| {
        m.and_then(|m| m.get("pk")).and_then(|v| v.as_s().ok()).is_some_and(|p| p.starts_with("IDEMP#"))
    };
    input.downcast_ref::<PutItemInput>().is_some_and(|i| pk(i.item.as_ref()))
        || input.downcast_ref::<UpdateItemInput>().is_some_and(|i| pk(i.key.as_ref()))
        || input.downcast_ref::<DeleteItemInput>().is_some_and(|i| pk(i.key.as_ref()))
}

fn iam_actions(
    service: &str,
    operation: &str,
    input: &aws_smithy_runtime_api::client::interceptors::context::Input,
) -> Vec<String> {
    if let Some(tx) = input.downcast_ref::<TransactWriteItemsInput>() {
        let mut actions: Vec<String> = tx
            .transact_items
            .iter()
            .flatten()
            .filter_map(|i| {
                let a = if i.put.is_some() {
                    "PutItem"
                } else if i.update.is_some() {
                    "UpdateItem"
                } else if i.delete.is_some() {
                    "DeleteItem"
                } else if i.condition_check.is_some() {
                    "ConditionCheckItem"
                } else {
                    return None;
                };
                Some(format!("dynamodb:{a}"))
            })
            .collect();
        actions.sort();
        actions.dedup();
        return actions;
    }
    let single = match operation {
        "TransactGetItems" => "GetItem",
        "SendMessageBatch" => "SendMessage",
        "DeleteMessageBatch" => "DeleteMessage",
        "ChangeMessageVisibilityBatch" => "ChangeMessageVisibility",
        other => other,
    };
    vec![iam_action(service, single)]
}

fn iam_action(service: &str, operation: &str) -> String {
    let prefix = match service.to_ascii_lowercase().as_str() {
        s if s.starts_with("dynamodb") => "dynamodb",
        s if s.starts_with("sqs") => "sqs",
        s if s.starts_with("ses") => "ses",
        s if s.starts_with("s3") => "s3",
        s if s.starts_with("sns") => "sns",
        other => return format!("{other}:{operation}"),
    };
    // S3 operations whose IAM action has another name.
    let operation = match (prefix, operation) {
        ("s3", "HeadObject") => "GetObject",
        ("s3", "ListObjectsV2") => "ListBucket",
        ("s3", "DeleteObjects") => "DeleteObject",
        // A multipart upload is allowed by `s3:PutObject` (all but its abort).
        ("s3", "CreateMultipartUpload" | "UploadPart" | "CompleteMultipartUpload") => "PutObject",
        _ => operation,
    };
    format!("{prefix}:{operation}")
}

#[derive(Debug, Clone, Copy, Default)]
pub struct ActionRecorder;

impl Intercept for ActionRecorder {
    fn name(&self) -> &'static str {
        "switchboard-action-recorder"
    }

    // Before serialization, so presigned requests (never sent by us) are recorded too.
    fn read_before_serialization(
        &self,
        ctx: &BeforeSerializationInterceptorContextRef<'_>,
        _rc: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let Some(sink) = SINK.as_ref() else { return Ok(()) };
        let Ok(function) = FUNCTION.try_with(|f| *f) else { return Ok(()) };
        let Some(meta) = cfg.load::<Metadata>() else { return Ok(()) };
        let on_index = ctx.input().downcast_ref::<QueryInput>().is_some_and(|q| q.index_name.is_some());
        let scope = if on_index {
            "index"
        } else if idempotency_item(ctx.input()) {
            "key"
        } else {
            ""
        };
        for action in iam_actions(meta.service(), meta.name(), ctx.input()) {
            let line = format!("{function}\t{action}\t{scope}\n");
            let fresh = sink.seen.lock().map(|mut s| s.insert(line.clone())).unwrap_or(false);
            if fresh
                && let Ok(mut file) = sink.file.lock()
                && let Some(f) = file.as_mut()
            {
                let _ = f.write_all(line.as_bytes());
            }
        }
        Ok(())
    }
}
