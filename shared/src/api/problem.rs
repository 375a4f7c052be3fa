//! The one place domain errors become HTTP: RFC 9457 `application/problem+json` bodies with
//! a stable `code`, and the offending `field` for validation errors.

use crate::error::OAuthCode;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::error::Error;

pub const PROBLEM_JSON: &str = "application/problem+json";

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Problem {
    /// `urn:switchboard:problem:<code>`; the codes are listed in docs/errors.md.
    #[serde(rename = "type")]
    pub type_: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// Stable machine-readable error code.
    pub code: String,
    /// The input field at fault, for validation errors.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// For `still_assigned`: the assignment lists the member is still on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub assigned_in: Option<Vec<String>>,
    /// For template errors: the 1-based line and column in the field's text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub column: Option<usize>,
}

pub fn status_of(e: &Error) -> StatusCode {
    match e {
        Error::Validation { .. } | Error::InvalidTemplate { .. } | Error::LowContrast { .. } => {
            StatusCode::UNPROCESSABLE_ENTITY
        }
        Error::MalformedBody(_) | Error::InvalidToken | Error::SamlRejected(_) => StatusCode::BAD_REQUEST,
        Error::SsoNotMember(_) => StatusCode::FORBIDDEN,
        Error::ProviderNameTaken => StatusCode::CONFLICT,
        Error::OAuth { code: OAuthCode::InvalidClient, .. } => StatusCode::UNAUTHORIZED,
        // A valid token without the scope the resource needs (RFC 6750 §3.1).
        Error::OAuth { code: OAuthCode::InsufficientScope, .. } => StatusCode::FORBIDDEN,
        Error::OAuth { .. } => StatusCode::BAD_REQUEST,
        Error::BodyTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
        Error::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
        Error::EmailTaken
        | Error::Conflict
        | Error::NoFreeSeats { .. }
        | Error::SeatsInUse { .. }
        | Error::AlreadyInvited
        | Error::AlreadyMember
        | Error::LoginRequired
        | Error::OwnerProtected
        | Error::TwoFactorAlreadyOn
        | Error::EmailPending
        | Error::MergeInProgress
        | Error::NoEmail
        | Error::EmailUnverified
        | Error::LoginDomainTaken
        | Error::SameEmail
        | Error::TwoFactorOff
        | Error::StillAssigned { .. }
        | Error::DomainTaken
        | Error::DomainAlreadyVerified => StatusCode::CONFLICT,
        Error::PreconditionFailed => StatusCode::PRECONDITION_FAILED,
        Error::PreconditionRequired => StatusCode::PRECONDITION_REQUIRED,
        Error::DomainUnverified { .. } | Error::DomainNotApproved { .. } => StatusCode::UNPROCESSABLE_ENTITY,
        Error::SettingLocked { .. }
        | Error::TwoFactorRequired
        | Error::ClientDisabled
        | Error::SessionConfined
        | Error::JoinNotAllowed => StatusCode::FORBIDDEN,
        Error::DnsUnavailable(_) | Error::Sms(_) => StatusCode::SERVICE_UNAVAILABLE,
        Error::EmailMismatch | Error::GrantExceedsRights | Error::OwnAccess => StatusCode::FORBIDDEN,
        Error::InvalidCredentials
        | Error::InvalidCode
        | Error::Unauthenticated
        | Error::InvalidRefreshToken
        | Error::SessionEnded => StatusCode::UNAUTHORIZED,
        Error::TooManyAttempts { .. } => StatusCode::TOO_MANY_REQUESTS,
        Error::Forbidden | Error::OrgSuspended | Error::OrgClosed | Error::InheritedReadOnly(_) => {
            StatusCode::FORBIDDEN
        }
        Error::ContactExists { .. } | Error::StillOwner { .. } => StatusCode::CONFLICT,
        Error::RestoreWindowPassed => StatusCode::GONE,
        Error::IdempotencyKeyReused => StatusCode::UNPROCESSABLE_ENTITY,
        Error::IdempotencyInProgress => StatusCode::CONFLICT,
        Error::NotFound(_) => StatusCode::NOT_FOUND,
        Error::Busy(_) | Error::Mail(_) | Error::MailThrottled => StatusCode::SERVICE_UNAVAILABLE,
        // A retry meets the same fault: the answer says so rather than "retry later".
        Error::Storage(_) | Error::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

pub fn problem(status: StatusCode, code: &str, detail: String, field: Option<String>) -> Response {
    problem_with(status, code, detail, field, Extras::default())
}

/// Members of a problem only some errors have.
#[derive(Default)]
struct Extras {
    assigned_in: Option<Vec<String>>,
    line: Option<usize>,
    column: Option<usize>,
}

fn problem_with(status: StatusCode, code: &str, detail: String, field: Option<String>, extras: Extras) -> Response {
    let body = Problem {
        assigned_in: extras.assigned_in,
        line: extras.line,
        column: extras.column,
        type_: format!("urn:switchboard:problem:{code}"),
        title: status.canonical_reason().unwrap_or("Error").to_owned(),
        status: status.as_u16(),
        detail,
        code: code.to_owned(),
        field,
    };
    let mut resp = (status, axum::Json(body)).into_response();
    resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
    resp
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let status = status_of(&self);
        // Internal details stay in the logs, not in the response.
        let detail = self.public_message();
        if status.is_server_error() {
            // `Display` of a fault carries its whole chain of causes.
            tracing::error!(error = %self, code = self.code(), "request failed");
        }
        let field = match &self {
            Error::Validation { field, .. }
            | Error::DomainNotApproved { field }
            | Error::InvalidTemplate { field, .. } => Some(field.clone()),
            Error::LowContrast { pairs } => pairs.first().cloned(),
            Error::SettingLocked { key } => Some((*key).to_owned()),
            Error::ContactExists { index: Some(i) } => Some(format!("contacts[{i}].phone")),
            Error::ContactExists { index: None } => Some("phone".to_owned()),
            Error::IdempotencyKeyReused | Error::IdempotencyInProgress => Some("Idempotency-Key".to_owned()),
            _ => None,
        };
        let mut extras = Extras::default();
        match &self {
            Error::StillAssigned { lists } => {
                extras.assigned_in = Some(lists.iter().map(|l| (*l).to_owned()).collect())
            }
            Error::InvalidTemplate { line, column, .. } => (extras.line, extras.column) = (Some(*line), Some(*column)),
            _ => {}
        }
        let mut resp = problem_with(status, self.code(), detail, field, extras);
        match &self {
            Error::TooManyAttempts { retry_after_secs } => {
                if let Ok(v) = HeaderValue::from_str(&retry_after_secs.to_string()) {
                    resp.headers_mut().insert(header::RETRY_AFTER, v);
                }
            }
            Error::MergeInProgress => {
                resp.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("2"));
            }
            // Our own retries (the SDK's, with jitter) already spent about a second; one more
            // second lets a throttled partition or a hot item settle.
            Error::Busy(_) | Error::MailThrottled | Error::IdempotencyInProgress => {
                resp.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            }
            Error::Unauthenticated | Error::SessionEnded => {
                resp.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            Error::OAuth { code: OAuthCode::InsufficientScope, .. } => {
                let v = HeaderValue::from_static("Bearer error=\"insufficient_scope\", scope=\"profile\"");
                resp.headers_mut().insert(header::WWW_AUTHENTICATE, v);
            }
            _ => {}
        }
        resp
    }
}
