//! Argon2id password hashing, run on the blocking pool so a login never stalls the executor.

use std::sync::Arc;

use std::cell::RefCell;

use argon2::password_hash::{Output, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use subtle::ConstantTimeEq;

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
    /// Hashes running at once, at most one per core, however many requests ask: each holds
    /// its memory cost (19 MiB), and more at once would only queue on the cores.
    running: Arc<tokio::sync::Semaphore>,
}

/// Hashes one process runs at once: its cores.
pub fn hashing_slots() -> usize {
    std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
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
            return Err(crate::error::Error::internal("argon2 parameters below the OWASP baseline"));
        }
        let params = Params::new(memory_kib, iterations, lanes, None)
            .map_err(|e| crate::error::Error::internal_from("argon2", e))?;
        // A verify costs what its parameters say whatever the salt and hash bytes are, so the
        // stand-in needs no hashing of its own (which would cost every cold start a hash).
        let dummy = format!(
            "$argon2id$v=19$m={memory_kib},t={iterations},p={lanes}${}${}",
            "A".repeat(22),
            "A".repeat(Params::DEFAULT_OUTPUT_LEN * 4 / 3 + 1)
        );
        let running = Arc::new(tokio::sync::Semaphore::new(hashing_slots()));
        Ok(PasswordHasher { params, dummy: Arc::from(dummy), running })
    }

    pub fn owasp() -> Result<Self> {
        Self::new(OWASP_MEMORY_KIB, OWASP_ITERATIONS, OWASP_LANES)
    }

    fn hash_sync(&self, password: &str, salt: &[u8]) -> Result<String> {
        let salt = SaltString::encode_b64(salt).map_err(internal)?;
        let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
        let mut raw_salt = [0u8; 64];
        let raw_salt = salt.decode_b64(&mut raw_salt).map_err(internal)?;
        derive(&self.params, password.as_bytes(), raw_salt, &mut out)?;
        let p = &self.params;
        Ok(format!(
            "$argon2id$v=19$m={},t={},p={}${}${}",
            p.m_cost(),
            p.t_cost(),
            p.p_cost(),
            salt.as_str(),
            Output::new(&out).map_err(internal)?
        ))
    }

    pub async fn hash(&self, password: &Password, random: &dyn Random) -> Result<String> {
        let salt: [u8; 16] = random_bytes(random);
        let this = self.clone();
        let pw = password.clone();
        let _slot = self.running.acquire().await.map_err(internal)?;
        tokio::task::spawn_blocking(move || this.hash_sync(pw.expose(), &salt))
            .await
            .map_err(|e| crate::error::Error::internal_from("argon2", e))?
    }

    /// Verify against `stored`, or against the dummy hash when there is no account, so the
    /// answer takes the same time either way.
    pub async fn verify(&self, password: &Password, stored: Option<&str>, random: &dyn Random) -> Result<Verified> {
        let target: Arc<str> = stored.map(Arc::from).unwrap_or_else(|| self.dummy.clone());
        let real = stored.is_some();
        let this = self.clone();
        let pw = password.clone();
        let salt: [u8; 16] = random_bytes(random);
        let _slot = self.running.acquire().await.map_err(internal)?;
        tokio::task::spawn_blocking(move || {
            let parsed = PasswordHash::new(&target).map_err(internal)?;
            let ok = matches_hash(&parsed, pw.expose().as_bytes())?;
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
        .map_err(|e| crate::error::Error::internal_from("argon2", e))?
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

fn internal(e: impl std::fmt::Display) -> Error {
    // argon2's errors do not implement `std::error::Error` here; their text is all they say.
    crate::error::Error::internal(format!("argon2: {e}"))
}

thread_local! {
    /// The argon2 block array, kept per blocking thread: allocating 19 MiB afresh for every
    /// hash made each one fault in new pages (slow in a microVM) and grew the allocator's
    /// arenas by a copy per thread it ran on.
    static BLOCKS: RefCell<Vec<Block>> = const { RefCell::new(Vec::new()) };
}

/// Argon2id of `password` and `salt` at `params` into `out`, in this thread's block array.
fn derive(params: &Params, password: &[u8], salt: &[u8], out: &mut [u8]) -> Result<()> {
    let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
    BLOCKS.with(|blocks| {
        let mut blocks = blocks.borrow_mut();
        if blocks.len() < params.block_count() {
            blocks.resize(params.block_count(), Block::default());
        }
        argon.hash_password_into_with_memory(password, salt, out, &mut blocks[..]).map_err(internal)
    })
}

/// Whether `password` hashes to `stored` (an argon2id PHC string, at its own parameters).
fn matches_hash(stored: &PasswordHash<'_>, password: &[u8]) -> Result<bool> {
    let (Some(salt), Some(expected)) = (stored.salt, stored.hash) else { return Ok(false) };
    if stored.algorithm.as_str() != "argon2id" {
        return Ok(false);
    }
    let params = Params::try_from(stored).map_err(internal)?;
    let mut raw_salt = [0u8; 64];
    let raw_salt = salt.decode_b64(&mut raw_salt).map_err(internal)?;
    let mut out = vec![0u8; expected.len()];
    derive(&params, password, raw_salt, &mut out)?;
    Ok(bool::from(out.as_slice().ct_eq(expected.as_bytes())))
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

    /// Hashes stored by the argon2 crate's own hasher verify here, and ours verify there.
    #[tokio::test]
    async fn interoperates_with_the_argon2_crates_phc_strings() {
        use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};
        let r = SeededRandom::new(2);
        let h = PasswordHasher::owasp().unwrap();
        let pw = Password::parse_new("another long passphrase", "p").unwrap();
        let theirs = Argon2::new(Algorithm::Argon2id, Version::V0x13, h.params.clone())
            .hash_password(pw.expose().as_bytes(), &SaltString::encode_b64(&[7u8; 16]).unwrap())
            .unwrap()
            .to_string();
        assert_eq!(h.verify(&pw, Some(&theirs), &r).await.unwrap(), Verified::Yes);
        let ours = h.hash(&pw, &r).await.unwrap();
        let parsed = PasswordHash::new(&ours).unwrap();
        assert!(Argon2::default().verify_password(pw.expose().as_bytes(), &parsed).is_ok());
        let wrong = Password::parse_attempt("not it", "p").unwrap();
        assert_eq!(h.verify(&wrong, Some(&theirs), &r).await.unwrap(), Verified::No);
    }
}
