//! Email templates, compiled into the binary: `<name>.<lang>.subject|txt|html`. HTML
//! templates auto-escape what they interpolate.

use std::sync::LazyLock;

use minijinja::Environment;
use serde::Serialize;

use super::OutgoingEmail;
use crate::domain::{Email, Language};
use crate::error::{Error, Result};

macro_rules! templates {
    ($($name:literal),* $(,)?) => {
        &[$(
            (concat!($name, ".en.subject"), include_str!(concat!("../../templates/", $name, ".en.subject"))),
            (concat!($name, ".en.txt"), include_str!(concat!("../../templates/", $name, ".en.txt"))),
            (concat!($name, ".en.html"), include_str!(concat!("../../templates/", $name, ".en.html"))),
            (concat!($name, ".nl.subject"), include_str!(concat!("../../templates/", $name, ".nl.subject"))),
            (concat!($name, ".nl.txt"), include_str!(concat!("../../templates/", $name, ".nl.txt"))),
            (concat!($name, ".nl.html"), include_str!(concat!("../../templates/", $name, ".nl.html"))),
            (concat!($name, ".de.subject"), include_str!(concat!("../../templates/", $name, ".de.subject"))),
            (concat!($name, ".de.txt"), include_str!(concat!("../../templates/", $name, ".de.txt"))),
            (concat!($name, ".de.html"), include_str!(concat!("../../templates/", $name, ".de.html"))),
        )*]
    };
}

const SOURCES: &[(&str, &str)] = templates![
    "verify_email",
    "invitation",
    "password_reset",
    "email_change_verify",
    "email_change_notice",
    "registration_attempt"
];

/// HTML escaping of the five characters that need it, and no others: minijinja's default also
/// escapes `/`, which writes links as `https:&#x2f;&#x2f;…`, legal HTML that mail clients and
/// link scanners handle badly.
fn html_formatter(
    out: &mut minijinja::Output,
    state: &minijinja::State,
    value: &minijinja::Value,
) -> std::result::Result<(), minijinja::Error> {
    if state.auto_escape() != minijinja::AutoEscape::Html || value.is_safe() {
        return minijinja::escape_formatter(out, state, value);
    }
    let text = value.to_string();
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            c => escaped.push(c),
        }
    }
    out.write_str(&escaped).map_err(minijinja::Error::from)
}

static ENV: LazyLock<Environment<'static>> = LazyLock::new(|| {
    let mut env = Environment::new();
    env.set_formatter(html_formatter);
    for (name, src) in SOURCES {
        // A broken template fails the unit test below; at run time it surfaces as a render error.
        let _ = env.add_template(name, src);
    }
    env
});

/// Every template's name (each exists in every language).
pub fn names() -> impl Iterator<Item = &'static str> {
    SOURCES.iter().filter_map(|(n, _)| n.strip_suffix(".en.subject"))
}

pub fn render<C: Serialize>(name: &str, lang: Language, to: &Email, ctx: &C) -> Result<OutgoingEmail> {
    let part = |ext: &str| -> Result<String> {
        let t = ENV
            .get_template(&format!("{name}.{}.{ext}", lang.as_str()))
            .map_err(|e| Error::Internal(format!("template {name}: {e}")))?;
        t.render(ctx).map_err(|e| Error::Internal(format!("template {name}: {e}")))
    };
    Ok(OutgoingEmail {
        to: to.clone(),
        subject: part("subject")?.trim().to_owned(),
        text: part("txt")?,
        html: part("html")?,
        language: lang,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_renders_in_every_language_and_escapes_html() {
        assert_eq!(ENV.templates().count(), SOURCES.len());
        let to = Email::parse("a@example.com", "to").unwrap();
        for lang in Language::ALL {
            let ctx = serde_json::json!({"first_name": "<Ann>", "org_name": "Acme", "link": "https://x/y?a=1&b=2", "hours": 48});
            let m = render("verify_email", lang, &to, &ctx).unwrap();
            assert!(m.subject.contains("Acme"));
            assert!(m.text.contains("https://x/y?a=1&b=2") && m.text.contains("<Ann>"));
            assert!(m.html.contains("&lt;Ann&gt;") && m.html.contains("a=1&amp;b=2"));
        }
    }
}
