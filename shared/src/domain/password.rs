use std::collections::HashSet;
use std::sync::LazyLock;

use crate::error::{Error, Result};

/// Passwords of 8+ characters from the zxcvbn frequency list (MIT), most common first.
static COMMON: LazyLock<HashSet<&'static str>> =
    LazyLock::new(|| include_str!("../../data/common-passwords.txt").lines().collect());

pub const MIN_CHARS: usize = 8;
pub const MAX_CHARS: usize = 128;

/// A new password that meets the policy. Never logged: `Debug` hides it.
#[derive(Clone)]
pub struct Password(String);

impl Password {
    /// Parse a password someone is choosing: length bounds and the common-password list apply.
    pub fn parse_new(raw: &str, field: &str) -> Result<Self> {
        let chars = raw.chars().count();
        if chars < MIN_CHARS {
            return Err(Error::validation("weak_password", field, format!("must be at least {MIN_CHARS} characters")));
        }
        if chars > MAX_CHARS {
            return Err(Error::validation(
                "invalid_password",
                field,
                format!("must be at most {MAX_CHARS} characters"),
            ));
        }
        if COMMON.contains(raw.to_lowercase().as_str()) {
            return Err(Error::validation("weak_password", field, "is too common; choose another"));
        }
        Ok(Password(raw.to_owned()))
    }

    /// A password offered at login is checked only for size, so the policy can tighten
    /// without locking anyone out, and a huge body cannot make hashing expensive.
    pub fn parse_attempt(raw: &str, field: &str) -> Result<Self> {
        if raw.is_empty() || raw.chars().count() > MAX_CHARS {
            return Err(Error::validation("invalid_password", field, "is required and at most 128 characters"));
        }
        Ok(Password(raw.to_owned()))
    }

    pub fn char_count(&self) -> usize {
        self.0.chars().count()
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy() {
        assert_eq!(Password::parse_new("short", "password").unwrap_err().code(), "weak_password");
        assert_eq!(Password::parse_new("Password1", "password").unwrap_err().code(), "weak_password");
        assert_eq!(Password::parse_new("qwertyuiop", "password").unwrap_err().code(), "weak_password");
        assert!(Password::parse_new(&"x".repeat(129), "password").is_err());
        assert!(Password::parse_new("correct horse battery", "password").is_ok());
        assert!(COMMON.len() > 10_000);
        assert_eq!(format!("{:?}", Password::parse_attempt("secret!!", "p").unwrap()), "Password(<redacted>)");
    }
}
