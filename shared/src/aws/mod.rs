//! AWS plumbing every binary shares: one HTTP client (rustls on ring, the roots compiled in, so
//! a cold start never reads the system's certificate files), an SDK configuration read
//! from the Lambda environment without probing profile files or instance metadata, and clients
//! built on first use, so a function pays only for the services it calls.

use std::sync::{Arc, LazyLock, OnceLock};
use std::time::Duration;

use aws_config::environment::EnvironmentVariableCredentialsProvider;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_smithy_async::rt::sleep::{SharedAsyncSleep, TokioSleep};
use aws_smithy_async::time::SharedTimeSource;
use aws_smithy_http_client::tls::{self, TlsContext, TrustStore, rustls_provider::CryptoMode};
use aws_smithy_runtime_api::client::http::SharedHttpClient;
use aws_smithy_types::retry::RetryConfig;
use aws_smithy_types::timeout::TimeoutConfig;
use base64::Engine;

pub mod actions;

pub use actions::{ActionRecorder, as_function};

/// Subjects of the roots AWS service endpoints chain to (Amazon Trust Services; the Starfield
/// root cross-signs them for older clients). A root's DER holds its subject verbatim.
const AWS_ROOTS: [&[u8]; 5] = [
    b"Amazon Root CA 1",
    b"Amazon Root CA 2",
    b"Amazon Root CA 3",
    b"Amazon Root CA 4",
    b"Starfield Services Root Certificate Authority - G2",
];

/// The roots trusted for AWS calls: only the ones AWS endpoints use, unless
/// `SWITCHBOARD_TLS_ROOTS=all` asks for Mozilla's whole set (an HTTPS endpoint of another
/// issuer). Fewer roots also means less to parse on a cold start: parsing all 146 was most of
/// a function's own init time.
fn trusted_roots(all: bool) -> impl Iterator<Item = &'static [u8]> {
    let subjects: Vec<memchr::memmem::Finder<'static>> = AWS_ROOTS.iter().map(memchr::memmem::Finder::new).collect();
    webpki_root_certs::TLS_SERVER_ROOT_CERTS
        .iter()
        .map(|c| c.as_ref())
        .filter(move |der| all || subjects.iter().any(|s| s.find(der).is_some()))
}

/// The roots as one PEM document, the form the SDK's trust store takes.
fn roots_pem(all: bool) -> Vec<u8> {
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut pem = Vec::new();
    for der in trusted_roots(all) {
        pem.extend_from_slice(b"-----BEGIN CERTIFICATE-----\n");
        for line in b64.encode(der).as_bytes().chunks(64) {
            pem.extend_from_slice(line);
            pem.push(b'\n');
        }
        pem.extend_from_slice(b"-----END CERTIFICATE-----\n");
    }
    pem
}

static HTTP: LazyLock<SharedHttpClient> = LazyLock::new(|| {
    let all = env("SWITCHBOARD_TLS_ROOTS").as_deref() == Some("all");
    let trust = TrustStore::empty().with_native_roots(false).with_pem_certificate(roots_pem(all));
    let builder = aws_smithy_http_client::Builder::new().tls_provider(tls::Provider::Rustls(CryptoMode::Ring));
    match TlsContext::builder().with_trust_store(trust).build() {
        Ok(tls) => builder.tls_context(tls).build_https(),
        // Building a context from a trust store cannot fail today; if it ever does, the
        // SDK's defaults are still a working client.
        Err(_) => builder.build_https(),
    }
});

/// The one HTTP client (and so one connection pool) of this process.
pub fn http_client() -> SharedHttpClient {
    HTTP.clone()
}

fn env(name: &str) -> Option<String> {
    use crate::config::Vars;
    crate::config::ProcessEnv.get(name)
}

/// Timeouts a request path can live with: a connection that cannot be made in a second is
/// retried (standard mode, 3 attempts) rather than waited on.
fn timeouts() -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(1))
        .operation_attempt_timeout(Duration::from_secs(5))
        .operation_timeout(Duration::from_secs(12))
        .build()
}

