//! Signing in through a SAML provider (SP-initiated Web Browser SSO): the request sent to the
//! provider, the response checked at the assertion consumer service, the person found (or,
//! where the organization allows it, made a member), and a one-time code the client
//! exchanges for a session, as a password login would open it.

use chrono::Duration;
use rsa::RsaPublicKey;
use serde::Serialize;
use utoipa::ToSchema;

use crate::access::Scope;
use crate::auth::secret;
use crate::clock::random_bytes;
use crate::domain::sso::ProviderName;
use crate::domain::{ClientType, Email, LoginKey, Password, UserId};
use crate::error::{Error, Result};
use crate::saml::cert::SigningCert;
use crate::saml::dsig::decode_base64;
use crate::saml::request::AuthnRequest;
use crate::saml::response::{self, Expected, Verified};
use crate::service::federation::sso::{acs_url, sp_entity_id};
use crate::service::identity::sessions::{LoginOutcome, challenge, device_of, start_session_in};
use crate::service::{Ctx, activity_record};
use crate::store::{
    Consumed, CredentialRecord, MemberStatus, MembershipRecord, NewLogin, SamlRequestRecord, SsoProviderRecord,
    TokenPurpose, TokenRecord, UserRecord,
};

/// A request waits this long for the provider's answer.
const REQUEST_MINUTES: i64 = 10;
/// The client has this long to exchange its code.
const CODE_SECONDS: i64 = 120;

/// How the browser gets to the provider.
pub enum Started {
    /// HTTP-Redirect binding: send the browser here.
    Redirect(String),
    /// HTTP-POST binding: a page that posts the request.
    Form(String),
}

async fn enabled_provider(ctx: &Ctx, name: &ProviderName) -> Result<SsoProviderRecord> {
    match ctx.store.sso_provider(name).await? {
        Some(p) if p.enabled => Ok(p),
        _ => Err(Error::NotFound("provider")),
    }
}

/// A started sign-in: where the browser goes, and the secret its cookie keeps until the
/// provider answers.
pub struct Start {
    pub started: Started,
    pub browser_secret: String,
}

/// Start a sign-in at provider `name` for `client`: one read, one write (and, to link the
/// provider to a signed-in person's login, their ticket taken first).
pub async fn start(ctx: &Ctx, name: &ProviderName, client: ClientType, link: Option<&str>) -> Result<Start> {
    let p = enabled_provider(ctx, name).await?;
    let link_for = match link {
        Some(ticket) => Some(crate::service::federation::sso::link::take_ticket(ctx, &p, ticket).await?),
        None => None,
    };
    let id_bytes: [u8; 16] = random_bytes(ctx.random.as_ref());
    let request_id = format!("_{}", id_bytes.iter().map(|b| format!("{b:02x}")).collect::<String>());
    let (browser_secret, browser) = secret::new_secret(ctx.random.as_ref());
    let record = SamlRequestRecord {
        request_id: request_id.clone(),
        provider: name.clone(),
        org_id: p.org_id.clone(),
        client,
        expires_at: ctx.now() + Duration::minutes(REQUEST_MINUTES),
        browser,
        link_for,
    };
    ctx.store.put_saml_request(&record).await?;
    let (sp, acs) = (sp_entity_id(ctx, name), acs_url(ctx, name));
    let request = |destination| AuthnRequest {
        id: &request_id,
        issue_instant: ctx.now(),
        destination,
        acs_url: &acs,
        sp_entity_id: &sp,
    };
    let started = match (&p.sso_redirect, &p.sso_post) {
        (Some(url), _) => {
            request(url.as_str()).redirect_url(name.as_str()).map(Started::Redirect).ok_or_else(|| {
                crate::error::Error::internal(format!("provider {} has an unusable sign-on URL", name.as_str()))
            })?
        }
        (None, Some(url)) => Started::Form(request(url.as_str()).post_form(name.as_str())),
        (None, None) => return Err(Error::NotFound("provider")),
    };
    Ok(Start { started, browser_secret })
}

/// Where the browser goes after a sign-in passed: the client's callback with a code.
#[derive(Debug, Serialize, ToSchema)]
pub struct SignedIn {
    pub redirect_to: String,
}

fn keys_of(p: &SsoProviderRecord) -> Vec<RsaPublicKey> {
    p.certs.iter().filter_map(|c| SigningCert::from_base64(&c.der_base64).ok()).map(|c| c.key).collect()
}

