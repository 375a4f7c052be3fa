//! Opaque secrets (refresh tokens, email links): 256 random bits, shown once to their owner
//! and stored only as a SHA-256 hash. SHA-256 suffices because the input is high-entropy.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::clock::{Random, random_bytes};

/// A new secret as URL-safe text, and its hash for storage.
pub fn new_secret(r: &dyn Random) -> (String, String) {
    let bytes: [u8; 32] = random_bytes(r);
    let text = URL_SAFE_NO_PAD.encode(bytes);
    let hash = hash(&text);
    (text, hash)
}

pub fn hash(secret: &str) -> String {
    let digest = Sha256::digest(secret.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Compare two hashes without leaking where they differ.
pub fn hashes_equal(a: &str, b: &str) -> bool {
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// A secret presented by a client is accepted for hashing only if it has the shape we issue.
pub fn looks_like_secret(s: &str) -> bool {
    s.len() == 43 && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::SeededRandom;

    #[test]
    fn secrets_are_256_bit_and_hash_stably() {
        let r = SeededRandom::new(7);
        let (a, ha) = new_secret(&r);
        let (b, _) = new_secret(&r);
        assert_ne!(a, b);
        assert!(looks_like_secret(&a));
        assert_eq!(URL_SAFE_NO_PAD.decode(&a).unwrap().len(), 32);
        assert_eq!(hash(&a), ha);
        assert!(hashes_equal(&ha, &hash(&a)));
        assert!(!hashes_equal(&ha, &hash(&b)));
        assert_eq!(hash("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }
}
