//! Configuration, read once at cold start from the environment (set by the SAM template in
//! AWS, by the local server or tests otherwise).

use chrono::Duration;

use crate::auth::jwt::KeysConfig;

#[derive(Debug, Clone)]
pub struct Config {
    pub table: String,
    /// Base of links in emails, e.g. `https://app.example.com`.
    pub public_url: String,
    pub issuer: String,
    pub audience: String,
    pub sender: String,
    pub access_ttl: Duration,
    pub session_ttl: Duration,
    pub trial_days: i64,
    pub verify_email_ttl: Duration,
    /// Largest JSON body accepted, in bytes.
    pub max_body_bytes: usize,
    /// Failed logins per account and client address before attempts are slowed down.
    pub login_failure_limit: u32,
    pub login_failure_window: Duration,
    /// Seats a new organization starts with (the owner's seat is extra and never counted).
    pub included_seats: u32,
    /// Price of one seat, in cents of `currency`, per plan.
    pub seat_price_trial_cents: u64,
    pub seat_price_active_cents: u64,
    pub currency: String,
    /// Invitations expire after this many days unless the inviter chooses 1–30.
    pub invitation_days: i64,
    /// This API's own base URL (the local server's upload endpoint is under it).
    pub api_url: String,
    /// Password-reset requests one client address may make per hour before 429.
    pub email_requests_per_client_hour: u32,
    /// Company searches one client address may make per hour before 429.
    pub directory_searches_per_client_hour: u32,
    /// The messaging service's IAM role (ARN): the only caller of its internal routes in AWS.
    pub messaging_service_role: Option<String>,
    /// The shared token the messaging service presents to the embedded default instead.
    pub service_token: Option<String>,
    /// In AWS the table's stream carries recorded emails to the queue (`EmailOutboxPipe`),
    /// so requests do not queue them themselves (`SWITCHBOARD_EMAIL_DELIVERY=stream`).
    pub email_from_stream: bool,
    /// How long after a login is made it is reminded to confirm a mobile number (once,
    /// while none is confirmed); `None`: never.
    pub mobile_reminder_after: Option<Duration>,
    /// Seconds an import worker's hold on its job lasts past its last checkpoint: a worker
    /// silent that long (killed, frozen) is replaced by the job's next delivery.
    pub import_lease_secs: i64,
    /// The part an export is sent to S3 in (and the most of it held in memory). S3 takes
    /// parts of at least 5 MiB; tests against a store that takes less use small ones.
    pub export_part_bytes: usize,
    /// Rows an import worker commits a second. A row writes about one item into each of its
    /// job's results, its organization's activity feed and its organization's partition, in
    /// transactions (2 write units an item): 400 keeps each of those partitions under 1,000
    /// units a second, DynamoDB's limit for one partition (measured by `hot_keys` in the e2e
    /// tests). Tests against a local engine, which has no such limit, raise it.
    pub import_rows_per_second: u32,
    /// Invitations one bulk request commits a second. An invitation writes two or three items
    /// into its organization's partition and one into its activity feed, in a transaction:
    /// 150 keeps one request under 1,000 write units a second there.
    pub invitations_per_second: u32,
    /// Answers carry `Server-Timing: dynamodb;calls=N` (the DynamoDB calls the request made),
    /// for tests and load runs that count round trips per request (`SWITCHBOARD_SERVER_TIMING=on`).
    /// Off by default: how much a request read can tell an outsider what it found.
    pub server_timing: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            table: "switchboard".into(),
            public_url: "http://127.0.0.1:3000".into(),
            issuer: "http://127.0.0.1:3000".into(),
            audience: "switchboard-api".into(),
            sender: "Switchboard <no-reply@switchboard.example>".into(),
            access_ttl: Duration::minutes(10),
            session_ttl: Duration::days(30),
            trial_days: 14,
            verify_email_ttl: Duration::hours(48),
            max_body_bytes: 64 * 1024,
            login_failure_limit: 5,
            login_failure_window: Duration::minutes(15),
            included_seats: 5,
            seat_price_trial_cents: 2500,
            seat_price_active_cents: 2500,
            currency: "EUR".into(),
            invitation_days: 7,
            api_url: "http://127.0.0.1:3000".into(),
            email_requests_per_client_hour: 20,
            directory_searches_per_client_hour: 60,
            messaging_service_role: None,
            service_token: None,
            email_from_stream: false,
            mobile_reminder_after: Some(Duration::hours(24)),
            import_lease_secs: 300,
            export_part_bytes: crate::files::PART_BYTES,
            import_rows_per_second: 400,
            invitations_per_second: 150,
            server_timing: false,
        }
    }
}

