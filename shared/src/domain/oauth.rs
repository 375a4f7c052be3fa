//! OAuth 2.1 value types for integrations: what an application may ask for (its resources,
//! as scopes), where it may be sent back to, and PKCE.

use std::collections::BTreeSet;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use crate::error::{Error, Result};

/// A scope an application may request. Each belongs to one resource server: tokens carry
/// that server's audience, so a token for one cannot be spent at the other.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ToSchema)]
pub enum Scope {
    /// The person's name and address (this service's userinfo).
    #[serde(rename = "profile")]
    Profile,
    /// The organization's members (this service).
    #[serde(rename = "members:read")]
    MembersRead,
    /// Acting in the messaging API (the seed's "alterdesk-api" resource).
    #[serde(rename = "messaging-api")]
    MessagingApi,
}

/// The resource server a scope belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ResourceServer {
    Accounts,
    Messaging,
}

impl Scope {
    pub const ALL: [Scope; 3] = [Scope::Profile, Scope::MembersRead, Scope::MessagingApi];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Profile => "profile",
            Scope::MembersRead => "members:read",
            Scope::MessagingApi => "messaging-api",
        }
    }

    pub fn describe(self) -> &'static str {
        match self {
            Scope::Profile => "See your name and email address",
            Scope::MembersRead => "See the members of the organization",
            Scope::MessagingApi => "Use the messenger on your behalf",
        }
    }

    pub fn server(self) -> ResourceServer {
        match self {
            Scope::Profile | Scope::MembersRead => ResourceServer::Accounts,
            Scope::MessagingApi => ResourceServer::Messaging,
        }
    }

    /// Whether an application may hold it for itself (client credentials), with no person.
    pub fn for_machines(self) -> bool {
        !matches!(self, Scope::Profile)
    }

    pub fn parse(raw: &str) -> Option<Scope> {
        Scope::ALL.into_iter().find(|s| s.as_str() == raw)
    }
}

/// A set of scopes, written space-separated (RFC 6749 §3.3).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Scopes(pub BTreeSet<Scope>);

impl Scopes {
    /// Unknown names are `invalid_scope`, as the token endpoint must say.
    pub fn parse(raw: &str) -> std::result::Result<Scopes, String> {
        let mut out = BTreeSet::new();
        for s in raw.split(' ').filter(|s| !s.is_empty()) {
            out.insert(Scope::parse(s).ok_or_else(|| format!("unknown scope {s}"))?);
        }
        Ok(Scopes(out))
    }

    pub fn to_text(&self) -> String {
        self.0.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(" ")
    }

    pub fn is_subset(&self, of: &Scopes) -> bool {
        self.0.is_subset(&of.0)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The one resource server these scopes are for: a token serves one audience.
    pub fn server(&self) -> std::result::Result<ResourceServer, String> {
        let servers: BTreeSet<_> = self.0.iter().map(|s| s.server()).collect();
        match (servers.len(), self.0.iter().next()) {
            (1, Some(s)) => Ok(s.server()),
            (0, _) => Err("no scope requested".into()),
            _ => {
                Err("ask for one resource's scopes per token (messaging-api apart from profile and members:read)"
                    .into())
            }
        }
    }
}

pub const REDIRECT_URIS_MAX: usize = 10;

/// Where an authorization may send the browser back: an https URL, or http on a loopback
/// address for native apps (RFC 8252 §7.3). Compared exactly, as registered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub struct RedirectUri(String);

impl RedirectUri {
    pub fn parse(raw: &str, field: &str) -> Result<RedirectUri> {
        let bad = |why: &str| Error::validation("invalid_redirect_uri", field, why);
        if raw.len() > 2000 {
            return Err(bad("is longer than 2000 characters"));
        }
        let url = url::Url::parse(raw).map_err(|_| bad("is not an absolute URL"))?;
        let loopback = matches!(url.host_str(), Some("127.0.0.1" | "[::1]" | "localhost"));
        match url.scheme() {
            "https" => {}
            "http" if loopback => {}
            _ => return Err(bad("must be https (http only on a loopback address, for native apps)")),
        }
        if url.fragment().is_some() || !url.username().is_empty() || url.password().is_some() {
            return Err(bad("must have no fragment and no user name or password"));
        }
        Ok(RedirectUri(raw.to_owned()))
    }

