//! Time-based one-time passwords (RFC 6238: HOTP over 30-second steps, HMAC-SHA1, 6 digits),
//! as authenticator apps implement them.

use hmac::{Hmac, Mac};
use sha1::Sha1;

pub const STEP_SECONDS: i64 = 30;
pub const DIGITS: u32 = 6;
/// Steps of clock difference accepted either side.
pub const SKEW: i64 = 1;

/// RFC 4226 HOTP value of `counter`, `digits` long.
pub fn hotp(secret: &[u8], counter: u64, digits: u32) -> u32 {
    let Ok(mut mac) = Hmac::<Sha1>::new_from_slice(secret) else { return 0 };
    mac.update(&counter.to_be_bytes());
    let h = mac.finalize().into_bytes();
    let offset = usize::from(h[19] & 0x0f);
    let bin = (u32::from(h[offset] & 0x7f) << 24)
        | (u32::from(h[offset + 1]) << 16)
        | (u32::from(h[offset + 2]) << 8)
        | u32::from(h[offset + 3]);
    bin % 10u32.pow(digits)
}

pub fn step_at(unix_seconds: i64) -> i64 {
    unix_seconds.div_euclid(STEP_SECONDS)
}

/// The step a six-digit `code` belongs to, within ±[`SKEW`] of `now`, if it is newer than
/// `last_used` (a code works once). Comparison is in constant time per candidate.
pub fn verify(secret: &[u8], code: &str, unix_seconds: i64, last_used: Option<i64>) -> Option<i64> {
    if code.len() != DIGITS as usize || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let now = step_at(unix_seconds);
    let mut found = None;
    for step in (now - SKEW)..=(now + SKEW) {
        let expected = format!("{:0width$}", hotp(secret, step.max(0) as u64, DIGITS), width = DIGITS as usize);
        let same = subtle::ConstantTimeEq::ct_eq(expected.as_bytes(), code.as_bytes());
        if bool::from(same) && last_used.is_none_or(|l| step > l) {
            found = Some(step);
        }
    }
    found
}

/// RFC 4648 base32 without padding, as authenticator apps read secrets.
pub fn base32(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut out = String::with_capacity(bytes.len().div_ceil(5) * 8);
    let (mut buffer, mut bits) = (0u32, 0u32);
    for b in bytes {
        buffer = (buffer << 8) | u32::from(*b);
        bits += 8;
        while bits >= 5 {
            out.push(char::from(ALPHABET[((buffer >> (bits - 5)) & 31) as usize]));
            bits -= 5;
        }
    }
    if bits > 0 {
        out.push(char::from(ALPHABET[((buffer << (5 - bits)) & 31) as usize]));
    }
    out
}

fn uri_escape(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => char::from(b).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The `otpauth://` URI an authenticator app scans.
pub fn otpauth_uri(secret: &[u8], issuer: &str, account: &str) -> String {
    format!(
        "otpauth://totp/{}:{}?secret={}&issuer={}&algorithm=SHA1&digits={DIGITS}&period={STEP_SECONDS}",
        uri_escape(issuer),
        uri_escape(account),
        base32(secret),
        uri_escape(issuer)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 appendix B, SHA-1 rows (8 digits).
    #[test]
    fn rfc6238_vectors() {
        let key = b"12345678901234567890";
        for (t, expected) in [
            (59i64, 94287082u32),
            (1111111109, 7081804),
            (1111111111, 14050471),
            (1234567890, 89005924),
            (2000000000, 69279037),
            (20000000000, 65353130),
        ] {
            assert_eq!(hotp(key, step_at(t) as u64, 8), expected, "T={t}");
        }
    }

    /// Codes made by an independent implementation (the totp-rs crate) verify here.
    #[test]
    fn agrees_with_an_independent_implementation() {
        let secret = b"switchboard-secret-2fa".to_vec();
        let other = totp_rs::TOTP::new(totp_rs::Algorithm::SHA1, 6, 1, 30, secret.clone()).unwrap();
        for t in [0u64, 59, 1_700_000_000, 1_795_478_400, 4_000_000_000] {
            let code = other.generate(t);
            assert_eq!(verify(&secret, &code, t as i64, None), Some(step_at(t as i64)), "t={t}");
        }
    }

    #[test]
    fn single_use_skew_and_shape() {
        let secret = b"abcdefghijabcdefghij";
        let t = 1_800_000_000;
        let code = format!("{:06}", hotp(secret, step_at(t) as u64, 6));
        let step = verify(secret, &code, t, None).unwrap();
        assert_eq!(verify(secret, &code, t, Some(step)), None, "used once");
        assert!(verify(secret, &code, t + 30, None).is_some(), "one step late is fine");
        assert!(verify(secret, &code, t + 90, None).is_none(), "three steps late is not");
        assert!(verify(secret, "12345", t, None).is_none() && verify(secret, "12a456", t, None).is_none());
        assert_eq!(base32(b"foobar"), "MZXW6YTBOI");
        assert!(
            otpauth_uri(secret, "Switchboard", "ann@example.com")
                .starts_with("otpauth://totp/Switchboard:ann%40example.com?secret=")
        );
    }
}
