//! Turning SDK failures into domain errors, and recognising the conditional failures that
//! carry meaning (a taken email, a lost race).

use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};

use crate::error::{Error, Fault};

/// Any SDK or builder failure that has no domain meaning. One the engine may not repeat
/// (throttling, a conflict, an internal error, a timeout, a lost connection), still failing
/// after the SDK's retries, becomes [`Error::Busy`]: the client is told to retry.
pub(crate) fn storage<E: std::error::Error + Transient + Send + Sync + 'static>(e: E) -> Error {
    let transient = e.transient();
    let fault = Fault::caused("dynamodb call failed", e);
    if transient { Error::Busy(fault) } else { Error::Storage(fault) }
}

/// Whether a failure may pass if the same request is made again later.
pub(crate) trait Transient {
    fn transient(&self) -> bool;
}

/// The service codes DynamoDB (and SQS, SES) answer when they are overloaded or unwell.
const TRANSIENT_CODES: [&str; 10] = [
    "ProvisionedThroughputExceededException",
    "ThrottlingException",
    "Throttling",
    "RequestLimitExceeded",
    "InternalServerError",
    "InternalFailure",
    "ServiceUnavailable",
    "TransactionInProgressException",
    "TransactionConflict",
    "LimitExceededException",
];

impl<E: ProvideErrorMetadata, R> Transient for SdkError<E, R> {
    fn transient(&self) -> bool {
        match self {
            SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => true,
            SdkError::ServiceError(s) => s.err().code().is_some_and(|c| TRANSIENT_CODES.contains(&c)),
            _ => false,
        }
    }
}

/// Failures of our own making (a request that cannot be built, an item that does not
/// decode): retrying them changes nothing.
macro_rules! permanent {
    ($($t:ty),*) => { $(impl Transient for $t { fn transient(&self) -> bool { false } })* };
}
permanent!(aws_sdk_dynamodb::error::BuildError, serde_dynamo::Error);

/// True when a single-item write failed its condition expression.
pub(crate) fn is_condition_failed<E: ProvideErrorMetadata, R>(e: &SdkError<E, R>) -> bool {
    e.as_service_error().and_then(|s| s.code()) == Some("ConditionalCheckFailedException")
}

/// The outcome of a conditional write: `Ok(true)` applied, `Ok(false)` its condition failed.
pub(crate) fn applied<T, E, R>(res: Result<T, SdkError<E, R>>) -> crate::error::Result<bool>
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    match res {
        Ok(_) => Ok(true),
        Err(e) if is_condition_failed(&e) => Ok(false),
        Err(e) => Err(storage(e)),
    }
}
