//! The authorization server for integrations (OAuth 2.1 with the Security BCP, RFC 9700):
//! authorization codes with PKCE (S256) after the person's consent, rotating refresh tokens
//! with reuse detection, client credentials for an application acting in its organization,
//! revocation (RFC 7009), metadata (RFC 8414) and this service's userinfo resource.

pub mod apps;
pub mod tokens;

use crate::error::OAuthCode;
use chrono::Duration;
use serde::Serialize;
use utoipa::ToSchema;

use crate::auth::secret;
use crate::domain::oauth::{CodeChallenge, ResourceServer, Scope, Scopes};
use crate::domain::{OrgId, UserId};
use crate::error::{Error, Result};
use crate::service::federation::oauth::tokens::still_member;
use crate::service::{Authenticated, Ctx};
use crate::store::{AppRecord, AuthCodeRecord, ConsentRecord, MemberStatus};

/// Codes live this long (RFC 6749 recommends at most ten minutes; a client exchanges at once).
const CODE_SECONDS: i64 = 60;

pub(crate) fn oauth(code: OAuthCode, description: impl Into<String>) -> Error {
    Error::OAuth { code, description: description.into() }
}

pub fn audience(ctx: &Ctx, server: ResourceServer) -> String {
    let iss = ctx.keys.issuer().trim_end_matches('/');
    match server {
        ResourceServer::Accounts => format!("{iss}/accounts"),
        ResourceServer::Messaging => format!("{iss}/messaging"),
    }
}

/// The query of an authorization request, as the client sent it.
#[derive(Debug, Default, Clone)]
pub struct AuthorizeRequest {
    pub client_id: String,
    pub redirect_uri: Option<String>,
    pub response_type: Option<String>,
    pub scope: Option<String>,
    pub state: Option<String>,
    pub code_challenge: Option<String>,
    pub code_challenge_method: Option<String>,
}