/// Configuration from what Lambda sets: `AWS_REGION`, the execution role's credentials in
/// `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`/`AWS_SESSION_TOKEN`, and `AWS_ENDPOINT_URL`
/// when pointed at a local engine.
pub fn sdk_config_from_env() -> SdkConfig {
    let region = env("AWS_REGION").or_else(|| env("AWS_DEFAULT_REGION")).unwrap_or_else(|| "us-east-1".into());
    let mut b = base_config(region, SharedCredentialsProvider::new(EnvironmentVariableCredentialsProvider::new()))
        .timeout_config(timeouts());
    if let Some(url) = env("AWS_ENDPOINT_URL") {
        b = b.endpoint_url(url);
    }
    b.build()
}

/// Configuration for a local engine (dynoxide, moto): fixed region and credentials.
pub fn local_sdk_config(endpoint: &str) -> SdkConfig {
    let local = aws_credential_types::Credentials::new("local", "local", None, None, "switchboard-local");
    base_config("us-east-1".into(), SharedCredentialsProvider::new(local)).endpoint_url(endpoint).build()
}

/// What every configuration shares: the one HTTP client, Tokio's sleep, standard retries.
fn base_config(region: String, credentials: SharedCredentialsProvider) -> aws_types::sdk_config::Builder {
    SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(region))
        .credentials_provider(credentials)
        .http_client(http_client())
        .sleep_impl(SharedAsyncSleep::new(TokioSleep::new()))
        .time_source(SharedTimeSource::default())
        .retry_config(RetryConfig::standard())
}

/// A client built the first time it is used.
pub struct Lazy<C> {
    inner: Arc<LazyInner<C>>,
}

struct LazyInner<C> {
    sdk: SdkConfig,
    build: fn(&SdkConfig) -> C,
    cell: OnceLock<C>,
}

impl<C> Clone for Lazy<C> {
    fn clone(&self) -> Self {
        Lazy { inner: self.inner.clone() }
    }
}

impl<C> std::fmt::Debug for Lazy<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lazy").field("built", &self.inner.cell.get().is_some()).finish()
    }
}

impl<C> Lazy<C> {
    pub fn new(sdk: &SdkConfig, build: fn(&SdkConfig) -> C) -> Self {
        Lazy { inner: Arc::new(LazyInner { sdk: sdk.clone(), build, cell: OnceLock::new() }) }
    }

    pub fn get(&self) -> &C {
        self.inner.cell.get_or_init(|| (self.inner.build)(&self.inner.sdk))
    }
}

pub type SqsClient = Lazy<aws_sdk_sqs::Client>;

/// Send `msg` as JSON to the queue at `url`; a send that fails becomes `failed(why)`.
pub async fn send_json<T: serde::Serialize>(
    client: &SqsClient,
    url: &str,
    msg: &T,
    failed: impl FnOnce(crate::error::Fault) -> crate::error::Error,
) -> crate::error::Result<()> {
    let body =
        serde_json::to_string(msg).map_err(|e| crate::error::Error::internal_from("serializing a queue message", e))?;
    match client.get().send_message().queue_url(url).message_body(body).send().await {
        Ok(_) => Ok(()),
        Err(e) => Err(failed(crate::error::Fault::caused(format!("sending to {url}"), e))),
    }
}

pub fn sqs(sdk: &SdkConfig) -> SqsClient {
    Lazy::new(sdk, |sdk| {
        aws_sdk_sqs::Client::from_conf(aws_sdk_sqs::config::Builder::from(sdk).interceptor(ActionRecorder).build())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trusts_exactly_the_roots_aws_endpoints_use_unless_told_otherwise() {
        assert_eq!(trusted_roots(false).count(), AWS_ROOTS.len(), "each AWS root once in the bundle");
        assert!(trusted_roots(true).count() > 100);
        let pem = String::from_utf8(roots_pem(false)).unwrap();
        assert_eq!(pem.matches("-----BEGIN CERTIFICATE-----").count(), AWS_ROOTS.len());
    }
}
