//! What this service sends: the `AuthnRequest` that starts a sign-in (HTTP-Redirect binding,
//! or an auto-posting form where the provider offers only HTTP-POST), and the service
//! provider metadata an admin installs at the identity provider.

use std::io::Write;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, SecondsFormat, Utc};

pub const NAMEID_EMAIL: &str = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress";

/// XML attribute and text escaping for values this service puts in its own documents.
fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

pub struct AuthnRequest<'a> {
    /// `_` and 32 hex digits (128 random bits); stored, single use.
    pub id: &'a str,
    pub issue_instant: DateTime<Utc>,
    pub destination: &'a str,
    pub acs_url: &'a str,
    pub sp_entity_id: &'a str,
}

impl AuthnRequest<'_> {
    pub fn xml(&self) -> String {
        format!(
            concat!(
                r#"<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion""#,
                r#" ID="{id}" Version="2.0" IssueInstant="{at}" Destination="{dest}" AssertionConsumerServiceURL="{acs}""#,
                r#" ProtocolBinding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST">"#,
                r#"<saml:Issuer>{sp}</saml:Issuer><samlp:NameIDPolicy Format="{fmt}" AllowCreate="true"/></samlp:AuthnRequest>"#
            ),
            id = esc(self.id),
            at = self.issue_instant.to_rfc3339_opts(SecondsFormat::Secs, true),
            dest = esc(self.destination),
            acs = esc(self.acs_url),
            sp = esc(self.sp_entity_id),
            fmt = NAMEID_EMAIL,
        )
    }

    /// The HTTP-Redirect binding (saml-bindings-2.0-os §3.4): raw DEFLATE, base64, in the
    /// query of the provider's endpoint, with the relay state. None if the destination is not
    /// a URL (destinations were checked when the metadata was read).
    pub fn redirect_url(&self, relay_state: &str) -> Option<String> {
        let mut deflater = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
        deflater.write_all(self.xml().as_bytes()).ok()?;
        let deflated = deflater.finish().ok()?;
        let mut url = url::Url::parse(self.destination).ok()?;
        url.query_pairs_mut()
            .append_pair("SAMLRequest", &STANDARD.encode(deflated))
            .append_pair("RelayState", relay_state);
        Some(url.to_string())
    }

    /// The HTTP-POST binding (§3.5): a page that posts the request to the provider.
    pub fn post_form(&self, relay_state: &str) -> String {
        format!(
            concat!(
                "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>Signing in</title></head>",
                "<body onload=\"document.forms[0].submit()\"><form method=\"post\" action=\"{dest}\">",
                "<input type=\"hidden\" name=\"SAMLRequest\" value=\"{req}\"><input type=\"hidden\" name=\"RelayState\" value=\"{relay}\">",
                "<noscript><button type=\"submit\">Continue</button></noscript></form></body></html>"
            ),
            dest = esc(self.destination),
            req = STANDARD.encode(self.xml()),
            relay = esc(relay_state),
        )
    }
}

/// The service provider metadata of one configured provider. It states what the assertion
/// consumer accepts: an assertion signed itself or through its signed response (many
/// providers sign only the response by default), so `WantAssertionsSigned` is false; an
/// unsigned one is refused either way.
pub fn sp_metadata(sp_entity_id: &str, acs_url: &str) -> String {
    format!(
        concat!(
            r#"<?xml version="1.0" encoding="UTF-8"?>"#,
            "\n",
            r#"<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="{sp}">"#,
            r#"<md:SPSSODescriptor AuthnRequestsSigned="false" WantAssertionsSigned="false" protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">"#,
            r#"<md:NameIDFormat>{fmt}</md:NameIDFormat>"#,
            r#"<md:AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="{acs}" index="0" isDefault="true"/>"#,
            r#"</md:SPSSODescriptor></md:EntityDescriptor>"#,
            "\n"
        ),
        sp = esc(sp_entity_id),
        acs = esc(acs_url),
        fmt = NAMEID_EMAIL,
    )
}
