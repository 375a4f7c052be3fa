//! Amazon SES (v1 API, as moto serves it too).

use aws_sdk_ses::types::{Body, Content, Destination, Message};

use super::{Mailer, OutgoingEmail, SendFuture};
use crate::error::Error;

#[derive(Debug, Clone)]
pub struct SesMailer {
    client: aws_sdk_ses::Client,
    from: String,
}

impl SesMailer {
    pub fn new(sdk: &aws_config::SdkConfig, endpoint: Option<&str>, from: &str) -> Self {
        let mut cfg = aws_sdk_ses::config::Builder::from(sdk);
        if let Some(url) = endpoint {
            cfg = cfg.endpoint_url(url);
        }
        SesMailer { client: aws_sdk_ses::Client::from_conf(cfg.build()), from: from.to_owned() }
    }
}

fn content(s: &str) -> Result<Content, Error> {
    Content::builder().data(s).charset("UTF-8").build().map_err(|e| Error::Mail(e.to_string()))
}

impl Mailer for SesMailer {
    fn send<'a>(&'a self, m: &'a OutgoingEmail) -> SendFuture<'a> {
        Box::pin(async move {
            let message = Message::builder()
                .subject(content(&m.subject)?)
                .body(Body::builder().text(content(&m.text)?).html(content(&m.html)?).build())
                .build();
            self.client
                .send_email()
                .source(&self.from)
                .destination(Destination::builder().to_addresses(m.to.as_str()).build())
                .message(message)
                .send()
                .await
                .map_err(|e| {
                    use aws_sdk_ses::error::ProvideErrorMetadata;
                    // SES reports exceeding the send rate as `Throttling` ("Maximum sending rate exceeded").
                    let code = e.as_service_error().and_then(|s| s.code()).unwrap_or_default();
                    if code.starts_with("Throttling") {
                        Error::MailThrottled
                    } else {
                        Error::Mail(format!("{e:?}").chars().take(300).collect())
                    }
                })?;
            Ok(())
        })
    }
}
