//! Rendering an email: a type's subject, title and body templates (an organization's own,
//! or the defaults shipped in `templates/emails.<lang>.txt`), rendered as text in the
//! sandbox, then laid out as HTML by a fixed layout that escapes every piece it is given
//! (`layout.html`: the name is what turns HTML auto-escaping on), with the organization's
//! logo and colors.

use std::collections::HashMap;
use std::sync::LazyLock;

use minijinja::Environment;
use serde::Serialize;

use super::OutgoingEmail;
use crate::domain::logo::LogoRef;
use crate::domain::template_text::{Part, TemplateText, render_bounded, sandbox};
use crate::domain::theme::{DEFAULT_THEME, Theme};
use crate::domain::{Email, EmailType, Language};
use crate::error::{Error, Result};

pub use crate::domain::template_text::TemplateParts as Parts;

const SHIPPED: [(Language, &str); 3] = [
    (Language::En, include_str!("../../templates/emails.en.txt")),
    (Language::Nl, include_str!("../../templates/emails.nl.txt")),
    (Language::De, include_str!("../../templates/emails.de.txt")),
];

/// Read one language's defaults: sections `## <type key>`, then `subject:` and `title:`
/// lines, then `body:` and the body's lines up to the next section.
fn parse_shipped(src: &str) -> std::result::Result<HashMap<EmailType, Parts>, String> {
    let mut out = HashMap::new();
    for section in src.split("\n## ").skip(1) {
        let (key, rest) = section.split_once('\n').ok_or("section without content")?;
        let ty = EmailType::parse(key.trim(), "key").map_err(|_| format!("unknown type {key}"))?;
        let (head, body) = rest.split_once("\nbody:\n").ok_or(format!("{key}: no body"))?;
        let line = |name: &str| {
            head.lines()
                .find_map(|l| l.strip_prefix(name))
                .map(|v| TemplateText::shipped(v.trim()))
                .ok_or(format!("{key}: no {name}"))
        };
        let parts =
            Parts { subject: line("subject:")?, title: line("title:")?, body: TemplateText::shipped(body.trim()) };
        if out.insert(ty, parts).is_some() {
            return Err(format!("{key} twice"));
        }
    }
    Ok(out)
}

static DEFAULTS: LazyLock<HashMap<(EmailType, Language), Parts>> = LazyLock::new(|| {
    let mut all = HashMap::new();
    for (lang, src) in SHIPPED {
        // A broken defaults file fails the unit tests below; here it would leave types out.
        for (ty, parts) in parse_shipped(src).unwrap_or_default() {
            all.insert((ty, lang), parts);
        }
    }
    all
});

/// The shipped template of `ty` in `lang`.
pub fn default_parts(ty: EmailType, lang: Language) -> Result<&'static Parts> {
    DEFAULTS.get(&(ty, lang)).ok_or_else(|| Error::Internal(format!("no default template {} {lang:?}", ty.key())))
}

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

static LAYOUT: LazyLock<Environment<'static>> = LazyLock::new(|| {
    let mut env = sandbox();
    env.set_formatter(html_formatter);
    // Checked by the unit tests; a failure here surfaces as a render error.
    let _ = env.add_template("layout.html", include_str!("../../templates/layout.html"));
    env
});

/// Content id of the inline logo part the HTML refers to (`cid:`).
pub const LOGO_CID: &str = "logo";

/// What an email shows of its organization.
#[derive(Debug, Clone)]
pub struct Branding {
    pub org_name: String,
    pub logo: Option<LogoRef>,
    pub theme: Theme,
    /// Links that start with this (the service's own) are shown as links and buttons.
    pub link_prefix: String,
}

impl Branding {
    pub fn plain(org_name: &str, link_prefix: &str) -> Self {
        Branding {
            org_name: org_name.to_owned(),
            logo: None,
            theme: DEFAULT_THEME,
            link_prefix: link_prefix.to_owned(),
        }
    }
}

/// A piece of a paragraph: text, or one of the service's links (bare, or written
/// `[label](link)`).
#[derive(Serialize)]
struct Segment<'a> {
    text: &'a str,
    href: Option<&'a str>,
}

