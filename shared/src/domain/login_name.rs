use crate::error::{Error, Result};

/// An organization's login domain: the part before `\` in `logindomain\username`, for people
/// without an email address. Lower case letters, digits and inner `-` `.`, 2 to 40 characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(into = "String", try_from = "String")]
pub struct LoginDomain(String);

fn is_label_char(c: char) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit()
}

impl LoginDomain {
    pub fn parse(raw: &str, field: &str) -> Result<Self> {
        let s = raw.trim().to_ascii_lowercase();
        let ok = (2..=40).contains(&s.len())
            && s.chars().all(|c| is_label_char(c) || c == '-' || c == '.')
            && s.starts_with(is_label_char)
            && s.ends_with(is_label_char);
        if !ok {
            return Err(Error::validation(
                "invalid_login_domain",
                field,
                "2 to 40 letters, digits, '-' or '.', starting and ending with a letter or digit",
            ));
        }
        Ok(LoginDomain(s))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for LoginDomain {
    type Error = Error;
    fn try_from(s: String) -> Result<Self> {
        Self::parse(&s, "login_domain")
    }
}

impl From<LoginDomain> for String {
    fn from(d: LoginDomain) -> String {
        d.0
    }
}

/// A username within a login domain: case-insensitive (kept lower case), 1 to 64 letters,
/// digits, `.`, `_` or `-`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(into = "String", try_from = "String")]
pub struct Username(String);

impl Username {
    pub fn parse(raw: &str, field: &str) -> Result<Self> {
        let s = raw.trim().to_ascii_lowercase();
        if s.is_empty() || s.len() > 64 || !s.chars().all(|c| is_label_char(c) || matches!(c, '.' | '_' | '-')) {
            return Err(Error::validation("invalid_username", field, "1 to 64 letters, digits, '.', '_' or '-'"));
        }
        Ok(Username(s))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Username {
    type Error = Error;
    fn try_from(s: String) -> Result<Self> {
        Self::parse(&s, "username")
    }
}

impl From<Username> for String {
    fn from(u: Username) -> String {
        u.0
    }
}

/// What someone types to log in: an email address, or `logindomain\username`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoginName {
    Email(super::Email),
    Username { domain: LoginDomain, username: Username },
}

impl LoginName {
    pub fn parse(raw: &str, field: &str) -> Result<Self> {
        match raw.trim().split_once('\\') {
            Some((domain, username)) => Ok(LoginName::Username {
                domain: LoginDomain::parse(domain, field)?,
                username: Username::parse(username, field)?,
            }),
            None => super::Email::parse(raw, field).map(LoginName::Email),
        }
    }

    /// As typed, normalized: the address, or `domain\username`.
    pub fn display(&self) -> String {
        match self {
            LoginName::Email(e) => e.as_str().to_owned(),
            LoginName::Username { domain, username } => format!("{}\\{}", domain.as_str(), username.as_str()),
        }
    }
}

/// What a credential is stored under: an address, or a username within the organization that
/// owns the login domain. Keyed by the organization's id, not the domain's name, so that
/// renaming the login domain leaves every username login working.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoginKey {
    Email(super::Email),
    Username { org: super::OrgId, username: Username },
}

impl LoginKey {
    /// `address` or `org_id\username` (ids and addresses never contain `\`).
    pub fn as_string(&self) -> String {
        match self {
            LoginKey::Email(e) => e.as_str().to_owned(),
            LoginKey::Username { org, username } => format!("{org}\\{}", username.as_str()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_both_forms() {
        let n = LoginName::parse(" Acme\\J.Smith ", "login").unwrap();
        assert_eq!(n.display(), "acme\\j.smith");
        assert!(matches!(LoginName::parse("ann@example.com", "login").unwrap(), LoginName::Email(_)));
        for bad in ["\\ann", "acme\\", "-acme\\ann", "acme\\a b", "a\\ann", "acme\\x\\y"] {
            assert!(LoginName::parse(bad, "login").is_err(), "{bad}");
        }
    }
}
