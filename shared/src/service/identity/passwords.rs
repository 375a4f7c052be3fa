//! Password reset by emailed link: asked for by the person ("forgot password") or by an admin
//! for a member. Admins never see or set passwords.

use std::sync::Arc;

use crate::auth::secret;
use crate::domain::{Email, Password};
use crate::error::{Error, Result};
use crate::service::Ctx;
use crate::store::{TokenPurpose, TokenRecord, UserRecord};

/// Reset links expire after this long.
pub const RESET_MINUTES: i64 = 60;
/// A login an admin made has this long to choose its first password: the person may be on
/// leave when it is made, and the link was not asked for by whoever finds it in the inbox.
pub const FIRST_PASSWORD_DAYS: i64 = 7;

/// What a password link is for; both are consumed by [`reset`].
enum Purpose {
    /// Asked for: "forgot password", or an admin for a member.
    Reset,
    /// A login an admin just made, by this person.
    FirstPassword { by: String },
}

/// Create a reset token for `user` and record the email with its link (an admin's request for
/// a member, who is known to them).
pub async fn send_reset(ctx: &Ctx, user: &UserRecord, scope: &crate::service::notify::compose::Scope) -> Result<()> {
    issue(ctx, user, Purpose::Reset, Some(scope), None).await
}

/// The "choose your password" email to a login an admin made (`by`: the admin's name).
pub async fn send_first_password(
    ctx: &Ctx,
    user: &UserRecord,
    by: String,
    scope: &crate::service::notify::compose::Scope,
) -> Result<()> {
    issue(ctx, user, Purpose::FirstPassword { by }, Some(scope), None).await
}

/// A new reset token for `user` and the email carrying its link, written together, branded
/// by `scope` (the admin's organization), else by the organization the person last used.
/// Nothing is written when the organization switched the email off, nor when the email
/// request `request_id` was fulfilled already (a redelivered "forgot password").
pub(crate) async fn issue_reset(ctx: &Ctx, user: &UserRecord, request_id: Option<&str>) -> Result<()> {
    issue(ctx, user, Purpose::Reset, None, request_id).await
}

async fn issue(
    ctx: &Ctx,
    user: &UserRecord,
    purpose: Purpose,
    scope: Option<&crate::service::notify::compose::Scope>,
    request_id: Option<&str>,
) -> Result<()> {
    let (token, hash) = secret::new_secret(ctx.random.as_ref());
    let link = format!("{}/reset-password?token={token}", ctx.config.public_url);
    let (ty, valid, vars) = match purpose {
        Purpose::Reset => (
            crate::domain::EmailType::PasswordReset,
            chrono::Duration::minutes(RESET_MINUTES),
            crate::service::notify::compose::vars([("link", link.into()), ("minutes", RESET_MINUTES.into())]),
        ),
        Purpose::FirstPassword { by } => (
            crate::domain::EmailType::AccountCreated,
            chrono::Duration::days(FIRST_PASSWORD_DAYS),
            crate::service::notify::compose::vars([
                ("by", by.into()),
                ("link", link.into()),
                ("days", FIRST_PASSWORD_DAYS.into()),
            ]),
        ),
    };
    let record = TokenRecord::new(
        TokenPurpose::PasswordReset,
        user.user_id.clone(),
        Some(user.address()?.clone()),
        ctx.now() + valid,
    );
    let job = match scope {
        Some(s) => {
            crate::service::notify::compose::compose_one(
                ctx,
                Some(s),
                ty,
                crate::service::notify::compose::Recipient::user(user, vars)?,
            )
            .await?
        }
        None => crate::service::notify::compose::to_user(ctx, user, None, ty, vars).await?,
    };
    let Some(job) = job else { return Ok(()) };
    let job = job.with_secret(&token);
    let mails = match request_id {
        Some(id) => vec![crate::service::notify::outbox::record_for(ctx, id, job)?],
        None => crate::service::notify::outbox::record(ctx, vec![job])?,
    };
    match ctx.store.put_token_with_mail(&hash, &record, &mails).await {
        Ok(()) => crate::service::notify::outbox::handed_on(ctx, mails).await,
        // The token's hash is fresh randomness, so what exists is the email under the
        // request's id: a concurrent delivery of the same request answered it.
        Err(Error::Conflict) if request_id.is_some() => {}
        Err(e) => return Err(e),
    }
    Ok(())
}

/// "Forgot password": the same answer, the same work, whether or not the address has a
/// login. The request is counted per client address, then handed to the email worker, which
/// decides (and limits emails per address).
pub async fn forgot(ctx: &Arc<Ctx>, email: &Email, client_addr: &str) -> Result<()> {
    crate::service::notify::email_requests::limit_client(ctx, "reset", client_addr).await?;
    crate::service::notify::email_requests::submit(
        ctx,
        crate::service::notify::email_requests::EmailRequest::PasswordReset { email: email.clone() },
    )
    .await
}

/// Set a new password with a reset token; every session of the login ends.
pub async fn reset(ctx: &Ctx, token: &str, password: &Password) -> Result<()> {
    if !secret::looks_like_secret(token) {
        return Err(Error::InvalidToken);
    }
    let hash = secret::hash(token);
    let record = ctx.store.get_token(&hash).await?.ok_or(Error::InvalidToken)?;
    if record.purpose != TokenPurpose::PasswordReset || record.expires_at <= ctx.now() {
        return Err(Error::InvalidToken);
    }
    crate::service::orgs::settings::check_password_for(ctx, &record.user_id, password, "password").await?;
    let new_hash = ctx.hasher.hash(password, ctx.random.as_ref()).await?;
    // The owner proved the address: a lock-out built up by someone guessing ends here.
    let throttles: Vec<String> =
        record.email.iter().map(|e| crate::service::identity::sessions::account_throttle_key(e.as_str())).collect();
    let sessions = ctx.store.list_sessions(&record.user_id).await?;
    let mails = crate::service::identity::sessions::sessions_ended_notice(ctx, &record.user_id, sessions.len()).await;
    ctx.store.consume_password_reset(&hash, &record, &new_hash, &throttles, &sessions, &mails).await?;
    crate::service::notify::outbox::handed_on(ctx, mails).await;
    Ok(())
}
