//! Composing the emails the service sends: the type's setting decides whether it goes out,
//! the organization's template (or the nearest ancestor's, or the default) in the
//! recipient's language says what it says, and the organization's logo and colors dress it.

use crate::domain::theme::DEFAULT_THEME;
use crate::domain::{Email, EmailType, Language};
use crate::error::Result;
use crate::mail::OutgoingEmail;
use crate::mail::queue::EmailJob;
use crate::mail::templates::{self, Branding};
use crate::service::Ctx;
use crate::service::notify::email_templates::{load, pick};
use crate::service::orgs::settings::{Effective, effective};
use crate::store::{OrgRecord, UserRecord};

/// The organization an email speaks for, with its ancestors (for inherited settings).
#[derive(Debug, Clone)]
pub struct Scope {
    pub org: OrgRecord,
    pub ancestors: Vec<OrgRecord>,
    /// Created in this request: it has no templates of its own yet, and none to inherit.
    fresh: bool,
}

impl Scope {
    pub fn new(org: &OrgRecord, ancestors: &[OrgRecord]) -> Self {
        Scope { org: org.clone(), ancestors: ancestors.to_vec(), fresh: false }
    }

    /// A top-level organization just created (registration): its emails need no template read.
    pub fn created(org: &OrgRecord) -> Self {
        Scope { org: org.clone(), ancestors: Vec::new(), fresh: true }
    }

    /// `org` with its ancestors read (one BatchGet; none for a top-level organization).
    pub async fn resolve(ctx: &Ctx, org: &OrgRecord) -> Result<Self> {
        let ancestors = if org.ancestors.is_empty() { Vec::new() } else { ctx.store.get_orgs(&org.ancestors).await? };
        Ok(Scope { org: org.clone(), ancestors, fresh: false })
    }

    pub fn of_permit<P>(permit: &crate::access::Permit<P>) -> Self {
        Scope::new(&permit.org, &permit.ancestors)
    }

    fn effective(&self) -> Effective {
        effective(&self.org, &self.ancestors)
    }
}

/// For emails about a login rather than a membership (password reset, email change, …): the
/// organization the person last used on the web, else on any client, else the first they
/// belong to. `None`: no branding.
pub async fn scope_of_user(ctx: &Ctx, user: &UserRecord) -> Result<Option<Scope>> {
    let org_id = match user.last_org.get("web").or_else(|| user.last_org.values().next()) {
        Some(o) => o.clone(),
        None => {
            let memberships = ctx.store.all_memberships(&user.user_id).await?;
            let active = memberships.iter().find(|m| m.status == crate::store::MemberStatus::Active);
            match active {
                Some(m) => m.org_id.clone(),
                None => return Ok(None),
            }
        }
    };
    let Some(org) = ctx.store.get_org(&org_id).await? else {
        return Ok(None);
    };
    Ok(Some(Scope::resolve(ctx, &org).await?))
}

pub(crate) fn branding(ctx: &Ctx, e: &Effective, org_name: &str) -> Branding {
    Branding {
        org_name: org_name.to_owned(),
        logo: e.values.email_logo.clone(),
        theme: e.values.theme.unwrap_or(DEFAULT_THEME),
        service_url: ctx.config.public_url.clone(),
    }
}

/// One recipient of a type: the address, their language (`None`: the organization's), and
/// the values of the type's own variables.
pub struct Recipient {
    pub to: Email,
    pub language: Option<Language>,
    pub first_name: String,
    pub vars: serde_json::Map<String, serde_json::Value>,
}

impl Recipient {
    /// `user`, at their address, in their language.
    pub fn user(user: &UserRecord, vars: serde_json::Map<String, serde_json::Value>) -> Result<Self> {
        Ok(Recipient {
            to: user.address()?.clone(),
            language: Some(user.language),
            first_name: user.first_name.clone(),
            vars,
        })
    }
}

/// The emails of `ty` to `recipients`, or none when the organization switched the type off.
/// One template read for all of them, whatever their languages.
pub async fn compose(
    ctx: &Ctx,
    scope: Option<&Scope>,
    ty: EmailType,
    recipients: Vec<Recipient>,
) -> Result<Vec<EmailJob>> {
    let Some(scope) = scope else {
        return recipients.into_iter().map(|r| default_email(ctx, ty, r)).collect();
    };
    let composer = Composer::new(ctx, scope, ty).await?;
    if !composer.enabled {
        tracing::info!(email_type = ty.key(), org = %scope.org.org_id, "email type switched off; not sent");
        return Ok(Vec::new());
    }
    recipients.into_iter().map(|r| composer.render(r)).collect()
}

