//! Linking a single sign-on provider to one's own login. A provider vouches on its own only
//! for addresses on its organization's verified company domains; a member whose address is
//! elsewhere consents to it once, from a session opened with their own credentials, by
//! signing in at the provider as themselves. The session hands out a short ticket; the
//! browser opens the provider's sign-in with it; the answer, when it names the same address,
//! records the link.

use chrono::Duration;
use serde::Serialize;
use utoipa::ToSchema;

use crate::auth::secret;
use crate::domain::sso::ProviderName;
use crate::domain::{Email, UserId};
use crate::error::{Error, Result};
use crate::service::{Authenticated, Ctx};
use crate::store::{SsoLinkRecord, SsoProviderRecord, TokenPurpose, TokenRecord};

/// The ticket opens the provider's sign-in this long.
const TICKET_SECONDS: i64 = 300;

#[derive(Debug, Serialize, ToSchema)]
pub struct LinkStart {
    /// Open this in the person's browser: it goes on to the provider.
    pub url: String,
    pub expires_in: i64,
}

/// A ticket for the signed-in person to link provider `name`. Refused for a session that a
/// provider opened: only the person's own credentials consent to a provider.
pub async fn start_link(ctx: &Ctx, auth: &Authenticated, name: &ProviderName) -> Result<LinkStart> {
    if auth.session.confined_to.is_some() {
        return Err(Error::SessionConfined);
    }
    let p = match ctx.store.sso_provider(name).await? {
        Some(p) if p.enabled => p,
        _ => return Err(Error::NotFound("provider")),
    };
    let (ticket, hash) = secret::new_secret(ctx.random.as_ref());
    let token = TokenRecord {
        org: Some(p.org_id),
        ..TokenRecord::new(
            TokenPurpose::SsoLink,
            auth.user_id.clone(),
            None,
            ctx.now() + Duration::seconds(TICKET_SECONDS),
        )
    };
    ctx.store.put_token(&hash, &token).await?;
    let base = ctx.config.public_url.trim_end_matches('/');
    Ok(LinkStart { url: format!("{base}/v1/sso/{}/login?link={ticket}", name.as_str()), expires_in: TICKET_SECONDS })
}

/// The person a link ticket stands for, used up; refused when it is not for `p`.
pub(crate) async fn take_ticket(ctx: &Ctx, p: &SsoProviderRecord, ticket: &str) -> Result<UserId> {
    if !secret::looks_like_secret(ticket) {
        return Err(Error::InvalidToken);
    }
    let t = ctx.store.take_token(&secret::hash(ticket)).await?.ok_or(Error::InvalidToken)?;
    if t.purpose != TokenPurpose::SsoLink || t.expires_at <= ctx.now() || t.org.as_ref() != Some(&p.org_id) {
        return Err(Error::InvalidToken);
    }
    Ok(t.user_id)
}

/// Record `user`'s link to `p` when the provider signed in the same address their login
/// has; `Ok(true)` then. Anyone else is refused: linking is consent for oneself only.
pub(crate) async fn link(ctx: &Ctx, p: &SsoProviderRecord, user: &UserId, email: &Email) -> Result<bool> {
    let u = ctx.store.get_user(user).await?.ok_or(Error::InvalidToken)?;
    if u.email.as_ref() != Some(email) {
        return Err(Error::SamlRejected("the provider signed in someone other than the person linking it".into()));
    }
    let record = SsoLinkRecord {
        user_id: user.clone(),
        provider: p.name.clone(),
        org_id: p.org_id.clone(),
        entity_id: p.entity_id.clone(),
        linked_at: ctx.now(),
    };
    ctx.store.put_sso_link(&record).await?;
    Ok(true)
}

/// Whether `user` linked this very provider (same organization, same entity).
pub(crate) async fn is_linked(ctx: &Ctx, p: &SsoProviderRecord, user: &UserId) -> Result<bool> {
    Ok(ctx.store.sso_link(user, &p.name).await?.is_some_and(|l| l.org_id == p.org_id && l.entity_id == p.entity_id))
}
