//! Names of a single sign-on provider: the unique name people type on the alternative
//! sign-in page (it is also part of this service's URLs for the provider), and the
//! provider's SAML entity ID.

use crate::error::{Error, Result};

/// Lower-case letters and digits, 2–40 of them, unique across the service.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
#[serde(into = "String", try_from = "String")]
pub struct ProviderName(String);

impl ProviderName {
    pub fn parse(raw: &str, field: &str) -> Result<Self> {
        let n = raw.trim();
        if !(2..=40).contains(&n.len()) || !n.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()) {
            return Err(Error::validation(
                "invalid_provider_name",
                field,
                "must be 2 to 40 lower-case letters and digits",
            ));
        }
        Ok(ProviderName(n.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for ProviderName {
    type Error = Error;
    fn try_from(s: String) -> Result<Self> {
        Self::parse(&s, "name")
    }
}

impl From<ProviderName> for String {
    fn from(n: ProviderName) -> String {
        n.0
    }
}

/// A SAML entity ID (a URI, at most 1024 characters by saml-core §8.3.6), compared exactly.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(into = "String", try_from = "String")]
pub struct EntityId(String);

impl EntityId {
    pub fn parse(raw: &str, field: &str) -> Result<Self> {
        let e = raw.trim();
        if e.is_empty() || e.len() > 1024 || e.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(Error::validation(
                "invalid_entity_id",
                field,
                "must be the provider's entity ID, a URI without spaces",
            ));
        }
        Ok(EntityId(e.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for EntityId {
    type Error = Error;
    fn try_from(s: String) -> Result<Self> {
        Self::parse(&s, "entity_id")
    }
}

impl From<EntityId> for String {
    fn from(e: EntityId) -> String {
        e.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(ProviderName::parse("acme2", "n").is_ok());
        for bad in ["a", "Acme", "ac-me", "ac me", &"a".repeat(41)] {
            assert!(ProviderName::parse(bad, "n").is_err(), "{bad}");
        }
        assert!(EntityId::parse("https://sts.windows.net/x/", "e").is_ok());
        assert!(EntityId::parse("a b", "e").is_err());
    }
}
