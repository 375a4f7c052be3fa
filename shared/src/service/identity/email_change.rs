//! Changing one's own email address: password (and a code, with two-factor on) to ask, a
//! link to the new address to confirm, a notice to the old one.

use serde::Serialize;

use crate::auth::password::Verified;
use crate::auth::secret;
use crate::domain::{Email, EmailType, Password};
use crate::error::{Error, Result};
use crate::service::notify::compose;
use crate::service::{Authenticated, Ctx};
use crate::store::{TokenPurpose, TokenRecord};

/// Confirmation links expire after this long.
pub const LINK_MINUTES: i64 = 30;

/// Ask to move the login to `new`. The answer does not say whether `new` has a login.
pub async fn request(
    ctx: &Ctx,
    auth: &Authenticated,
    new: &Email,
    password: &Password,
    code: Option<&str>,
) -> Result<()> {
    let user = ctx.store.get_user(&auth.user_id).await?.ok_or(Error::Unauthenticated)?;
    // A login with a username only keeps it: its credential is keyed by the username.
    let current = user.address()?;
    if new == current {
        return Err(Error::SameEmail);
    }
    let cred = ctx.store.login_lookup(current.as_str(), &[]).await?.credential.ok_or(Error::Unauthenticated)?;
    if ctx.hasher.verify(password, Some(&cred.password_hash), ctx.random.as_ref()).await? == Verified::No {
        return Err(Error::validation("wrong_password", "password", "is not your current password"));
    }
    if user.totp.as_ref().is_some_and(|t| t.enabled) {
        crate::service::identity::two_factor::check_second_factor(ctx, &user, Some(code.unwrap_or_default()), None)
            .await?;
    }
    let now = ctx.now();
    let expires = now + chrono::Duration::minutes(LINK_MINUTES);
    ctx.store.reserve_pending_email(new, &user.user_id, expires, now).await?;
    let (token, hash) = secret::new_secret(ctx.random.as_ref());
    let record = TokenRecord {
        previous_email: Some(current.clone()),
        ..TokenRecord::new(TokenPurpose::ChangeEmail, user.user_id.clone(), Some(new.clone()), expires)
    };
    let link = format!("{}/confirm-email?token={token}", ctx.config.public_url);
    let confirm =
        compose::vars([("new_email", new.as_str().into()), ("link", link.into()), ("minutes", LINK_MINUTES.into())]);
    let notice = compose::vars([("new_email", new.as_str().into())]);
    let mut jobs = Vec::new();
    jobs.extend(
        compose::to_user(ctx, &user, Some(new), EmailType::EmailChange, confirm).await?.map(|j| j.with_secret(&token)),
    );
    jobs.extend(compose::to_user(ctx, &user, Some(current), EmailType::EmailChangeNotice, notice).await?);
    let mails = crate::service::notify::outbox::record(ctx, jobs)?;
    ctx.store.put_token_with_mail(&hash, &record, &mails).await?;
    crate::service::notify::outbox::handed_on(ctx, mails).await;
    Ok(())
}

/// What confirming did: the address moved, or the login was merged into the one that had it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum Confirmed {
    Changed(crate::service::identity::accounts::UserView),
    Merged(crate::service::identity::merge::Merged),
}

/// Confirm with the link's token, signed in as the same login. If the address is free, it
/// (and its uniqueness guard) moves in one transaction; if another login has it, the link
/// proved control of both, and this login merges into that one.
pub async fn confirm(ctx: &Ctx, auth: &Authenticated, token: &str, main_code: Option<&str>) -> Result<Confirmed> {
    if !secret::looks_like_secret(token) {
        return Err(Error::InvalidToken);
    }
    let hash = secret::hash(token);
    let record = ctx.store.get_token(&hash).await?.ok_or(Error::InvalidToken)?;
    if record.purpose != TokenPurpose::ChangeEmail || record.expires_at <= ctx.now() || record.user_id != auth.user_id {
        return Err(Error::InvalidToken);
    }
    let user = ctx.store.get_user(&auth.user_id).await?.ok_or(Error::Unauthenticated)?;
    if record.previous_email.as_ref() != user.email.as_ref() {
        return Err(Error::InvalidToken);
    }
    let cred = ctx.store.login_lookup(user.login_key(), &[]).await?.credential.ok_or(Error::Unauthenticated)?;
    let new = record.email.clone().ok_or(Error::InvalidToken)?;
    if let Some(main) = ctx.store.login_lookup(new.as_str(), &[]).await?.credential {
        let proof = crate::service::identity::merge::Proof { old_credential: &cred, token_hash: &hash, token: &record };
        return Ok(Confirmed::Merged(
            crate::service::identity::merge::merge(ctx, &user, &proof, &main, main_code).await?,
        ));
    }
    ctx.store.change_email(&hash, &record, &cred).await?;
    let after = crate::store::UserRecord { email: Some(new), email_verified: true, ..user };
    ctx.store.refresh_member_copies(&after).await?;
    Ok(Confirmed::Changed(crate::service::identity::accounts::UserView::from(&after)))
}
