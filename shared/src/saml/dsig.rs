//! The narrow XML-signature check SAML needs: one enveloped signature over the element that
//! carries it, in exactly the shape every mainstream identity provider emits. Anything else
//! (other canonicalizations, transforms, HMAC or SHA-1, several references, a reference to
//! another element, an ID found twice) is refused rather than interpreted: the wrapping and
//! confusion attacks on SAML live in what a verifier is willing to accept.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use roxmltree::{Document, Node};
use rsa::RsaPublicKey;
use rsa::pkcs1v15::{Signature, VerifyingKey};
use rsa::signature::Verifier;
use sha2::{Digest, Sha256, Sha384, Sha512};

use super::c14n;
use super::xml::{NS_DS, XmlError, children};

const EXC_C14N: &str = "http://www.w3.org/2001/10/xml-exc-c14n#";
const ENVELOPED: &str = "http://www.w3.org/2000/09/xmldsig#enveloped-signature";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Hash {
    Sha256,
    Sha384,
    Sha512,
}

impl Hash {
    fn of_signature(alg: &str) -> Option<Hash> {
        match alg {
            "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256" => Some(Hash::Sha256),
            "http://www.w3.org/2001/04/xmldsig-more#rsa-sha384" => Some(Hash::Sha384),
            "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512" => Some(Hash::Sha512),
            _ => None,
        }
    }

    fn of_digest(alg: &str) -> Option<Hash> {
        match alg {
            "http://www.w3.org/2001/04/xmlenc#sha256" => Some(Hash::Sha256),
            "http://www.w3.org/2001/04/xmldsig-more#sha384" => Some(Hash::Sha384),
            "http://www.w3.org/2001/04/xmlenc#sha512" => Some(Hash::Sha512),
            _ => None,
        }
    }

    fn digest(self, data: &[u8]) -> Vec<u8> {
        match self {
            Hash::Sha256 => Sha256::digest(data).to_vec(),
            Hash::Sha384 => Sha384::digest(data).to_vec(),
            Hash::Sha512 => Sha512::digest(data).to_vec(),
        }
    }

    fn verify(self, key: &RsaPublicKey, msg: &[u8], sig: &Signature) -> bool {
        match self {
            Hash::Sha256 => VerifyingKey::<Sha256>::new(key.clone()).verify(msg, sig).is_ok(),
            Hash::Sha384 => VerifyingKey::<Sha384>::new(key.clone()).verify(msg, sig).is_ok(),
            Hash::Sha512 => VerifyingKey::<Sha512>::new(key.clone()).verify(msg, sig).is_ok(),
        }
    }
}

fn bad(why: impl Into<String>) -> XmlError {
    XmlError(why.into())
}

/// Base64 as XML carries it: line breaks and spaces anywhere.
pub fn decode_base64(text: &str) -> Result<Vec<u8>, XmlError> {
    let compact: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    STANDARD.decode(compact).map_err(|_| bad("holds invalid base64"))
}

/// The element children of `node`, refusing any text but white space between them.
fn element_children<'a, 'i>(node: Node<'a, 'i>) -> Result<Vec<Node<'a, 'i>>, XmlError> {
    let mut out = Vec::new();
    for c in node.children() {
        if c.is_element() {
            out.push(c);
        } else if c.is_text() && !c.text().unwrap_or("").trim().is_empty() {
            return Err(bad(format!("{} holds unexpected text", node.tag_name().name())));
        }
    }
    Ok(out)
}

fn is(node: Node<'_, '_>, local: &str) -> bool {
    node.tag_name().namespace() == Some(NS_DS) && node.tag_name().name() == local
}

/// The `PrefixList` of an exclusive canonicalization element (its only allowed child).
fn exc_c14n_prefixes(method: Node<'_, '_>) -> Result<Vec<String>, XmlError> {
    if method.attribute("Algorithm") != Some(EXC_C14N) {
        return Err(bad("only exclusive canonicalization without comments is accepted"));
    }
    let kids = element_children(method)?;
    match kids.as_slice() {
        [] => Ok(Vec::new()),
        [n] if n.tag_name().namespace() == Some(EXC_C14N) && n.tag_name().name() == "InclusiveNamespaces" => {
            Ok(n.attribute("PrefixList").unwrap_or("").split_ascii_whitespace().map(str::to_owned).collect())
        }
        _ => Err(bad("the canonicalization method has unexpected children")),
    }
}

