use crate::error::{Error, Result};

/// The value of an `Idempotency-Key` header (draft-ietf-httpapi-idempotency-key-header): a
/// structured-field string, so `"…"`; the bare form most clients send (a UUID) is taken too.
/// 1 to 255 visible ASCII characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKey(String);

pub const HEADER: &str = "Idempotency-Key";

impl IdempotencyKey {
    pub fn parse(raw: &str) -> Result<Self> {
        let raw = raw.trim();
        let inner = match raw.strip_prefix('"').and_then(|r| r.strip_suffix('"')) {
            Some(quoted) if !quoted.contains(['"', '\\']) => quoted,
            Some(_) => "",
            None => raw,
        };
        let ok = (1..=255).contains(&inner.len()) && inner.bytes().all(|b| b.is_ascii_graphic() || b == b' ');
        if !ok {
            return Err(Error::validation(
                "invalid_idempotency_key",
                HEADER,
                "1 to 255 visible ASCII characters, e.g. a UUID, optionally in double quotes",
            ));
        }
        Ok(IdempotencyKey(inner.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::IdempotencyKey;

    #[test]
    fn quoted_and_bare_keys_are_the_same_key() {
        let a = IdempotencyKey::parse("\"8e03978e-40d5-43e8-bc93-6894a57f9324\"").unwrap();
        let b = IdempotencyKey::parse("8e03978e-40d5-43e8-bc93-6894a57f9324").unwrap();
        assert_eq!(a, b);
    }

    #[test]
    fn empty_long_and_control_characters_are_refused() {
        for bad in ["", "\"\"", &"k".repeat(256), "a\u{7}b", "caf\u{e9}", "\"a\\\"b\""] {
            assert_eq!(IdempotencyKey::parse(bad).unwrap_err().code(), "invalid_idempotency_key", "{bad:?}");
        }
        assert!(IdempotencyKey::parse(&"k".repeat(255)).is_ok());
    }
}
