//! The token side of the authorization server: the token endpoint's three grants (a code
//! with its PKCE verifier, a rotating refresh token, client credentials) and revocation.

use crate::error::OAuthCode;
use chrono::Duration;
use serde::Serialize;
use utoipa::ToSchema;

use crate::auth::jwt::{OAUTH_TOKEN_TYPE, OAuthClaims};
use crate::auth::secret;
use crate::domain::oauth::{ResourceServer, Scopes};
use crate::domain::{OrgId, UserId};
use crate::error::{Error, Result};
use crate::service::Ctx;
use crate::service::federation::oauth::{audience, oauth};
use crate::store::{AppRecord, AuthCodeRecord, CodeUse, GrantRecord, MemberStatus};

/// A grant's refresh tokens work this long from the authorization, rotated at every use.
const GRANT_DAYS: i64 = 90;

/// A token request's form, and the client's credentials (HTTP Basic or the form).
#[derive(Debug, Default)]
pub struct TokenRequest {
    pub grant_type: String,
    pub code: Option<String>,
    pub redirect_uri: Option<String>,
    pub code_verifier: Option<String>,
    pub refresh_token: Option<String>,
    pub scope: Option<String>,
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TokenResponse {
    pub access_token: String,
    pub token_type: &'static str,
    pub expires_in: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    pub scope: String,
}

/// The registered client these credentials prove: a confidential client by its secret, a
/// public one by its id alone (its codes need PKCE).
async fn client(ctx: &Ctx, id: Option<&str>, secret_text: Option<&str>) -> Result<AppRecord> {
    let unknown = || oauth(OAuthCode::InvalidClient, "client authentication failed");
    let app = ctx.store.app(id.ok_or_else(unknown)?).await?.ok_or_else(unknown)?;
    match (&app.secret_hash, secret_text) {
        (Some(h), Some(s)) if app.confidential && secret::hashes_equal(h, &secret::hash(s)) => Ok(app),
        (None, None) if !app.confidential => Ok(app),
        _ => Err(unknown()),
    }
}

pub async fn token(ctx: &Ctx, r: TokenRequest) -> Result<TokenResponse> {
    let app = client(ctx, r.client_id.as_deref(), r.client_secret.as_deref()).await?;
    match r.grant_type.as_str() {
        "authorization_code" => from_code(ctx, &app, &r).await,
        "refresh_token" => from_refresh(ctx, &app, &r).await,
        "client_credentials" => for_client(ctx, &app, r.scope.as_deref()),
        _ => Err(oauth(
            OAuthCode::UnsupportedGrantType,
            "grant_type must be authorization_code, refresh_token or client_credentials",
        )),
    }
}

fn access_token(ctx: &Ctx, app: &AppRecord, sub: &str, scopes: &Scopes, gid: Option<&str>) -> Result<(String, i64)> {
    let server = scopes.server().map_err(|e| oauth(OAuthCode::InvalidScope, e))?;
    let now = ctx.now();
    let ttl = ctx.config.access_ttl.num_seconds();
    let claims = OAuthClaims {
        iss: ctx.keys.issuer().to_owned(),
        aud: audience(ctx, server),
        sub: sub.to_owned(),
        client_id: app.client_id.clone(),
        scope: scopes.to_text(),
        org: app.org_id.clone(),
        gid: gid.map(str::to_owned),
        typ: OAUTH_TOKEN_TYPE.into(),
        iat: now.timestamp(),
        exp: now.timestamp() + ttl,
        jti: ctx.ulid().to_string(),
    };
    Ok((ctx.keys.sign_oauth(&claims)?, ttl))
}

fn refresh_text(g: &GrantRecord, secret_text: &str) -> String {
    format!("{}.{}.{}.{}", g.user_id, g.client_id, g.grant_id, secret_text)
}

pub(crate) async fn still_member(ctx: &Ctx, user: &UserId, org: &OrgId) -> Result<bool> {
    Ok(ctx.store.get_membership(user, org).await?.is_some_and(|m| m.status == MemberStatus::Active))
}

/// A code presented twice was stolen or replayed: end what its first use started
/// (RFC 9700 §4.5), and refuse.
async fn reused(ctx: &Ctx, c: &AuthCodeRecord, first_grant: &str) -> Result<Error> {
    ctx.store.delete_grant(&c.user_id, &c.client_id, first_grant).await?;
    Ok(oauth(OAuthCode::InvalidGrant, "the code was used before; the tokens it gave are revoked"))
}

async fn from_code(ctx: &Ctx, app: &AppRecord, r: &TokenRequest) -> Result<TokenResponse> {
    let bad = |why: &str| oauth(OAuthCode::InvalidGrant, why.to_owned());
    let code = r.code.as_deref().filter(|c| secret::looks_like_secret(c)).ok_or_else(|| bad("unknown or used code"))?;
    let hash = secret::hash(code);
    let c = ctx.store.get_code(&hash).await?.ok_or_else(|| bad("unknown or used code"))?;
    if let Some(first) = &c.grant_id {
        return Err(reused(ctx, &c, first).await?);
    }
    // Checked before the code is spent, so a thief without the verifier cannot burn it.
    if c.client_id != app.client_id || c.expires_at <= ctx.now() {
        return Err(bad("unknown, expired or another client's code"));
    }
    if r.redirect_uri.as_deref() != Some(c.redirect_uri.as_str()) {
        return Err(bad("redirect_uri differs from the authorization request's"));
    }
    match r.code_verifier.as_deref() {
        Some(v) if c.challenge.matches(v) => {}
        _ => return Err(bad("code_verifier does not match the code challenge")),
    }
    let grant_id = ctx.ulid().to_string();
    match ctx.store.use_code(&hash, &grant_id).await? {
        CodeUse::First(_) => {}
        CodeUse::Again(Some(first)) => return Err(reused(ctx, &c, &first).await?),
        CodeUse::Again(None) | CodeUse::Unknown => return Err(bad("unknown or used code")),
    }
    if !still_member(ctx, &c.user_id, &c.org_id).await? {
        return Err(bad("the person is no longer a member of the organization"));
    }
    let (refresh_secret, refresh_hash) = secret::new_secret(ctx.random.as_ref());
    let g = GrantRecord {
        grant_id: grant_id.clone(),
        client_id: app.client_id.clone(),
        user_id: c.user_id.clone(),
        org_id: c.org_id.clone(),
        scopes: c.scopes.clone(),
        refresh_hash,
        prev_hash: None,
        created_at: ctx.now(),
        expires_at: ctx.now() + Duration::days(GRANT_DAYS),
    };
    ctx.store.put_grant(&g).await?;
    let (access, expires_in) = access_token(ctx, app, c.user_id.as_str(), &g.scopes, Some(&grant_id))?;
    Ok(TokenResponse {
        access_token: access,
        token_type: "Bearer",
        expires_in,
        refresh_token: Some(refresh_text(&g, &refresh_secret)),
        scope: g.scopes.to_text(),
    })
}

async fn from_refresh(ctx: &Ctx, app: &AppRecord, r: &TokenRequest) -> Result<TokenResponse> {
    let bad = |why: &str| oauth(OAuthCode::InvalidGrant, why.to_owned());
    let text = r.refresh_token.as_deref().ok_or_else(|| bad("refresh_token is required"))?;
    let parts: Vec<&str> = text.split('.').collect();
    let [user, client_id, grant_id, presented] = parts.as_slice() else { return Err(bad("unknown refresh token")) };
    let user = UserId::parse(user, "refresh_token").map_err(|_| bad("unknown refresh token"))?;
    if *client_id != app.client_id {
        return Err(bad("another client's refresh token"));
    }
    let g =
        ctx.store.grant(&user, client_id, grant_id).await?.ok_or_else(|| bad("unknown or revoked refresh token"))?;
    let presented = secret::hash(presented);
    if !secret::hashes_equal(&g.refresh_hash, &presented) {
        // Not the current token of a grant that exists: one it replaced, at any distance (the
        // grant's id is known only from its own tokens). Someone else holds the family: end
        // it whole (RFC 9700 §4.14.2), not only for the immediate predecessor.
        ctx.store.delete_grant(&g.user_id, &g.client_id, &g.grant_id).await?;
        return Err(bad("the refresh token was used before; the authorization is revoked"));
    }
    if g.expires_at <= ctx.now() {
        return Err(bad("expired refresh token"));
    }
    let scopes = match r.scope.as_deref() {
        Some(s) => {
            let asked = Scopes::parse(s).map_err(|e| oauth(OAuthCode::InvalidScope, e))?;
            if !asked.is_subset(&g.scopes) {
                return Err(oauth(OAuthCode::InvalidScope, "a refresh cannot widen the authorization's scopes"));
            }
            asked
        }
        None => g.scopes.clone(),
    };
    if !scopes.is_subset(&app.resources) {
        return Err(oauth(OAuthCode::InvalidScope, "the application may no longer ask for these scopes"));
    }
    if !still_member(ctx, &g.user_id, &g.org_id).await? {
        ctx.store.delete_grant(&g.user_id, &g.client_id, &g.grant_id).await?;
        return Err(bad("the person is no longer a member of the organization"));
    }
    let (next_secret, next_hash) = secret::new_secret(ctx.random.as_ref());
    if !ctx.store.rotate_grant(&g, &g.refresh_hash, &next_hash).await? {
        return Err(bad("the refresh token was used concurrently"));
    }
    let (access, expires_in) = access_token(ctx, app, g.user_id.as_str(), &scopes, Some(&g.grant_id))?;
    Ok(TokenResponse {
        access_token: access,
        token_type: "Bearer",
        expires_in,
        refresh_token: Some(refresh_text(&g, &next_secret)),
        scope: scopes.to_text(),
    })
}

fn for_client(ctx: &Ctx, app: &AppRecord, scope: Option<&str>) -> Result<TokenResponse> {
    if !app.confidential {
        return Err(oauth(OAuthCode::UnauthorizedClient, "client credentials need a confidential client"));
    }
    let scopes = match scope {
        Some(s) => Scopes::parse(s).map_err(|e| oauth(OAuthCode::InvalidScope, e))?,
        None => Scopes(app.resources.0.iter().copied().filter(|s| s.for_machines()).collect()),
    };
    if scopes.is_empty() || !scopes.is_subset(&app.resources) || !scopes.0.iter().all(|s| s.for_machines()) {
        return Err(oauth(OAuthCode::InvalidScope, "ask for scopes the application holds for itself (not profile)"));
    }
    let (access, expires_in) = access_token(ctx, app, &app.client_id, &scopes, None)?;
    Ok(TokenResponse {
        access_token: access,
        token_type: "Bearer",
        expires_in,
        refresh_token: None,
        scope: scopes.to_text(),
    })
}

/// RFC 7009: end the authorization a token belongs to (a refresh token, or an access token
/// with its grant). Unknown tokens, and another client's, are answered the same: done.
pub async fn revoke(ctx: &Ctx, client_id: Option<&str>, client_secret: Option<&str>, token: &str) -> Result<()> {
    let app = client(ctx, client_id, client_secret).await?;
    let parts: Vec<&str> = token.split('.').collect();
    if let [user, cid, gid, _] = parts.as_slice()
        && *cid == app.client_id
        && let Ok(user) = UserId::parse(user, "token")
    {
        ctx.store.delete_grant(&user, cid, gid).await?;
        return Ok(());
    }
    for server in [ResourceServer::Accounts, ResourceServer::Messaging] {
        if let Ok(c) = ctx.keys.verify_oauth(token, &audience(ctx, server), ctx.now().timestamp())
            && c.client_id == app.client_id
            && let (Some(gid), Ok(user)) = (c.gid.as_deref(), UserId::parse(&c.sub, "sub"))
        {
            ctx.store.delete_grant(&user, &c.client_id, gid).await?;
        }
    }
    Ok(())
}