/// A request that names a registered client and one of its redirect URIs: from here on,
/// errors go back to the client on that URI.
struct Checked {
    app: AppRecord,
    redirect_uri: String,
    state: Option<String>,
    /// The rest of the request, or the error to send back.
    outcome: std::result::Result<(Scopes, CodeChallenge), (&'static str, String)>,
}

async fn check(ctx: &Ctx, auth: &Authenticated, r: &AuthorizeRequest) -> Result<Checked> {
    let app =
        ctx.store.app(&r.client_id).await?.ok_or_else(|| oauth(OAuthCode::InvalidRequest, "unknown client_id"))?;
    let redirect_uri =
        r.redirect_uri.clone().ok_or_else(|| oauth(OAuthCode::InvalidRequest, "redirect_uri is required"))?;
    if !app.redirect_uris.iter().any(|u| u.matches(&redirect_uri)) {
        return Err(oauth(OAuthCode::InvalidRequest, "redirect_uri is not one the application registered"));
    }
    // Only the application's own organization's members authorize it; it acts there.
    match ctx.store.get_membership(&auth.user_id, &app.org_id).await? {
        Some(m) if m.status == MemberStatus::Active => {}
        _ => {
            return Err(oauth(
                OAuthCode::AccessDenied,
                "this application belongs to an organization you are not a member of",
            ));
        }
    }
    let outcome = (|| {
        if r.response_type.as_deref() != Some("code") {
            return Err(("unsupported_response_type", "response_type must be code".to_owned()));
        }
        let scopes = Scopes::parse(r.scope.as_deref().unwrap_or("")).map_err(|e| ("invalid_scope", e))?;
        scopes.server().map_err(|e| ("invalid_scope", e))?;
        if !scopes.is_subset(&app.resources) {
            return Err(("invalid_scope", "the application may not ask for these scopes".to_owned()));
        }
        let challenge = CodeChallenge::parse(r.code_challenge.as_deref(), r.code_challenge_method.as_deref())
            .map_err(|e| ("invalid_request", e))?;
        Ok((scopes, challenge))
    })();
    Ok(Checked { app, redirect_uri, state: r.state.clone(), outcome })
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ScopeView {
    pub scope: String,
    pub description: &'static str,
}

/// What the consent page shows.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConsentPrompt {
    pub client_id: String,
    pub application: String,
    pub description: Option<String>,
    pub organization_id: OrgId,
    pub scopes: Vec<ScopeView>,
    /// The person agreed to these scopes before: a client may skip the prompt.
    pub remembered: bool,
}

/// Where the browser goes next: the client's redirect URI with a code or an error.
#[derive(Debug, Serialize, ToSchema)]
pub struct RedirectTo {
    pub redirect_to: String,
}

fn back(ctx: &Ctx, uri: &str, params: &[(&str, &str)], state: Option<&str>) -> RedirectTo {
    let mut url = match url::Url::parse(uri) {
        Ok(u) => u,
        Err(_) => return RedirectTo { redirect_to: uri.to_owned() },
    };
    {
        let mut q = url.query_pairs_mut();
        for (k, v) in params {
            q.append_pair(k, v);
        }
        if let Some(s) = state {
            q.append_pair("state", s);
        }
        // RFC 9207: the client can tell which server answered (mix-up defence).
        q.append_pair("iss", ctx.keys.issuer());
    }
    RedirectTo { redirect_to: url.to_string() }
}

/// Check an authorization request and describe it for the consent page. An error that can
/// go back to the client is a redirect; one that cannot (unknown client, unregistered
/// redirect URI, another organization's application) is the error itself.
pub async fn prompt(
    ctx: &Ctx,
    auth: &Authenticated,
    r: &AuthorizeRequest,
) -> Result<std::result::Result<ConsentPrompt, RedirectTo>> {
    let c = check(ctx, auth, r).await?;
    let (scopes, _) = match c.outcome {
        Ok(ok) => ok,
        Err((code, why)) => {
            return Ok(Err(back(
                ctx,
                &c.redirect_uri,
                &[("error", code), ("error_description", &why)],
                c.state.as_deref(),
            )));
        }
    };
    let remembered = ctx
        .store
        .consent(&auth.user_id, &c.app.client_id)
        .await?
        .is_some_and(|k| k.org_id == c.app.org_id && scopes.is_subset(&k.scopes));
    Ok(Ok(ConsentPrompt {
        client_id: c.app.client_id.clone(),
        application: c.app.name.clone(),
        description: c.app.description.clone(),
        organization_id: c.app.org_id.clone(),
        scopes: scopes
            .0
            .iter()
            .map(|s| ScopeView { scope: s.as_str().to_owned(), description: s.describe() })
            .collect(),
        remembered,
    }))
}

/// The person's answer: a code (remembering the consent), or `access_denied`.
pub async fn decide(ctx: &Ctx, auth: &Authenticated, r: &AuthorizeRequest, allow: bool) -> Result<RedirectTo> {
    let c = check(ctx, auth, r).await?;
    let state = c.state.as_deref();
    let (scopes, challenge) = match c.outcome {
        Ok(ok) => ok,
        Err((code, why)) => {
            return Ok(back(ctx, &c.redirect_uri, &[("error", code), ("error_description", &why)], state));
        }
    };
    if !allow {
        return Ok(back(ctx, &c.redirect_uri, &[("error", "access_denied")], state));
    }
    let (code, hash) = secret::new_secret(ctx.random.as_ref());
    let record = AuthCodeRecord {
        client_id: c.app.client_id.clone(),
        user_id: auth.user_id.clone(),
        org_id: c.app.org_id.clone(),
        redirect_uri: c.redirect_uri.clone(),
        scopes: scopes.clone(),
        challenge,
        expires_at: ctx.now() + Duration::seconds(CODE_SECONDS),
        grant_id: None,
    };
    let prior = ctx.store.consent(&auth.user_id, &c.app.client_id).await?;
    let mut all = prior.filter(|p| p.org_id == c.app.org_id).map(|p| p.scopes).unwrap_or_default();
    all.0.extend(scopes.0.iter().copied());
    let consent = ConsentRecord {
        client_id: c.app.client_id.clone(),
        org_id: c.app.org_id.clone(),
        scopes: all,
        granted_at: ctx.now(),
    };
    futures::try_join!(ctx.store.put_code(&hash, &record), ctx.store.put_consent(&auth.user_id, &consent))?;
    Ok(back(ctx, &c.redirect_uri, &[("code", &code)], state))
}

/// What userinfo answers (OpenID Connect's claim names, for clients that know them).
#[derive(Debug, Serialize, ToSchema)]
pub struct UserInfo {
    pub sub: String,
    pub email: Option<String>,
    pub email_verified: bool,
    pub name: String,
    pub given_name: String,
    pub family_name: String,
    pub organization_id: OrgId,
}

/// The person an access token with `profile` stands for. Its authorization, the application
/// and the membership are checked on every call, so revoking any of them takes effect on
/// the next request, not when the token expires.
pub async fn userinfo(ctx: &Ctx, bearer: &str) -> Result<UserInfo> {
    let c = ctx.keys.verify_oauth(bearer, &audience(ctx, ResourceServer::Accounts), ctx.now().timestamp())?;
    if !c.scope.split(' ').any(|s| s == Scope::Profile.as_str()) {
        return Err(oauth(OAuthCode::InsufficientScope, "the token lacks the profile scope"));
    }
    let gid = c.gid.as_deref().ok_or(Error::Unauthenticated)?;
    let user = UserId::parse(&c.sub, "sub").map_err(|_| Error::Unauthenticated)?;
    let (grant, app, member) = futures::try_join!(
        ctx.store.grant(&user, &c.client_id, gid),
        ctx.store.app(&c.client_id),
        still_member(ctx, &user, &c.org)
    )?;
    if grant.is_none() || app.is_none() || !member {
        return Err(Error::Unauthenticated);
    }
    let u = ctx.store.get_user(&user).await?.ok_or(Error::Unauthenticated)?;
    Ok(UserInfo {
        sub: c.sub,
        email: u.email.as_ref().map(|e| e.as_str().to_owned()),
        email_verified: u.email_verified,
        name: u.display_name(),
        given_name: u.first_name,
        family_name: u.last_name,
        organization_id: c.org,
    })
}

/// An application the person authorized.
#[derive(Debug, Serialize, ToSchema)]
pub struct Authorized {
    pub client_id: String,
    pub application: Option<String>,
    pub organization_id: OrgId,
    pub scopes: Vec<String>,
    pub granted_at: chrono::DateTime<chrono::Utc>,
}

pub async fn authorized(ctx: &Ctx, auth: &Authenticated) -> Result<Vec<Authorized>> {
    let consents = ctx.store.consents(&auth.user_id).await?;
    let ids: Vec<&str> = consents.iter().map(|k| k.client_id.as_str()).collect();
    let apps = if ids.is_empty() { Vec::new() } else { ctx.store.apps_by_id(&ids).await? };
    Ok(consents
        .into_iter()
        .map(|k| Authorized {
            application: apps.iter().find(|a| a.client_id == k.client_id).map(|a| a.name.clone()),
            client_id: k.client_id,
            organization_id: k.org_id,
            scopes: k.scopes.0.iter().map(|s| s.as_str().to_owned()).collect(),
            granted_at: k.granted_at,
        })
        .collect())
}

/// Withdraw an application's authorization: its refresh tokens stop at once, and so does
/// every access token at this service's resources.
pub async fn unauthorize(ctx: &Ctx, auth: &Authenticated, client_id: &str) -> Result<()> {
    if ctx.store.consent(&auth.user_id, client_id).await?.is_none() {
        return Err(Error::NotFound("authorization"));
    }
    ctx.store.revoke_authorization(&auth.user_id, client_id).await?;
    Ok(())
}

/// RFC 8414 authorization server metadata.
#[derive(Debug, Serialize, ToSchema)]
pub struct ServerMetadata {
    pub issuer: String,
    /// The web client's consent page, which calls `/v1/oauth/authorize` with the person's session.
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    pub revocation_endpoint: String,
    pub userinfo_endpoint: String,
    pub jwks_uri: String,
    pub scopes_supported: Vec<&'static str>,
    pub response_types_supported: Vec<&'static str>,
    pub response_modes_supported: Vec<&'static str>,
    pub grant_types_supported: Vec<&'static str>,
    pub code_challenge_methods_supported: Vec<&'static str>,
    pub token_endpoint_auth_methods_supported: Vec<&'static str>,
    pub revocation_endpoint_auth_methods_supported: Vec<&'static str>,
    pub authorization_response_iss_parameter_supported: bool,
}

pub fn metadata(ctx: &Ctx) -> ServerMetadata {
    let api = ctx.config.api_url.trim_end_matches('/');
    let web = ctx.config.public_url.trim_end_matches('/');
    let auth_methods = vec!["client_secret_basic", "client_secret_post", "none"];
    ServerMetadata {
        issuer: ctx.keys.issuer().to_owned(),
        authorization_endpoint: format!("{web}/oauth/authorize"),
        token_endpoint: format!("{api}/v1/oauth/token"),
        revocation_endpoint: format!("{api}/v1/oauth/revoke"),
        userinfo_endpoint: format!("{api}/v1/oauth/userinfo"),
        jwks_uri: format!("{api}/.well-known/jwks.json"),
        scopes_supported: Scope::ALL.iter().map(|s| s.as_str()).collect(),
        response_types_supported: vec!["code"],
        response_modes_supported: vec!["query"],
        grant_types_supported: vec!["authorization_code", "refresh_token", "client_credentials"],
        code_challenge_methods_supported: vec!["S256"],
        token_endpoint_auth_methods_supported: auth_methods.clone(),
        revocation_endpoint_auth_methods_supported: auth_methods,
        authorization_response_iss_parameter_supported: true,
    }
}

/// RFC 7662's answer: `active` false for anything not currently valid, with nothing else.
#[derive(Debug, Serialize, ToSchema)]
pub struct Introspection {
    pub active: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sub: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aud: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub org: Option<OrgId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exp: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_type: Option<&'static str>,
}

impl Introspection {
    fn inactive() -> Introspection {
        Introspection {
            active: false,
            scope: None,
            client_id: None,
            sub: None,
            aud: None,
            org: None,
            exp: None,
            token_type: None,
        }
    }
}

/// For the messaging API (a resource server of its own): whether an access token is valid
/// now, so that revoking an authorization, removing the application or the member reaches
/// it on the next request too. The application, and the grant and membership of a person's
/// token, are read (at most three reads, in parallel).
pub async fn introspect(ctx: &Ctx, token: &str) -> Result<Introspection> {
    let now = ctx.now().timestamp();
    let found = [ResourceServer::Messaging, ResourceServer::Accounts]
        .into_iter()
        .find_map(|s| ctx.keys.verify_oauth(token, &audience(ctx, s), now).ok());
    let Some(c) = found else { return Ok(Introspection::inactive()) };
    let person = c.gid.as_deref().and_then(|g| UserId::parse(&c.sub, "sub").ok().map(|u| (u, g.to_owned())));
    let live = match &person {
        Some((user, gid)) => {
            let (grant, app, member) = futures::try_join!(
                ctx.store.grant(user, &c.client_id, gid),
                ctx.store.app(&c.client_id),
                still_member(ctx, user, &c.org)
            )?;
            grant.is_some() && app.is_some() && member
        }
        None => ctx.store.app(&c.client_id).await?.is_some_and(|a| a.org_id == c.org && c.sub == a.client_id),
    };
    if !live {
        return Ok(Introspection::inactive());
    }
    Ok(Introspection {
        active: true,
        scope: Some(c.scope),
        client_id: Some(c.client_id),
        sub: Some(c.sub),
        aud: Some(c.aud),
        org: Some(c.org),
        exp: Some(c.exp),
        token_type: Some("Bearer"),
    })
}
