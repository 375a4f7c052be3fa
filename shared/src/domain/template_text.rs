//! An organization's email template text (subject, title or body) and the sandbox every
//! template renders in. Templates are plain text: the HTML email is produced from the
//! rendered text by a fixed layout that escapes it, so nothing an admin or a variable holds
//! can become markup.
//!
//! The sandbox: strict undefined (a missing variable is an error, not an empty string), no
//! `safe` filter and no `debug`, only the type's declared variables (checked at save time),
//! bounded source size, output size, recursion and instructions (fuel), so a template cannot
//! loop or grow without end. Memory is bounded too, for every value made on the way and not
//! only for the output: no operator that builds a longer string or list (`*`, `+`, `~` are
//! refused where the template is saved and where it renders), no filter that multiplies its
//! input (`escape`, `indent`, `format`, `urlencode`, `chain`, `sum`, …), `join` and `replace`
//! that stop at [`VALUE_MAX`], and `range` of at most [`RANGE_MAX`] numbers. So every value
//! stays within a small multiple of the source and the variables, and a rendering within a
//! few MiB and milliseconds.

use std::io;

use minijinja::{AutoEscape, Environment, UndefinedBehavior};

use super::EmailType;
use crate::error::{Error, Result};

/// Instructions one rendering may run: a long template needs a few thousand. With every
/// value it makes bounded ([`VALUE_MAX`]), this bounds its time.
pub const FUEL: u64 = 20_000;
/// Bytes one rendering may write.
pub const OUTPUT_MAX: usize = 64 * 1024;
const RECURSION_LIMIT: usize = 32;
/// Bytes a value that `join` or `replace` makes may hold.
pub const VALUE_MAX: usize = 4 * 1024;
/// Numbers `range` may give.
pub const RANGE_MAX: usize = 1_000;
/// The builtin filters that could make a value many times larger than their input, or let a
/// value pass unescaped; `join` and `replace` come back bounded.
const REMOVED_FILTERS: [&str; 12] =
    ["safe", "escape", "e", "replace", "join", "sum", "indent", "chain", "pprint", "format", "tojson", "urlencode"];

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
    for f in REMOVED_FILTERS {
        env.remove_filter(f);
    }
    env.add_filter("join", bounded_join);
    env.add_filter("replace", bounded_replace);
    env.remove_global("debug");
    env.remove_global("namespace");
    env.add_function("range", bounded_range);
    env.set_keep_trailing_newline(false);
    env.set_trim_blocks(true);
    env
}

fn too_large(what: &str) -> minijinja::Error {
    minijinja::Error::new(minijinja::ErrorKind::InvalidOperation, format!("{what} would exceed {VALUE_MAX} bytes"))
}

/// `join`, stopping at [`VALUE_MAX`] bytes.
fn bounded_join(value: minijinja::Value, sep: Option<String>) -> std::result::Result<String, minijinja::Error> {
    let sep = sep.unwrap_or_default();
    let mut out = String::new();
    for (i, item) in value.try_iter()?.enumerate() {
        if i > 0 {
            out.push_str(&sep);
        }
        let text = item.to_string();
        if out.len() + text.len() > VALUE_MAX {
            return Err(too_large("join"));
        }
        out.push_str(&text);
    }
    Ok(out)
}

/// `replace`, refused before it starts when the result would pass [`VALUE_MAX`] bytes.
fn bounded_replace(s: String, from: String, to: String) -> std::result::Result<String, minijinja::Error> {
    let hits = if from.is_empty() { s.chars().count() + 1 } else { s.matches(from.as_str()).count() };
    if s.len() + hits.saturating_mul(to.len()) > VALUE_MAX {
        return Err(too_large("replace"));
    }
    Ok(s.replace(from.as_str(), &to))
}

/// `range(stop)` or `range(start, stop[, step])`, of at most [`RANGE_MAX`] numbers.
fn bounded_range(a: i64, b: Option<i64>, step: Option<i64>) -> std::result::Result<minijinja::Value, minijinja::Error> {
    let (start, stop) = match b {
        Some(b) => (a, b),
        None => (0, a),
    };
    let step = step.unwrap_or(1);
    if step == 0 {
        return Err(minijinja::Error::new(minijinja::ErrorKind::InvalidOperation, "range step is zero"));
    }
    // Numbers from `start` towards `stop` by `step` (unsigned, so no step overflows).
    let span = if step > 0 { stop.saturating_sub(start) } else { start.saturating_sub(stop) };
    let len = if span <= 0 { 0 } else { (span as u64).div_ceil(step.unsigned_abs()) as i64 };
    if len > RANGE_MAX as i64 {
        return Err(minijinja::Error::new(
            minijinja::ErrorKind::InvalidOperation,
            format!("range gives more than {RANGE_MAX} numbers"),
        ));
    }
    Ok(minijinja::Value::from((0..len).map(|i| start + i * step).collect::<Vec<i64>>()))
}