/// The provider's answer at the assertion consumer service: `saml_response` is the form's
/// `SAMLResponse` (base64). Verified, its request used up, its assertion remembered, the
/// person found or provisioned; a one-time code for the client. `browser` is the secret of
/// the cookie [`start`] set: another browser's answer is refused.
pub async fn consume(ctx: &Ctx, name: &ProviderName, saml_response: &str, browser: Option<&str>) -> Result<SignedIn> {
    let browser = browser
        .filter(|b| secret::looks_like_secret(b))
        .ok_or_else(|| Error::SamlRejected("this sign-in was not started in this browser".into()))?;
    let p = enabled_provider(ctx, name).await?;
    let raw = decode_base64(saml_response).map_err(|_| Error::SamlRejected("SAMLResponse is not base64".into()))?;
    let text = String::from_utf8(raw).map_err(|_| Error::SamlRejected("SAMLResponse is not UTF-8 XML".into()))?;
    let keys = keys_of(&p);
    let (sp, acs) = (sp_entity_id(ctx, name), acs_url(ctx, name));
    let expected =
        Expected { idp_entity_id: p.entity_id.as_str(), sp_entity_id: &sp, acs_url: &acs, now: ctx.now(), keys: &keys };
    let verified = response::verify(&text, &expected).map_err(|r| Error::SamlRejected(r.0))?;
    let seen = secret::hash(&format!("{}|{}", p.entity_id.as_str(), verified.assertion_id));
    let request = match ctx
        .store
        .consume_saml_request(
            &verified.in_response_to,
            name,
            ctx.now(),
            &seen,
            verified.usable_until,
            &secret::hash(browser),
        )
        .await?
    {
        Consumed::Ok(r) => r,
        Consumed::UnknownRequest => {
            return Err(Error::SamlRejected(
                "it answers no open sign-in request of this browser (expired, used, or another provider's)".into(),
            ));
        }
        Consumed::Replayed => return Err(Error::SamlRejected("this assertion was presented before".into())),
    };
    let email = response::email_candidates(&verified)
        .into_iter()
        .find_map(|c| Email::parse(c, "email").ok())
        .ok_or(Error::SsoNotMember("the provider sent no email address to find you by"))?;
    let linked = match &request.link_for {
        Some(u) => crate::service::federation::sso::link::link(ctx, &p, u, &email).await?,
        None => false,
    };
    let user = member_for(ctx, &p, &email, &verified, linked).await?;
    let (code, hash) = secret::new_secret(ctx.random.as_ref());
    let token = TokenRecord {
        client: Some(request.client),
        org: Some(p.org_id.clone()),
        second_factor: p.counts_as_second_factor,
        ..TokenRecord::new(TokenPurpose::SsoSignIn, user, Some(email), ctx.now() + Duration::seconds(CODE_SECONDS))
    };
    ctx.store.put_token(&hash, &token).await?;
    let base = ctx.config.public_url.trim_end_matches('/');
    Ok(SignedIn { redirect_to: format!("{base}/sso/callback?code={code}") })
}

fn attribute<'a>(v: &'a Verified, names: &[&str]) -> Option<&'a str> {
    names
        .iter()
        .find_map(|n| v.attributes.get(*n).and_then(|vals| vals.first()))
        .map(String::as_str)
        .filter(|s| !s.is_empty())
}

