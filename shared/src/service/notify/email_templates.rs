//! An organization's own email templates, per type and language: read (its own, the nearest
//! ancestor's, or the shipped default), save, preview with sample data, reset to default.

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use crate::access::{Permit, UpdateOrg};
use crate::domain::template_text::TemplateParts;
use crate::domain::{EmailType, Language, OrgId, Variable};
use crate::error::Result;
use crate::mail::templates;
use crate::service::orgs::settings::chain;
use crate::service::{Ctx, permit_activity};
use crate::store::{EmailTemplateRecord, OrgRecord, TemplateOverride};

/// Whose template applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TemplateSource {
    Own,
    Inherited,
    Default,
}

/// The template in force for one type and language, found along the lineage.
pub(crate) struct Resolved {
    pub parts: TemplateParts,
    pub source: TemplateSource,
    pub from: Option<OrgId>,
    pub updated_at: Option<DateTime<Utc>>,
}

/// Every override of `ty` along `org`'s lineage: one BatchGet.
pub(crate) async fn load(
    ctx: &Ctx,
    org: &OrgRecord,
    ty: EmailType,
) -> Result<std::collections::BTreeMap<OrgId, EmailTemplateRecord>> {
    ctx.store.email_templates(&org.lineage_ids(), ty).await
}

/// The nearest override of `ty` in `lang` (the organization's own first), else the default.
pub(crate) fn pick(
    org: &OrgRecord,
    ancestors: &[OrgRecord],
    records: &std::collections::BTreeMap<OrgId, EmailTemplateRecord>,
    ty: EmailType,
    lang: Language,
) -> Result<Resolved> {
    for o in chain(org, ancestors).into_iter().rev() {
        if let Some(t) = records.get(&o.org_id).and_then(|r| r.language(lang)) {
            let source = if o.org_id == org.org_id { TemplateSource::Own } else { TemplateSource::Inherited };
            let from = (source == TemplateSource::Inherited).then(|| o.org_id.clone());
            return Ok(Resolved { parts: t.parts.clone(), source, from, updated_at: Some(t.updated_at) });
        }
    }
    let parts = templates::default_parts(ty, lang)?.clone();
    Ok(Resolved { parts, source: TemplateSource::Default, from: None, updated_at: None })
}

/// The template editor's document.
#[derive(Debug, Serialize, ToSchema)]
pub struct TemplateDoc {
    #[serde(rename = "type")]
    pub email_type: EmailType,
    pub language: Language,
    /// Send it in `If-Match` to save or reset (also the `ETag` header).
    pub etag: String,
    pub source: TemplateSource,
    pub inherited_from: Option<OrgId>,
    pub subject: String,
    pub title: String,
    pub body: String,
    /// The variables the template may use.
    pub variables: Vec<Variable>,
    pub updated_at: Option<DateTime<Utc>>,
}

pub fn template_etag(version: u64) -> String {
    format!("\"t{version}\"")
}

fn doc(ty: EmailType, lang: Language, version: u64, r: Resolved) -> TemplateDoc {
    TemplateDoc {
        email_type: ty,
        language: lang,
        etag: template_etag(version),
        source: r.source,
        inherited_from: r.from,
        subject: r.parts.subject.as_str().to_owned(),
        title: r.parts.title.as_str().to_owned(),
        body: r.parts.body.as_str().to_owned(),
        variables: ty.variables().copied().collect(),
        updated_at: r.updated_at,
    }
}

/// The version of the organization's own template item (0 when it has none).
fn own_version(org: &OrgRecord, records: &std::collections::BTreeMap<OrgId, EmailTemplateRecord>) -> u64 {
    records.get(&org.org_id).map(|r| r.version).unwrap_or(0)
}

pub async fn read(ctx: &Ctx, permit: &Permit<UpdateOrg>, ty: EmailType, lang: Language) -> Result<TemplateDoc> {
    let records = load(ctx, &permit.org, ty).await?;
    let resolved = pick(&permit.org, &permit.ancestors, &records, ty, lang)?;
    Ok(doc(ty, lang, own_version(&permit.org, &records), resolved))
}

