//! Every template in every language, built into a MIME message exactly as the outbox writes it
//! and SES sends it, read back by an independent parser (mail-parser) the way a mail client
//! would: ASCII-only headers with the subject RFC 2047-encoded, Date, Message-ID and
//! Content-Language present, text and HTML alternatives, and the link intact in both.

use mail_parser::{MessageParser, MimeHeaders};
use serde_json::json;
use switchboard::domain::{Email, Language};
use switchboard::mail::{mime, templates};

#[test]
fn every_template_is_a_message_mail_clients_read() {
    let to = Email::parse("ann@example.com", "to").unwrap();
    let link = "https://app.example.com/accept?token=abc_DEF-123&x=1";
    let ctx = json!({
        "first_name": "Zoë <Ann>", "org_name": "Müller & Söhne", "inviter": "Jörg", "link": link,
        "login_link": link, "reset_link": link, "hours": 48, "minutes": 60, "expires": "2026-12-08 10:00 UTC",
        "new_email": "new@example.com", "old_email": "old@example.com",
    });
    let mut checked = 0;
    for name in templates::names() {
        for lang in Language::ALL {
            let m =
                templates::render(name, lang, &to, &ctx).unwrap_or_else(|e| panic!("{name}.{}: {e}", lang.as_str()));
            let raw = mime::render(
                "Switchboard <no-reply@switchboard.test>",
                &m,
                "01ARZ3NDEKTSV4RRFFQ69G5FAV",
                1_764_583_200,
            )
            .unwrap();
            let head_end = raw.windows(4).position(|w| w == b"\r\n\r\n").expect("a header block");
            assert!(raw[..head_end].is_ascii(), "{name}.{}: raw UTF-8 in the headers", lang.as_str());
            let parsed = MessageParser::default().parse(&raw).expect("parses");
            let what = format!("{name}.{}", lang.as_str());
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
            assert_eq!(norm(&html), norm(&m.html), "{what}: the HTML part decodes to what was rendered");
            if m.text.contains(link) {
                assert!(html.contains("https://app.example.com/accept?token=abc_DEF-123&amp;x=1"), "{what}: {html}");
            }
            assert!(!html.contains("&#x2f;"), "{what}: slashes are not entities");
            assert!(html.contains("Zoë &lt;Ann&gt;") || !html.contains("Zoë"), "{what}: names are escaped in HTML");
            for part in parsed.parts.iter().skip(1) {
                let encoding = part.content_transfer_encoding().unwrap_or_default();
                assert!(["7bit", "quoted-printable", "base64"].contains(&encoding), "{what}: {encoding}");
            }
            checked += 1;
        }
    }
    assert_eq!(checked, templates::names().count() * Language::ALL.len());
    assert!(checked >= 18);
}
