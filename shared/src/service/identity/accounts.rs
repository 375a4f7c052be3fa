//! Registration, email verification and the signed-in user's own view (`/me`).

use std::sync::Arc;

use serde::Serialize;

use crate::auth::secret;
use crate::domain::{Email, EmailType, Language, LoginKey, OrgId, OrgName, Password, PersonName, Role, UserId};
use crate::error::{Error, Result};
use crate::mail::queue::EmailJob;
use crate::service::notify::compose;
use crate::service::{Authenticated, Ctx};
use crate::store::{
    ActivityRecord, CredentialRecord, Cursor, MembershipRecord, OrgRecord, OrgStatus, Plan, RegisterRecords,
    TokenPurpose, TokenRecord, UserRecord,
};

#[derive(Debug)]
pub struct RegisterInput {
    pub email: Email,
    pub password: Password,
    pub first_name: PersonName,
    pub last_name: PersonName,
    pub org_name: OrgName,
    pub language: Language,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct UserView {
    pub id: UserId,
    /// Absent for a login with a username only.
    #[schema(value_type = Option<String>)]
    pub email: Option<Email>,
    /// `logindomain\username`, for a login without an address.
    pub username: Option<String>,
    pub first_name: String,
    pub last_name: String,
    pub language: Language,
    pub email_verified: bool,
    pub job_title: Option<String>,
    /// E.164.
    pub mobile: Option<String>,
    /// The mobile number was proved by a code sent to it (`POST /v1/me/mobile/verify`).
    pub mobile_verified: bool,
    /// IANA name; absent: the organization's default applies.
    #[schema(value_type = Option<String>)]
    pub timezone: Option<crate::domain::Timezone>,
}

impl From<&UserRecord> for UserView {
    fn from(u: &UserRecord) -> Self {
        UserView {
            id: u.user_id.clone(),
            email: u.email.clone(),
            username: u.username.clone(),
            first_name: u.first_name.clone(),
            last_name: u.last_name.clone(),
            language: u.language,
            email_verified: u.email_verified,
            job_title: u.job_title.clone(),
            mobile: u.mobile.as_ref().map(|p| p.as_str().to_owned()),
            mobile_verified: u.mobile.is_some() && u.mobile_verified_at.is_some(),
            timezone: u.timezone,
        }
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct OrgView {
    pub id: OrgId,
    pub name: String,
    pub parent_id: Option<OrgId>,
    /// 0 for a top-level organization.
    pub depth: u32,
    pub plan: Plan,
    pub trial_ends_at: Option<chrono::DateTime<chrono::Utc>>,
    pub status: OrgStatus,
    /// Send it back as `version` when changing the organization.
    pub version: u64,
    pub created_at: chrono::DateTime<chrono::Utc>,
    /// People without an address log in as `login_domain\username`.
    #[schema(value_type = Option<String>)]
    pub login_domain: Option<crate::domain::LoginDomain>,
    /// While closed: when everything of it (and beneath it) is deleted for good.
    pub purge_after: Option<chrono::DateTime<chrono::Utc>>,
}

impl From<&OrgRecord> for OrgView {
    fn from(o: &OrgRecord) -> Self {
        OrgView {
            id: o.org_id.clone(),
            name: o.name.clone(),
            parent_id: o.parent_id.clone(),
            depth: o.depth,
            plan: o.plan,
            trial_ends_at: o.trial_ends_at,
            status: o.status,
            version: o.version,
            created_at: o.created_at,
            login_domain: o.login_domain.clone(),
            purge_after: o.closure.as_ref().map(|c| c.purge_after),
        }
    }
}

/// The answer to a registration, the same whether the address was new or already had a
/// login (so it reveals nothing): sign in, and verify the address from the email.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Registered {
    /// The address as normalized.
    pub email: String,
    /// Always `check_email`.
    pub next: &'static str,
}

/// Create a login and its first organization, owned by the registrant, on a trial plan. An
/// address that has a login gets the same answer after the same work (a hash, a refused
/// transaction, one queued email), and its owner an email saying how to sign in instead.
pub async fn register(ctx: &Arc<Ctx>, input: RegisterInput) -> Result<Registered> {
    let now = ctx.now();
    let password_hash = ctx.hasher.hash(&input.password, ctx.random.as_ref()).await?;
    let user_id = UserId::new(ctx.ulid());
    let org_id = OrgId::new(ctx.ulid());
    let (token, token_hash) = secret::new_secret(ctx.random.as_ref());
    let user = UserRecord::new(
        user_id.clone(),
        &LoginKey::Email(input.email.clone()),
        input.first_name.as_str(),
        input.last_name.as_str(),
        input.language,
        false,
        now,
    );
    let org = OrgRecord {
        org_id: org_id.clone(),
        name: input.org_name.as_str().to_owned(),
        parent_id: None,
        root_id: org_id.clone(),
        ancestors: Vec::new(),
        depth: 0,
        plan: Plan::Trial,
        trial_ends_at: Some(now + chrono::Duration::days(ctx.config.trial_days)),
        status: OrgStatus::Active,
        owner_id: user_id.clone(),
        created_at: now,
        version: 1,
        language: input.language,
        login_domain: None,
        closure: None,
        company: Default::default(),
    };
    let mut records = RegisterRecords {
        credential: CredentialRecord::for_login(&user_id, &LoginKey::Email(input.email.clone()), password_hash),
        membership: MembershipRecord::owner(&user_id, &org, now)
            .described(&input.email, &crate::domain::full_name(input.first_name.as_str(), input.last_name.as_str())),
        seats: crate::store::SeatsRecord::new(ctx.config.included_seats),
        activity: ActivityRecord {
            activity_id: ctx.ulid().to_string(),
            real_actor_id: None,
            merged_actor_id: None,
            org_id: org_id.clone(),
            actor_id: user_id.clone(),
            action: "organization.created".into(),
            target: Some(org_id.to_string()),
            at: now,
        },
        verify_token_hash: token_hash,
        verify_token: TokenRecord::new(
            TokenPurpose::VerifyEmail,
            user_id.clone(),
            Some(input.email.clone()),
            now + ctx.config.verify_email_ttl,
        ),
        mails: Vec::new(),
        user,
        org,
    };
    // A new organization has no templates to read: composing costs no round trip.
    let scope = compose::Scope::created(&records.org);
    records.mails = verification_mail(ctx, &records.user, Some(&scope), &token).await?;
    let email = input.email.clone();
    let queued = match ctx.store.register(&records).await {
        Ok(()) => {
            crate::service::notify::outbox::handed_on(ctx, std::mem::take(&mut records.mails)).await;
            Ok(())
        }
        Err(Error::EmailTaken) => {
            let attempt =
                crate::service::notify::email_requests::EmailRequest::RegistrationAttempt { email: email.clone() };
            crate::service::notify::email_requests::submit(ctx, attempt).await
        }
        Err(e) => return Err(e),
    };
    // The account exists whether or not the email goes out; the user can ask for it again.
    if let Err(e) = queued {
        tracing::warn!(error = %e, "registration email not queued");
    }
    Ok(Registered { email: email.to_string(), next: "check_email" })
}

/// For the owner of an address someone tried to register with: how to sign in instead.
/// `None` when the organization they last used switched this type off.
pub(crate) async fn registration_attempt_email(ctx: &Ctx, user: &UserRecord) -> Result<Option<EmailJob>> {
    let vars = compose::vars([
        ("login_link", format!("{}/login", ctx.config.public_url).into()),
        ("reset_link", format!("{}/forgot-password", ctx.config.public_url).into()),
    ]);
    compose::to_user(ctx, user, None, EmailType::RegistrationAttempt, vars).await
}

/// The verification email with `token`'s link, recorded (not yet written).
async fn verification_mail(
    ctx: &Ctx,
    user: &UserRecord,
    scope: Option<&compose::Scope>,
    token: &str,
) -> Result<Vec<crate::store::OutboxMail>> {
    let link = format!("{}/verify-email?token={token}", ctx.config.public_url);
    let r = compose::Recipient {
        to: user.address()?.clone(),
        language: Some(user.language),
        first_name: user.first_name.clone(),
        vars: compose::vars([("link", link.into()), ("hours", ctx.config.verify_email_ttl.num_hours().into())]),
    };
    let jobs = compose::compose(ctx, scope, EmailType::EmailVerification, vec![r]).await?;
    crate::service::notify::outbox::record(ctx, jobs.into_iter().map(|j| j.with_secret(token)).collect())
}

/// Consume an email-verification token.
pub async fn verify_email(ctx: &Ctx, token: &str) -> Result<()> {
    if !secret::looks_like_secret(token) {
        return Err(Error::InvalidToken);
    }
    let hash = secret::hash(token);
    let record = ctx.store.get_token(&hash).await?.ok_or(Error::InvalidToken)?;
    if record.purpose != TokenPurpose::VerifyEmail || record.expires_at <= ctx.now() {
        return Err(Error::InvalidToken);
    }
    // The welcome is written with the verification: both or neither.
    let mails = match ctx.store.get_user(&record.user_id).await? {
        Some(user) => {
            let vars = compose::vars([("link", format!("{}/login", ctx.config.public_url).into())]);
            let job = compose::to_user(ctx, &user, None, EmailType::Welcome, vars).await;
            compose::notice(ctx, EmailType::Welcome, job)
        }
        None => Vec::new(),
    };
    ctx.store.consume_verify_email(&hash, &record, &mails).await?;
    crate::service::notify::outbox::handed_on(ctx, mails).await;
    Ok(())
}

/// Send a fresh verification link to the signed-in user, unless already verified.
pub async fn resend_verification(ctx: &Ctx, auth: &Authenticated) -> Result<()> {
    let user = ctx.store.get_user(&auth.user_id).await?.ok_or(Error::Unauthenticated)?;
    if user.email_verified {
        return Ok(());
    }
    crate::service::notify::email_requests::limit_address(ctx, "verify", user.address()?).await?;
    let (token, hash) = secret::new_secret(ctx.random.as_ref());
    let record = TokenRecord::new(
        TokenPurpose::VerifyEmail,
        user.user_id.clone(),
        Some(user.address()?.clone()),
        ctx.now() + ctx.config.verify_email_ttl,
    );
    let scope = match &auth.session.active_org {
        Some(o) => match ctx.store.get_org(o).await? {
            Some(org) => Some(compose::Scope::resolve(ctx, &org).await?),
            None => None,
        },
        None => None,
    };
    let mails = verification_mail(ctx, &user, scope.as_ref(), &token).await?;
    ctx.store.put_token_with_mail(&hash, &record, &mails).await?;
    crate::service::notify::outbox::handed_on(ctx, mails).await;
    Ok(())
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct MeOrg {
    #[serde(flatten)]
    pub organization: OrgView,
    pub roles: Vec<Role>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Me {
    pub user: UserView,
    pub active_organization: Option<OrgId>,
    pub organizations: Vec<MeOrg>,
    /// Present when the user has more organizations than this page holds.
    pub next_cursor: Option<String>,
}

/// A username login as its person types it, `logindomain\username` (it is kept under the
/// organization's id, since the login domain can be renamed). The organization is usually
/// among `orgs` already; otherwise one read.
async fn shown_username(
    ctx: &Ctx,
    user: &crate::store::UserRecord,
    orgs: &[crate::store::OrgRecord],
) -> Result<Option<String>> {
    let Some((org, name)) = user.username.as_deref().and_then(|k| k.split_once('\\')) else {
        return Ok(user.username.clone());
    };
    let Ok(org_id) = OrgId::parse(org, "username") else { return Ok(user.username.clone()) };
    let domain = match orgs.iter().find(|o| o.org_id == org_id) {
        Some(o) => o.login_domain.clone(),
        None => ctx.store.get_org(&org_id).await?.and_then(|o| o.login_domain),
    };
    Ok(Some(match domain {
        Some(d) => format!("{}\\{name}", d.as_str()),
        None => name.to_owned(),
    }))
}

/// The signed-in user and a page of the organizations they belong to, with their roles.
/// The person, with `user` read alongside their session (`authenticate_with_profile`).
pub async fn me(
    ctx: &Ctx,
    auth: &Authenticated,
    user: crate::store::UserRecord,
    cursor: Option<&Cursor>,
) -> Result<Me> {
    if user.merging_from.is_some() {
        return Err(Error::MergeInProgress);
    }
    let page = ctx.store.memberships(&auth.user_id, 100, cursor).await?;
    let ids: Vec<OrgId> = page.items.iter().map(|m| m.org_id.clone()).collect();
    let orgs = if ids.is_empty() { Vec::new() } else { ctx.store.get_orgs(&ids).await? };
    let organizations = page
        .items
        .iter()
        .filter_map(|m| {
            orgs.iter()
                .find(|o| o.org_id == m.org_id)
                .map(|o| MeOrg { organization: OrgView::from(o), roles: m.roles.clone() })
        })
        .collect();
    let mut view = UserView::from(&user);
    view.username = shown_username(ctx, &user, &orgs).await?;
    Ok(Me {
        user: view,
        active_organization: auth.session.active_org.clone(),
        organizations,
        next_cursor: page.next.map(|c| c.as_str().to_owned()),
    })
}
