//! Login, token refresh, logout and the per-request authentication check.

use chrono::Duration;
use serde::Serialize;

use crate::access::Access;
use crate::auth::jwt::{ACCESS_TOKEN_TYPE, AccessClaims};
use crate::auth::password::Verified;
use crate::auth::secret;
use crate::domain::{ClientType, LoginKey, LoginName, OrgId, Password, Role, SessionId, UserId};
use crate::error::{Error, Result};
use crate::service::Ctx;
use crate::service::identity::landing::{Gate, fallback_org, reopen_org, workable};
use crate::store::{SessionRecord, UserRecord};

#[derive(Debug)]
pub struct LoginInput {
    /// An address, or `logindomain\username`.
    pub login: LoginName,
    pub password: Password,
    pub client: ClientType,
    /// The caller's network address: failures are throttled per account and address, so a
    /// stranger elsewhere cannot lock the real user out.
    pub client_addr: String,
    /// The caller's `User-Agent`: with the client type, what tells a new device.
    pub user_agent: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TokenPair {
    pub access_token: String,
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    pub expires_in: i64,
    /// Opaque; rotated on every use. Presenting a used one ends the session.
    pub refresh_token: String,
    pub session_id: SessionId,
    pub organization_id: Option<OrgId>,
    pub roles: Vec<Role>,
    /// The organization this client used last, when its policy kept the session out of it:
    /// `two_factor_required` (turn two-factor on, log in again) or `client_disabled`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refused: Option<Refusal>,
}

/// Why a session did not start in an organization.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Refusal {
    pub organization_id: OrgId,
    pub code: &'static str,
}

/// A request whose access token verified and whose session is still live.
#[derive(Debug, Clone)]
pub struct Authenticated {
    pub user_id: UserId,
    pub session: SessionRecord,
    pub claims: AccessClaims,
}

pub(crate) use crate::service::identity::devices::device_of;
use crate::service::identity::devices::{Device, device_hash, note_device, tell_new_device};
use crate::service::identity::throttles::{ACCOUNT_THROTTLE_KEPT, account_block, throttle_key};
pub(crate) use crate::service::identity::throttles::{account_throttle_key, block_for};

pub async fn login(ctx: &Ctx, input: LoginInput) -> Result<LoginOutcome> {
    let now = ctx.now();
    let login = match &input.login {
        LoginName::Email(e) => e.as_str().to_owned(),
        LoginName::Username { domain, username } => match ctx.store.login_domain_owner(domain).await? {
            Some(org) => LoginKey::Username { org, username: username.clone() }.as_string(),
            // No such domain: a key no credential has, so it fails like a wrong password.
            None => format!("-\\{}", username.as_str()),
        },
    };
    let tkey = throttle_key(&input.login.display(), &input.client_addr);
    let akey = account_throttle_key(&input.login.display());
    let found = ctx.store.login_lookup(&login, &[&tkey, &akey]).await?;
    let blocked = found.throttles.values().filter_map(|t| t.blocked_until).filter(|u| *u > now).max();
    if let Some(until) = blocked {
        // Refused before the password is looked at, for known and unknown logins alike.
        return Err(Error::TooManyAttempts { retry_after_secs: (until - now).num_seconds().max(1) as u64 });
    }
    let stored = found.credential.as_ref().map(|c| c.password_hash.as_str());
    // While argon2id runs on the blocking pool, read what a successful sign-in needs (the
    // profile, then the organization it reopens in): the reads hide inside the verify, and
    // nothing read is used or shown unless the password is right.
    let gate = Gate { client: input.client, second_factor: false, confined_to: None };
    let device = found.credential.as_ref().map(|c| device_hash(&c.user_id, input.client, &input.user_agent));
    let prefetch = async {
        let (Some(c), Some(device)) = (&found.credential, &device) else { return Ok(None) };
        let (Some(user), known) = ctx.store.get_user_and_device(&c.user_id, device).await? else { return Ok(None) };
        if user.merging_from.is_some() || user.totp.as_ref().is_some_and(|t| t.enabled) {
            return Ok(Some((user, known, None)));
        }
        let opened = reopen_org(ctx, &user, gate, None).await?;
        Ok::<_, Error>(Some((user, known, Some(opened))))
    };
    let (verified, prefetched) =
        tokio::join!(ctx.hasher.verify(&input.password, stored, ctx.random.as_ref()), prefetch);
    let verified = verified?;
    let credential = match (verified, found.credential) {
        (Verified::No, _) | (_, None) => {
            let (limit, window) = (ctx.config.login_failure_limit, ctx.config.login_failure_window);
            futures::try_join!(
                ctx.store.record_login_failure(&tkey, now, window, limit, block_for),
                ctx.store.record_failure(&akey, now, None, ACCOUNT_THROTTLE_KEPT, account_block),
            )?;
            return Err(Error::InvalidCredentials);
        }
        (Verified::YesRehash { new_hash }, Some(c)) => {
            ctx.store.replace_password_hash(&c.login, &c.password_hash, &new_hash).await?;
            c
        }
        (Verified::Yes, Some(c)) => c,
    };
    let throttles: Vec<String> = found.throttles.into_keys().collect();
    let (mut user, known, mut opened) = prefetched?.ok_or(Error::InvalidCredentials)?;
    let device = device.ok_or(Error::InvalidCredentials)?;
    if user.merging_from.is_some() {
        crate::service::identity::merge::resume(ctx, &user).await?;
        user = ctx.store.get_user(&credential.user_id).await?.ok_or(Error::InvalidCredentials)?;
        opened = None;
    }
    if user.totp.as_ref().is_some_and(|t| t.enabled) {
        // The failure counts stand until the second factor is completed too.
        return Ok(LoginOutcome::SecondFactor(challenge(ctx, &user, input.client, throttles, device, None).await?));
    }
    if !throttles.is_empty() {
        ctx.store.clear_throttles(&throttles).await?;
    }
    let opened = match opened {
        Some(o) => o,
        None => reopen_org(ctx, &user, gate, None).await?,
    };
    let seen = if known { Device::Known } else { Device::New(&device) };
    Ok(LoginOutcome::Tokens(open_session(ctx, &user, gate, seen, opened).await?))
}

