//! The one domain error type. Every failure a caller can see is a variant here with a stable
//! machine code; `api::problem` is the single place that turns it into HTTP.

use std::fmt;

/// Which input field an error is about, for validation problems.
pub type Field = &'static str;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Input that does not parse into a domain value.
    #[error("{field}: {message}")]
    Validation { code: &'static str, field: String, message: String },
    #[error("malformed request body: {0}")]
    MalformedBody(String),
    #[error("Content-Type must be application/json")]
    UnsupportedMediaType,
    #[error("request body is larger than {limit} bytes")]
    BodyTooLarge { limit: usize },
    #[error("the email address is already registered")]
    EmailTaken,
    #[error("invalid email or password")]
    InvalidCredentials,
    #[error("too many failed attempts; retry after {retry_after_secs} s")]
    TooManyAttempts { retry_after_secs: u64 },
    #[error("missing or invalid access token")]
    Unauthenticated,
    #[error("invalid or expired refresh token")]
    InvalidRefreshToken,
    #[error("the session has ended")]
    SessionEnded,
    #[error("invalid or expired token")]
    InvalidToken,
    #[error("not allowed")]
    Forbidden,
    #[error("the organization is suspended")]
    OrgSuspended,
    #[error("no free seat: buy {needed} more seat(s) first")]
    NoFreeSeats { needed: u32 },
    #[error("only unassigned seats can be removed; {free} seat(s) are unassigned")]
    SeatsInUse { free: u32 },
    #[error("this address already has a pending invitation")]
    AlreadyInvited,
    #[error("this person is already a member")]
    AlreadyMember,
    #[error("this address already has a login: log in and accept the invitation")]
    LoginRequired,
    #[error("the invitation was sent to another address than the signed-in account's")]
    EmailMismatch,
    #[error("still assigned in: {}; remove them from these lists first", lists.join(", "))]
    StillAssigned { lists: Vec<&'static str> },
    #[error("a merge of logins is in progress; retry in a moment")]
    MergeInProgress,
    #[error("a change to this address is already pending for another login")]
    EmailPending,
    #[error("this is already your address")]
    SameEmail,
    #[error("this login has no email address (it logs in with a username)")]
    NoEmail,
    #[error("verify your email address first")]
    EmailUnverified,
    #[error("another organization uses this login domain")]
    LoginDomainTaken,
    #[error("two-factor authentication is already on")]
    TwoFactorAlreadyOn,
    #[error("two-factor authentication is not on")]
    TwoFactorOff,
    #[error("wrong or already used code")]
    InvalidCode,
    #[error("this hands on rights you do not hold yourself")]
    GrantExceedsRights,
    #[error("your own roles and rights are changed by another admin")]
    OwnAccess,
    #[error("the owner cannot be removed, deactivated or demoted; transfer ownership first")]
    OwnerProtected,
    #[error("the settings changed since they were read (If-Match is stale); reload and retry")]
    PreconditionFailed,
    #[error("send If-Match with the ETag of the settings you read")]
    PreconditionRequired,
    #[error("{key} is locked by an organization above this one")]
    SettingLocked { key: &'static str },
    #[error("another organization has verified this domain")]
    DomainTaken,
    #[error("this domain is already verified")]
    DomainAlreadyVerified,
    #[error("the DNS record was not found: publish TXT {record} with the value given, then retry")]
    DomainUnverified { record: String },
    #[error("DNS lookup failed: {0}")]
    DnsUnavailable(String),
    #[error("{field}: the address is not on one of the organization's approved company domains")]
    DomainNotApproved { field: String },
    #[error("this organization requires two-factor authentication: turn it on first")]
    TwoFactorRequired,
    #[error("this organization does not allow this client type")]
    ClientDisabled,
    /// The session was opened through another organization's identity provider, which
    /// vouches for that organization only.
    #[error(
        "this session was opened through an organization's single sign-on and works there only: sign in with your own password to work here"
    )]
    SessionConfined,
    #[error("this organization does not accept people joining by their address")]
    JoinNotAllowed,
    #[error("text message delivery failed: {0}")]
    Sms(String),
    /// A template that does not parse, uses a variable its type does not offer, or cannot
    /// render within the sandbox's limits.
    #[error("{field} (line {line}, column {column}): {message}")]
    InvalidTemplate { code: &'static str, field: String, line: usize, column: usize, message: String },
    /// Theme colors whose text would be hard to read, unless accepted as they are.
    #[error("text is hard to read (under 4.5:1) on: {}; pick other colors or send accept_low_contrast", pairs.join(", "))]
    LowContrast { pairs: Vec<String> },
    /// A single sign-on response that did not pass (signature, audience, time, request).
    #[error("the sign-in response was refused: {0}")]
    SamlRejected(String),
    /// A person the provider signed in who cannot enter the organization here.
    #[error("signed in at the provider, but {0}")]
    SsoNotMember(&'static str),
    #[error("another organization uses this provider name")]
    ProviderNameTaken,
    /// An OAuth protocol error (RFC 6749 §5.2, §4.1.2.1): `code` is the registered error code.
    #[error("{description}")]
    OAuth { code: OAuthCode, description: String },
    /// A contact whose number is already in the group (`index`: its place in the request).
    #[error("a contact with this number is already in the group")]
    ContactExists { index: Option<usize> },
    /// A change to something a parent shares or keeps: it is changed where it is kept.
    #[error("this {0} is kept by an organization above this one and is read-only here")]
    InheritedReadOnly(&'static str),
    #[error("the organization is closed")]
    OrgClosed,
    #[error("the organization was closed more than 30 days ago and cannot be restored")]
    RestoreWindowPassed,
    #[error("you own {}: transfer ownership or close them first", orgs.join(", "))]
    StillOwner { orgs: Vec<String> },
    #[error("this Idempotency-Key was used with a different request")]
    IdempotencyKeyReused,
    #[error("a request with this Idempotency-Key is still being processed; retry shortly")]
    IdempotencyInProgress,
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("the resource was changed by someone else; reload and retry")]
    Conflict,
    /// Storage failed in a way the same request will meet again (an item that does not
    /// decode, a request the table refuses): a fault of ours, answered 500.
    #[error("storage failed: {0}")]
    Storage(Fault),
    /// A backing service stayed overloaded or unreachable through our retries; the same
    /// request may well pass a moment later.
    #[error("a backing service is busy: {0}")]
    Busy(Fault),
    #[error("email delivery failed: {0}")]
    Mail(Fault),
    #[error("the email service is throttling sends or unreachable")]
    MailThrottled,
    #[error("internal error: {0}")]
    Internal(Fault),
}

/// The OAuth error codes this server answers (RFC 6749 §5.2 and §4.1.2.1, RFC 6750 §3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OAuthCode {
    InvalidRequest,
    InvalidClient,
    InvalidGrant,
    UnauthorizedClient,
    InvalidScope,
    AccessDenied,
    InsufficientScope,
    UnsupportedGrantType,
}

impl OAuthCode {
    /// The registered code, as the protocol spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            OAuthCode::InvalidRequest => "invalid_request",
            OAuthCode::InvalidClient => "invalid_client",
            OAuthCode::InvalidGrant => "invalid_grant",
            OAuthCode::UnauthorizedClient => "unauthorized_client",
            OAuthCode::InvalidScope => "invalid_scope",
            OAuthCode::AccessDenied => "access_denied",
            OAuthCode::InsufficientScope => "insufficient_scope",
            OAuthCode::UnsupportedGrantType => "unsupported_grant_type",
        }
    }
}

