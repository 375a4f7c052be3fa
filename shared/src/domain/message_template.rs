//! A message template: a name, a language tag and a body whose `{{placeholder}}`s the
//! messaging clients fill in when a message is written from it.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

const NAME_MAX: usize = 80;
/// Ten concatenated SMS segments of GSM-7 text.
pub const BODY_MAX: usize = 1600;
const PLACEHOLDERS_MAX: usize = 20;
const PLACEHOLDER_MAX: usize = 32;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TemplateName(String);

impl TemplateName {
    pub fn parse(raw: &str, field: &str) -> Result<Self> {
        let name = raw.split_whitespace().collect::<Vec<_>>().join(" ");
        if name.is_empty() || name.chars().count() > NAME_MAX || raw.chars().any(char::is_control) {
            return Err(Error::validation(
                "invalid_template_name",
                field,
                format!("is a name of 1 to {NAME_MAX} characters on one line"),
            ));
        }
        Ok(TemplateName(name))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A language tag: a two- or three-letter language, optionally a two-letter region
/// (`en`, `mi`, `nl-BE`), stored as `ll` or `ll-RR`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TemplateLanguage(String);

impl TemplateLanguage {
    pub fn parse(raw: &str, field: &str) -> Result<Self> {
        let bad = || Error::validation("invalid_language", field, "is a language tag such as en, mi or nl-BE");
        let raw = raw.trim().replace('_', "-");
        let mut parts = raw.split('-');
        let lang = parts.next().filter(|l| (2..=3).contains(&l.len()) && l.chars().all(|c| c.is_ascii_alphabetic()));
        let lang = lang.ok_or_else(bad)?.to_ascii_lowercase();
        let tag = match (parts.next(), parts.next()) {
            (None, _) => lang,
            (Some(r), None) if r.len() == 2 && r.chars().all(|c| c.is_ascii_alphabetic()) => {
                format!("{lang}-{}", r.to_ascii_uppercase())
            }
            _ => return Err(bad()),
        };
        Ok(TemplateLanguage(tag))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The text of a template. Placeholders are `{{name}}` with a lower-case name of letters,
/// digits and `_`; a stray `{{` or `}}` is refused so a typo cannot reach a customer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TemplateBody(String);

impl TemplateBody {
    pub fn parse(raw: &str, field: &str) -> Result<Self> {
        let body = raw.replace("\r\n", "\n");
        let body = body.trim();
        if body.is_empty() || body.chars().count() > BODY_MAX {
            return Err(Error::validation(
                "invalid_template_body",
                field,
                format!("is a text of 1 to {BODY_MAX} characters"),
            ));
        }
        if body.chars().any(|c| c.is_control() && c != '\n') {
            return Err(Error::validation("invalid_template_body", field, "contains control characters"));
        }
        let parsed = TemplateBody(body.to_owned());
        let names = placeholders_of(&parsed.0).map_err(|m| Error::validation("invalid_placeholder", field, m))?;
        if names.len() > PLACEHOLDERS_MAX {
            return Err(Error::validation(
                "invalid_placeholder",
                field,
                format!("uses more than {PLACEHOLDERS_MAX} placeholders"),
            ));
        }
        Ok(parsed)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The distinct placeholder names, in order of first use.
    pub fn placeholders(&self) -> Vec<String> {
        placeholders_of(&self.0).unwrap_or_default()
    }
}

fn placeholders_of(body: &str) -> std::result::Result<Vec<String>, String> {
    let mut names: Vec<String> = Vec::new();
    let mut rest = body;
    while let Some(open) = rest.find("{{") {
        if rest[..open].contains("}}") {
            return Err("has '}}' without an opening '{{'".into());
        }
        let after = &rest[open + 2..];
        let close = after.find("}}").ok_or("has '{{' without a closing '}}'")?;
        let name = after[..close].trim();
        let valid = !name.is_empty()
            && name.len() <= PLACEHOLDER_MAX
            && name.starts_with(|c: char| c.is_ascii_lowercase())
            && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if !valid {
            return Err(format!(
                "placeholder {{{{{name}}}}} is not a lower-case name of letters, digits and _ (at most {PLACEHOLDER_MAX})"
            ));
        }
        if !names.iter().any(|n| n == name) {
            names.push(name.to_owned());
        }
        rest = &after[close + 2..];
    }
    if rest.contains("}}") {
        return Err("has '}}' without an opening '{{'".into());
    }
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_named_and_balanced() {
        let b = TemplateBody::parse("Hi {{first_name}}, your visit at {{ time }} with {{first_name}}.", "b").unwrap();
        assert_eq!(b.placeholders(), vec!["first_name".to_owned(), "time".to_owned()]);
        for bad in ["Hi {{first_name", "Hi first_name}}", "Hi {{First}}", "Hi {{}}", "{{a-b}}", "} } {{x}} }}"] {
            assert!(TemplateBody::parse(bad, "b").is_err(), "{bad}");
        }
        assert!(TemplateBody::parse(&"a".repeat(BODY_MAX + 1), "b").is_err());
        assert!(TemplateBody::parse("   ", "b").is_err());
        assert_eq!(TemplateBody::parse("Plain { braces } are fine", "b").unwrap().placeholders(), Vec::<String>::new());
    }

    #[test]
    fn language_tags() {
        assert_eq!(TemplateLanguage::parse("nl_be", "l").unwrap().as_str(), "nl-BE");
        assert_eq!(TemplateLanguage::parse("MI", "l").unwrap().as_str(), "mi");
        for bad in ["", "e", "english", "en-", "en-GBR", "en-GB-x"] {
            assert!(TemplateLanguage::parse(bad, "l").is_err(), "{bad}");
        }
    }
}