/// What login answers: tokens, or (two-factor on) a challenge for the code.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum LoginOutcome {
    Tokens(TokenPair),
    SecondFactor(SecondFactorChallenge),
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SecondFactorChallenge {
    /// Always true: send `mfa_token` with a code to `/v1/auth/login/2fa`.
    pub mfa_required: bool,
    pub mfa_token: String,
    pub expires_in: i64,
}

/// Challenges expire after this long and allow five wrong codes.
const CHALLENGE_MINUTES: i64 = 5;

/// `org`: where the session opens once the code is given (a single sign-on's organization).
pub(crate) async fn challenge(
    ctx: &Ctx,
    user: &crate::store::UserRecord,
    client: ClientType,
    throttle_keys: Vec<String>,
    device: String,
    org: Option<OrgId>,
) -> Result<SecondFactorChallenge> {
    let (token, hash) = secret::new_secret(ctx.random.as_ref());
    let expires = ctx.now() + Duration::minutes(CHALLENGE_MINUTES);
    let record = crate::store::TokenRecord {
        client: Some(client),
        throttle_keys,
        device: Some(device),
        org,
        ..crate::store::TokenRecord::new(
            crate::store::TokenPurpose::MfaChallenge,
            user.user_id.clone(),
            user.email.clone(),
            expires,
        )
    };
    ctx.store.put_token(&hash, &record).await?;
    Ok(SecondFactorChallenge { mfa_required: true, mfa_token: token, expires_in: CHALLENGE_MINUTES * 60 })
}

/// Open a session as `start_session` does, or, with `org`, as a single sign-on opens one: in
/// its provider's organization, and confined to it and what lies beneath it.
pub(crate) async fn start_session_in(
    ctx: &Ctx,
    user: &crate::store::UserRecord,
    client: ClientType,
    second_factor: bool,
    device: Option<&str>,
    org: Option<&OrgId>,
) -> Result<TokenPair> {
    let gate = Gate { client, second_factor, confined_to: org };
    let opened = reopen_org(ctx, user, gate, org).await?;
    let device = match device {
        Some(d) => Device::Unread(d),
        None => Device::None,
    };
    open_session(ctx, user, gate, device, opened).await
}