    /// Whether a request's `redirect_uri` is this registered one: exactly, except that a
    /// loopback URI matches on any port, since a native app gets its port from the system when
    /// it starts (RFC 8252 §7.3).
    pub fn matches(&self, requested: &str) -> bool {
        if self.0 == requested {
            return true;
        }
        let (Ok(mut reg), Ok(mut req)) = (url::Url::parse(&self.0), url::Url::parse(requested)) else { return false };
        let loopback = |u: &url::Url| u.scheme() == "http" && matches!(u.host_str(), Some("127.0.0.1" | "[::1]"));
        if !loopback(&reg) || !loopback(&req) {
            return false;
        }
        // Only the port may differ; scheme, host, path and query are compared whole.
        let (Ok(()), Ok(())) = (reg.set_port(None), req.set_port(None)) else { return false };
        reg == req && requested.len() <= 2000
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for RedirectUri {
    type Error = Error;
    fn try_from(s: String) -> Result<Self> {
        Self::parse(&s, "redirect_uri")
    }
}

impl From<RedirectUri> for String {
    fn from(r: RedirectUri) -> String {
        r.0
    }
}

/// A PKCE code challenge (RFC 7636), S256 only: the base64url SHA-256 of the verifier.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CodeChallenge(String);

impl CodeChallenge {
    pub fn parse(challenge: Option<&str>, method: Option<&str>) -> std::result::Result<CodeChallenge, String> {
        match (challenge, method) {
            (None, _) => Err("code_challenge is required (PKCE)".into()),
            (Some(_), m) if m != Some("S256") => Err("code_challenge_method must be S256".into()),
            (Some(c), _) if c.len() == 43 && c.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') => {
                Ok(CodeChallenge(c.to_owned()))
            }
            _ => Err("code_challenge must be 43 base64url characters".into()),
        }
    }

    /// The verifier (43–128 unreserved characters) hashes to this challenge.
    pub fn matches(&self, verifier: &str) -> bool {
        let well_formed = (43..=128).contains(&verifier.len())
            && verifier.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b));
        well_formed && URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes())) == self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkce_s256_from_rfc_7636_appendix_b() {
        let c = CodeChallenge::parse(Some("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"), Some("S256")).unwrap();
        assert!(c.matches("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"));
        assert!(!c.matches("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXx"));
        assert!(CodeChallenge::parse(Some("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"), Some("plain")).is_err());
        assert!(CodeChallenge::parse(None, None).is_err());
    }

    #[test]
    fn redirect_uris_and_scopes() {
        assert!(RedirectUri::parse("https://app.example/cb", "r").is_ok());
        assert!(RedirectUri::parse("http://127.0.0.1:8123/cb", "r").is_ok());
        let native = RedirectUri::parse("http://127.0.0.1/cb", "r").unwrap();
        assert!(native.matches("http://127.0.0.1:51234/cb") && native.matches("http://127.0.0.1/cb"));
        assert!(!native.matches("http://127.0.0.1:51234/other") && !native.matches("http://127.0.0.2:51234/cb"));
        assert!(!native.matches("http://127.0.0.1:51234/cb?x=1") && !native.matches("https://127.0.0.1:51234/cb"));
        let web = RedirectUri::parse("https://app.example/cb", "r").unwrap();
        assert!(!web.matches("https://app.example:8443/cb"), "only loopback URIs take any port");
        // `localhost` may resolve anywhere: RFC 8252 §8.3 prefers the literal, and only exact here.
        let named = RedirectUri::parse("http://localhost/cb", "r").unwrap();
        assert!(!named.matches("http://localhost:5000/cb"));
        for bad in ["http://app.example/cb", "https://app.example/cb#x", "myapp:/cb", "https://u:p@app.example/", "/cb"]
        {
            assert!(RedirectUri::parse(bad, "r").is_err(), "{bad}");
        }
        let s = Scopes::parse("profile members:read").unwrap();
        assert_eq!(s.server(), Ok(ResourceServer::Accounts));
        assert!(Scopes::parse("profile messaging-api").unwrap().server().is_err());
        assert!(Scopes::parse("admin").is_err());
    }
}