/// A variable that is set but means nothing, or one a function needs and does not have:
/// the start stops with its name rather than run on a default nobody chose.
#[derive(Debug, thiserror::Error)]
#[error("configuration: {name} {problem}")]
pub struct ConfigError {
    pub name: &'static str,
    pub problem: String,
}

impl ConfigError {
    pub(crate) fn new(name: &'static str, problem: impl Into<String>) -> Self {
        ConfigError { name, problem: problem.into() }
    }
}

/// Where variables are read from: the process environment, or a map in tests.
pub trait Vars {
    /// The value of `name`, `None` when unset or blank.
    fn get(&self, name: &str) -> Option<String>;
}

/// The process environment.
pub struct ProcessEnv;

impl Vars for ProcessEnv {
    fn get(&self, name: &str) -> Option<String> {
        std::env::var(name).ok().filter(|v| !v.trim().is_empty())
    }
}

#[cfg(test)]
impl<const N: usize> Vars for [(&str, &str); N] {
    fn get(&self, name: &str) -> Option<String> {
        self.iter().find(|(k, _)| *k == name).map(|(_, v)| (*v).to_owned()).filter(|v| !v.trim().is_empty())
    }
}

/// An `http(s)` base address without a query or fragment, kept without its trailing slash.
fn base_url(name: &'static str, v: &str) -> std::result::Result<String, ConfigError> {
    let parsed = url::Url::parse(v).map_err(|e| ConfigError::new(name, format!("is not a URL ({e}): {v:?}")))?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
        return Err(ConfigError::new(name, format!("must be an http or https address: {v:?}")));
    }
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return Err(ConfigError::new(name, format!("must not carry a query or fragment: {v:?}")));
    }
    Ok(v.trim_end_matches('/').to_owned())
}

/// A whole number within `range`; anything else (`25.00`, `-1`, `lots`) is refused, not
/// replaced by the default.
fn number(
    vars: &dyn Vars,
    name: &'static str,
    range: std::ops::RangeInclusive<u64>,
) -> std::result::Result<Option<u64>, ConfigError> {
    let Some(v) = vars.get(name) else { return Ok(None) };
    let n = v.trim().parse::<u64>().map_err(|_| ConfigError::new(name, format!("must be a whole number: {v:?}")))?;
    if !range.contains(&n) {
        return Err(ConfigError::new(name, format!("must be {} to {}: {n}", range.start(), range.end())));
    }
    Ok(Some(n))
}

/// One of `choices`.
pub(crate) fn choice(
    vars: &dyn Vars,
    name: &'static str,
    choices: &[&'static str],
) -> std::result::Result<Option<&'static str>, ConfigError> {
    let Some(v) = vars.get(name) else { return Ok(None) };
    match choices.iter().find(|c| **c == v.trim()) {
        Some(c) => Ok(Some(c)),
        None => Err(ConfigError::new(name, format!("must be one of {}: {v:?}", choices.join(", ")))),
    }
}

impl Config {
    /// Defaults overridden by `SWITCHBOARD_*` variables of the process environment.
    pub fn from_env() -> std::result::Result<Self, ConfigError> {
        Config::from_vars(&ProcessEnv)
    }

