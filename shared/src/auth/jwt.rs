//! Access tokens: short-lived EdDSA (Ed25519) JWTs with a `kid`, verified against the public
//! keys served at `/.well-known/jwks.json`. Several keys may be configured so they can be
//! rotated: the first signs, all verify.

use std::collections::HashMap;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use ed25519_dalek::SigningKey;
use ed25519_dalek::pkcs8::EncodePrivateKey;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::clock::{Random, random_bytes};
use crate::domain::{ClientType, OrgId, Role, SessionId, UserId};
use crate::error::{Error, Result};

pub const ACCESS_TOKEN_TYPE: &str = "access";

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct AccessClaims {
    pub iss: String,
    pub aud: String,
    pub sub: UserId,
    pub sid: SessionId,
    /// The organization the client is working in, if the user has any.
    pub org: Option<OrgId>,
    pub roles: Vec<Role>,
    pub client: ClientType,
    /// The shared account the session acts in the name of.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub act_as: Option<UserId>,
    pub typ: String,
    pub iat: i64,
    pub exp: i64,
    pub jti: String,
}

pub const OAUTH_TOKEN_TYPE: &str = "oauth";

/// An integration's access token: for a person (`sub` the user, `gid` the grant) or for the
/// application itself (client credentials: `sub` the client id, no grant).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct OAuthClaims {
    pub iss: String,
    pub aud: String,
    pub sub: String,
    pub client_id: String,
    /// Space-separated scopes.
    pub scope: String,
    pub org: OrgId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gid: Option<String>,
    pub typ: String,
    pub iat: i64,
    pub exp: i64,
    pub jti: String,
}

/// One configured key, as stored in configuration (a secret in AWS, a file locally).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct KeyConfig {
    pub kid: String,
    /// Base64 PKCS#8 DER of the Ed25519 private key.
    pub private_pkcs8: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct KeysConfig {
    /// The first key signs; every key verifies.
    pub keys: Vec<KeyConfig>,
}

impl KeysConfig {
    /// A fresh key set with one key from the given randomness.
    pub fn generate(random: &dyn Random) -> Result<Self> {
        let seed: [u8; 32] = random_bytes(random);
        let sk = SigningKey::from_bytes(&seed);
        let der = sk.to_pkcs8_der().map_err(|e| crate::error::Error::internal_from("signing keys", e))?;
        Ok(KeysConfig {
            keys: vec![KeyConfig {
                kid: kid_for(sk.verifying_key().as_bytes()),
                private_pkcs8: STANDARD.encode(der.as_bytes()),
            }],
        })
    }
}

/// A key id derived from the public key, so it changes exactly when the key does.
fn kid_for(public: &[u8]) -> String {
    let d = Sha256::digest(public);
    URL_SAFE_NO_PAD.encode(&d[..12])
}

#[derive(Clone)]
pub struct KeySet {
    signing_kid: String,
    signing: EncodingKey,
    verifying: HashMap<String, DecodingKey>,
    jwks: serde_json::Value,
    issuer: String,
    audience: String,
}

impl KeySet {
    pub fn from_config(cfg: &KeysConfig, issuer: &str, audience: &str) -> Result<Self> {
        let bad = |why: &str| crate::error::Error::internal(format!("signing keys: {why}"));
        let first = cfg.keys.first().ok_or_else(|| bad("no key configured"))?;
        let mut verifying = HashMap::new();
        let mut jwks = Vec::new();
        let mut signing = None;
        for k in &cfg.keys {
            let der = STANDARD.decode(&k.private_pkcs8).map_err(|_| bad("key is not base64"))?;
            let sk = <SigningKey as ed25519_dalek::pkcs8::DecodePrivateKey>::from_pkcs8_der(&der)
                .map_err(|_| bad("key is not an Ed25519 PKCS#8 key"))?;
            let x = URL_SAFE_NO_PAD.encode(sk.verifying_key().as_bytes());
            verifying.insert(k.kid.clone(), DecodingKey::from_ed_components(&x).map_err(|e| bad(&e.to_string()))?);
            jwks.push(
                serde_json::json!({"kty": "OKP", "crv": "Ed25519", "x": x, "kid": k.kid, "alg": "EdDSA", "use": "sig"}),
            );
            if k.kid == first.kid {
                signing = Some(EncodingKey::from_ed_der(&der));
            }
        }
        Ok(KeySet {
            signing_kid: first.kid.clone(),
            signing: signing.ok_or_else(|| bad("no signing key"))?,
            verifying,
            jwks: serde_json::json!({ "keys": jwks }),
            issuer: issuer.to_owned(),
            audience: audience.to_owned(),
        })
    }

    pub fn jwks(&self) -> &serde_json::Value {
        &self.jwks
    }

    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    pub fn audience(&self) -> &str {
        &self.audience
    }

    pub fn sign(&self, claims: &AccessClaims) -> Result<String> {
        self.encode(claims)
    }

    fn encode<T: Serialize>(&self, claims: &T) -> Result<String> {
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(self.signing_kid.clone());
        header.typ = Some("at+jwt".into());
        jsonwebtoken::encode(&header, claims, &self.signing)
            .map_err(|e| crate::error::Error::internal_from("signing keys", e))
    }

    /// An OAuth access token (RFC 9068 `at+jwt`) for an integration, with its own audience.
    pub fn sign_oauth(&self, claims: &OAuthClaims) -> Result<String> {
        self.encode(claims)
    }

    /// Check an OAuth access token for `audience`: signature, issuer, expiry and type. A
    /// session's token (another type and audience) never passes, nor does one of these as a
    /// session's.
    pub fn verify_oauth(&self, token: &str, audience: &str, now_epoch: i64) -> Result<OAuthClaims> {
        let c: OAuthClaims = self.decode(token, audience)?;
        if c.typ != OAUTH_TOKEN_TYPE || c.exp <= now_epoch {
            return Err(Error::Unauthenticated);
        }
        Ok(c)
    }

    /// Signature (EdDSA, by a configured key id), issuer, audience and the required claims;
    /// expiry is the callers' to check, against the injected clock.
    fn decode<T: serde::de::DeserializeOwned>(&self, token: &str, audience: &str) -> Result<T> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| Error::Unauthenticated)?;
        if header.alg != Algorithm::EdDSA {
            return Err(Error::Unauthenticated);
        }
        let key = header.kid.as_ref().and_then(|k| self.verifying.get(k)).ok_or(Error::Unauthenticated)?;
        let mut v = Validation::new(Algorithm::EdDSA);
        v.set_issuer(&[&self.issuer]);
        v.set_audience(&[audience]);
        v.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        v.validate_exp = false;
        Ok(jsonwebtoken::decode::<T>(token, key, &v).map_err(|_| Error::Unauthenticated)?.claims)
    }

    /// Check signature, algorithm, key id, expiry, issuer, audience and token type. The
    /// session behind the token is checked separately, against storage.
    pub fn verify(&self, token: &str, now_epoch: i64) -> Result<AccessClaims> {
        let c: AccessClaims = self.decode(token, &self.audience)?;
        if c.typ != ACCESS_TOKEN_TYPE || c.exp <= now_epoch {
            return Err(Error::Unauthenticated);
        }
        Ok(c)
    }
}