/// Open the session in the organization `reopen_org` chose. Remembering the device runs
/// beside the session's write: neither needs the other.
async fn open_session(
    ctx: &Ctx,
    user: &crate::store::UserRecord,
    gate: Gate<'_>,
    device: Device<'_>,
    (access, refused): (Option<Access>, Option<Refusal>),
) -> Result<TokenPair> {
    let (client, second_factor) = (gate.client, gate.second_factor);
    let now = ctx.now();
    let (refresh, refresh_hash) = secret::new_secret(ctx.random.as_ref());
    let session = SessionRecord {
        session_id: SessionId::new(ctx.ulid()),
        user_id: user.user_id.clone(),
        client,
        active_org: access.as_ref().map(|a| a.org.org_id.clone()),
        refresh_hash,
        prev_refresh_hash: None,
        created_at: now,
        last_used_at: now,
        expires_at: now + ctx.config.session_ttl,
        acting_as: None,
        second_factor,
        confined_to: gate.confined_to.cloned(),
        epoch: user.session_epoch,
        factor_epoch: user.factor_epoch,
    };
    let org = session.active_org.as_ref();
    // Where this client landed is where its next sign-in opens (written only when it moved).
    let landing = async {
        if let Some(o) = org {
            crate::service::identity::landing::note_landing(ctx, user, client, o).await;
        }
    };
    let device = async {
        match device {
            Device::None | Device::Known => ctx.store.put_session(&session).await.map(|()| Ok(())),
            Device::New(d) => match ctx.store.put_session_from_new_device(&session, d, now).await {
                Ok(true) => Ok(tell_new_device(ctx, user, client, d, org).await),
                Ok(false) => Ok(Ok(())),
                Err(e) => Err(e),
            },
            Device::Unread(d) => {
                let (put, noted) =
                    tokio::join!(ctx.store.put_session(&session), note_device(ctx, user, client, d, org));
                put.map(|()| noted)
            }
        }
    };
    // Boxed: sign-in paths nest deeply (single sign-on, merges), and debug builds of their
    // futures inline would outgrow a thread's stack.
    let (noted, ()) = Box::pin(async { tokio::join!(device, landing) }).await;
    if let Err(e) = noted? {
        tracing::warn!(error = %e, "new sign-in check failed; the sign-in stands");
    }
    let mut pair = token_pair(ctx, &session, access.as_ref(), &refresh)?;
    pair.refused = refused;
    Ok(pair)
}

/// A signed access token for a session, carrying its active organization and roles there.
pub(crate) fn access_token(ctx: &Ctx, s: &SessionRecord, roles: &[Role]) -> Result<String> {
    let now = ctx.now();
    let claims = AccessClaims {
        iss: ctx.keys.issuer().to_owned(),
        aud: ctx.keys.audience().to_owned(),
        sub: s.user_id.clone(),
        sid: s.session_id.clone(),
        org: s.active_org.clone(),
        roles: roles.to_vec(),
        client: s.client,
        act_as: s.acting_as.clone(),
        typ: ACCESS_TOKEN_TYPE.into(),
        iat: now.timestamp(),
        exp: (now + ctx.config.access_ttl).timestamp(),
        jti: ctx.ulid().to_string(),
    };
    ctx.keys.sign(&claims)
}

fn token_pair(ctx: &Ctx, s: &SessionRecord, access: Option<&Access>, refresh_secret: &str) -> Result<TokenPair> {
    let roles: Vec<Role> = access.map(|a| a.roles.iter().copied().collect()).unwrap_or_default();
    Ok(TokenPair {
        access_token: access_token(ctx, s, &roles)?,
        token_type: "Bearer",
        expires_in: ctx.config.access_ttl.num_seconds(),
        refresh_token: format!("{}.{}.{}", s.user_id, s.session_id, refresh_secret),
        session_id: s.session_id.clone(),
        organization_id: s.active_org.clone(),
        roles,
        refused: None,
    })
}

