//! Text messages (verification codes): Amazon SNS in AWS (moto in tests), a folder of files in
//! the embedded default and local runs, read back like the email outbox.

use std::path::PathBuf;

use crate::domain::Phone;
use crate::error::{Error, Result};

#[derive(Debug, Clone)]
pub enum SmsSender {
    /// SNS `Publish` to a phone number, as a transactional message.
    Sns { client: crate::aws::Lazy<aws_sdk_sns::Client> },
    /// One file per message: `<ulid>.sms`, the number on the first line, the text after it.
    Outbox { dir: PathBuf },
}

impl SmsSender {
    pub fn sns(sdk: &aws_config::SdkConfig) -> Self {
        SmsSender::Sns {
            client: crate::aws::Lazy::new(sdk, |sdk| {
                aws_sdk_sns::Client::from_conf(
                    aws_sdk_sns::config::Builder::from(sdk).interceptor(crate::aws::ActionRecorder).build(),
                )
            }),
        }
    }

    pub async fn send(&self, to: &Phone, text: &str, id: &str) -> Result<()> {
        match self {
            SmsSender::Sns { client } => {
                let kind = aws_sdk_sns::types::MessageAttributeValue::builder()
                    .data_type("String")
                    .string_value("Transactional")
                    .build()
                    .map_err(|e| Error::Sms(e.to_string()))?;
                client
                    .get()
                    .publish()
                    .phone_number(to.as_str())
                    .message(text)
                    .message_attributes("AWS.SNS.SMS.SMSType", kind)
                    .send()
                    .await
                    .map_err(|e| Error::Sms(aws_sdk_sns::error::DisplayErrorContext(e).to_string()))?;
                Ok(())
            }
            SmsSender::Outbox { dir } => {
                tokio::fs::create_dir_all(dir).await.map_err(|e| Error::Sms(e.to_string()))?;
                let body = format!("{}\n{}", to.as_str(), text);
                tokio::fs::write(dir.join(format!("{id}.sms")), body).await.map_err(|e| Error::Sms(e.to_string()))
            }
        }
    }
}