/// The member of the provider's organization with this address: an active membership, or
/// (just-in-time provisioning on) a new one taking a seat, for a login that exists or one
/// made now. A provider vouches only for addresses on the organization's verified company
/// domains (its admins can make any address at the provider); anyone else signs in through
/// it only after linking it from a session opened with their own password (`linked`).
async fn member_for(ctx: &Ctx, p: &SsoProviderRecord, email: &Email, v: &Verified, linked: bool) -> Result<UserId> {
    let key = LoginKey::Email(email.clone());
    let keys = [key.as_string()];
    let (existing, org) = futures::try_join!(ctx.store.credentials(&keys), ctx.store.get_org(&p.org_id))?;
    let existing = existing.into_iter().next();
    let org = org.ok_or(Error::NotFound("organization"))?;
    let effective = crate::service::orgs::settings::resolve(ctx, &org).await?;
    let on_domain = effective.on_company_domain(email);
    if let Some(c) = &existing {
        if !on_domain && !linked && !crate::service::federation::sso::link::is_linked(ctx, p, &c.user_id).await? {
            return Err(Error::SsoNotMember(
                "your address is not on one of the organization's verified company domains: sign in with your password and link this provider first",
            ));
        }
        match ctx.store.get_membership(&c.user_id, &p.org_id).await? {
            Some(m) if m.status == MemberStatus::Active => return Ok(c.user_id.clone()),
            Some(_) => return Err(Error::SsoNotMember("your membership of this organization is not active")),
            None => {}
        }
    }
    if !p.jit {
        return Err(Error::SsoNotMember("you are not a member of this organization; ask an admin to invite you"));
    }
    if !on_domain {
        return Err(Error::SsoNotMember("your address is not on one of the organization's verified company domains"));
    }
    let act_for = |u: &UserId| {
        activity_record(ctx, &org.org_id, u, None, "member.provisioned_by_sso", Some(p.name.as_str().to_owned()))
    };
    let seats = |e: Error| match e {
        Error::NoFreeSeats { .. } => Error::SsoNotMember("the organization has no free seat for you"),
        e => e,
    };
    if let Some(c) = existing {
        let user = ctx.store.get_user(&c.user_id).await?.ok_or(Error::Conflict)?;
        let act = act_for(&user.user_id);
        let m = MembershipRecord::new(&user.user_id, &org, vec![p.jit_role], Scope::Subtree, ctx.now())
            .described_login(&user, &user.display_name());
        ctx.store.add_member(&m, None, None, &org.lineage_ids(), &act, &[]).await.map_err(seats)?;
        return Ok(user.user_id);
    }
    let user_id = UserId::new(ctx.ulid());
    let first = attribute(
        v,
        &["givenName", "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/givenname", "urn:oid:2.5.4.42"],
    )
    .unwrap_or_else(|| email.as_str().split('@').next().unwrap_or(""));
    let last = attribute(
        v,
        &["sn", "surname", "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/surname", "urn:oid:2.5.4.4"],
    )
    .unwrap_or("");
    // Nobody knows this password: the person signs in through the provider, or resets it.
    let password = Password::parse_new(&secret::new_secret(ctx.random.as_ref()).0, "password")?;
    let hash = ctx.hasher.hash(&password, ctx.random.as_ref()).await?;
    let credential = CredentialRecord::for_login(&user_id, &key, hash);
    // The provider vouches for the address, on a domain the organization proved it owns.
    let user = UserRecord::new(user_id.clone(), &key, first, last, effective.language(), true, ctx.now());
    let act = act_for(&user_id);
    let m = MembershipRecord::new(&user_id, &org, vec![p.jit_role], Scope::Subtree, ctx.now())
        .described_login(&user, &format!("{first} {last}"));
    let login = NewLogin { credential: &credential, user: &user };
    ctx.store.add_member(&m, Some(login), None, &org.lineage_ids(), &act, &[]).await.map_err(seats)?;
    Ok(user_id)
}

/// The client's exchange of its one-time code: a session in the provider's organization,
/// or the two-factor step when the person has it on and the provider's sign-in does not
/// count as the second factor.
pub async fn exchange(ctx: &Ctx, code: &str, user_agent: &str) -> Result<LoginOutcome> {
    if !secret::looks_like_secret(code) {
        return Err(Error::InvalidToken);
    }
    let t = ctx.store.take_token(&secret::hash(code)).await?.ok_or(Error::InvalidToken)?;
    if t.purpose != TokenPurpose::SsoSignIn || t.expires_at <= ctx.now() {
        return Err(Error::InvalidToken);
    }
    let client = t.client.ok_or(Error::InvalidToken)?;
    let mut user = ctx.store.get_user(&t.user_id).await?.ok_or(Error::InvalidToken)?;
    if user.merging_from.is_some() {
        // As at a password login: a merge into this login that stopped halfway finishes first.
        crate::service::identity::merge::resume(ctx, &user).await?;
        user = ctx.store.get_user(&t.user_id).await?.ok_or(Error::InvalidToken)?;
    }
    let device = device_of(&user, client, user_agent);
    if user.totp.as_ref().is_some_and(|x| x.enabled) && !t.second_factor {
        return Ok(LoginOutcome::SecondFactor(challenge(ctx, &user, client, Vec::new(), device, t.org).await?));
    }
    Ok(LoginOutcome::Tokens(
        start_session_in(ctx, &user, client, t.second_factor, Some(&device), t.org.as_ref()).await?,
    ))
}