/// Where `source` uses an operator that builds a longer string or list (`*`, `+`, `~`)
/// inside a tag or an expression (string literals aside): its byte offset.
pub fn growing_operator(source: &str) -> Option<usize> {
    let bytes = source.as_bytes();
    let mut i = 0;
    while i + 1 < bytes.len() {
        let close = match (bytes[i], bytes[i + 1]) {
            (b'{', b'{') => "}}",
            (b'{', b'%') => "%}",
            (b'{', b'#') => {
                i = bytes[i..].windows(2).position(|w| w == b"#}").map_or(bytes.len(), |e| i + e + 2);
                continue;
            }
            _ => {
                i += 1;
                continue;
            }
        };
        let mut j = i + 2;
        let mut quote: Option<u8> = None;
        while j < bytes.len() {
            let c = bytes[j];
            match quote {
                Some(_) if c == b'\\' => j += 1,
                Some(q) if c == q => quote = None,
                Some(_) => {}
                None if c == b'\'' || c == b'"' => quote = Some(c),
                None if matches!(c, b'*' | b'+' | b'~') => return Some(j),
                None if bytes[j..].starts_with(close.as_bytes()) => break,
                None => {}
            }
            j += 1;
        }
        i = j + 2;
    }
    None
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
        if let Some(at) = growing_operator(&source) {
            return Err(invalid(
                "template_operator",
                field,
                position(&source, at),
                "`*`, `+` and `~` are not available in email templates",
            ));
        }
        let mut env = sandbox();
        let name = format!("{}.txt", part.as_str());
        if let Err(e) = env.add_template_owned(name.clone(), source.clone()) {
            let at = e.range().map(|r| position(&source, r.start)).or(e.line().map(|l| (l, 1))).unwrap_or((1, 1));
            return Err(invalid("template_syntax", field, at, e.detail().unwrap_or("syntax error").to_owned()));
        }
        let template =
            env.get_template(&name).map_err(|e| crate::error::Error::internal_from("loading a template", e))?;
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
    fn growing_values_are_refused_where_they_are() {
        // The reported payloads: a 100 MB string in one expression, and in a loop.
        for (raw, at) in [
            ("{% set a = 'x' * (100000000 - first_name|length) %}{{ (a ~ a)|length }}", (1, 16)),
            ("{% for i in range(16) %}{% set a = 'x' * (100000000 - i) %}{% endfor %}", (1, 40)),
            ("Hi {{ first_name }}\n{{ [first_name] + [first_name] }}", (2, 17)),
        ] {
            let (code, line, column) = where_(parse(raw, Part::Body).unwrap_err());
            assert_eq!((code, (line, column)), ("template_operator", at), "{raw}");
        }
        // In string literals and plain text they are only characters.
        assert!(parse("1 + 1 ~ 2 * 3 {{ '*+~' }} {{ \"a~\\\"+\" }} {# x*y #}", Part::Body).is_ok());
        // Filters that multiply their input are gone; join, replace and range are bounded.
        for raw in [
            "{{ first_name|escape|escape }}",
            "{{ first_name|indent(100000) }}",
            "{{ first_name|urlencode }}",
            "{{ range(3)|chain(range(3))|list }}",
            "{{ range(100000)|length }}",
            "{{ range(300)|join(range(300)|join('xxxxxxxxxx')) }}",
            "{{ 'x'|replace('x', range(300)|join('y'))|replace('y', 'zzzzzzzzzzzzzzzzzzzz') }}",
        ] {
            let (code, ..) = where_(parse(raw, Part::Body).unwrap_err());
            assert_eq!(code, "template_render_failed", "{raw}");
        }
        let ok = parse("{{ range(3)|join(', ') }} {{ first_name|replace('a', 'b')|upper }}", Part::Body).unwrap();
        let env = sandbox();
        let out = env.render_str(ok.as_str(), minijinja::context! { first_name => "anna" }).unwrap();
        assert_eq!(out, "0, 1, 2 BNNB");
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
        assert_eq!(where_(parse(huge, Part::Body).unwrap_err()).0, "template_operator");
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
