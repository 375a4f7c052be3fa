//! Rendering an email: a type's subject, title and body templates (an organization's own,
//! or the defaults shipped in `templates/emails.<lang>.txt`), rendered as text in the
//! sandbox, then laid out as HTML by a fixed layout that escapes every piece it is given
//! (`layout.html`: the name is what turns HTML auto-escaping on), with the organization's
//! logo and colors.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::LazyLock;

use minijinja::Environment;
use serde::Serialize;

use super::OutgoingEmail;
use super::links::{self, Origin};
use crate::domain::logo::LogoRef;
use crate::domain::template_text::{Part, TemplateText, growing_operator, render_bounded, sandbox};
use crate::domain::theme::{DEFAULT_THEME, Theme};
use crate::domain::{Email, EmailType, Language};
use crate::error::Result;

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
    DEFAULTS
        .get(&(ty, lang))
        .ok_or_else(|| crate::error::Error::internal(format!("no default template {} {lang:?}", ty.key())))
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
    /// The service's own address: only links to it (same scheme, host and port) are shown
    /// as links and buttons.
    pub service_url: String,
}

impl Branding {
    pub fn plain(org_name: &str, service_url: &str) -> Self {
        Branding {
            org_name: org_name.to_owned(),
            logo: None,
            theme: DEFAULT_THEME,
            service_url: service_url.to_owned(),
        }
    }
}

/// A piece of a paragraph: text, or one of the service's links (bare, or written
/// `[label](link)` in the template).
#[derive(Serialize)]
struct Segment<'a> {
    text: Cow<'a, str>,
    href: Option<&'a str>,
}

#[derive(Serialize)]
struct Paragraph<'a> {
    /// A paragraph that is only a link is drawn as a button.
    button: Option<Segment<'a>>,
    lines: Vec<Vec<Segment<'a>>>,
}

/// A line cut into text and the service's links; people's text (fenced) stays text, and
/// loses its fences here.
fn segments<'a>(line: &'a str, origin: Option<&Origin>) -> Vec<Segment<'a>> {
    let mut out = Vec::new();
    let mut rest = line;
    while let Some((start, end, label, href)) = origin.and_then(|o| links::next_link(rest, o)) {
        if start > 0 {
            out.push(Segment { text: links::unfence(&rest[..start]), href: None });
        }
        out.push(Segment { text: links::unfence(label), href: Some(href) });
        rest = &rest[end..];
    }
    if !rest.is_empty() {
        out.push(Segment { text: links::unfence(rest), href: None });
    }
    out
}

fn paragraphs<'a>(body: &'a str, origin: Option<&Origin>) -> Vec<Paragraph<'a>> {
    body.split("\n\n")
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| {
            let mut lines: Vec<Vec<Segment<'a>>> = p.lines().map(|l| segments(l.trim_end(), origin)).collect();
            let lone_link = lines.len() == 1 && lines[0].len() == 1 && lines[0][0].href.is_some();
            let button = if lone_link { lines.pop().and_then(|mut l| l.pop()) } else { None };
            Paragraph { button, lines }
        })
        .collect()
}

/// The plain-text form of a body: `[label](link)` becomes `label: link`.
fn plain(body: &str, origin: Option<&Origin>) -> String {
    body.lines()
        .map(|line| {
            segments(line, origin)
                .into_iter()
                .map(|s| match s.href {
                    Some(h) if h != s.text => format!("{}: {h}", s.text),
                    _ => s.text.into_owned(),
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
        let source = parts.get(part).as_str();
        // Saved before the rule, a template with a growing operator is not run at all.
        if growing_operator(source).is_some() {
            return Err(crate::error::Error::internal(format!(
                "template {}: a growing operator (`*`, `+`, `~`)",
                part.as_str()
            )));
        }
        env.add_template_owned(format!("{}.txt", part.as_str()), source.to_owned())
            .map_err(|e| crate::error::Error::internal_from("template", e))?;
    }
    let values = vars;
    let vars = minijinja::Value::from_serialize(vars);
    let one = |part: Part| {
        render_bounded(&env, &format!("{}.txt", part.as_str()), &vars)
            .map_err(|e| crate::error::Error::internal(format!("template {}: {e}", part.as_str())))
    };
    let line = |s: String| links::unfence(&s).split_whitespace().collect::<Vec<_>>().join(" ");
    Ok(Rendered {
        subject: line(one(Part::Subject)?),
        title: line(one(Part::Title)?),
        // People's text is fenced where it shows, so it can never become a link (see `links`).
        body: links::fence_people_text(one(Part::Body)?.trim(), values),
    })
}

/// Lay out rendered text as the email: HTML (escaped by the layout) and plain text.
pub fn compose(rendered: Rendered, branding: &Branding, to: &Email, language: Language) -> Result<OutgoingEmail> {
    let origin = Origin::of(&branding.service_url);
    let origin = origin.as_ref();
    let (header_bg, header_text) = branding.theme.header();
    let (button_bg, button_text) = branding.theme.button();
    let html = LAYOUT
        .get_template("layout.html")
        .and_then(|t| {
            t.render(minijinja::context! {
                lang => language.as_str(),
                subject => &rendered.subject,
                title => &rendered.title,
                paragraphs => paragraphs(&rendered.body, origin),
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
        .map_err(|e| crate::error::Error::internal_from("email layout", e))?;
    let text = format!("{}\n\n{}\n\n-- \n{}\n", rendered.title, plain(&rendered.body, origin), branding.org_name);
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

    #[test]
    fn a_link_is_the_services_by_its_parsed_address_and_never_peoples_text() {
        let base = "http://127.0.0.1:3601";
        let parts = Parts {
            subject: TemplateText::shipped("{{ member_name }} joined"),
            title: TemplateText::shipped("{{ member_name }} joined"),
            body: TemplateText::shipped(
                "{{ member_name }} accepted.\n\nhttp://127.0.0.1:3601.evil.example/steal and http://127.0.0.1:3601@evil.example/x\n\n[Members]({{ link }})",
            ),
        };
        let vars = serde_json::json!({
            "member_name": "http://127.0.0.1:3601@evil.example/login http://127.0.0.1:3601/also-not-a-link",
            "link": "http://127.0.0.1:3601/admin/users",
        });
        let to = Email::parse("a@example.com", "to").unwrap();
        let m = compose(render_parts(&parts, &vars).unwrap(), &Branding::plain("A", base), &to, Language::En).unwrap();
        let hrefs: Vec<&str> = m
            .html
            .match_indices("href=\"")
            .map(|(i, _)| &m.html[i + 6..])
            .map(|r| &r[..r.find('"').unwrap()])
            .collect();
        assert_eq!(hrefs, vec!["http://127.0.0.1:3601/admin/users"], "{}", m.html);
        assert!(
            m.text.contains("http://127.0.0.1:3601@evil.example/login http://127.0.0.1:3601/also-not-a-link accepted.")
        );
        assert!(!m.html.contains('\u{E000}') && !m.text.contains('\u{E001}') && !m.subject.contains('\u{E000}'));
        assert_eq!(m.subject, "http://127.0.0.1:3601@evil.example/login http://127.0.0.1:3601/also-not-a-link joined");
    }
}