#[derive(Serialize)]
struct Paragraph<'a> {
    /// A paragraph that is only a link is drawn as a button.
    button: Option<Segment<'a>>,
    lines: Vec<Vec<Segment<'a>>>,
}

/// The next link in `s` at or after its start: (start, end, label, href).
fn next_link<'a>(s: &'a str, prefix: &str) -> Option<(usize, usize, &'a str, &'a str)> {
    let bare = s.find(prefix)?;
    let url_end = |from: usize, stop: &[char]| {
        s[from..].find(|c: char| c.is_whitespace() || stop.contains(&c)).map_or(s.len(), |e| from + e)
    };
    // `[label](link)` whose link starts where the bare search found it.
    if bare >= 2
        && s[..bare].ends_with("](")
        && let Some(open) = s[..bare - 2].rfind('[')
    {
        let label = &s[open + 1..bare - 2];
        let end = url_end(bare, &[')']);
        if !label.is_empty() && !label.contains(['[', ']']) && s[end..].starts_with(')') {
            return Some((open, end + 1, label, &s[bare..end]));
        }
    }
    let mut end = url_end(bare, &[]);
    // A sentence's full stop or comma after a link is not part of it.
    while end > bare + prefix.len() && s[..end].ends_with(['.', ',', ';', ':', '!', '?']) {
        end -= 1;
    }
    Some((bare, end, &s[bare..end], &s[bare..end]))
}

fn segments<'a>(line: &'a str, prefix: &str) -> Vec<Segment<'a>> {
    let mut out = Vec::new();
    let mut rest = line;
    while let Some((start, end, label, href)) = next_link(rest, prefix).filter(|_| !prefix.is_empty()) {
        if start > 0 {
            out.push(Segment { text: &rest[..start], href: None });
        }
        out.push(Segment { text: label, href: Some(href) });
        rest = &rest[end..];
    }
    if !rest.is_empty() {
        out.push(Segment { text: rest, href: None });
    }
    out
}

fn paragraphs<'a>(body: &'a str, prefix: &str) -> Vec<Paragraph<'a>> {
    body.split("\n\n")
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| {
            let mut lines: Vec<Vec<Segment<'a>>> = p.lines().map(|l| segments(l.trim_end(), prefix)).collect();
            let lone_link = lines.len() == 1 && lines[0].len() == 1 && lines[0][0].href.is_some();
            let button = if lone_link { lines.pop().and_then(|mut l| l.pop()) } else { None };
            Paragraph { button, lines }
        })
        .collect()
}

