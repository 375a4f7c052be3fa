//! Every email type in every language, built into a MIME message exactly as the outbox writes
//! it and SES sends it, read back by an independent parser (mail-parser) the way a mail client
//! would: ASCII-only headers with the subject RFC 2047-encoded, Date, Message-ID and
//! Content-Language present, text and HTML alternatives, the link intact in both, and the
//! logo inline beside the HTML that shows it.

use mail_parser::{MessageParser, MimeHeaders};
use switchboard::domain::logo::{ImageFormat, LogoRef};
use switchboard::domain::{Email, EmailType, Language};
use switchboard::mail::mime;
use switchboard::mail::templates::{self, Branding};

#[test]
fn every_email_type_is_a_message_mail_clients_read() {
    let to = Email::parse("ann@example.com", "to").unwrap();
    let link = "https://app.example.com/accept?token=abc_DEF-123&x=1";
    let logo_bytes = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/logos/acme.png")).unwrap();
    let logo =
        LogoRef { key: "logos/o/abc".into(), content_type: ImageFormat::Png, width: 240, height: 80, bytes: 564 };
    let mut checked = 0;
    for ty in EmailType::ALL {
        for lang in Language::ALL {
            let mut vars = ty.sample();
            for v in ["link", "login_link", "reset_link"] {
                if vars.contains_key(v) {
                    vars.insert(v.into(), link.into());
                }
            }
            vars.insert("first_name".into(), "Zoë <Ann>".into());
            vars.insert("org_name".into(), "Müller & Söhne".into());
            let what = format!("{}.{}", ty.key(), lang.as_str());
            let parts = templates::default_parts(*ty, lang).unwrap();
            let rendered = templates::render_parts(parts, &serde_json::Value::Object(vars)).unwrap();
            let mut brand = Branding::plain("Müller & Söhne", "https://app.example.com");
            brand.logo = Some(logo.clone());
            let m = templates::compose(rendered, &brand, &to, lang).unwrap();
            let raw = mime::render(
                "Switchboard <no-reply@switchboard.test>",
                &m,
                Some(&logo_bytes),
                "01ARZ3NDEKTSV4RRFFQ69G5FAV",
                1_764_583_200,
            )
            .unwrap();
            let head_end = raw.windows(4).position(|w| w == b"\r\n\r\n").expect("a header block");
            assert!(raw[..head_end].is_ascii(), "{what}: raw UTF-8 in the headers");
            let parsed = MessageParser::default().parse(&raw).expect("parses");
            assert_eq!(parsed.subject(), Some(m.subject.as_str()), "{what}: subject decodes to what was rendered");
            assert_eq!(parsed.to().and_then(|a| a.first()).and_then(|a| a.address()), Some("ann@example.com"));
            assert_eq!(parsed.from().and_then(|a| a.first()).and_then(|a| a.name()), Some("Switchboard"));
            assert!(parsed.date().is_some(), "{what}: Date");
            assert_eq!(parsed.message_id(), Some("01ARZ3NDEKTSV4RRFFQ69G5FAV@switchboard.test"));
            assert_eq!(parsed.header_raw("Content-Language").map(str::trim), Some(lang.as_str()), "{what}");
            assert!(parsed.content_type().is_some_and(|c| c.c_subtype.as_deref() == Some("alternative")), "{what}");
            assert_eq!((parsed.text_body_count(), parsed.html_body_count()), (1, 1), "{what}: text and HTML");
            let text = parsed.body_text(0).unwrap();
            let html = parsed.body_html(0).unwrap();
            let norm = |s: &str| s.replace("\r\n", "\n").trim_end().to_owned();
            assert_eq!(norm(&text), norm(&m.text), "{what}: the text part decodes to what was rendered");
            // The logo's Content-ID is the message's own (`logo.<id>@<domain>`, RFC 2045 §7).
            let cid = html.split("src=\"cid:").nth(1).and_then(|r| r.split('"').next()).unwrap_or_default().to_owned();
            assert!(cid.starts_with("logo.") && cid.contains('@'), "{what}: {cid}");
            let sent = m.html.replace("\"cid:logo\"", &format!("\"cid:{cid}\""));
            assert_eq!(norm(&html), norm(&sent), "{what}: the HTML part decodes to what was rendered");
            if m.text.contains(link) {
                assert!(html.contains("https://app.example.com/accept?token=abc_DEF-123&amp;x=1"), "{what}: {html}");
            }
            assert!(!html.contains("&#x2f;"), "{what}: slashes are not entities");
            assert!(html.contains("Zoë &lt;Ann&gt;") || !html.contains("Zoë"), "{what}: names are escaped in HTML");
            assert!(html.contains("src=\"cid:logo.") && html.contains("Müller &amp; Söhne"), "{what}");
            let image = parsed.attachment(0).expect("the logo part");
            assert_eq!(image.content_id(), Some(cid.as_str()), "{what}: the part the HTML names");
            assert_eq!(image.contents(), logo_bytes.as_slice(), "{what}: the logo's bytes");
            assert!(image.content_type().is_some_and(|c| c.c_type == "image" && c.c_subtype.as_deref() == Some("png")));
            let leaves = parsed.parts.iter().filter(|p| p.content_type().is_some_and(|c| c.c_type != "multipart"));
            for part in leaves {
                let encoding = part.content_transfer_encoding().unwrap_or_default();
                assert!(["7bit", "quoted-printable", "base64"].contains(&encoding), "{what}: {encoding}");
            }
            checked += 1;
        }
    }
    assert_eq!(checked, EmailType::ALL.len() * Language::ALL.len());
    assert!(checked >= 57);
}

/// A crash between a send and its mark sends the email again (issue 34): it goes as the same
/// message, under the outbox id's Message-ID and the file named by it, so the local outbox
/// holds it once and a mail client shows it once. Another id is another message.
#[tokio::test]
async fn an_email_sent_again_is_the_same_message() {
    use switchboard::mail::{Envelope, Mailer, OutboxMailer};
    let dir = std::env::temp_dir().join(format!("switchboard-resend-{}", ulid::Ulid::new()));
    let mailer = OutboxMailer::new(dir.clone(), "Switchboard <no-reply@switchboard.test>");
    let message = e2e::plain_email("ann@example.com", "Your invitation", "Join us");
    let date = chrono::DateTime::parse_from_rfc3339("2031-05-04T10:00:00Z").unwrap().to_utc();
    let first = Envelope { id: "01JS0000000000000000000001".into(), date };
    let later = Envelope { id: first.id.clone(), date: date + chrono::Duration::minutes(5) };
    mailer.send(&message, None, &first).await.unwrap();
    mailer.send(&message, None, &later).await.unwrap();
    let files = e2e::files_in(&dir);
    let names: Vec<_> = std::fs::read_dir(&dir).unwrap().flatten().map(|e| e.file_name()).collect();
    assert_eq!(names, ["01JS0000000000000000000001.eml"], "one file, nothing half-written left");
    let raw = std::fs::read(&files[0]).unwrap();
    let parsed = MessageParser::default().parse(&raw).expect("parses");
    assert_eq!(parsed.message_id(), Some("01JS0000000000000000000001@switchboard.test"));
    let sent_at = parsed.date().map(|d| d.to_timestamp());
    assert_eq!(sent_at, Some(later.date.timestamp()), "the Date of the send that stood, from the clock given");
    let other = Envelope { id: "01JS0000000000000000000002".into(), date };
    mailer.send(&message, None, &other).await.unwrap();
    assert_eq!(e2e::files_in(&dir).len(), 2, "another outbox id is another email");
    std::fs::remove_dir_all(&dir).unwrap();
}