/// Save (`Some`) or reset (`None`) the organization's template of `ty` in `lang`.
pub async fn write(
    ctx: &Ctx,
    permit: &Permit<UpdateOrg>,
    ty: EmailType,
    lang: Language,
    expected_version: u64,
    parts: Option<TemplateParts>,
) -> Result<TemplateDoc> {
    let action =
        if parts.is_some() { "organization.email_template_changed" } else { "organization.email_template_reset" };
    let record =
        parts.map(|parts| TemplateOverride { parts, updated_at: ctx.now(), updated_by: permit.user_id.clone() });
    let act = permit_activity(ctx, permit, action, Some(format!("{}:{}", ty.key(), lang.as_str())));
    ctx.store.put_email_template(&permit.org, ty, lang, record.as_ref(), expected_version, &act).await?;
    let resolved = match record {
        // What was saved is what applies: no read needed.
        Some(t) => Resolved { parts: t.parts, source: TemplateSource::Own, from: None, updated_at: Some(t.updated_at) },
        // After a reset the nearest ancestor's, or the default, applies. The organization's
        // own entry for this language is gone (a replica may not know yet: it is left out).
        None => {
            let mut records = load(ctx, &permit.org, ty).await?;
            if let Some(own) = records.get_mut(&permit.org.org_id) {
                match lang {
                    Language::En => own.en = None,
                    Language::Nl => own.nl = None,
                    Language::De => own.de = None,
                }
            }
            pick(&permit.org, &permit.ancestors, &records, ty, lang)?
        }
    };
    Ok(doc(ty, lang, expected_version + 1, resolved))
}

/// Where the catalogue's sample links point.
const SAMPLE_BASE: &str = "https://app.example";

/// A rendering with the type's sample values, never sent.
#[derive(Debug, Serialize, ToSchema)]
pub struct EmailPreview {
    pub subject: String,
    pub title: String,
    pub html: String,
    pub text: String,
}

/// Preview `draft`, or the template in force when there is none.
pub async fn preview(
    ctx: &Ctx,
    permit: &Permit<UpdateOrg>,
    ty: EmailType,
    lang: Language,
    draft: Option<TemplateParts>,
) -> Result<EmailPreview> {
    let parts = match draft {
        Some(d) => d,
        None => {
            let records = load(ctx, &permit.org, ty).await?;
            pick(&permit.org, &permit.ancestors, &records, ty, lang)?.parts
        }
    };
    let mut vars = ty.sample();
    // Sample links point at this deployment, so they show as its links do.
    for v in vars.values_mut() {
        if let Some(rest) = v.as_str().and_then(|s| s.strip_prefix(SAMPLE_BASE)) {
            *v = format!("{}{rest}", ctx.config.public_url).into();
        }
    }
    vars.insert("org_name".into(), permit.org.name.clone().into());
    let rendered = templates::render_parts(&parts, &serde_json::Value::Object(vars))?;
    let title = rendered.title.clone();
    let branding = crate::service::notify::compose::branding(
        ctx,
        &crate::service::orgs::settings::of_permit(permit),
        &permit.org.name,
    );
    let to = crate::domain::Email::parse("preview@example.com", "to")?;
    let m = templates::compose(rendered, &branding, &to, lang)?;
    // The logo is an inline part in a real email; a preview carries it as a data URI, so the
    // HTML shows as the email will wherever it is put (an iframe's srcdoc needs no token).
    let html = match &m.logo {
        Some(logo) => {
            use base64::Engine;
            let bytes = ctx.files.get(&logo.key, crate::domain::logo::LOGO_MAX_BYTES as u64).await?;
            let uri = format!(
                "data:{};base64,{}",
                logo.content_type.content_type(),
                base64::engine::general_purpose::STANDARD.encode(bytes)
            );
            m.html.replace(&format!("cid:{}", templates::LOGO_CID), &uri)
        }
        None => m.html,
    };
    Ok(EmailPreview { subject: m.subject, title, html, text: m.text })
}