/// The plain-text form of a body: `[label](link)` becomes `label: link`.
fn plain(body: &str, prefix: &str) -> String {
    body.lines()
        .map(|line| {
            segments(line, prefix)
                .into_iter()
                .map(|s| match s.href {
                    Some(h) if h != s.text => format!("{}: {h}", s.text),
                    _ => s.text.to_owned(),
                })
                .collect::<String>()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The subject, title and body rendered from `parts` (each within the sandbox's limits).
pub struct Rendered {
    pub subject: String,
    pub title: String,
    pub body: String,
}

pub fn render_parts(parts: &Parts, vars: &serde_json::Value) -> Result<Rendered> {
    let mut env = sandbox();
    for part in Part::ALL {
        env.add_template_owned(format!("{}.txt", part.as_str()), parts.get(part).as_str().to_owned())
            .map_err(|e| Error::Internal(format!("template: {e}")))?;
    }
    let vars = minijinja::Value::from_serialize(vars);
    let one = |part: Part| {
        render_bounded(&env, &format!("{}.txt", part.as_str()), &vars)
            .map_err(|e| Error::Internal(format!("template {}: {e}", part.as_str())))
    };
    let line = |s: String| s.split_whitespace().collect::<Vec<_>>().join(" ");
    Ok(Rendered {
        subject: line(one(Part::Subject)?),
        title: line(one(Part::Title)?),
        body: one(Part::Body)?.trim().to_owned(),
    })
}

/// Lay out rendered text as the email: HTML (escaped by the layout) and plain text.
pub fn compose(rendered: Rendered, branding: &Branding, to: &Email, language: Language) -> Result<OutgoingEmail> {
    let (header_bg, header_text) = branding.theme.header();
    let (button_bg, button_text) = branding.theme.button();
    let html = LAYOUT
        .get_template("layout.html")
        .and_then(|t| {
            t.render(minijinja::context! {
                lang => language.as_str(),
                subject => &rendered.subject,
                title => &rendered.title,
                paragraphs => paragraphs(&rendered.body, &branding.link_prefix),
                org_name => &branding.org_name,
                logo => branding.logo.as_ref().map(|l| minijinja::context! {
                    src => format!("cid:{LOGO_CID}"),
                    width => l.width.min(600),
                }),
                header_bg => header_bg.to_string(),
                header_text => header_text.to_string(),
                button_bg => button_bg.to_string(),
                button_text => button_text.to_string(),
                link => branding.theme.link.background.to_string(),
            })
        })
        .map_err(|e| Error::Internal(format!("email layout: {e}")))?;
    let text = format!(
        "{}\n\n{}\n\n-- \n{}\n",
        rendered.title,
        plain(&rendered.body, &branding.link_prefix),
        branding.org_name
    );
    Ok(OutgoingEmail {
        to: to.clone(),
        subject: rendered.subject,
        text,
        html,
        language,
        logo: branding.logo.clone(),
        unsubscribe: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_type_has_a_default_in_every_language_that_renders() {
        let to = Email::parse("a@example.com", "to").unwrap();
        for (lang, src) in SHIPPED {
            let parsed = parse_shipped(src).unwrap();
            for ty in EmailType::ALL {
                let parts = parsed.get(ty).unwrap_or_else(|| panic!("{} missing in {lang:?}", ty.key()));
                for part in Part::ALL {
                    // The shipped text passes the same checks as an organization's own.
                    TemplateText::parse(parts.get(part).as_str(), part, *ty, part.as_str())
                        .unwrap_or_else(|e| panic!("{} {lang:?} {}: {e}", ty.key(), part.as_str()));
                }
                let vars = serde_json::Value::Object(ty.sample());
                let rendered = render_parts(parts, &vars).unwrap();
                assert!(!rendered.subject.is_empty() && !rendered.title.is_empty() && rendered.body.len() > 20);
                let email = compose(rendered, &Branding::plain("Acme", "https://app.example"), &to, lang).unwrap();
                assert!(email.html.contains(&format!("lang=\"{}\"", lang.as_str())));
            }
            assert_eq!(parsed.len(), EmailType::ALL.len(), "{lang:?} has types outside the catalogue");
        }
    }

    #[test]
    fn variables_are_escaped_in_html_and_kept_in_text() {
        let parts = Parts {
            subject: TemplateText::shipped("Hi {{ first_name }}"),
            title: TemplateText::shipped("Welcome {{ first_name }}"),
            body: TemplateText::shipped(
                "Dear {{ first_name }},\n\n[Open it](https://app.example/x?a=1&b=2)\n\nSee https://evil.example/ or https://app.example/y.",
            ),
        };
        let vars = serde_json::json!({"first_name": "<script>alert(1)</script>"});
        let to = Email::parse("a@example.com", "to").unwrap();
        let m = compose(
            render_parts(&parts, &vars).unwrap(),
            &Branding::plain("A&B", "https://app.example"),
            &to,
            Language::En,
        )
        .unwrap();
        assert!(!m.html.contains("<script>") && m.html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(m.html.contains("href=\"https://app.example/x?a=1&amp;b=2\""), "{}", m.html);
        assert!(m.html.contains(">Open it</a>") && m.text.contains("Open it: https://app.example/x?a=1&b=2"));
        assert!(m.html.contains(">https://app.example/y</a>."), "bare links too, without the full stop: {}", m.html);
        assert!(!m.html.contains("href=\"https://evil.example/"), "only the service's links are links");
        assert!(m.html.contains("A&amp;B") && m.text.contains("<script>alert(1)</script>") && m.text.contains("A&B"));
        assert_eq!(m.subject, "Hi <script>alert(1)</script>");
    }
}
