use crate::error::{Error, Result};

/// A phone number in E.164 form: `+`, a country code, at most 15 digits in all.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(into = "String", try_from = "String")]
pub struct Phone(String);

impl Phone {
    /// Accepts common punctuation (spaces, dashes, dots, parentheses) around the digits.
    pub fn parse(raw: &str, field: &str) -> Result<Self> {
        let trimmed = raw.trim();
        let bad = || Error::validation("invalid_phone", field, "must be an international number such as +31201234567");
        // `00` is the international call prefix most of Europe dials instead of `+`.
        let rest = trimmed.strip_prefix('+').or_else(|| trimmed.strip_prefix("00")).ok_or_else(bad)?;
        let mut digits = String::with_capacity(15);
        for c in rest.chars() {
            match c {
                '0'..='9' => digits.push(c),
                ' ' | '-' | '.' | '(' | ')' => {}
                _ => return Err(bad()),
            }
        }
        if !(8..=15).contains(&digits.len()) || digits.starts_with('0') {
            return Err(bad());
        }
        Ok(Phone(format!("+{digits}")))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Phone {
    type Error = Error;
    fn try_from(s: String) -> Result<Self> {
        Self::parse(&s, "phone")
    }
}

impl From<Phone> for String {
    fn from(p: Phone) -> String {
        p.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn e164() {
        assert_eq!(Phone::parse(" +31 (20) 123-4567 ", "p").unwrap().as_str(), "+31201234567");
        assert_eq!(Phone::parse("0049 30 1234567", "p").unwrap().as_str(), "+49301234567");
        for bad in ["0201234567", "+0201234567", "+31", "+1234567890123456", "+31 20 abc", ""] {
            assert_eq!(Phone::parse(bad, "phone").unwrap_err().code(), "invalid_phone", "{bad}");
        }
    }
}
