//! An admin creating a user directly, and a person proving their mobile number by a code
//! sent to it by SMS.

use chrono::Duration;
use serde::Serialize;

use crate::access::{Grant, ManageMembers, Permit, Scope};
use crate::auth::secret;
use crate::domain::{Email, LoginKey, Password, PersonName, Phone, Roles, UserId, Username};
use crate::error::{Error, Result};
use crate::service::{Authenticated, Ctx, permit_activity};
use crate::store::{CredentialRecord, MembershipRecord, MobileCodeRecord, NewLogin, OutboxMail, UserRecord};

#[derive(Debug)]
pub struct NewUser {
    pub first_name: PersonName,
    pub last_name: PersonName,
    /// An address, or a username under the organization's login domain.
    pub login: NewUserLogin,
    pub password: Option<Password>,
    pub mobile: Option<Phone>,
    pub roles: Roles,
}

#[derive(Debug)]
pub enum NewUserLogin {
    Email(Email),
    Username(Username),
}

/// What adding a user did. The answer is the same whether or not the address already has a
/// login, so it tells nobody who is registered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum UserAdded {
    /// A member now (an address on a verified company domain, or a username): emailed a link
    /// to set their password, or told they were added when they already had a login.
    Added,
    /// An address off the organization's verified company domains: invited, a member once
    /// they accept.
    Invited,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CreatedUser {
    pub outcome: UserAdded,
    /// The member's id, for `added`.
    pub user_id: Option<UserId>,
}

/// Add a user. An address on one of the organization's verified company domains, or a username
/// under its login domain, becomes a member at once (taking a seat): a new login is emailed a
/// link to set its password; an existing one (its password untouched) is told. Any other
/// address is invited, whether or not it has a login: nobody becomes a member of an
/// organization that does not control their address without accepting.
pub async fn create_user(ctx: &Ctx, permit: &Permit<ManageMembers>, input: NewUser) -> Result<CreatedUser> {
    let org = &permit.org;
    let effective = crate::service::orgs::settings::of_permit(permit);
    let grant = Grant { roles: input.roles.as_slice(), scope: Scope::Subtree, manage: &Default::default() };
    crate::service::members::grants::check_grant(ctx, permit, grant, "roles").await?;
    let key = match &input.login {
        NewUserLogin::Email(e) => {
            effective.check_coworker(e, "email")?;
            if !effective.on_company_domain(e) {
                if input.password.is_some() {
                    return Err(Error::validation(
                        "password_not_allowed",
                        "password",
                        "an address off the organization's verified company domains is invited and chooses its own password",
                    ));
                }
                crate::service::members::invitations::invite_checked(ctx, permit, e.clone(), input.roles).await?;
                return Ok(CreatedUser { outcome: UserAdded::Invited, user_id: None });
            }
            LoginKey::Email(e.clone())
        }
        NewUserLogin::Username(u) => {
            if org.login_domain.is_none() {
                return Err(Error::validation(
                    "login_domain_required",
                    "username",
                    "set the organization's login domain before creating users without an address",
                ));
            }
            if input.password.is_none() {
                return Err(Error::validation(
                    "password_required",
                    "password",
                    "a user without an email address needs a password",
                ));
            }
            LoginKey::Username { org: org.org_id.clone(), username: u.clone() }
        }
    };
    if let Some(p) = &input.password {
        effective.check_password(p, "password")?;
    }
    // The name the admin typed, whoever holds the login: the list shows nothing they did not
    // already know.
    let display = crate::domain::full_name(input.first_name.as_str(), input.last_name.as_str());
    let act = permit_activity(ctx, permit, "member.created", Some(key.as_string()));
    let existing = ctx.store.credentials(&[key.as_string()]).await?.into_iter().next();
    if let Some(c) = existing {
        let user = ctx.store.get_user(&c.user_id).await?.ok_or(Error::Conflict)?;
        let m = MembershipRecord::new(&user.user_id, org, input.roles.as_slice().to_vec(), Scope::Subtree, ctx.now())
            .described_login(&user, &display);
        let notice = added_notice(ctx, permit, &user).await;
        ctx.store.add_member(&m, None, None, &org.lineage_ids(), &act, &notice).await?;
        crate::service::notify::outbox::handed_on(ctx, notice).await;
        return Ok(CreatedUser { outcome: UserAdded::Added, user_id: Some(user.user_id) });
    }
    let user_id = UserId::new(ctx.ulid());
    let password = match &input.password {
        Some(p) => p.clone(),
        // Nobody knows it: the person sets their own through the emailed link.
        None => Password::parse_new(&secret::new_secret(ctx.random.as_ref()).0, "password")?,
    };
    let hash = ctx.hasher.hash(&password, ctx.random.as_ref()).await?;
    let credential = CredentialRecord::for_login(&user_id, &key, hash);
    let mut user = UserRecord::new(
        user_id.clone(),
        &key,
        input.first_name.as_str(),
        input.last_name.as_str(),
        effective.language(),
        false,
        ctx.now(),
    );
    user.mobile = input.mobile;
    let m = MembershipRecord::new(&user_id, org, input.roles.as_slice().to_vec(), Scope::Subtree, ctx.now())
        .described_login(&user, &display);
    let login = NewLogin { credential: &credential, user: &user };
    ctx.store.add_member(&m, Some(login), None, &org.lineage_ids(), &act, &[]).await?;
    if user.email.is_some() {
        let by = admin_name(ctx, permit).await;
        crate::service::identity::passwords::send_first_password(
            ctx,
            &user,
            by,
            &crate::service::notify::compose::Scope::of_permit(permit),
        )
        .await?;
    }
    Ok(CreatedUser { outcome: UserAdded::Added, user_id: Some(user_id) })
}