/// One organization's emails of one type, ready to render for any number of recipients:
/// the templates along its lineage read once.
pub struct Composer {
    org: OrgRecord,
    ancestors: Vec<OrgRecord>,
    ty: EmailType,
    records: std::collections::BTreeMap<crate::domain::OrgId, crate::store::EmailTemplateRecord>,
    brand: Branding,
    language: Language,
    /// Whether the organization sends this type at all.
    pub enabled: bool,
}

impl Composer {
    pub async fn new(ctx: &Ctx, scope: &Scope, ty: EmailType) -> Result<Self> {
        let view = crate::service::notify::email_settings::resolve_type(&scope.org, &scope.ancestors, ty);
        let e = scope.effective();
        let records = if scope.fresh || !view.enabled { Default::default() } else { load(ctx, &scope.org, ty).await? };
        Ok(Composer {
            org: scope.org.clone(),
            ancestors: scope.ancestors.clone(),
            ty,
            records,
            brand: branding(ctx, &e, &scope.org.name),
            language: e.language(),
            enabled: view.enabled,
        })
    }

    pub fn render(&self, r: Recipient) -> Result<EmailJob> {
        let lang = r.language.unwrap_or(self.language);
        let chosen = pick(&self.org, &self.ancestors, &self.records, self.ty, lang)?;
        let vars = variables(&r, &self.org.name);
        let rendered = match templates::render_parts(&chosen.parts, &vars) {
            Ok(v) => v,
            // An organization's template that fails on real values must not cost the email.
            Err(err) => {
                tracing::warn!(error = %err, email_type = self.ty.key(), "organization's template failed; default used");
                templates::render_parts(templates::default_parts(self.ty, lang)?, &vars)?
            }
        };
        Ok(job(templates::compose(rendered, &self.brand, &r.to, lang)?))
    }
}

/// One email of `ty` (see [`compose`]); `None` when switched off.
pub async fn compose_one(ctx: &Ctx, scope: Option<&Scope>, ty: EmailType, r: Recipient) -> Result<Option<EmailJob>> {
    Ok(compose(ctx, scope, ty, vec![r]).await?.pop())
}

/// An email of `ty` about `user`'s login, to `to` (their address unless given), in their
/// language, branded by the organization they last used.
pub async fn to_user(
    ctx: &Ctx,
    user: &UserRecord,
    to: Option<&Email>,
    ty: EmailType,
    vars: serde_json::Map<String, serde_json::Value>,
) -> Result<Option<EmailJob>> {
    let scope = scope_of_user(ctx, user).await?;
    let to = match to {
        Some(t) => t.clone(),
        None => user.address()?.clone(),
    };
    let r = Recipient { to, language: Some(user.language), first_name: user.first_name.clone(), vars };
    compose_one(ctx, scope.as_ref(), ty, r).await
}

/// A notice to write in the transaction of the change it tells of: recorded, or nothing
/// (logged) when it cannot be composed, so no change fails for its notice.
pub(crate) fn notice(ctx: &Ctx, ty: EmailType, job: Result<Option<EmailJob>>) -> Vec<crate::store::OutboxMail> {
    match job.and_then(|j| crate::service::notify::outbox::record(ctx, j.into_iter().collect())) {
        Ok(mails) => mails,
        Err(e) => {
            tracing::warn!(error = %e, email_type = ty.key(), "notice email not recorded");
            Vec::new()
        }
    }
}

/// Record a notice that accompanies an operation already done: a failure to compose or record
/// it is logged, and the operation still succeeds.
pub async fn send_quietly(ctx: &Ctx, ty: EmailType, job: Result<Option<EmailJob>>) {
    let queued = match job {
        Ok(Some(j)) => crate::service::notify::outbox::send(ctx, vec![j]).await,
        Ok(None) => Ok(()),
        Err(e) => Err(e),
    };
    if let Err(e) = queued {
        tracing::warn!(error = %e, email_type = ty.key(), "notice email not queued");
    }
}

fn variables(r: &Recipient, org_name: &str) -> serde_json::Value {
    let mut vars = r.vars.clone();
    vars.insert("first_name".into(), r.first_name.clone().into());
    vars.insert("org_name".into(), org_name.into());
    serde_json::Value::Object(vars)
}

/// An email outside any organization: the default template, no logo, the default colors.
fn default_email(ctx: &Ctx, ty: EmailType, r: Recipient) -> Result<EmailJob> {
    let lang = r.language.unwrap_or_default();
    let vars = variables(&r, "Switchboard");
    let rendered = templates::render_parts(templates::default_parts(ty, lang)?, &vars)?;
    Ok(job(templates::compose(rendered, &Branding::plain("Switchboard", &ctx.config.public_url), &r.to, lang)?))
}

fn job(message: OutgoingEmail) -> EmailJob {
    EmailJob::new(message)
}

/// Variables from `(name, value)` pairs.
pub fn vars<const N: usize>(pairs: [(&str, serde_json::Value); N]) -> serde_json::Map<String, serde_json::Value> {
    pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
}
