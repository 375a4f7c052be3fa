//! Two-factor authentication with TOTP: enrol, confirm, the second login step, recovery
//! codes, turning it off, and an admin's reset for a member.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::Serialize;

use crate::access::{ManageMembers, Permit};
use crate::auth::password::Verified;
use crate::auth::{secret, totp};
use crate::clock::random_bytes;
use crate::domain::{Password, UserId};
use crate::error::{Error, Result};
use crate::service::{Authenticated, Ctx, TokenPair, permit_activity};
use crate::store::{TokenPurpose, TotpState, UserRecord};

pub const RECOVERY_CODES: usize = 10;

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Enrolment {
    /// Shown once: scan it into an authenticator app, then confirm with a first code.
    pub otpauth_uri: String,
    pub secret: String,
}

fn secret_of(state: &TotpState) -> Result<Vec<u8>> {
    STANDARD.decode(&state.secret).map_err(|e| crate::error::Error::internal_from("decoding a two-factor secret", e))
}

async fn me(ctx: &Ctx, auth: &Authenticated) -> Result<UserRecord> {
    ctx.store.get_user(&auth.user_id).await?.ok_or(Error::Unauthenticated)
}

/// Start enrolment: a new secret from the CSPRNG, not yet in force.
pub async fn enroll(ctx: &Ctx, auth: &Authenticated) -> Result<Enrolment> {
    let user = me(ctx, auth).await?;
    let raw: [u8; 20] = random_bytes(ctx.random.as_ref());
    let state = TotpState { secret: STANDARD.encode(raw), enabled: false, last_step: 0, recovery: Default::default() };
    ctx.store.begin_totp(&user.user_id, &state).await?;
    Ok(Enrolment { otpauth_uri: totp::otpauth_uri(&raw, "Switchboard", user.login_key()), secret: totp::base32(&raw) })
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RecoveryCodes {
    /// Shown once; each works once instead of a code.
    pub recovery_codes: Vec<String>,
}

fn recovery_code(ctx: &Ctx) -> String {
    let raw: [u8; 10] = random_bytes(ctx.random.as_ref());
    let t = totp::base32(&raw).to_lowercase();
    format!("{}-{}", &t[..8], &t[8..16])
}

fn normalize_recovery(code: &str) -> String {
    code.trim().to_lowercase().replace(' ', "")
}

/// Confirm enrolment with a first code: two-factor is on from now, and the recovery codes are shown once.
pub async fn confirm(ctx: &Ctx, auth: &Authenticated, code: &str) -> Result<RecoveryCodes> {
    let user = me(ctx, auth).await?;
    let state = user.totp.ok_or(Error::TwoFactorOff)?;
    if state.enabled {
        return Err(Error::TwoFactorAlreadyOn);
    }
    let step = totp::verify(&secret_of(&state)?, code, ctx.now().timestamp(), None).ok_or(Error::InvalidCode)?;
    let codes: Vec<String> = (0..RECOVERY_CODES).map(|_| recovery_code(ctx)).collect();
    let hashes: Vec<String> = codes.iter().map(|c| secret::hash(&normalize_recovery(c))).collect();
    ctx.store.enable_totp(&user.user_id, &state.secret, step, &hashes).await?;
    // This session proved the new factor: organizations requiring two-factor admit it.
    ctx.store.mark_second_factor(&auth.user_id, &auth.session.session_id, user.factor_epoch).await?;
    Ok(RecoveryCodes { recovery_codes: codes })
}

/// Wrong codes per login before codes are refused for a while, wherever they are entered
/// (login, turning two-factor off, changing the address).
const CODE_FAILURE_LIMIT: u32 = 5;

fn code_throttle_key(user: &UserRecord) -> String {
    secret::hash(&format!("second-factor|{}", user.user_id))
}

/// Check a code (once per step) or spend a recovery code. Wrong guesses are counted per
/// login; after five in 15 minutes, codes are refused for 30 s, doubling.
pub(crate) async fn check_second_factor(
    ctx: &Ctx,
    user: &UserRecord,
    code: Option<&str>,
    recovery: Option<&str>,
) -> Result<()> {
    let key = code_throttle_key(user);
    let now = ctx.now();
    if let Some(until) = ctx.store.get_throttle(&key).await?.and_then(|t| t.blocked_until).filter(|u| *u > now) {
        return Err(Error::TooManyAttempts { retry_after_secs: (until - now).num_seconds().max(1) as u64 });
    }
    let result = check_code(ctx, user, code, recovery).await;
    if matches!(result, Err(Error::InvalidCode)) {
        let window = ctx.config.login_failure_window;
        ctx.store
            .record_login_failure(&key, now, window, CODE_FAILURE_LIMIT, crate::service::identity::sessions::block_for)
            .await?;
    }
    result
}

async fn check_code(ctx: &Ctx, user: &UserRecord, code: Option<&str>, recovery: Option<&str>) -> Result<()> {
    let state = user.totp.as_ref().filter(|t| t.enabled).ok_or(Error::TwoFactorOff)?;
    match (code, recovery) {
        (Some(code), _) => {
            let step = totp::verify(&secret_of(state)?, code.trim(), ctx.now().timestamp(), Some(state.last_step))
                .ok_or(Error::InvalidCode)?;
            if ctx.store.use_totp_step(&user.user_id, step).await? { Ok(()) } else { Err(Error::InvalidCode) }
        }
        (None, Some(r)) => {
            let hash = secret::hash(&normalize_recovery(r));
            if ctx.store.use_recovery_code(&user.user_id, &hash).await? { Ok(()) } else { Err(Error::InvalidCode) }
        }
        (None, None) => Err(Error::validation("invalid_field", "code", "a code or a recovery code is required")),
    }
}

/// The second login step: the challenge from the password step and a code (or recovery code).
pub async fn login_second_factor(
    ctx: &Ctx,
    mfa_token: &str,
    code: Option<&str>,
    recovery: Option<&str>,
) -> Result<TokenPair> {
    if !secret::looks_like_secret(mfa_token) {
        return Err(Error::InvalidToken);
    }
    let hash = secret::hash(mfa_token);
    let challenge = ctx.store.get_token(&hash).await?.ok_or(Error::InvalidToken)?;
    if challenge.purpose != TokenPurpose::MfaChallenge || challenge.expires_at <= ctx.now() {
        return Err(Error::InvalidToken);
    }
    let user = ctx.store.get_user(&challenge.user_id).await?.ok_or(Error::InvalidToken)?;
    if let Err(e) = check_second_factor(ctx, &user, code, recovery).await {
        if matches!(e, Error::InvalidCode) && !ctx.store.challenge_failed(&hash).await? {
            // Out of tries: the challenge is gone; start again with the password.
            return Err(Error::InvalidToken);
        }
        return Err(e);
    }
    if !ctx.store.consume_challenge(&hash).await? {
        return Err(Error::InvalidToken);
    }
    if !challenge.throttle_keys.is_empty() {
        // Password and second factor both passed: the failures before were not this person's.
        ctx.store.clear_throttles(&challenge.throttle_keys).await?;
    }
    let client = challenge.client.ok_or(Error::InvalidToken)?;
    crate::service::identity::sessions::start_session_in(
        ctx,
        &user,
        client,
        true,
        challenge.device.as_deref(),
        challenge.org.as_ref(),
    )
    .await
}

/// Turn two-factor off: the password and a current code (or a recovery code) are required.
pub async fn disable(
    ctx: &Ctx,
    auth: &Authenticated,
    password: &Password,
    code: Option<&str>,
    recovery: Option<&str>,
) -> Result<()> {
    let user = me(ctx, auth).await?;
    let cred = ctx.store.login_lookup(user.login_key(), &[]).await?.credential.ok_or(Error::Unauthenticated)?;
    if ctx.hasher.verify(password, Some(&cred.password_hash), ctx.random.as_ref()).await? == Verified::No {
        return Err(Error::validation("wrong_password", "password", "is not your current password"));
    }
    check_second_factor(ctx, &user, code, recovery).await?;
    let by = user.display_name();
    let mails = two_factor_notice(ctx, &user, None, &by).await;
    ctx.store.clear_totp(&user.user_id, &mails).await?;
    crate::service::notify::outbox::handed_on(ctx, mails).await;
    Ok(())
}

/// An admin's reset of a member's two-factor (a lost phone): cleared, and the member's sessions end.
pub async fn reset_for_member(ctx: &Ctx, permit: &Permit<ManageMembers>, user: &UserId) -> Result<()> {
    let m = ctx.store.get_membership(user, &permit.org.org_id).await?.ok_or(Error::NotFound("member"))?;
    // One's own second factor is turned off with the password and a code, never this way.
    crate::service::members::grants::check_not_self(permit, &m)?;
    crate::service::members::grants::check_member(ctx, permit, &m).await?;
    let act = permit_activity(ctx, permit, "member.two_factor_reset", Some(user.to_string()));
    let lineage = permit.org.lineage_ids();
    let by = match ctx.store.get_user(&permit.user_id).await? {
        Some(a) => a.display_name(),
        None => String::new(),
    };
    let mails = match ctx.store.get_user(user).await? {
        Some(member) => {
            two_factor_notice(ctx, &member, Some(&crate::service::notify::compose::Scope::of_permit(permit)), &by).await
        }
        None => Vec::new(),
    };
    let sessions = ctx.store.list_sessions(user).await?;
    ctx.store.reset_totp(user, &lineage, &act, &mails, &sessions).await?;
    crate::service::notify::outbox::handed_on(ctx, mails).await;
    use crate::domain::notification::NotificationKind;
    let mut e = crate::service::notify::notifications::tell(
        ctx,
        &permit.org.org_id,
        user,
        NotificationKind::TwoFactorReset,
        &act.activity_id,
    );
    // The notice above is its email.
    e.emailed = true;
    e.subject = Some(by);
    e.link = Some("/profile/security".into());
    crate::service::notify::notifications::emit(ctx, e).await;
    Ok(())
}

/// The notice that two-factor is off, to record with that change; none for a login without
/// an address.
async fn two_factor_notice(
    ctx: &Ctx,
    user: &UserRecord,
    scope: Option<&crate::service::notify::compose::Scope>,
    by: &str,
) -> Vec<crate::store::OutboxMail> {
    use crate::domain::EmailType;
    let vars = crate::service::notify::compose::vars([
        ("by", by.into()),
        ("link", format!("{}/profile/security", ctx.config.public_url).into()),
    ]);
    let Ok(r) = crate::service::notify::compose::Recipient::user(user, vars) else { return Vec::new() };
    let job = match scope {
        Some(s) => crate::service::notify::compose::compose_one(ctx, Some(s), EmailType::TwoFactorReset, r).await,
        None => match crate::service::notify::compose::scope_of_user(ctx, user).await {
            Ok(s) => crate::service::notify::compose::compose_one(ctx, s.as_ref(), EmailType::TwoFactorReset, r).await,
            Err(e) => Err(e),
        },
    };
    crate::service::notify::compose::notice(ctx, EmailType::TwoFactorReset, job)
}