/// Exchange a refresh token for a new pair. The old refresh token stops working; using it
/// again is taken as theft and ends the session.
pub async fn refresh(ctx: &Ctx, token: &str) -> Result<TokenPair> {
    let mut parts = token.splitn(3, '.');
    let (Some(u), Some(s), Some(secret_text)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(Error::InvalidRefreshToken);
    };
    let user = UserId::parse(u, "refresh_token").map_err(|_| Error::InvalidRefreshToken)?;
    let sid = SessionId::parse(s, "refresh_token").map_err(|_| Error::InvalidRefreshToken)?;
    if !secret::looks_like_secret(secret_text) {
        return Err(Error::InvalidRefreshToken);
    }
    let now = ctx.now();
    let (session, profile) = ctx.store.get_session_and_profile(&user, &sid).await?;
    let session = session.ok_or(Error::InvalidRefreshToken)?;
    let standing = profile.and_then(|p| session.clone().standing(&p));
    let Some(session) = standing.filter(|s| s.expires_at > now) else {
        // Ended or expired already: deleting its item is only clean-up.
        if let Err(e) = ctx.store.delete_session(&user, &sid).await {
            tracing::warn!(error = %e, "an ended session's item was not deleted");
        }
        return Err(Error::InvalidRefreshToken);
    };
    let presented = secret::hash(secret_text);
    let reused = session.prev_refresh_hash.as_deref().is_some_and(|p| secret::hashes_equal(p, &presented));
    if !secret::hashes_equal(&session.refresh_hash, &presented) {
        if reused {
            tracing::warn!(user = %user, session = %sid, "refresh token replayed; ending session");
            ctx.store.delete_session(&user, &sid).await?;
        }
        return Err(Error::InvalidRefreshToken);
    }
    // Every token states the truth when issued: the organization is recomputed from the
    // memberships now, and one the session can no longer work in gives way to another.
    let started = Some(&sid);
    let identity = session.acting_as.as_ref().unwrap_or(&user);
    let confined_to = session.confined_to.clone();
    let gate = Gate { client: session.client, second_factor: session.second_factor, confined_to: confined_to.as_ref() };
    let mut access = match &session.active_org {
        Some(org) => match workable(ctx, identity, org, started, gate).await {
            Err(e) if e.is_policy_refusal() => None,
            other => other?,
        },
        None => None,
    };
    if let (Some(org), Some(shared)) = (&session.active_org, &session.acting_as)
        && access.is_some()
        && crate::service::members::shared_accounts::check_link(ctx, &user, org, shared).await.is_err()
    {
        access = None;
    }
    let mut session = session;
    if access.is_none() && (session.active_org.is_some() || session.acting_as.is_some()) {
        access = fallback_org(ctx, &user, session.active_org.as_ref(), started, gate).await?.0;
        session.active_org = access.as_ref().map(|a| a.org.org_id.clone());
        session.acting_as = None;
    }
    let (new_secret, new_hash) = secret::new_secret(ctx.random.as_ref());
    if !ctx.store.rotate_refresh(&session, &new_hash, now).await? {
        // A concurrent refresh used this token first: one of the two is a replay.
        ctx.store.delete_session(&user, &sid).await?;
        return Err(Error::InvalidRefreshToken);
    }
    token_pair(ctx, &session, access.as_ref(), &new_secret)
}

/// Verify a bearer token and that its session is still live: one key lookup, so a revoked
/// session is refused on the very next request.
pub async fn authenticate(ctx: &Ctx, bearer: &str) -> Result<Authenticated> {
    authenticate_with_profile(ctx, bearer).await.map(|(auth, _)| auth)
}

/// The caller's session as it stands and their profile, read in one round trip: the
/// profile's epochs say whether the session was ended meanwhile and whether its second
/// factor still counts.
pub async fn authenticate_with_profile(ctx: &Ctx, bearer: &str) -> Result<(Authenticated, UserRecord)> {
    let claims = ctx.keys.verify(bearer, ctx.now().timestamp())?;
    let (session, profile) = ctx.store.get_session_and_profile(&claims.sub, &claims.sid).await?;
    let session = session.ok_or(Error::SessionEnded)?;
    if session.expires_at <= ctx.now() || session.user_id != claims.sub {
        return Err(Error::SessionEnded);
    }
    let profile = profile.ok_or(Error::SessionEnded)?;
    let session = session.standing(&profile).ok_or(Error::SessionEnded)?;
    Ok((Authenticated { user_id: claims.sub.clone(), session, claims }, profile))
}

pub async fn logout(ctx: &Ctx, auth: &Authenticated) -> Result<()> {
    ctx.store.delete_session(&auth.user_id, &auth.session.session_id).await
}

/// End every session of the user, this one included. Returns how many ended.
pub async fn logout_everywhere(ctx: &Ctx, auth: &Authenticated) -> Result<usize> {
    let sessions = ctx.store.list_sessions(&auth.user_id).await?;
    let live = sessions.iter().filter(|s| s.epoch == auth.session.epoch && s.expires_at > ctx.now()).count();
    let mails = sessions_ended_notice(ctx, &auth.user_id, live).await;
    ctx.store.end_sessions_telling(&auth.user_id, &sessions, &mails).await?;
    crate::service::notify::outbox::handed_on(ctx, mails).await;
    Ok(live)
}

/// The notice that `ended` sessions of the person ended (a signal if it was not them), to
/// write in the transaction that ends them.
pub(crate) async fn sessions_ended_notice(
    ctx: &Ctx,
    user: &crate::domain::UserId,
    ended: usize,
) -> Vec<crate::store::OutboxMail> {
    use crate::domain::EmailType;
    if ended == 0 {
        return Vec::new();
    }
    let job = match ctx.store.get_user(user).await {
        Ok(Some(u)) if u.email.is_some() => {
            let vars = crate::service::notify::compose::vars([
                ("count", ended.into()),
                ("link", format!("{}/login", ctx.config.public_url).into()),
            ]);
            crate::service::notify::compose::to_user(ctx, &u, None, EmailType::SessionsEnded, vars).await
        }
        Ok(_) => Ok(None),
        Err(e) => Err(e),
    };
    crate::service::notify::compose::notice(ctx, EmailType::SessionsEnded, job)
}
