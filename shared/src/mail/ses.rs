//! Amazon SES (v1 API, as moto serves it too): the raw MIME message the outbox would write.

use aws_sdk_ses::primitives::Blob;
use aws_sdk_ses::types::RawMessage;

use super::{Envelope, Mailer, OutgoingEmail, SendFuture};
use crate::error::Error;

#[derive(Debug, Clone)]
pub struct SesMailer {
    client: crate::aws::Lazy<aws_sdk_ses::Client>,
    from: String,
    /// SES reports bounces and complaints of messages sent with it (to SNS, then the
    /// suppression list).
    configuration_set: Option<String>,
}

impl SesMailer {
    pub fn new(sdk: &aws_config::SdkConfig, endpoint: Option<&str>, from: &str) -> Self {
        let mut sdk = sdk.clone();
        if let Some(url) = endpoint {
            sdk = sdk.into_builder().endpoint_url(url).build();
        }
        SesMailer {
            client: crate::aws::Lazy::new(&sdk, |sdk| {
                aws_sdk_ses::Client::from_conf(
                    aws_sdk_ses::config::Builder::from(sdk).interceptor(crate::aws::ActionRecorder).build(),
                )
            }),
            from: from.to_owned(),
            configuration_set: None,
        }
    }

    pub fn with_configuration_set(mut self, name: Option<String>) -> Self {
        self.configuration_set = name;
        self
    }
}

impl Mailer for SesMailer {
    fn send<'a>(&'a self, m: &'a OutgoingEmail, logo: Option<&'a [u8]>, envelope: &'a Envelope) -> SendFuture<'a> {
        Box::pin(async move {
            let raw = super::mime::render(&self.from, m, logo, &envelope.id, envelope.date.timestamp())?;
            let message = RawMessage::builder()
                .data(Blob::new(raw))
                .build()
                .map_err(|e| crate::error::Error::mail_from("building an SES message", e))?;
            self.client
                .get()
                .send_raw_email()
                .source(&self.from)
                .destinations(m.to.as_str())
                .raw_message(message)
                .set_configuration_set_name(self.configuration_set.clone())
                .send()
                .await
                .map_err(|e| {
                    use crate::store::Transient;
                    // Throttling (`Throttling`: "Maximum sending rate exceeded"), SES failing
                    // inside, a timeout or a lost connection: the job is tried again later
                    // rather than recorded as failed.
                    if e.transient() {
                        Error::MailThrottled
                    } else {
                        crate::error::Error::mail_from("building an SES message", e)
                    }
                })?;
            Ok(())
        })
    }
}
