//! An identity provider's metadata (SAML 2.0 metadata, OASIS saml-metadata-2.0-os): its
//! entity ID, where to send sign-in requests, and every signing certificate. Providers
//! publish it in several shapes (a lone `EntityDescriptor`, one inside an
//! `EntitiesDescriptor`, prefixed or in the default namespace, with the extra descriptors
//! ADFS and Entra add); all are read the same way, and only what sign-in needs is kept.

use roxmltree::Node;

use super::cert::SigningCert;
use super::xml::{self, Limits, NS_DS, NS_MD, XmlError, children, text_of};

pub const METADATA_LIMITS: Limits = Limits { max_bytes: 512 * 1024, max_nodes: 20_000, max_depth: 32 };
/// Certificates kept per provider: a rollover publishes two, some providers three.
pub const MAX_CERTS: usize = 8;

const PROTOCOL: &str = "urn:oasis:names:tc:SAML:2.0:protocol";
pub const BINDING_REDIRECT: &str = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect";
pub const BINDING_POST: &str = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST";

#[derive(Debug, Clone)]
pub struct IdpMetadata {
    pub entity_id: String,
    /// The sign-in endpoint for the HTTP-Redirect binding, if offered (preferred).
    pub sso_redirect: Option<String>,
    /// The sign-in endpoint for the HTTP-POST binding, if offered.
    pub sso_post: Option<String>,
    pub certs: Vec<SigningCert>,
}

fn bad(why: impl Into<String>) -> XmlError {
    XmlError(why.into())
}

/// Read `text` as the metadata of `entity_id`.
pub fn parse(text: &str, entity_id: &str) -> Result<IdpMetadata, XmlError> {
    let doc = xml::parse(text, METADATA_LIMITS)?;
    let root = doc.root_element();
    let entity = find_entity(root, entity_id)?;
    let idp = children(entity, NS_MD, "IDPSSODescriptor")
        .find(|d| {
            d.attribute("protocolSupportEnumeration").is_some_and(|p| p.split_ascii_whitespace().any(|x| x == PROTOCOL))
        })
        .ok_or_else(|| {
            bad("the entity has no IDPSSODescriptor for SAML 2.0: is this an identity provider's metadata?")
        })?;
    if idp.attribute("WantAuthnRequestsSigned") == Some("true") || idp.attribute("WantAuthnRequestsSigned") == Some("1")
    {
        return Err(bad(
            "the provider wants signed sign-in requests (WantAuthnRequestsSigned); this service sends unsigned ones, so switch that off at the provider",
        ));
    }
    let mut redirect = None;
    let mut post = None;
    for s in children(idp, NS_MD, "SingleSignOnService") {
        let location = s.attribute("Location").unwrap_or("").trim();
        let slot = match s.attribute("Binding") {
            Some(BINDING_REDIRECT) => &mut redirect,
            Some(BINDING_POST) => &mut post,
            _ => continue,
        };
        if slot.is_none() {
            *slot = Some(endpoint(location)?);
        }
    }
    if redirect.is_none() && post.is_none() {
        return Err(bad("the provider offers no SingleSignOnService with the HTTP-Redirect or HTTP-POST binding"));
    }
    let certs = signing_certs(idp)?;
    Ok(IdpMetadata { entity_id: entity_id.to_owned(), sso_redirect: redirect, sso_post: post, certs })
}

/// The `EntityDescriptor` of `entity_id`, at the root or anywhere inside nested
/// `EntitiesDescriptor`s; an entity ID other than the one given is an error naming it.
fn find_entity<'a, 'i>(root: Node<'a, 'i>, entity_id: &str) -> Result<Node<'a, 'i>, XmlError> {
    let is_md = |n: &Node<'_, '_>, local: &str| n.tag_name().namespace() == Some(NS_MD) && n.tag_name().name() == local;
    if is_md(&root, "EntityDescriptor") {
        return match root.attribute("entityID") {
            Some(id) if id == entity_id => Ok(root),
            Some(id) => Err(bad(format!("the metadata describes entity {id}, not the entity ID given"))),
            None => Err(bad("the EntityDescriptor has no entityID")),
        };
    }
    if !is_md(&root, "EntitiesDescriptor") {
        return Err(bad("is not SAML metadata: the root is neither EntityDescriptor nor EntitiesDescriptor"));
    }
    let mut found = root
        .descendants()
        .filter(|n| n.is_element() && is_md(n, "EntityDescriptor") && n.attribute("entityID") == Some(entity_id));
    match (found.next(), found.next()) {
        (Some(e), None) => Ok(e),
        (None, _) => Err(bad("no EntityDescriptor in the metadata has the entity ID given")),
        (Some(_), Some(_)) => Err(bad("the entity ID given is described more than once")),
    }
}

/// An absolute https URL (http only on loopback, for local identity providers).
fn endpoint(location: &str) -> Result<String, XmlError> {
    let url = url::Url::parse(location).map_err(|_| bad("a SingleSignOnService Location is not a URL"))?;
    let loopback = matches!(url.host_str(), Some("localhost" | "127.0.0.1" | "[::1]"));
    match url.scheme() {
        "https" => {}
        "http" if loopback => {}
        _ => return Err(bad("a SingleSignOnService Location must be an https URL")),
    }
    if url.cannot_be_a_base() || url.fragment().is_some() {
        return Err(bad("a SingleSignOnService Location must be a plain https URL"));
    }
    Ok(url.to_string())
}

/// Every certificate for signing: `KeyDescriptor`s with `use="signing"` or no `use`.
fn signing_certs(idp: Node<'_, '_>) -> Result<Vec<SigningCert>, XmlError> {
    let mut certs: Vec<SigningCert> = Vec::new();
    for kd in children(idp, NS_MD, "KeyDescriptor") {
        if kd.attribute("use").is_some_and(|u| u != "signing") {
            continue;
        }
        for ki in children(kd, NS_DS, "KeyInfo") {
            for data in children(ki, NS_DS, "X509Data") {
                for c in children(data, NS_DS, "X509Certificate") {
                    let cert = SigningCert::from_base64(&text_of(c))?;
                    if !certs.iter().any(|k| k.fingerprint == cert.fingerprint) {
                        certs.push(cert);
                    }
                }
            }
        }
    }
    if certs.is_empty() {
        return Err(bad("the provider publishes no signing certificate (KeyDescriptor with an X509Certificate)"));
    }
    if certs.len() > MAX_CERTS {
        return Err(bad(format!("the provider publishes more than {MAX_CERTS} signing certificates")));
    }
    Ok(certs)
}
