//! An identity provider's signing certificate, as metadata carries it (base64 DER). Only its
//! RSA key (2048 bits or more) and its validity are used: trust comes from the admin having
//! installed the metadata, not from a certificate chain, as SAML deployments do.

use chrono::{DateTime, Utc};
use rsa::RsaPublicKey;
use rsa::pkcs8::DecodePublicKey;
use rsa::traits::PublicKeyParts;
use sha2::{Digest, Sha256};
use x509_cert::Certificate;
use x509_cert::der::{Decode, Encode};

use super::dsig::decode_base64;
use super::xml::XmlError;

pub const MIN_RSA_BITS: usize = 2048;

#[derive(Debug, Clone)]
pub struct SigningCert {
    pub der: Vec<u8>,
    pub key: RsaPublicKey,
    pub subject: String,
    pub not_before: DateTime<Utc>,
    pub not_after: DateTime<Utc>,
    /// SHA-256 of the DER, hex: how admins tell certificates apart.
    pub fingerprint: String,
}

fn time(t: x509_cert::time::Time) -> DateTime<Utc> {
    DateTime::<Utc>::from(t.to_system_time())
}

impl SigningCert {
    pub fn from_base64(text: &str) -> Result<SigningCert, XmlError> {
        SigningCert::from_der(decode_base64(text)?)
    }

    pub fn from_der(der: Vec<u8>) -> Result<SigningCert, XmlError> {
        let cert =
            Certificate::from_der(&der).map_err(|_| XmlError("a signing certificate is not valid X.509".into()))?;
        let tbs = &cert.tbs_certificate;
        let spki =
            tbs.subject_public_key_info.to_der().map_err(|_| XmlError("a certificate's key is malformed".into()))?;
        let key = RsaPublicKey::from_public_key_der(&spki).map_err(|_| {
            XmlError("a signing certificate's key is not RSA (only RSA signatures are accepted)".into())
        })?;
        if key.size() * 8 < MIN_RSA_BITS {
            return Err(XmlError(format!("a signing certificate's RSA key is under {MIN_RSA_BITS} bits")));
        }
        let fingerprint = Sha256::digest(&der).iter().map(|b| format!("{b:02x}")).collect();
        Ok(SigningCert {
            subject: tbs.subject.to_string(),
            not_before: time(tbs.validity.not_before),
            not_after: time(tbs.validity.not_after),
            key,
            fingerprint,
            der,
        })
    }
}