    /// Defaults overridden by `SWITCHBOARD_*` variables; a value that does not parse stops here.
    pub fn from_vars(vars: &dyn Vars) -> std::result::Result<Self, ConfigError> {
        let mut c = Config::default();
        if let Some(v) = vars.get("SWITCHBOARD_TABLE") {
            c.table = v;
        }
        if let Some(v) = vars.get("SWITCHBOARD_PUBLIC_URL") {
            c.public_url = base_url("SWITCHBOARD_PUBLIC_URL", &v)?;
            c.issuer = c.public_url.clone();
        }
        if let Some(v) = vars.get("SWITCHBOARD_ISSUER") {
            c.issuer = v;
        }
        if let Some(v) = vars.get("SWITCHBOARD_AUDIENCE") {
            c.audience = v;
        }
        if let Some(v) = vars.get("SWITCHBOARD_SENDER") {
            c.sender = v;
        }
        if let Some(v) = vars.get("SWITCHBOARD_API_URL") {
            c.api_url = base_url("SWITCHBOARD_API_URL", &v)?;
        }
        let cents = 0..=100_000_000;
        if let Some(v) = number(vars, "SWITCHBOARD_SEAT_PRICE_TRIAL_CENTS", cents.clone())? {
            c.seat_price_trial_cents = v;
        }
        if let Some(v) = number(vars, "SWITCHBOARD_SEAT_PRICE_ACTIVE_CENTS", cents)? {
            c.seat_price_active_cents = v;
        }
        if let Some(hours) = number(vars, "SWITCHBOARD_MOBILE_REMINDER_AFTER_HOURS", 0..=24 * 365)? {
            c.mobile_reminder_after = (hours > 0).then(|| Duration::hours(hours as i64));
        }
        if let Some(secs) = number(vars, "SWITCHBOARD_IMPORT_LEASE_SECS", 1..=900)? {
            c.import_lease_secs = secs as i64;
        }
        if let Some(v) = number(vars, "SWITCHBOARD_IMPORT_ROWS_PER_SECOND", 1..=100_000)? {
            c.import_rows_per_second = v as u32;
        }
        if let Some(v) = number(vars, "SWITCHBOARD_INVITATIONS_PER_SECOND", 1..=100_000)? {
            c.invitations_per_second = v as u32;
        }
        if let Some(v) = number(vars, "SWITCHBOARD_INCLUDED_SEATS", 0..=10_000)? {
            c.included_seats = v as u32;
        }
        c.messaging_service_role = vars.get("SWITCHBOARD_MESSAGING_SERVICE_ROLE");
        c.service_token = vars.get("SWITCHBOARD_SERVICE_TOKEN");
        c.email_from_stream = choice(vars, "SWITCHBOARD_EMAIL_DELIVERY", &["stream", "queue"])? == Some("stream");
        c.server_timing = choice(vars, "SWITCHBOARD_SERVER_TIMING", &["on", "off"])? == Some("on");
        if let Some(v) = vars.get("SWITCHBOARD_CURRENCY") {
            if v.len() != 3 || !v.bytes().all(|b| b.is_ascii_uppercase()) {
                return Err(ConfigError::new(
                    "SWITCHBOARD_CURRENCY",
                    format!("must be an ISO 4217 code such as EUR: {v:?}"),
                ));
            }
            c.currency = v;
        }
        Ok(c)
    }
}

/// What a function needs from its environment beyond what every function is given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// Import files, logos and exports (`SWITCHBOARD_UPLOADS_BUCKET`).
    UploadsBucket,
    /// Where accepted import jobs go (`SWITCHBOARD_IMPORT_QUEUE_URL`).
    ImportQueue,
    /// Where requested exports go (`SWITCHBOARD_EXPORT_QUEUE_URL`).
    ExportQueue,
    /// Where SES reports bounces and complaints (`SWITCHBOARD_SES_CONFIGURATION_SET`).
    SesConfigurationSet,
}

impl Need {
    pub const ALL: [Need; 4] = [Need::UploadsBucket, Need::ImportQueue, Need::ExportQueue, Need::SesConfigurationSet];

    pub fn variable(self) -> &'static str {
        match self {
            Need::UploadsBucket => "SWITCHBOARD_UPLOADS_BUCKET",
            Need::ImportQueue => "SWITCHBOARD_IMPORT_QUEUE_URL",
            Need::ExportQueue => "SWITCHBOARD_EXPORT_QUEUE_URL",
            Need::SesConfigurationSet => "SWITCHBOARD_SES_CONFIGURATION_SET",
        }
    }
}

/// The variables every function in AWS is given (the template's `Globals`). Without one a
/// function would send links to 127.0.0.1, or do in its own process work that Lambda freezes
/// as soon as the answer is out.
pub const EVERY_FUNCTION_NEEDS: [&str; 7] = [
    "SWITCHBOARD_TABLE",
    "SWITCHBOARD_PUBLIC_URL",
    "SWITCHBOARD_API_URL",
    "SWITCHBOARD_SENDER",
    "SWITCHBOARD_SIGNING_KEYS",
    "SWITCHBOARD_EMAIL_QUEUE_URL",
    "SWITCHBOARD_EVENTS_QUEUE_URL",
];