/// What went wrong inside, for the log: what was being done, and the error that stopped it
/// with its whole chain of causes (never shown to a caller).
#[derive(Debug)]
pub struct Fault {
    context: std::borrow::Cow<'static, str>,
    source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
}

impl Fault {
    pub fn msg(context: impl Into<std::borrow::Cow<'static, str>>) -> Self {
        Fault { context: context.into(), source: None }
    }

    pub fn caused(
        context: impl Into<std::borrow::Cow<'static, str>>,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        Fault { context: context.into(), source: Some(Box::new(source)) }
    }
}

/// The context and every cause under it, `a: b: c`, so whatever logs an error with `%`
/// logs why it happened.
impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.context)?;
        let mut next = self.source.as_deref().map(|e| e as &(dyn std::error::Error + 'static));
        while let Some(cause) = next {
            let text = cause.to_string();
            // Wrappers often repeat their source's text; each part is said once.
            if !text.is_empty() && cause.source().is_none_or(|s| s.to_string() != text) {
                write!(f, ": {text}")?;
            }
            next = cause.source();
        }
        Ok(())
    }
}

impl std::error::Error for Fault {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source.as_deref().map(|e| e as &(dyn std::error::Error + 'static))
    }
}

impl Error {
    /// An internal fault described by what was being done.
    pub fn internal(context: impl Into<std::borrow::Cow<'static, str>>) -> Self {
        Error::Internal(Fault::msg(context))
    }

    /// An internal fault, keeping the error that caused it.
    pub fn internal_from(
        context: impl Into<std::borrow::Cow<'static, str>>,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        Error::Internal(Fault::caused(context, source))
    }

    pub fn busy(context: impl Into<std::borrow::Cow<'static, str>>) -> Self {
        Error::Busy(Fault::msg(context))
    }

    pub fn mail(context: impl Into<std::borrow::Cow<'static, str>>) -> Self {
        Error::Mail(Fault::msg(context))
    }