/// Verify the enveloped signature that is a direct child of `signed`, against any of `keys`.
/// On success the caller reads claims from `signed` itself (never by looking the ID up
/// again), so what was verified is what is read.
pub fn verify_enveloped(doc: &Document<'_>, signed: Node<'_, '_>, keys: &[RsaPublicKey]) -> Result<(), XmlError> {
    let id = signed.attribute("ID").filter(|i| !i.is_empty()).ok_or_else(|| bad("the signed element has no ID"))?;
    let holders = doc
        .descendants()
        .filter(|n| n.is_element() && n.attributes().any(|a| a.name() == "ID" && a.value() == id))
        .count();
    if holders != 1 {
        return Err(bad("the signed ID is not unique in the document"));
    }
    let mut sigs = children(signed, NS_DS, "Signature");
    let sig = match (sigs.next(), sigs.next()) {
        (Some(s), None) => s,
        (None, _) => return Err(bad("the element is not signed")),
        _ => return Err(bad("the element carries more than one signature")),
    };
    let parts = element_children(sig)?;
    let (signed_info, value) = match parts.as_slice() {
        [si, sv] | [si, sv, _] if is(*si, "SignedInfo") && is(*sv, "SignatureValue") => (*si, *sv),
        _ => return Err(bad("the signature is not SignedInfo, SignatureValue and an optional KeyInfo")),
    };
    if let [_, _, ki] = parts.as_slice()
        && !is(*ki, "KeyInfo")
    {
        return Err(bad("the signature holds an element other than KeyInfo"));
    }
    let info = element_children(signed_info)?;
    let (c14n_method, sig_method, reference) = match info.as_slice() {
        [c, s, r] if is(*c, "CanonicalizationMethod") && is(*s, "SignatureMethod") && is(*r, "Reference") => {
            (*c, *s, *r)
        }
        _ => {
            return Err(bad(
                "SignedInfo must hold one canonicalization method, one signature method and one reference",
            ));
        }
    };
    let info_prefixes = exc_c14n_prefixes(c14n_method)?;
    let hash = sig_method
        .attribute("Algorithm")
        .and_then(Hash::of_signature)
        .filter(|_| element_children(sig_method).is_ok_and(|k| k.is_empty()))
        .ok_or_else(|| bad("the signature method must be RSA with SHA-256, SHA-384 or SHA-512"))?;
    if reference.attribute("URI") != Some(format!("#{id}").as_str()) {
        return Err(bad("the reference does not point at the signed element"));
    }
    let r = element_children(reference)?;
    let (transforms, digest_method, digest_value) = match r.as_slice() {
        [t, m, v] if is(*t, "Transforms") && is(*m, "DigestMethod") && is(*v, "DigestValue") => (*t, *m, *v),
        _ => return Err(bad("the reference must hold transforms, a digest method and a digest value")),
    };
    let t = element_children(transforms)?;
    let ref_prefixes = match t.as_slice() {
        [env, exc]
            if is(*env, "Transform") && is(*exc, "Transform") && env.attribute("Algorithm") == Some(ENVELOPED) =>
        {
            if !element_children(*env)?.is_empty() {
                return Err(bad("the enveloped-signature transform takes no children"));
            }
            exc_c14n_prefixes(*exc)?
        }
        _ => return Err(bad("the transforms must be enveloped-signature, then exclusive canonicalization")),
    };
    let digest_hash = digest_method
        .attribute("Algorithm")
        .and_then(Hash::of_digest)
        .ok_or_else(|| bad("the digest must be SHA-256, SHA-384 or SHA-512"))?;
    let expected = decode_base64(&super::xml::text_of(digest_value))?;
    let actual = digest_hash.digest(&c14n::exclusive(signed, Some(sig.id()), &ref_prefixes));
    if !bool::from(subtle::ConstantTimeEq::ct_eq(expected.as_slice(), actual.as_slice())) {
        return Err(bad("the digest does not match: the signed content was changed"));
    }
    let sig_bytes = decode_base64(&super::xml::text_of(value))?;
    let signature = Signature::try_from(sig_bytes.as_slice()).map_err(|_| bad("the signature value is malformed"))?;
    let canonical_info = c14n::exclusive(signed_info, None, &info_prefixes);
    if keys.iter().any(|k| hash.verify(k, &canonical_info, &signature)) {
        Ok(())
    } else {
        Err(bad("the signature does not verify with the provider's certificates"))
    }
}
