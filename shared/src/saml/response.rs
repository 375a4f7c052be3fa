//! A SAML 2.0 `Response` posted to the assertion consumer service (Web Browser SSO profile,
//! saml-profiles-2.0-os §4.1.4), checked the way the profile asks and a little stricter:
//! exactly one assertion, directly inside the response, signed itself or through the signed
//! response; every claim read from the verified element; time limits with a small skew.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use roxmltree::Node;
use rsa::RsaPublicKey;

use super::dsig::verify_enveloped;
use super::xml::{self, Limits, NS_DS, NS_SAML, NS_SAMLP, XmlError, children, only_child, optional_child, text_of};

pub const RESPONSE_LIMITS: Limits = Limits { max_bytes: 256 * 1024, max_nodes: 5_000, max_depth: 24 };
/// Clock difference tolerated between the provider and this service.
pub const SKEW: Duration = Duration::seconds(120);

const SUCCESS: &str = "urn:oasis:names:tc:SAML:2.0:status:Success";
const BEARER: &str = "urn:oasis:names:tc:SAML:2.0:cm:bearer";

/// What the response must match.
pub struct Expected<'a> {
    pub idp_entity_id: &'a str,
    pub sp_entity_id: &'a str,
    pub acs_url: &'a str,
    pub now: DateTime<Utc>,
    pub keys: &'a [RsaPublicKey],
}

/// A verified sign-in.
#[derive(Debug, Clone)]
pub struct Verified {
    pub assertion_id: String,
    /// The request this answers (`InResponseTo`): the caller consumes it.
    pub in_response_to: String,
    pub name_id: String,
    pub name_id_format: Option<String>,
    pub attributes: BTreeMap<String, Vec<String>>,
    pub session_index: Option<String>,
    /// Until when the assertion could be presented: its replay guard is kept this long.
    pub usable_until: DateTime<Utc>,
}

/// Why a response was refused; `status` carries a provider's non-success status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused(pub String);

impl From<XmlError> for Refused {
    fn from(e: XmlError) -> Self {
        Refused(e.0)
    }
}

fn no(why: impl Into<String>) -> Refused {
    Refused(why.into())
}

fn instant(node: Node<'_, '_>, attr: &str) -> Result<Option<DateTime<Utc>>, Refused> {
    node.attribute(attr)
        .map(|v| {
            DateTime::parse_from_rfc3339(v.trim())
                .map(|t| t.with_timezone(&Utc))
                .map_err(|_| no(format!("{attr} is not a time")))
        })
        .transpose()
}

fn issuer_is(node: Node<'_, '_>, expected: &str, required: bool) -> Result<(), Refused> {
    match optional_child(node, NS_SAML, "Issuer")? {
        Some(i) if text_of(i).trim() == expected => Ok(()),
        Some(_) => Err(no("the issuer is not the configured identity provider")),
        None if required => Err(no("the assertion names no issuer")),
        None => Ok(()),
    }
}

/// Check `text` (the decoded `SAMLResponse`) against `expected`.
pub fn verify(text: &str, expected: &Expected<'_>) -> Result<Verified, Refused> {
    let doc = xml::parse(text, RESPONSE_LIMITS)?;
    let response = doc.root_element();
    if response.tag_name().namespace() != Some(NS_SAMLP) || response.tag_name().name() != "Response" {
        return Err(no("is not a SAML 2.0 Response"));
    }
    if response.attribute("Version") != Some("2.0") {
        return Err(no("is not SAML version 2.0"));
    }
    if response.attribute("Destination") != Some(expected.acs_url) {
        return Err(no("its Destination is not this service's assertion consumer URL"));
    }
    let in_response_to = response
        .attribute("InResponseTo")
        .filter(|v| !v.is_empty())
        .ok_or_else(|| no("it answers no request of this service (unsolicited responses are not accepted)"))?
        .to_owned();
    issuer_is(response, expected.idp_entity_id, false)?;
    let status = only_child(only_child(response, NS_SAMLP, "Status")?, NS_SAMLP, "StatusCode")?;
    if status.attribute("Value") != Some(SUCCESS) {
        let sub = children(status, NS_SAMLP, "StatusCode").next().and_then(|s| s.attribute("Value")).unwrap_or("");
        return Err(no(format!(
            "the provider refused the sign-in ({} {sub})",
            status.attribute("Value").unwrap_or("")
        )
        .trim_end()
        .to_owned()));
    }
    if doc.descendants().any(|n| n.is_element() && n.tag_name().name() == "EncryptedAssertion") {
        return Err(no("encrypted assertions are not supported: switch assertion encryption off at the provider"));
    }
    let all: Vec<Node<'_, '_>> = doc
        .descendants()
        .filter(|n| n.is_element() && n.tag_name().namespace() == Some(NS_SAML) && n.tag_name().name() == "Assertion")
        .collect();
    let assertion = match all.as_slice() {
        [a] if a.parent_element() == Some(response) => *a,
        [_] => return Err(no("the assertion is not directly inside the response")),
        [] => return Err(no("the response holds no assertion")),
        _ => return Err(no("the response holds more than one assertion")),
    };
    let assertion_signed = children(assertion, NS_DS, "Signature").next().is_some();
    let response_signed = children(response, NS_DS, "Signature").next().is_some();
    if !assertion_signed && !response_signed {
        return Err(no("neither the response nor the assertion is signed"));
    }
    if response_signed {
        verify_enveloped(&doc, response, expected.keys)?;
    }
    if assertion_signed {
        verify_enveloped(&doc, assertion, expected.keys)?;
    }
    read_assertion(assertion, expected, in_response_to)
}

