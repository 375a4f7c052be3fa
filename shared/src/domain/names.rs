use crate::error::{Error, Result};

fn parse_name(raw: &str, field: &str, max: usize, code: &'static str) -> Result<String> {
    // Collapse runs of white space so "  Ann   Smith " and "Ann Smith" are one name.
    let name = raw.split_whitespace().collect::<Vec<_>>().join(" ");
    if name.is_empty() {
        return Err(Error::validation(code, field, "is required"));
    }
    if name.chars().count() > max {
        return Err(Error::validation(code, field, format!("is longer than {max} characters")));
    }
    if name.chars().any(char::is_control) {
        return Err(Error::validation(code, field, "contains control characters"));
    }
    Ok(name)
}

/// A person's first or last name.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(transparent)]
pub struct PersonName(String);

impl PersonName {
    pub fn parse(raw: &str, field: &str) -> Result<Self> {
        parse_name(raw, field, 100, "invalid_name").map(PersonName)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The display name of an organization.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(transparent)]
pub struct OrgName(String);

impl OrgName {
    pub fn parse(raw: &str, field: &str) -> Result<Self> {
        parse_name(raw, field, 120, "invalid_org_name").map(OrgName)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A name as searched: letters and digits lower-cased with accents removed, every other run
/// of characters one space ("Café  De-Ster" → "cafe de ster").
pub fn fold_for_search(raw: &str) -> String {
    use unicode_normalization::UnicodeNormalization;
    let mut out = String::with_capacity(raw.len());
    let mut gap = false;
    for c in raw.nfkd().filter(|c| !unicode_normalization::char::is_combining_mark(*c)) {
        if c.is_alphanumeric() {
            if gap && !out.is_empty() {
                out.push(' ');
            }
            gap = false;
            out.extend(c.to_lowercase());
        } else {
            gap = true;
        }
    }
    out
}

/// Another name an organization is known by.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(transparent)]
pub struct Alias(String);

impl Alias {
    pub fn parse(raw: &str, field: &str) -> Result<Self> {
        let name = parse_name(raw, field, super::settings::ALIAS_MAX, "invalid_alias")?;
        if fold_for_search(&name).chars().count() < 2 {
            return Err(Error::validation("invalid_alias", field, "needs at least two letters or digits"));
        }
        Ok(Alias(name))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A person's full name as shown: first and last, trimmed (either may be empty for a login
/// made by single sign-on or an import).
pub fn full_name(first: &str, last: &str) -> String {
    format!("{first} {last}").trim().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_name_is_trimmed_when_a_part_is_empty() {
        assert_eq!(full_name("Ann", "Smith"), "Ann Smith");
        assert_eq!((full_name("Ann", ""), full_name("", "Smith")), ("Ann".to_owned(), "Smith".to_owned()));
    }

    #[test]
    fn folding_ignores_case_accents_and_punctuation() {
        assert_eq!(fold_for_search("  Café  De-Ster "), "cafe de ster");
        assert_eq!(fold_for_search("MÜNCHENER Rück"), "munchener ruck");
        assert_eq!(fold_for_search("ﬁrma"), "firma");
        assert_eq!(Alias::parse("É", "alias").unwrap_err().code(), "invalid_alias");
    }

    #[test]
    fn trims_and_limits() {
        assert_eq!(PersonName::parse("  Ann \t Smith ", "f").unwrap().as_str(), "Ann Smith");
        assert_eq!(PersonName::parse("   ", "first_name").unwrap_err().code(), "invalid_name");
        assert!(OrgName::parse(&"x".repeat(121), "org").is_err());
        assert!(OrgName::parse(&"é".repeat(120), "org").is_ok());
        assert!(PersonName::parse("a\u{0}b", "f").is_err());
    }
}