/// The acting admin's name for an email; a failed read leaves it empty rather than failing
/// the change the email tells of.
async fn admin_name(ctx: &Ctx, permit: &Permit<ManageMembers>) -> String {
    match ctx.store.get_user(&permit.user_id).await {
        Ok(Some(u)) => u.display_name(),
        _ => String::new(),
    }
}

/// The notice to an existing login made a member, recorded with the membership.
async fn added_notice(ctx: &Ctx, permit: &Permit<ManageMembers>, user: &UserRecord) -> Vec<OutboxMail> {
    use crate::domain::EmailType;
    if user.email.is_none() {
        return Vec::new();
    }
    let by = admin_name(ctx, permit).await;
    let vars = crate::service::notify::compose::vars([
        ("by", by.into()),
        ("link", format!("{}/login", ctx.config.public_url).into()),
    ]);
    let scope = crate::service::notify::compose::Scope::of_permit(permit);
    let Ok(r) = crate::service::notify::compose::Recipient::user(user, vars) else { return Vec::new() };
    let job = crate::service::notify::compose::compose_one(ctx, Some(&scope), EmailType::MemberAdded, r).await;
    crate::service::notify::compose::notice(ctx, EmailType::MemberAdded, job)
}

/// Codes expire after this long and allow this many wrong tries.
pub const MOBILE_CODE_MINUTES: i64 = 10;
pub const MOBILE_CODE_TRIES: u32 = 5;
/// Codes one person (or one number) may be sent per hour.
pub const MOBILE_CODES_PER_HOUR: u32 = 5;

fn code_hash(user: &UserId, code: &str) -> String {
    secret::hash(&format!("mobile|{user}|{code}"))
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CodeSent {
    /// The number it went to.
    pub mobile: String,
    pub expires_in: i64,
}

/// A number shown in an email: the country code and the last two digits, the rest masked.
fn phone_hint(e164: &str) -> String {
    let digits: Vec<char> = e164.chars().filter(char::is_ascii_digit).collect();
    let tail: String = digits.iter().skip(digits.len().saturating_sub(2)).collect();
    let head: String = digits.iter().take(2.min(digits.len().saturating_sub(2))).collect();
    format!("+{head} •••• ••{tail}")
}

/// Send a six-digit code to the profile's mobile number.
pub async fn send_mobile_code(ctx: &Ctx, auth: &Authenticated) -> Result<CodeSent> {
    let user = ctx.store.get_user(&auth.user_id).await?.ok_or(Error::Unauthenticated)?;
    let phone = user
        .mobile
        .clone()
        .ok_or_else(|| Error::validation("no_mobile", "mobile", "set a mobile number on your profile first"))?;
    crate::service::notify::email_requests::limit_hourly(
        ctx,
        &format!("sms-user|{}", user.user_id),
        MOBILE_CODES_PER_HOUR,
    )
    .await?;
    crate::service::notify::email_requests::limit_hourly(
        ctx,
        &format!("sms-number|{}", phone.as_str()),
        MOBILE_CODES_PER_HOUR,
    )
    .await?;
    let code = format!("{:06}", u64::from_le_bytes(crate::clock::random_bytes::<8>(ctx.random.as_ref())) % 1_000_000);
    let record = MobileCodeRecord {
        user_id: user.user_id.clone(),
        phone: phone.clone(),
        code_hash: code_hash(&user.user_id, &code),
        expires_at: ctx.now() + Duration::minutes(MOBILE_CODE_MINUTES),
        attempts: 0,
    };
    ctx.store.put_mobile_code(&record).await?;
    let text = format!("Your Switchboard code is {code}. It expires in {MOBILE_CODE_MINUTES} minutes.");
    ctx.sms.send(&phone, &text, &ctx.ulid().to_string()).await?;
    if user.email.is_some() {
        use crate::domain::EmailType;
        let vars = crate::service::notify::compose::vars([
            ("phone_hint", phone_hint(phone.as_str()).into()),
            ("minutes", MOBILE_CODE_MINUTES.into()),
            ("link", format!("{}/profile", ctx.config.public_url).into()),
        ]);
        let job = crate::service::notify::compose::to_user(ctx, &user, None, EmailType::MobileVerification, vars).await;
        crate::service::notify::compose::send_quietly(ctx, EmailType::MobileVerification, job).await;
    }
    Ok(CodeSent { mobile: phone.as_str().to_owned(), expires_in: MOBILE_CODE_MINUTES * 60 })
}

/// Check a code: right, the number is verified; wrong, one of five tries is spent.
pub async fn verify_mobile_code(ctx: &Ctx, auth: &Authenticated, code: &str) -> Result<()> {
    let record = ctx.store.get_mobile_code(&auth.user_id).await?.ok_or(Error::InvalidCode)?;
    if record.expires_at <= ctx.now() || record.attempts >= MOBILE_CODE_TRIES {
        return Err(Error::InvalidCode);
    }
    let presented = code_hash(&auth.user_id, code.trim());
    if !secret::hashes_equal(&presented, &record.code_hash) {
        ctx.store.count_mobile_attempt(&record, MOBILE_CODE_TRIES).await?;
        return Err(Error::InvalidCode);
    }
    ctx.store.confirm_mobile(&record, MOBILE_CODE_TRIES, ctx.now()).await
}