    pub fn mail_from(
        context: impl Into<std::borrow::Cow<'static, str>>,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        Error::Mail(Fault::caused(context, source))
    }

    /// What a caller may be told: a fault inside is described without its details (those
    /// are for the log, through `Display`).
    pub fn public_message(&self) -> String {
        match self {
            Error::Busy(_) | Error::MailThrottled => "a backing service is busy; retry shortly".to_owned(),
            Error::Mail(_) | Error::Sms(_) => "a backing service is unavailable; retry later".to_owned(),
            Error::Storage(_) | Error::Internal(_) => "unexpected error".to_owned(),
            other => other.to_string(),
        }
    }

    pub fn validation(code: &'static str, field: impl Into<String>, message: impl fmt::Display) -> Self {
        Error::Validation { code, field: field.into(), message: message.to_string() }
    }

    /// An organization's policy keeping a session out (two-factor required, client disabled),
    /// as opposed to having no access at all.
    pub fn is_policy_refusal(&self) -> bool {
        matches!(self, Error::TwoFactorRequired | Error::ClientDisabled | Error::SessionConfined)
    }

    /// The stable machine code clients switch on. Never rename one: add a new variant instead.
    pub fn code(&self) -> &'static str {
        match self {
            Error::Validation { code, .. } | Error::InvalidTemplate { code, .. } => code,
            Error::LowContrast { .. } => "low_contrast",
            Error::MalformedBody(_) => "malformed_body",
            Error::BodyTooLarge { .. } => "body_too_large",
            Error::UnsupportedMediaType => "unsupported_media_type",
            Error::EmailTaken => "email_taken",
            Error::InvalidCredentials => "invalid_credentials",
            Error::TooManyAttempts { .. } => "too_many_attempts",
            Error::Unauthenticated => "unauthenticated",
            Error::InvalidRefreshToken => "invalid_refresh_token",
            Error::SessionEnded => "session_ended",
            Error::InvalidToken => "invalid_token",
            Error::Forbidden => "forbidden",
            Error::OrgSuspended => "org_suspended",
            Error::NoFreeSeats { .. } => "no_free_seats",
            Error::SeatsInUse { .. } => "seats_in_use",
            Error::AlreadyInvited => "already_invited",
            Error::AlreadyMember => "already_member",
            Error::LoginRequired => "login_required",
            Error::EmailMismatch => "email_mismatch",
            Error::OwnerProtected => "owner_protected",
            Error::GrantExceedsRights => "grant_exceeds_rights",
            Error::OwnAccess => "own_access",
            Error::TwoFactorAlreadyOn => "two_factor_on",
            Error::EmailPending => "email_pending",
            Error::MergeInProgress => "merge_in_progress",
            Error::NoEmail => "no_email",
            Error::EmailUnverified => "email_unverified",
            Error::LoginDomainTaken => "login_domain_taken",
            Error::SameEmail => "same_email",
            Error::TwoFactorOff => "two_factor_off",
            Error::InvalidCode => "invalid_code",
            Error::StillAssigned { .. } => "still_assigned",
            Error::PreconditionFailed => "precondition_failed",
            Error::PreconditionRequired => "precondition_required",
            Error::SettingLocked { .. } => "setting_locked",
            Error::DomainTaken => "domain_taken",
            Error::DomainAlreadyVerified => "domain_already_verified",
            Error::DomainUnverified { .. } => "domain_unverified",
            Error::DnsUnavailable(_) => "dns_unavailable",
            Error::DomainNotApproved { .. } => "domain_not_approved",
            Error::TwoFactorRequired => "two_factor_required",
            Error::ClientDisabled => "client_disabled",
            Error::SessionConfined => "session_confined",
            Error::JoinNotAllowed => "join_not_allowed",
            Error::Sms(_) => "sms_unavailable",
            Error::SamlRejected(_) => "saml_response_rejected",
            Error::SsoNotMember(_) => "sso_not_a_member",
            Error::ProviderNameTaken => "provider_name_taken",
            Error::OAuth { code, .. } => code.as_str(),
            Error::ContactExists { .. } => "contact_exists",
            Error::InheritedReadOnly(_) => "inherited_read_only",
            Error::OrgClosed => "org_closed",
            Error::RestoreWindowPassed => "restore_window_passed",
            Error::StillOwner { .. } => "still_owner",
            Error::NotFound(_) => "not_found",
            Error::Conflict => "conflict",
            Error::Storage(_) => "storage_unavailable",
            Error::Busy(_) => "temporarily_unavailable",
            Error::IdempotencyKeyReused => "idempotency_key_reused",
            Error::IdempotencyInProgress => "idempotency_in_progress",
            Error::Mail(_) => "mail_unavailable",
            Error::MailThrottled => "mail_throttled",
            Error::Internal(_) => "internal",
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
