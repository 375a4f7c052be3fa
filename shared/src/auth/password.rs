//! Argon2id password hashing, run on the blocking pool so a login never stalls the executor.

use std::sync::Arc;

use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier as _, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

use crate::clock::{Random, random_bytes};
use crate::domain::Password;
use crate::error::{Error, Result};

/// OWASP's baseline for argon2id: 19 MiB, 2 passes, 1 lane.
pub const OWASP_MEMORY_KIB: u32 = 19_456;
pub const OWASP_ITERATIONS: u32 = 2;
pub const OWASP_LANES: u32 = 1;

#[derive(Clone)]
pub struct PasswordHasher {
    params: Params,
    /// Verified against when the email is unknown, so both paths cost one argon2 verify.
    dummy: Arc<str>,
}

/// Outcome of checking a password against a stored hash.
#[derive(Debug, PartialEq, Eq)]
pub enum Verified {
    No,
    Yes,
    /// Correct, but hashed with other parameters than today's: store `new_hash`.
    YesRehash {
        new_hash: String,
    },
}

impl PasswordHasher {
    pub fn new(memory_kib: u32, iterations: u32, lanes: u32) -> Result<Self> {
        if memory_kib < OWASP_MEMORY_KIB || iterations < OWASP_ITERATIONS {
            return Err(Error::Internal("argon2 parameters below the OWASP baseline".into()));
        }
        let params = Params::new(memory_kib, iterations, lanes, None).map_err(|e| Error::Internal(e.to_string()))?;
        // A verify costs what its parameters say whatever the salt and hash bytes are, so the
        // stand-in needs no hashing of its own (which would cost every cold start a hash).
        let dummy = format!(
            "$argon2id$v=19$m={memory_kib},t={iterations},p={lanes}${}${}",
            "A".repeat(22),
            "A".repeat(Params::DEFAULT_OUTPUT_LEN * 4 / 3 + 1)
        );
        Ok(PasswordHasher { params, dummy: Arc::from(dummy) })
    }

    pub fn owasp() -> Result<Self> {
        Self::new(OWASP_MEMORY_KIB, OWASP_ITERATIONS, OWASP_LANES)
    }

    fn argon(&self) -> Argon2<'static> {
        Argon2::new(Algorithm::Argon2id, Version::V0x13, self.params.clone())
    }

    fn hash_sync(&self, password: &str, salt: &[u8]) -> Result<String> {
        let salt = SaltString::encode_b64(salt).map_err(|e| Error::Internal(e.to_string()))?;
        self.argon()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| Error::Internal(e.to_string()))
    }

    pub async fn hash(&self, password: &Password, random: &dyn Random) -> Result<String> {
        let salt: [u8; 16] = random_bytes(random);
        let this = self.clone();
        let pw = password.clone();
        tokio::task::spawn_blocking(move || this.hash_sync(pw.expose(), &salt))
            .await
            .map_err(|e| Error::Internal(e.to_string()))?
    }

    /// Verify against `stored`, or against the dummy hash when there is no account, so the
    /// answer takes the same time either way.
    pub async fn verify(&self, password: &Password, stored: Option<&str>, random: &dyn Random) -> Result<Verified> {
        let target: Arc<str> = stored.map(Arc::from).unwrap_or_else(|| self.dummy.clone());
        let real = stored.is_some();
        let this = self.clone();
        let pw = password.clone();
        let salt: [u8; 16] = random_bytes(random);
        tokio::task::spawn_blocking(move || {
            let parsed = PasswordHash::new(&target).map_err(|e| Error::Internal(e.to_string()))?;
            let ok = this.argon().verify_password(pw.expose().as_bytes(), &parsed).is_ok();
            if !ok || !real {
                return Ok(Verified::No);
            }
            if this.is_current(&parsed) {
                Ok(Verified::Yes)
            } else {
                Ok(Verified::YesRehash { new_hash: this.hash_sync(pw.expose(), &salt)? })
            }
        })
        .await
        .map_err(|e| Error::Internal(e.to_string()))?
    }

    fn is_current(&self, h: &PasswordHash<'_>) -> bool {
        let Ok(p) = Params::try_from(h) else {
            return false;
        };
        h.algorithm.as_str() == "argon2id"
            && p.m_cost() == self.params.m_cost()
            && p.t_cost() == self.params.t_cost()
            && p.p_cost() == self.params.p_cost()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::SeededRandom;

    #[tokio::test]
    async fn hashes_verify_and_upgrade() {
        let r = SeededRandom::new(1);
        let h = PasswordHasher::owasp().unwrap();
        let pw = Password::parse_new("a long passphrase", "p").unwrap();
        let stored = h.hash(&pw, &r).await.unwrap();
        assert!(stored.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert_eq!(h.verify(&pw, Some(&stored), &r).await.unwrap(), Verified::Yes);
        let wrong = Password::parse_attempt("another one", "p").unwrap();
        assert_eq!(h.verify(&wrong, Some(&stored), &r).await.unwrap(), Verified::No);
        // Unknown account: the dummy never verifies, even with its own password.
        let dummy_pw = Password::parse_attempt("dummy password for unknown accounts", "p").unwrap();
        assert_eq!(h.verify(&dummy_pw, None, &r).await.unwrap(), Verified::No);
        // …and costs a full verify at today's parameters (same output length as real hashes).
        let dummy = PasswordHash::new(&h.dummy).unwrap();
        let real = PasswordHash::new(&stored).unwrap();
        assert!(h.is_current(&dummy));
        assert_eq!(dummy.hash.map(|o| o.len()), real.hash.map(|o| o.len()));
        assert_eq!(dummy.salt.map(|s| s.len()), real.salt.map(|s| s.len()));
        // Stronger parameters later: the old hash still verifies and asks to be replaced.
        let stronger = PasswordHasher::new(OWASP_MEMORY_KIB, 3, 1).unwrap();
        match stronger.verify(&pw, Some(&stored), &r).await.unwrap() {
            Verified::YesRehash { new_hash } => assert!(new_hash.contains("m=19456,t=3,p=1")),
            other => panic!("expected a rehash, got {other:?}"),
        }
        assert!(PasswordHasher::new(4096, 1, 1).is_err());
    }
}