fn read_assertion(a: Node<'_, '_>, expected: &Expected<'_>, in_response_to: String) -> Result<Verified, Refused> {
    let now = expected.now;
    if a.attribute("Version") != Some("2.0") {
        return Err(no("the assertion is not SAML version 2.0"));
    }
    let assertion_id =
        a.attribute("ID").filter(|i| !i.is_empty()).ok_or_else(|| no("the assertion has no ID"))?.to_owned();
    issuer_is(a, expected.idp_entity_id, true)?;
    let subject = only_child(a, NS_SAML, "Subject")?;
    let name_id = only_child(subject, NS_SAML, "NameID")?;
    if name_id.children().any(|c| c.is_element()) {
        return Err(no("the NameID holds markup"));
    }
    let name = text_of(name_id).trim().to_owned();
    if name.is_empty() {
        return Err(no("the NameID is empty"));
    }
    // A bearer confirmation for this service and this request, still valid.
    let mut confirmed_until = None;
    for sc in children(subject, NS_SAML, "SubjectConfirmation") {
        if sc.attribute("Method") != Some(BEARER) {
            continue;
        }
        let Some(data) = optional_child(sc, NS_SAML, "SubjectConfirmationData")? else { continue };
        let until = instant(data, "NotOnOrAfter")?;
        let ok = data.attribute("Recipient") == Some(expected.acs_url)
            && data.attribute("InResponseTo") == Some(in_response_to.as_str())
            && until.is_some_and(|u| now < u + SKEW)
            && instant(data, "NotBefore")?.is_none_or(|nb| nb <= now + SKEW);
        if ok {
            confirmed_until = until;
            break;
        }
    }
    let confirmed_until = confirmed_until.ok_or_else(|| {
        no("no bearer subject confirmation names this service as recipient, answers this request and is still valid")
    })?;
    let conditions = only_child(a, NS_SAML, "Conditions")?;
    if instant(conditions, "NotBefore")?.is_some_and(|nb| now + SKEW < nb) {
        return Err(no("the assertion is not valid yet"));
    }
    let not_after = instant(conditions, "NotOnOrAfter")?;
    if not_after.is_some_and(|na| now >= na + SKEW) {
        return Err(no("the assertion has expired"));
    }
    let restrictions: Vec<Node<'_, '_>> = children(conditions, NS_SAML, "AudienceRestriction").collect();
    let for_us =
        |r: &Node<'_, '_>| children(*r, NS_SAML, "Audience").any(|au| text_of(au).trim() == expected.sp_entity_id);
    if restrictions.is_empty() || !restrictions.iter().all(for_us) {
        return Err(no("the assertion's audience is not this service"));
    }
    let authn = children(a, NS_SAML, "AuthnStatement")
        .next()
        .ok_or_else(|| no("the assertion holds no authentication statement"))?;
    if instant(authn, "SessionNotOnOrAfter")?.is_some_and(|s| now >= s) {
        return Err(no("the provider's session has ended"));
    }
    let mut attributes: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for st in children(a, NS_SAML, "AttributeStatement") {
        for at in children(st, NS_SAML, "Attribute") {
            let Some(n) = at.attribute("Name") else { continue };
            let values = children(at, NS_SAML, "AttributeValue").map(|v| text_of(v).trim().to_owned());
            attributes.entry(n.to_owned()).or_default().extend(values);
        }
    }
    let usable_until = not_after.map_or(confirmed_until, |na| na.min(confirmed_until)) + SKEW;
    Ok(Verified {
        assertion_id,
        in_response_to,
        name_id: name,
        name_id_format: name_id.attribute("Format").map(str::to_owned),
        attributes,
        session_index: authn.attribute("SessionIndex").map(str::to_owned),
        usable_until,
    })
}

/// The address a verified sign-in names: the NameID when it is one, else the usual email
/// attributes (Entra, ADFS, Okta, Shibboleth names).
pub fn email_candidates(v: &Verified) -> Vec<&str> {
    const ATTRS: [&str; 5] = [
        "email",
        "mail",
        "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress",
        "urn:oid:0.9.2342.19200300.100.1.3",
        "emailaddress",
    ];
    let mut out = vec![v.name_id.as_str()];
    for a in ATTRS {
        if let Some(vals) = v.attributes.get(a) {
            out.extend(vals.iter().map(String::as_str));
        }
    }
    out
}
