//! Turning SDK failures into domain errors, and recognising the conditional failures that
//! carry meaning (a taken email, a lost race).

use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};

use crate::error::Error;

/// Any SDK or builder failure that has no domain meaning.
pub(crate) fn storage(e: impl std::fmt::Debug) -> Error {
    let text = format!("{e:?}");
    tracing::error!(error = %text, "dynamodb call failed");
    Error::Storage(text.chars().take(500).collect())
}

/// True when a single-item write failed its condition expression.
pub(crate) fn is_condition_failed<E: ProvideErrorMetadata, R>(e: &SdkError<E, R>) -> bool {
    e.as_service_error().and_then(|s| s.code()) == Some("ConditionalCheckFailedException")
}

/// For a cancelled transaction: the indexes of the items whose condition failed. `None` means
/// the failure was something else (throttling, validation, a transaction conflict).
pub(crate) fn cancelled_conditions<R>(
    e: &SdkError<aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError, R>,
) -> Option<Vec<usize>> {
    let svc = e.as_service_error()?;
    let aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError::TransactionCanceledException(c) =
        svc
    else {
        return None;
    };
    let failed: Vec<usize> = c
        .cancellation_reasons()
        .iter()
        .enumerate()
        .filter(|(_, r)| r.code() == Some("ConditionalCheckFailed"))
        .map(|(i, _)| i)
        .collect();
    // An engine that reports no reasons still told us a condition failed.
    if failed.is_empty() && c.cancellation_reasons().is_empty() {
        return Some(Vec::new());
    }
    (!failed.is_empty()).then_some(failed)
}
