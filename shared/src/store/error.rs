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

/// The outcome of a conditional write: `Ok(true)` applied, `Ok(false)` its condition failed.
pub(crate) fn applied<T, E, R>(res: Result<T, SdkError<E, R>>) -> crate::error::Result<bool>
where
    E: ProvideErrorMetadata + std::fmt::Debug,
    R: std::fmt::Debug,
{
    match res {
        Ok(_) => Ok(true),
        Err(e) if is_condition_failed(&e) => Ok(false),
        Err(e) => Err(storage(e)),
    }
}
