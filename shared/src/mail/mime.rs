//! Every outgoing message as real MIME, built by a well-kept crate (mail-builder): RFC 2047
//! encoded headers, `Date`, `Message-ID`, `Content-Language`, multipart/alternative text and
//! HTML with proper transfer encodings. The outbox writes these bytes; SES sends the same.

use mail_builder::MessageBuilder;
use mail_builder::headers::raw::Raw;
use mail_builder::headers::text::Text;
use mail_builder::mime::MimePart;

use super::OutgoingEmail;
use crate::error::Result;

/// `Name <address>` or a bare address, as configured for the sender.
fn split_sender(from: &str) -> (Option<String>, String) {
    match (from.rfind('<'), from.trim_end().strip_suffix('>')) {
        (Some(i), Some(rest)) if i < rest.len() => {
            let name = from[..i].trim().trim_matches('"').trim();
            let addr = rest[i + 1..].trim().to_owned();
            ((!name.is_empty()).then(|| name.to_owned()), addr)
        }
        _ => (None, from.trim().to_owned()),
    }
}

/// The raw message: `id` becomes the local part of its Message-ID (at the sender's domain),
/// `date` its Date (Unix seconds). With a logo, the HTML and the image it shows travel
/// together as multipart/related, so clients show it inline rather than as an attachment.
pub fn render(from: &str, m: &OutgoingEmail, logo: Option<&[u8]>, id: &str, date: i64) -> Result<Vec<u8>> {
    let (name, addr) = split_sender(from);
    let domain = addr.rsplit_once('@').map(|(_, d)| d.to_owned()).unwrap_or_else(|| "localhost".into());
    let builder = MessageBuilder::new();
    let builder = match name {
        Some(n) => builder.from((n, addr)),
        None => builder.from(addr),
    };
    let mut builder = builder
        .to(m.to.as_str().to_owned())
        .subject(m.subject.clone())
        .date(date)
        .message_id(format!("{id}@{domain}"))
        .header("Content-Language", Text::new(m.language.as_str()));
    if let Some(link) = &m.unsubscribe {
        // Only a POST with this body unsubscribes (RFC 8058), so a scanner that fetches links
        // changes nothing.
        builder = builder
            .header("List-Unsubscribe", Raw::new(format!("<{link}>")))
            .header("List-Unsubscribe-Post", Raw::new("List-Unsubscribe=One-Click"));
    }
    // The logo's Content-ID is a msg-id unique to this message (RFC 2045 §7, RFC 2392).
    let cid = format!("{}.{id}@{domain}", super::templates::LOGO_CID);
    builder
        .body(body(m, logo, &cid))
        .write_to_vec()
        .map_err(|e| crate::error::Error::mail_from("building the message", e))
}

fn body<'a>(m: &'a OutgoingEmail, logo: Option<&'a [u8]>, cid: &str) -> MimePart<'a> {
    let text = MimePart::new("text/plain", m.text.as_str());
    match (logo, &m.logo) {
        (Some(bytes), Some(r)) => {
            // The layout points at `cid:logo`; the message names it by its own Content-ID.
            let placeholder = format!("\"cid:{}\"", super::templates::LOGO_CID);
            let html = MimePart::new("text/html", m.html.replace(&placeholder, &format!("\"cid:{cid}\"")));
            let image = MimePart::new(r.content_type.content_type(), bytes).inline().cid(cid.to_owned());
            let related = MimePart::new("multipart/related", vec![html, image]);
            MimePart::new("multipart/alternative", vec![text, related])
        }
        _ => MimePart::new("multipart/alternative", vec![text, MimePart::new("text/html", m.html.as_str())]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn senders_split_into_name_and_address() {
        assert_eq!(
            split_sender("Switchboard <no-reply@x.example>"),
            (Some("Switchboard".into()), "no-reply@x.example".into())
        );
        assert_eq!(split_sender("\"Acme, Inc\" <a@b.c>"), (Some("Acme, Inc".into()), "a@b.c".into()));
        assert_eq!(split_sender("a@b.c"), (None, "a@b.c".into()));
    }
}
