use crate::error::{Error, Result};

/// An email address, normalized (trimmed, lower-cased) so that one person has one address.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(into = "String", try_from = "String")]
pub struct Email(String);

const MAX_LEN: usize = 254;

impl Email {
    pub fn parse(raw: &str, field: &str) -> Result<Self> {
        let normalized = raw.trim().to_lowercase();
        let bad = |why: &str| Err(Error::validation("invalid_email", field, why));
        if normalized.is_empty() {
            return bad("is required");
        }
        if normalized.len() > MAX_LEN {
            return bad("is longer than 254 characters");
        }
        let Some((local, domain)) = normalized.rsplit_once('@') else {
            return bad("must contain @");
        };
        if local.is_empty() || local.len() > 64 {
            return bad("has an invalid local part");
        }
        if normalized.chars().any(|c| c.is_whitespace() || c.is_control() || "<>()[],;:\\\"".contains(c)) {
            return bad("contains a character not allowed in an address");
        }
        let labels: Vec<&str> = domain.split('.').collect();
        let label_ok =
            |l: &&str| !l.is_empty() && l.len() <= 63 && !l.starts_with('-') && !l.ends_with('-') && !l.contains('@');
        if labels.len() < 2 || !labels.iter().all(label_ok) {
            return bad("has an invalid domain");
        }
        Ok(Email(normalized))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn domain(&self) -> &str {
        self.0.rsplit_once('@').map(|(_, d)| d).unwrap_or_default()
    }
}

impl TryFrom<String> for Email {
    type Error = Error;
    fn try_from(s: String) -> Result<Self> {
        Self::parse(&s, "email")
    }
}

impl From<Email> for String {
    fn from(e: Email) -> String {
        e.0
    }
}

impl std::fmt::Display for Email {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_case_and_space() {
        let e = Email::parse("  Ann.Smith@Example.COM ", "email").unwrap();
        assert_eq!(e.as_str(), "ann.smith@example.com");
        assert_eq!(e.domain(), "example.com");
    }

    #[test]
    fn rejects_malformed() {
        for raw in ["", "plain", "@x.com", "a@", "a@b", "a b@c.com", "a@-x.com", "a@x..com", "a<b@c.com"] {
            let err = Email::parse(raw, "email").unwrap_err();
            assert_eq!(err.code(), "invalid_email", "{raw:?}");
        }
        let long = format!("{}@example.com", "a".repeat(250));
        assert!(Email::parse(&long, "email").is_err());
    }
}
