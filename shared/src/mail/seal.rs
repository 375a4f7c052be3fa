//! The secret in an email's link (an invitation's or a reset's token) is stored only as a
//! hash; the email carrying it waits in an outbox item, the table's stream and the queue.
//! There it is sealed: the message holds [`MARK`] where the token goes, and the token itself
//! is XORed with a keystream that only holders of the signing keys can compute. The worker
//! that sends the email opens it. Keys are found by `kid`, so an email queued before a key
//! rotation still opens while the old key is listed.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::auth::jwt::KeysConfig;
use crate::error::Result;

/// Where the secret goes in a sealed message. Only emails that carry a secret are opened, so
/// a template that writes this text itself shows its reader nothing they may not see.
pub const MARK: &str = "%SWITCHBOARD-SECRET%";

/// Secrets are link tokens; anything longer is a mistake worth refusing.
const MAX_SECRET: usize = 256;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sealed {
    pub kid: String,
    /// The sealed bytes, base64url.
    pub value: String,
}

#[derive(Clone)]
pub struct Sealer {
    /// Derived keys by signing-key id; the first seals.
    keys: Vec<(String, [u8; 32])>,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sealer").field("kids", &self.keys.iter().map(|k| &k.0).collect::<Vec<_>>()).finish()
    }
}

fn mac(key: &[u8]) -> Result<Hmac<Sha256>> {
    Hmac::<Sha256>::new_from_slice(key).map_err(|e| crate::error::Error::internal_from("email sealing key", e))
}

impl Sealer {
    /// One sealing key per signing key, derived from it under a label of its own, so the
    /// signing key itself never serves two purposes.
    pub fn from_config(keys: &KeysConfig) -> Result<Self> {
        let mut derived = Vec::with_capacity(keys.keys.len());
        for k in &keys.keys {
            let der =
                STANDARD.decode(&k.private_pkcs8).map_err(|e| crate::error::Error::internal_from("signing key", e))?;
            let mut m = mac(&der)?;
            m.update(b"switchboard/email-secret-seal/v1");
            derived.push((k.kid.clone(), m.finalize().into_bytes().into()));
        }
        if derived.is_empty() {
            return Err(crate::error::Error::internal("no signing key to seal email secrets with"));
        }
        Ok(Sealer { keys: derived })
    }

    fn keystream(key: &[u8; 32], id: &str, len: usize) -> Result<Vec<u8>> {
        let mut out = Vec::with_capacity(len + 32);
        let mut block: u32 = 0;
        while out.len() < len {
            let mut m = mac(key)?;
            m.update(id.as_bytes());
            m.update(&block.to_be_bytes());
            out.extend_from_slice(&m.finalize().into_bytes());
            block += 1;
        }
        out.truncate(len);
        Ok(out)
    }

    /// Seal `secret` for the email recorded as `id` (unique per email, so no keystream is
    /// used twice).
    pub fn seal(&self, id: &str, secret: &str) -> Result<Sealed> {
        if secret.len() > MAX_SECRET {
            return Err(crate::error::Error::internal("email secret too long to seal"));
        }
        let (kid, key) = &self.keys[0];
        let stream = Self::keystream(key, id, secret.len())?;
        let bytes: Vec<u8> = secret.bytes().zip(stream).map(|(a, b)| a ^ b).collect();
        Ok(Sealed { kid: kid.clone(), value: URL_SAFE_NO_PAD.encode(bytes) })
    }

    pub fn open(&self, id: &str, sealed: &Sealed) -> Result<String> {
        let (_, key) = self.keys.iter().find(|(kid, _)| *kid == sealed.kid).ok_or_else(|| {
            crate::error::Error::mail(format!("no signing key {} to open the email's secret", sealed.kid))
        })?;
        let bytes =
            URL_SAFE_NO_PAD.decode(&sealed.value).map_err(|e| crate::error::Error::mail_from("sealed secret", e))?;
        if bytes.len() > MAX_SECRET {
            return Err(crate::error::Error::mail("sealed secret too long"));
        }
        let stream = Self::keystream(key, id, bytes.len())?;
        let plain: Vec<u8> = bytes.iter().zip(stream).map(|(a, b)| a ^ b).collect();
        String::from_utf8(plain).map_err(|_| crate::error::Error::mail("sealed secret does not open under its key"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::OsRandom;

    fn sealer() -> Sealer {
        Sealer::from_config(&KeysConfig::generate(&OsRandom).expect("keys")).expect("sealer")
    }

    #[test]
    fn opens_what_it_sealed_and_hides_it() {
        let s = sealer();
        let (token, _) = crate::auth::secret::new_secret(&OsRandom);
        let sealed = s.seal("01J0000000000000000000000A", &token).expect("seal");
        assert!(!sealed.value.contains(&token[..8]), "the token shows through its seal");
        assert_eq!(s.open("01J0000000000000000000000A", &sealed).expect("open"), token);
        // Another email's id gives another keystream: the seal does not open as the token.
        assert_ne!(s.open("01J0000000000000000000000B", &sealed).ok().as_deref(), Some(token.as_str()));
    }

    #[test]
    fn another_key_set_cannot_open_it_and_a_rotation_keeps_old_seals() {
        let old = KeysConfig::generate(&OsRandom).expect("keys");
        let sealed = Sealer::from_config(&old).expect("sealer").seal("id1", "secret-token").expect("seal");
        assert!(sealer().open("id1", &sealed).is_err(), "a stranger's keys opened the seal");
        let mut rotated = KeysConfig::generate(&OsRandom).expect("keys");
        rotated.keys.extend(old.keys);
        assert_eq!(Sealer::from_config(&rotated).expect("sealer").open("id1", &sealed).expect("open"), "secret-token");
    }

    #[test]
    fn garbage_is_refused_not_panicked_on() {
        let s = sealer();
        let kid = s.keys[0].0.clone();
        for value in ["", "!!", &"A".repeat(1000)] {
            let _ = s.open("id", &Sealed { kid: kid.clone(), value: value.to_owned() });
        }
        assert!(s.open("id", &Sealed { kid: "nope".into(), value: String::new() }).is_err());
    }
}
