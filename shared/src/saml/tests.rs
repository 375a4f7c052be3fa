//! The metadata reader on each shape providers publish, and the response verifier on
//! responses signed by signxml (`tests/saml/idp.py`, an implementation independent of this
//! one), valid and attacked. The fixtures were made at `now` = 1796000000 with:
//! `idp.py testdata/idp-a.key testdata/idp-a.crt '{"acs": ACS, "audience": SP, "issuer": IDP,
//! "in_response_to": "_req1", "name_id": "ann@acme.test", "victim": "boss@acme.test",
//! "now": 1796000000, "attack": NAME, ...}'` (idp-b's key for `other_key`).

use base64::Engine;
use chrono::{DateTime, Duration, Utc};

use super::metadata;
use super::response::{Expected, Refused, Verified, email_candidates, verify};

const ACS: &str = "https://api.test/v1/sso/acme/acs";
const SP: &str = "https://api.test/v1/sso/acme/metadata";
const IDP: &str = "http://www.okta.com/exk1example";

fn fixture(name: &str) -> String {
    let path = format!("{}/src/saml/testdata/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn response(name: &str) -> String {
    let b64 = fixture(&format!("responses/{name}.b64"));
    String::from_utf8(base64::engine::general_purpose::STANDARD.decode(b64.trim()).unwrap()).unwrap()
}

fn at(offset_secs: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(1_796_000_000, 0).unwrap() + Duration::seconds(offset_secs)
}

fn check(name: &str, now: DateTime<Utc>) -> Result<Verified, Refused> {
    let md = metadata::parse(&fixture("metadata-okta.xml"), IDP).unwrap();
    let keys: Vec<_> = md.certs.iter().map(|c| c.key.clone()).collect();
    verify(&response(name), &Expected { idp_entity_id: IDP, sp_entity_id: SP, acs_url: ACS, now, keys: &keys })
}

fn refused(name: &str) -> String {
    match check(name, at(10)) {
        Err(Refused(why)) => why,
        Ok(v) => panic!("{name} was accepted as {}", v.name_id),
    }
}

#[test]
fn metadata_of_every_shape() {
    let okta = metadata::parse(&fixture("metadata-okta.xml"), IDP).unwrap();
    assert_eq!(okta.certs.len(), 1);
    assert!(okta.sso_redirect.is_some() && okta.sso_post.is_some());
    assert!(okta.certs[0].not_after > okta.certs[0].not_before);

    // ADFS: signed metadata, a RoleDescriptor and an SPSSODescriptor besides, two signing
    // certificates (a rollover) and an encryption one that is not kept.
    let adfs = metadata::parse(&fixture("metadata-adfs.xml"), "http://adfs.contoso.test/adfs/services/trust").unwrap();
    assert_eq!(adfs.certs.len(), 2);
    assert_eq!(adfs.sso_redirect.as_deref(), Some("https://adfs.contoso.test/adfs/ls/"));

    // Entra: the default namespace, no prefixes.
    let entra = "https://sts.windows.net/00000000-1111-2222-3333-444444444444/";
    let e = metadata::parse(&fixture("metadata-entra.xml"), entra).unwrap();
    assert_eq!(e.certs.len(), 1);
    assert!(e.sso_redirect.as_deref().is_some_and(|u| u.starts_with("https://login.microsoftonline.com/")));

    // A federation file: the entity is found inside nested EntitiesDescriptors; a certificate
    // wrapped over lines reads the same; only HTTP-POST is offered.
    let fed = metadata::parse(&fixture("metadata-entities.xml"), "https://idp.university.test/idp/shibboleth").unwrap();
    assert_eq!((fed.sso_redirect.as_deref(), fed.certs.len()), (None, 1));
    assert_eq!(fed.sso_post.as_deref(), Some("https://idp.university.test/idp/profile/SAML2/POST/SSO"));
}

#[test]
fn metadata_refusals() {
    let wrong = metadata::parse(&fixture("metadata-okta.xml"), "http://other.example").unwrap_err();
    assert!(wrong.0.contains("http://www.okta.com/exk1example"), "{wrong}");
    assert!(
        metadata::parse(&fixture("metadata-entities.xml"), "https://sp.other.test/shibboleth").is_err(),
        "an SP is no IdP"
    );
    let xxe = format!(
        "<!DOCTYPE m [<!ENTITY x SYSTEM \"file:///etc/passwd\">]>{}",
        fixture("metadata-okta.xml").replace("<?xml version=\"1.0\" encoding=\"UTF-8\"?>", "")
    );
    assert!(metadata::parse(&xxe, IDP).unwrap_err().0.contains("DTD"));
    let weak = fixture("metadata-okta.xml").replace(&cert_body("idp-a.crt"), &cert_body("weak.crt"));
    assert!(metadata::parse(&weak, IDP).unwrap_err().0.contains("2048"));
    let http = fixture("metadata-okta.xml").replace("https://example.okta.com", "http://example.okta.com");
    assert!(metadata::parse(&http, IDP).unwrap_err().0.contains("https"));
    let signed_requests =
        fixture("metadata-okta.xml").replace("WantAuthnRequestsSigned=\"false\"", "WantAuthnRequestsSigned=\"true\"");
    assert!(metadata::parse(&signed_requests, IDP).is_err());
    assert!(
        metadata::parse("<md:EntityDescriptor xmlns:md=\"urn:oasis:names:tc:SAML:2.0:metadata\" entityID=\"x\"/>", "x")
            .is_err()
    );
}

fn cert_body(name: &str) -> String {
    fixture(name).lines().filter(|l| !l.contains("CERTIFICATE")).collect()
}

#[test]
fn a_response_signed_by_signxml_verifies() {
    let v = check("valid", at(10)).unwrap();
    assert_eq!((v.name_id.as_str(), v.in_response_to.as_str()), ("ann@acme.test", "_req1"));
    assert_eq!(v.attributes.get("mail").map(Vec::as_slice), Some(["ann@acme.test".to_owned()].as_slice()));
    assert_eq!(email_candidates(&v), vec!["ann@acme.test", "ann@acme.test"]);
    assert!(v.usable_until > at(10) && v.usable_until <= at(300 + 120));
    // The whole response signed instead of the assertion: accepted, and the metadata this
    // service publishes says so (it does not ask for assertion-level signatures).
    assert_eq!(check("response_signed", at(10)).unwrap().name_id, "ann@acme.test");
    let md = crate::saml::request::sp_metadata("https://sb.example/sp", "https://sb.example/acs");
    assert!(md.contains(r#"WantAssertionsSigned="false""#), "{md}");
}

#[test]
fn attacked_responses_are_refused() {
    assert!(refused("tampered").contains("digest"));
    assert!(refused("other_key").contains("certificates"));
    assert!(
        refused("wrap_duplicate_id").contains("more than one assertion")
            || refused("wrap_duplicate_id").contains("unique")
    );
    assert!(refused("extra_assertion").contains("more than one assertion"));
    assert!(refused("expired").contains("subject confirmation") || refused("expired").contains("expired"));
    assert!(refused("wrong_audience").contains("audience"));
    assert!(refused("unsigned").contains("signed"));
    assert!(refused("sha1").contains("SHA-256"));
    // Valid at issue, not five minutes (plus skew) later, nor long before.
    assert!(check("valid", at(300 + 121)).is_err());
    assert!(check("valid", at(-600)).is_err());
}

#[test]
fn a_comment_cannot_shorten_the_name() {
    // The signature holds (comments are outside it), but the name reads whole.
    let v = check("comment", at(10)).unwrap();
    assert_eq!(v.name_id, "ann@acme.test.evil.test");
}

#[test]
fn any_edit_after_signing_breaks_it() {
    let original = response("valid");
    for (from, to) in [
        ("ann@acme.test</saml:NameID>", "boss@acme.test</saml:NameID>"),
        (
            "<saml:Audience>https://api.test/v1/sso/acme/metadata",
            "<saml:Audience>https://api.test/v1/sso/other/metadata",
        ),
        ("NotOnOrAfter=\"", "NotOnOrAfter=\"2"),
    ] {
        assert!(original.contains(from), "{from}");
        let edited = original.replacen(from, to, 1);
        let md = metadata::parse(&fixture("metadata-okta.xml"), IDP).unwrap();
        let keys: Vec<_> = md.certs.iter().map(|c| c.key.clone()).collect();
        let e = Expected { idp_entity_id: IDP, sp_entity_id: SP, acs_url: ACS, now: at(10), keys: &keys };
        assert!(verify(&edited, &e).is_err(), "edit {from} -> {to} was accepted");
    }
}

#[test]
#[ignore = "prints why each attacked fixture is refused (for the closing note)"]
fn print_refusals() {
    for n in [
        "tampered",
        "other_key",
        "wrap_duplicate_id",
        "extra_assertion",
        "expired",
        "wrong_audience",
        "unsigned",
        "sha1",
    ] {
        println!("{n}: {}", refused(n));
    }
}
