use std::sync::LazyLock;

use crate::error::{Error, Result};

/// A DNS domain name as the ASCII (IDNA/punycode) form, lower case, without a trailing dot:
/// at least two labels of letters, digits and inner hyphens, no wildcards, no IP addresses.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
#[serde(into = "String", try_from = "String")]
pub struct DomainName(String);

impl DomainName {
    pub fn parse(raw: &str, field: &str) -> Result<Self> {
        let bad = |why: &str| Error::validation("invalid_domain", field, why);
        let trimmed = raw.trim().trim_end_matches('.');
        if trimmed.contains('*') {
            return Err(bad("wildcards are not allowed: name the domain itself"));
        }
        if trimmed.contains(['@', '/', ':', ' ']) {
            return Err(bad("must be a domain name such as example.com, without address or scheme"));
        }
        let ascii = idna::domain_to_ascii_strict(trimmed).map_err(|_| bad("is not a valid domain name"))?;
        if ascii.len() > 253 {
            return Err(bad("is longer than 253 characters"));
        }
        let labels: Vec<&str> = ascii.split('.').collect();
        if labels.len() < 2 {
            return Err(bad("needs at least two labels, such as example.com"));
        }
        let label_ok = |l: &&str| {
            (1..=63).contains(&l.len())
                && l.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                && !l.starts_with('-')
                && !l.ends_with('-')
        };
        if !labels.iter().all(label_ok) {
            return Err(bad("is not a valid domain name"));
        }
        if labels.last().is_some_and(|tld| tld.bytes().all(|b| b.is_ascii_digit())) {
            return Err(bad("an IP address is not a domain name"));
        }
        Ok(DomainName(ascii))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether a free or public email provider uses it (the shipped list and its overrides).
    pub fn is_public(&self) -> bool {
        PUBLIC.binary_search(&self.0.as_str()).is_ok()
    }
}

impl TryFrom<String> for DomainName {
    type Error = Error;
    fn try_from(s: String) -> Result<Self> {
        Self::parse(&s, "domain")
    }
}

impl From<DomainName> for String {
    fn from(d: DomainName) -> String {
        d.0
    }
}

impl std::fmt::Display for DomainName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A domain a company can own: refused when it is a public or free-mail provider's.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct OwnedDomain(DomainName);

impl OwnedDomain {
    pub fn parse(raw: &str, field: &str) -> Result<Self> {
        let d = DomainName::parse(raw, field)?;
        if d.is_public() {
            return Err(Error::validation(
                "public_domain",
                field,
                "is a public or free email provider's domain, which no company owns",
            ));
        }
        Ok(OwnedDomain(d))
    }

    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    pub fn name(&self) -> &DomainName {
        &self.0
    }
}

const LIST: &str = include_str!("../../data/public-email-domains.txt");
const OVERRIDES: &str = include_str!("../../data/public-email-domains.overrides");

/// The public domains, sorted: built on first use (about 14,000 slices of the compiled-in list).
static PUBLIC: LazyLock<Vec<&'static str>> = LazyLock::new(|| {
    let removed: Vec<&str> = OVERRIDES.lines().filter_map(|l| l.trim().strip_prefix('-')).collect();
    let mut v: Vec<&'static str> = LIST
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !removed.contains(l))
        .chain(OVERRIDES.lines().filter_map(|l| l.trim().strip_prefix('+')))
        .collect();
    v.sort_unstable();
    v.dedup();
    v
});

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn syntax() {
        assert_eq!(DomainName::parse(" Example.COM. ", "d").unwrap().as_str(), "example.com");
        assert_eq!(DomainName::parse("bücher.de", "d").unwrap().as_str(), "xn--bcher-kva.de");
        for bad in [
            "*.example.com",
            "example",
            "-a.com",
            "a-.com",
            "exa mple.com",
            "a@b.com",
            "http://a.com",
            "1.2.3.4",
            "",
            "a..com",
        ] {
            assert_eq!(DomainName::parse(bad, "domain").unwrap_err().code(), "invalid_domain", "{bad}");
        }
        assert!(DomainName::parse(&format!("{}.com", "a".repeat(64)), "d").is_err());
    }

    #[test]
    fn public_providers_are_refused_and_the_list_is_large() {
        assert!(PUBLIC.len() > 10_000);
        for public in ["gmail.com", "outlook.com", "ziggo.nl", "t-online.de", "kpnmail.nl", "gmx.de", "1und1.de"] {
            assert_eq!(OwnedDomain::parse(public, "domain").unwrap_err().code(), "public_domain", "{public}");
        }
        assert!(OwnedDomain::parse("acme-industries.nl", "domain").is_ok());
    }
}