/// A Lambda function's environment, parsed once at its start.
#[derive(Debug)]
pub struct LambdaEnv {
    pub config: Config,
    pub signing_keys: KeysConfig,
    pub email_queue_url: String,
    pub events_queue_url: String,
    /// The queues and bucket its handler needs; one it does not need stays `None`, and using
    /// it is refused (500) rather than run in a process Lambda freezes.
    pub import_queue_url: Option<String>,
    pub export_queue_url: Option<String>,
    pub uploads_bucket: Option<String>,
    /// Files, without a bucket (a function run by hand).
    pub uploads_dir: std::path::PathBuf,
    pub ses_configuration_set: Option<String>,
    /// Email written as files instead of sent (a function run by hand).
    pub outbox_dir: Option<std::path::PathBuf>,
    pub sms_outbox_dir: Option<std::path::PathBuf>,
    /// Whether a cold start opens its DynamoDB connection before the first request.
    pub warm_up: bool,
    pub dns: crate::dns::Dns,
}

impl LambdaEnv {
    /// Everything a function with these needs reads; any variable missing or unparsable stops
    /// the start, named.
    pub fn from_vars(vars: &dyn Vars, needs: &[Need]) -> std::result::Result<LambdaEnv, ConfigError> {
        let missing = EVERY_FUNCTION_NEEDS.into_iter().chain(needs.iter().map(|n| n.variable()));
        if let Some(name) = missing.into_iter().find(|n| vars.get(n).is_none()) {
            return Err(ConfigError::new(name, "is not set (this function needs it)"));
        }
        let config = Config::from_vars(vars)?;
        let required = |name: &'static str| vars.get(name).ok_or_else(|| ConfigError::new(name, "is not set"));
        let keys_json = required("SWITCHBOARD_SIGNING_KEYS")?;
        let signing_keys: KeysConfig = serde_json::from_str(&keys_json).map_err(|e| {
            ConfigError::new("SWITCHBOARD_SIGNING_KEYS", format!("is not the JSON of `local keygen`: {e}"))
        })?;
        let given = |need: Need| if needs.contains(&need) { vars.get(need.variable()) } else { None };
        Ok(LambdaEnv {
            email_queue_url: required("SWITCHBOARD_EMAIL_QUEUE_URL")?,
            events_queue_url: required("SWITCHBOARD_EVENTS_QUEUE_URL")?,
            import_queue_url: given(Need::ImportQueue),
            export_queue_url: given(Need::ExportQueue),
            uploads_bucket: given(Need::UploadsBucket),
            uploads_dir: vars
                .get("SWITCHBOARD_UPLOADS_DIR")
                .map_or_else(|| std::env::temp_dir().join("switchboard-uploads"), Into::into),
            ses_configuration_set: given(Need::SesConfigurationSet),
            outbox_dir: vars.get("SWITCHBOARD_OUTBOX_DIR").map(Into::into),
            sms_outbox_dir: vars.get("SWITCHBOARD_SMS_OUTBOX_DIR").map(Into::into),
            warm_up: choice(vars, "SWITCHBOARD_WARM_UP", &["on", "off"])? != Some("off"),
            dns: crate::dns::Dns::from_vars(vars)?,
            config,
            signing_keys,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEYS: &str = r#"{"keys":[{"kid":"k1","private_pkcs8":"AAAA"}]}"#;

    fn lambda_vars<'a>(extra: [(&'a str, &'a str); 2]) -> [(&'a str, &'a str); 9] {
        [
            ("SWITCHBOARD_TABLE", "t"),
            ("SWITCHBOARD_PUBLIC_URL", "https://app.example.com/"),
            ("SWITCHBOARD_API_URL", "https://api.example.com"),
            ("SWITCHBOARD_SENDER", "no-reply@example.com"),
            ("SWITCHBOARD_SIGNING_KEYS", KEYS),
            ("SWITCHBOARD_EMAIL_QUEUE_URL", "https://sqs.example/email"),
            ("SWITCHBOARD_EVENTS_QUEUE_URL", "https://sqs.example/events"),
            extra[0],
            extra[1],
        ]
    }

    #[test]
    fn a_value_that_does_not_parse_is_refused_by_name() {
        let err = Config::from_vars(&[("SWITCHBOARD_SEAT_PRICE_ACTIVE_CENTS", "25.00")]).unwrap_err();
        assert_eq!(err.name, "SWITCHBOARD_SEAT_PRICE_ACTIVE_CENTS");
        assert!(err.to_string().contains("25.00"), "{err}");
        for (name, bad) in [
            ("SWITCHBOARD_IMPORT_LEASE_SECS", "0"),
            ("SWITCHBOARD_IMPORT_LEASE_SECS", "901"),
            ("SWITCHBOARD_INCLUDED_SEATS", "-1"),
            ("SWITCHBOARD_MOBILE_REMINDER_AFTER_HOURS", "a day"),
            ("SWITCHBOARD_PUBLIC_URL", "app.example.com"),
            ("SWITCHBOARD_API_URL", "ftp://api.example.com"),
            ("SWITCHBOARD_PUBLIC_URL", "https://app.example.com/?x=1"),
            ("SWITCHBOARD_EMAIL_DELIVERY", "streams"),
            ("SWITCHBOARD_SERVER_TIMING", "yes"),
            ("SWITCHBOARD_CURRENCY", "euro"),
        ] {
            let err = Config::from_vars(&[(name, bad)]).unwrap_err();
            assert_eq!(err.name, name, "{bad}: {err}");
        }
    }

    #[test]
    fn values_that_parse_are_taken() {
        let c = Config::from_vars(&[
            ("SWITCHBOARD_PUBLIC_URL", "https://app.example.com/"),
            ("SWITCHBOARD_SEAT_PRICE_ACTIVE_CENTS", "1999"),
            ("SWITCHBOARD_MOBILE_REMINDER_AFTER_HOURS", "0"),
            ("SWITCHBOARD_EMAIL_DELIVERY", "stream"),
            ("SWITCHBOARD_CURRENCY", "USD"),
            ("SWITCHBOARD_SERVER_TIMING", "on"),
        ])
        .unwrap();
        assert!(c.server_timing && !Config::default().server_timing, "off unless asked for");
        assert_eq!((c.public_url.as_str(), c.issuer.as_str()), ("https://app.example.com", "https://app.example.com"));
        assert_eq!((c.seat_price_active_cents, c.mobile_reminder_after, c.email_from_stream), (1999, None, true));
        assert_eq!(c.currency, "USD");
        let unset = Config::from_vars(&[("SWITCHBOARD_CURRENCY", " ")]).unwrap();
        assert_eq!(unset.currency, Config::default().currency);
    }

    #[test]
    fn a_lambda_function_starts_only_with_what_it_needs() {
        let env = LambdaEnv::from_vars(
            &lambda_vars([
                ("SWITCHBOARD_IMPORT_QUEUE_URL", "https://sqs.example/imports"),
                ("SWITCHBOARD_UPLOADS_BUCKET", "b"),
            ]),
            &[Need::ImportQueue],
        )
        .unwrap();
        assert_eq!(env.import_queue_url.as_deref(), Some("https://sqs.example/imports"));
        // Given but not needed: not used, so the function cannot drift into it unnoticed.
        assert_eq!(env.uploads_bucket, None);
        assert_eq!((env.email_queue_url.as_str(), env.warm_up), ("https://sqs.example/email", true));

        let err = LambdaEnv::from_vars(&lambda_vars([("X", ""), ("Y", "")]), &[Need::ExportQueue]).unwrap_err();
        assert_eq!(err.name, "SWITCHBOARD_EXPORT_QUEUE_URL");
        let mut no_events = lambda_vars([("X", ""), ("Y", "")]);
        no_events[6].1 = "";
        let err = LambdaEnv::from_vars(&no_events, &[]).unwrap_err();
        assert_eq!(err.name, "SWITCHBOARD_EVENTS_QUEUE_URL");
        let err = LambdaEnv::from_vars(&lambda_vars([("SWITCHBOARD_WARM_UP", "no"), ("Y", "")]), &[]).unwrap_err();
        assert_eq!(err.name, "SWITCHBOARD_WARM_UP");
        let mut bad_keys = lambda_vars([("X", ""), ("Y", "")]);
        bad_keys[4].1 = "{not json";
        let err = LambdaEnv::from_vars(&bad_keys, &[]).unwrap_err();
        assert_eq!(err.name, "SWITCHBOARD_SIGNING_KEYS");
        let err =
            LambdaEnv::from_vars(&lambda_vars([("SWITCHBOARD_DNS_SERVERS", "10.0.0.2"), ("Y", "")]), &[]).unwrap_err();
        assert_eq!(err.name, "SWITCHBOARD_DNS_SERVERS");
    }
}
