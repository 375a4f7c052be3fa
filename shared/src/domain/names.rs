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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trims_and_limits() {
        assert_eq!(PersonName::parse("  Ann \t Smith ", "f").unwrap().as_str(), "Ann Smith");
        assert_eq!(PersonName::parse("   ", "first_name").unwrap_err().code(), "invalid_name");
        assert!(OrgName::parse(&"x".repeat(121), "org").is_err());
        assert!(OrgName::parse(&"é".repeat(120), "org").is_ok());
        assert!(PersonName::parse("a\u{0}b", "f").is_err());
    }
}
