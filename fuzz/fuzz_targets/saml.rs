//! Any text as an identity provider's metadata and as a SAML response: refused or read,
//! never a panic, a hang or unbounded memory. Responses are verified against a real key, so
//! inputs that keep a signature's shape reach canonicalization and RSA.
#![no_main]

use std::sync::LazyLock;

use chrono::DateTime;
use libfuzzer_sys::fuzz_target;
use switchboard::saml::cert::SigningCert;
use switchboard::saml::{metadata, response};

static KEY: LazyLock<rsa::RsaPublicKey> = LazyLock::new(|| {
    let pem = include_str!("../../shared/src/saml/testdata/idp-a.crt");
    let body: String = pem.lines().filter(|l| !l.contains("CERTIFICATE")).collect();
    match SigningCert::from_base64(&body) {
        Ok(c) => c.key,
        Err(e) => panic!("fixture certificate: {e}"),
    }
});

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let _ = metadata::parse(text, "http://www.okta.com/exk1example");
    let now = DateTime::from_timestamp(1_796_000_010, 0).unwrap_or_default();
    let expected = response::Expected {
        idp_entity_id: "http://www.okta.com/exk1example",
        sp_entity_id: "https://api.test/v1/sso/acme/metadata",
        acs_url: "https://api.test/v1/sso/acme/acs",
        now,
        keys: std::slice::from_ref(&*KEY),
    };
    let _ = response::verify(text, &expected);
});
