//! An organization's email template text (subject, title or body) and the sandbox every
//! template renders in. Templates are plain text: the HTML email is produced from the
//! rendered text by a fixed layout that escapes it, so nothing an admin or a variable holds
//! can become markup.
//!
//! The sandbox: strict undefined (a missing variable is an error, not an empty string), no
//! `safe` filter and no `debug`, only the type's declared variables (checked at save time),
//! bounded source size, output size, recursion and instructions (fuel), so a template cannot
//! loop or grow without end.

use std::io;

use minijinja::{AutoEscape, Environment, UndefinedBehavior};

use super::EmailType;
use crate::error::{Error, Result};

/// Instructions one rendering may run: a long template needs a few thousand.
pub const FUEL: u64 = 50_000;
/// Bytes one rendering may write.
pub const OUTPUT_MAX: usize = 64 * 1024;
const RECURSION_LIMIT: usize = 32;

/// The three parts of an email a template sets, with their limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    Subject,
    Title,
    Body,
}

impl Part {
    pub const ALL: [Part; 3] = [Part::Subject, Part::Title, Part::Body];

    pub fn as_str(self) -> &'static str {
        match self {
            Part::Subject => "subject",
            Part::Title => "title",
            Part::Body => "body",
        }
    }

    /// Characters of template source at most.
    pub fn max_chars(self) -> usize {
        match self {
            Part::Subject | Part::Title => 300,
            Part::Body => 10_000,
        }
    }

    fn multiline(self) -> bool {
        self == Part::Body
    }
}

/// The environment every email template renders in (shipped defaults and organizations'
/// own alike). Auto-escaping follows the template's name: `.html` names escape for HTML,
/// everything else (the text parts) is left as written.
pub fn sandbox() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_fuel(Some(FUEL));
    env.set_recursion_limit(RECURSION_LIMIT);
    env.set_auto_escape_callback(|name| if name.ends_with(".html") { AutoEscape::Html } else { AutoEscape::None });
    env.remove_filter("safe");
    env.remove_global("debug");
    env.set_keep_trailing_newline(false);
    env.set_trim_blocks(true);
    env
}

/// A writer that refuses to grow past [`OUTPUT_MAX`], aborting the rendering.
struct Bounded(Vec<u8>);

impl io::Write for Bounded {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.0.len() + buf.len() > OUTPUT_MAX {
            return Err(io::Error::other("output too large"));
        }
        self.0.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Render a template of `env` within the output bound.
pub fn render_bounded(
    env: &Environment<'_>,
    name: &str,
    vars: &minijinja::Value,
) -> std::result::Result<String, String> {
    let t = env.get_template(name).map_err(|e| e.to_string())?;
    let mut out = Bounded(Vec::new());
    t.render_captured_to(vars, &mut out).map_err(|e| e.to_string())?;
    String::from_utf8(out.0).map_err(|e| e.to_string())
}

/// 1-based line and column (in characters) of byte offset `at` of `source`.
fn position(source: &str, at: usize) -> (usize, usize) {
    let at = at.min(source.len());
    let before = source.get(..at).unwrap_or(source);
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map(|l| l.chars().count()).unwrap_or(0) + 1;
    (line, column)
}

/// Where `name` is first used as a variable, for pointing at it.
fn first_use(source: &str, name: &str) -> (usize, usize) {
    let bytes = source.as_bytes();
    let is_ident = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let mut from = 0;
    while let Some(i) = source.get(from..).and_then(|s| s.find(name)) {
        let at = from + i;
        let end = at + name.len();
        let bounded_left = at == 0 || !is_ident(bytes[at - 1]);
        let bounded_right = end >= bytes.len() || !is_ident(bytes[end]);
        if bounded_left && bounded_right {
            return position(source, at);
        }
        from = end;
    }
    (1, 1)
}

fn invalid(code: &'static str, field: &str, (line, column): (usize, usize), message: impl Into<String>) -> Error {
    Error::InvalidTemplate { code, field: field.to_owned(), line, column, message: message.into() }
}

/// One part of one type's template, as an organization writes it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct TemplateText(String);

impl TemplateText {
    /// Check `raw` as `part` of `ty`'s template: within the size limit, one line for the
    /// subject and title, valid template syntax, only `ty`'s variables, and renderable with
    /// the type's sample values within the sandbox's budget. Errors name the line and column.
    pub fn parse(raw: &str, part: Part, ty: EmailType, field: &str) -> Result<Self> {
        let source = raw.replace("\r\n", "\n");
        let source = if part.multiline() { source.trim_end().to_owned() } else { source.trim().to_owned() };
        if source.is_empty() {
            return Err(Error::validation("template_empty", field, "is empty; reset the template to use the default"));
        }
        let max = part.max_chars();
        if source.chars().count() > max {
            return Err(Error::validation("template_too_long", field, format!("is longer than {max} characters")));
        }
        if !part.multiline()
            && let Some(at) = source.find('\n')
        {
            return Err(invalid("template_multiline", field, position(&source, at), "must be one line"));
        }
        if let Some((at, _)) = source.char_indices().find(|(_, c)| c.is_control() && *c != '\n' && *c != '\t') {
            return Err(invalid(
                "template_control_character",
                field,
                position(&source, at),
                "contains a control character",
            ));
        }
        let mut env = sandbox();
        let name = format!("{}.txt", part.as_str());
        if let Err(e) = env.add_template_owned(name.clone(), source.clone()) {
            let at = e.range().map(|r| position(&source, r.start)).or(e.line().map(|l| (l, 1))).unwrap_or((1, 1));
            return Err(invalid("template_syntax", field, at, e.detail().unwrap_or("syntax error").to_owned()));
        }
        let template = env.get_template(&name).map_err(|e| Error::Internal(e.to_string()))?;
        // Functions the sandbox offers (`range`, `dict`, …) are looked up like variables.
        let globals: Vec<&str> = env.globals().map(|(name, _)| name).collect();
        let mut unknown: Vec<String> = template
            .undeclared_variables(false)
            .into_iter()
            .filter(|v| !ty.allows(v) && !globals.contains(&v.as_str()))
            .collect();
        unknown.sort();
        if let Some(first) = unknown.first() {
            let offered: Vec<&str> = ty.variables().map(|v| v.name).collect();
            return Err(invalid(
                "template_unknown_variable",
                field,
                first_use(&source, first),
                format!("{{{{ {first} }}}} is not a variable of {}; it offers {}", ty.key(), offered.join(", ")),
            ));
        }
        let sample = minijinja::Value::from_serialize(ty.sample());
        if let Err(e) = render_bounded(&env, &name, &sample) {
            return Err(invalid("template_render_failed", field, (1, 1), e));
        }
        Ok(TemplateText(source))
    }

