//! Bounces and complaints: SES reports them through SNS, and each address that bounced for
//! good or complained goes on the suppression list the email worker checks before every send.

use serde::Deserialize;

use crate::domain::Email;
use crate::error::{Error, Result};
use crate::service::Ctx;
use crate::store::SuppressionRecord;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Notification {
    notification_type: String,
    #[serde(default)]
    bounce: Option<Bounce>,
    #[serde(default)]
    complaint: Option<Complaint>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Bounce {
    bounce_type: String,
    #[serde(default)]
    bounce_sub_type: Option<String>,
    bounced_recipients: Vec<Recipient>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Complaint {
    complained_recipients: Vec<Recipient>,
    #[serde(default)]
    complaint_feedback_type: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Recipient {
    email_address: String,
}

/// Record one SES notification (an SNS message's text). Returns the addresses suppressed:
/// permanent bounces and complaints; transient bounces and deliveries change nothing.
pub async fn record(ctx: &Ctx, message: &str) -> Result<Vec<Email>> {
    let n: Notification = serde_json::from_str(message).map_err(|e| {
        Error::validation("invalid_notification", "Message", format!("is not an SES notification: {e}"))
    })?;
    let (reason, detail, recipients) = match (n.notification_type.as_str(), n.bounce, n.complaint) {
        ("Bounce", Some(b), _) if b.bounce_type == "Permanent" => ("bounce", b.bounce_sub_type, b.bounced_recipients),
        ("Complaint", _, Some(c)) => ("complaint", c.complaint_feedback_type, c.complained_recipients),
        _ => return Ok(Vec::new()),
    };
    let mut out = Vec::new();
    for r in recipients {
        // SES writes the address as sent, possibly as `Name <address>`.
        let raw = r.email_address.rsplit('<').next().unwrap_or_default().trim_end_matches('>');
        let Ok(email) = Email::parse(raw, "emailAddress") else {
            tracing::warn!("unparseable address in an SES notification skipped");
            continue;
        };
        let record =
            SuppressionRecord { email: email.clone(), reason: reason.into(), at: ctx.now(), detail: detail.clone() };
        ctx.store.suppress(&record).await?;
        out.push(email);
    }
    tracing::info!(reason, count = out.len(), "addresses suppressed");
    Ok(out)
}

/// The SES feedback function's entry: an SNS event (`Records[].Sns.Message`). Returns how
/// many addresses were suppressed. A message that is not an SES notification (a
/// subscription test) is skipped; a storage failure fails the invocation, so SNS retries.
pub async fn on_sns(ctx: &Ctx, event: &serde_json::Value) -> Result<usize> {
    let records = event.get("Records").and_then(|r| r.as_array()).cloned().unwrap_or_default();
    let mut suppressed = 0;
    for r in records {
        let message = r.pointer("/Sns/Message").and_then(|m| m.as_str()).unwrap_or_default();
        match record(ctx, message).await {
            Ok(list) => suppressed += list.len(),
            Err(e @ Error::Validation { .. }) => tracing::warn!(error = %e, "SNS message ignored"),
            Err(e) => return Err(e),
        }
    }
    Ok(suppressed)
}