    /// A shipped default, trusted as written (its tests render every one).
    pub(crate) fn shipped(source: &str) -> Self {
        TemplateText(source.trim_end().to_owned())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A type's three template parts in one language.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TemplateParts {
    pub subject: TemplateText,
    pub title: TemplateText,
    pub body: TemplateText,
}

impl TemplateParts {
    pub fn get(&self, part: Part) -> &TemplateText {
        match part {
            Part::Subject => &self.subject,
            Part::Title => &self.title,
            Part::Body => &self.body,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(raw: &str, part: Part) -> Result<TemplateText> {
        TemplateText::parse(raw, part, EmailType::Invitation, "body")
    }

    fn where_(e: Error) -> (&'static str, usize, usize) {
        match e {
            Error::InvalidTemplate { code, line, column, .. } => (code, line, column),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn accepts_declared_variables() {
        let t = parse("Hello {{ first_name }},\n\n{{ inviter }} invited you: {{ link }}", Part::Body).unwrap();
        assert!(t.as_str().starts_with("Hello"));
    }

    #[test]
    fn syntax_errors_name_line_and_column() {
        let (code, line, column) = where_(parse("Hello\nthere {{ first_name", Part::Body).unwrap_err());
        assert_eq!((code, line), ("template_syntax", 2));
        assert!(column >= 7, "{column}");
    }

    #[test]
    fn unknown_variables_are_refused_where_they_are() {
        let (code, line, column) = where_(parse("Hi {{ first_name }}\n  {{ config }}", Part::Body).unwrap_err());
        assert_eq!((code, line, column), ("template_unknown_variable", 2, 6));
        // `safe` would let a value through unescaped: the sandbox has no such filter.
        let (code, ..) = where_(parse("{{ link|safe }}", Part::Body).unwrap_err());
        assert_eq!(code, "template_render_failed");
    }

    #[test]
    fn endless_work_runs_out_of_fuel() {
        let nested = "{% for a in range(10000) %}{% for b in range(10000) %}x{% endfor %}{% endfor %}";
        let (code, ..) = where_(parse(nested, Part::Body).unwrap_err());
        assert_eq!(code, "template_render_failed");
        let recursive = "{% macro f(n) %}{{ f(n) }}{% endmacro %}{{ f(1) }}";
        assert_eq!(where_(parse(recursive, Part::Body).unwrap_err()).0, "template_render_failed");
        let huge = "{{ 'x' * 1000000 }}";
        assert_eq!(where_(parse(huge, Part::Body).unwrap_err()).0, "template_render_failed");
    }

    #[test]
    fn subjects_are_one_bounded_line() {
        assert_eq!(where_(parse("a\nb", Part::Subject).unwrap_err()).0, "template_multiline");
        assert!(matches!(parse(&"x".repeat(301), Part::Subject), Err(Error::Validation { .. })));
    }

    #[test]
    fn html_names_escape_and_text_names_do_not() {
        let mut env = sandbox();
        env.add_template("a.html", "{{ v }}").unwrap();
        env.add_template("a.txt", "{{ v }}").unwrap();
        let vars = minijinja::Value::from_serialize(serde_json::json!({"v": "<script>"}));
        assert_eq!(render_bounded(&env, "a.html", &vars).unwrap(), "&lt;script&gt;");
        assert_eq!(render_bounded(&env, "a.txt", &vars).unwrap(), "<script>");
    }

    proptest::proptest! {
        #[test]
        fn any_text_is_accepted_or_refused_without_panic(raw in "\\PC{0,200}") {
            let _ = parse(&raw, Part::Body);
        }
    }
}
