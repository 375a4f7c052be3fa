//! Message templates: an organization's own, and every template kept above it, which it
//! reads but cannot change. Lists show both, with where each is kept.

use serde::Serialize;

use crate::access::{Permit, ReadOrg, UpdateOrg};
use crate::domain::message_template::{TemplateBody, TemplateLanguage, TemplateName};
use crate::domain::{OrgId, TemplateId};
use crate::error::{Error, Result};
use crate::service::{Ctx, permit_activity};
use crate::store::{Cursor, OrgRecord, TemplateRecord};

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TemplateView {
    pub template_id: TemplateId,
    pub name: String,
    /// A language tag such as `en` or `nl-BE`.
    pub language: String,
    pub body: String,
    /// The placeholders the body uses, in order of first use.
    pub placeholders: Vec<String>,
    pub source: crate::service::library::contact_groups::Source,
    pub owner_org_id: OrgId,
    pub owner_org_name: Option<String>,
    /// `"m<version>"`: send it in `If-Match` to change or delete an own template.
    pub etag: String,
    pub updated_at: chrono::DateTime<chrono::Utc>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TemplatePage {
    pub templates: Vec<TemplateView>,
    pub next_cursor: Option<String>,
}

/// What a template is made of.
#[derive(Debug)]
pub struct TemplateInput {
    pub name: TemplateName,
    pub language: TemplateLanguage,
    pub body: TemplateBody,
}

fn view<P>(permit: &Permit<P>, t: &TemplateRecord) -> TemplateView {
    let own = t.org_id == permit.org.org_id;
    let owner_org_name = if own {
        Some(permit.org.name.clone())
    } else {
        permit.ancestors.iter().find(|a| a.org_id == t.org_id).map(|a| a.name.clone())
    };
    let placeholders = TemplateBody::parse(&t.body, "body").map(|b| b.placeholders()).unwrap_or_default();
    TemplateView {
        template_id: t.template_id.clone(),
        name: t.name.clone(),
        language: t.language.clone(),
        body: t.body.clone(),
        placeholders,
        source: if own {
            crate::service::library::contact_groups::Source::Own
        } else {
            crate::service::library::contact_groups::Source::Inherited
        },
        owner_org_id: t.org_id.clone(),
        owner_org_name,
        etag: format!("\"m{}\"", t.version),
        updated_at: t.updated_at,
    }
}

/// The templates the organization can use: its own first, then each ancestor's from the
/// nearest up, each by name. A page is one read of the lineage's catalogs and one of templates.
pub async fn list(ctx: &Ctx, permit: &Permit<ReadOrg>, limit: i32, cursor: Option<&Cursor>) -> Result<TemplatePage> {
    let pk = OrgRecord::pk(&permit.org.org_id);
    let from = match cursor {
        None => 0,
        Some(c) if c.field("pk").as_deref() == Some(pk.as_str()) => {
            c.field("at").and_then(|a| a.parse::<usize>().ok()).unwrap_or(0)
        }
        Some(_) => return Err(Error::validation("invalid_cursor", "cursor", "does not belong to this listing")),
    };
    let lineage = permit.org.lineage_ids();
    let catalogs = ctx.store.template_catalogs(&lineage).await?;
    let mut all: Vec<(OrgId, TemplateId)> = Vec::new();
    for owner in lineage.iter().rev() {
        let Some(c) = catalogs.get(owner) else { continue };
        let mut entries: Vec<_> = c.iter().collect();
        entries.sort_by(|a, b| a.1.name.to_lowercase().cmp(&b.1.name.to_lowercase()).then(a.0.cmp(b.0)));
        all.extend(entries.into_iter().map(|(id, _)| (owner.clone(), id.clone())));
    }
    let page: Vec<_> = all.iter().skip(from).take(limit.clamp(1, 100) as usize).cloned().collect();
    let mut found = ctx.store.templates(&page).await?;
    found.sort_by_key(|t| page.iter().position(|(o, id)| o == &t.org_id && id == &t.template_id));
    let next = from + page.len();
    let next_cursor = (next < all.len())
        .then(|| Cursor::from_fields(&[("pk", &pk), ("at", &next.to_string())]))
        .flatten()
        .map(|c| c.as_str().to_owned());
    Ok(TemplatePage { templates: found.iter().map(|t| view(permit, t)).collect(), next_cursor })
}

/// A template of the organization or of one of its ancestors: one read of the candidates.
async fn find<P>(ctx: &Ctx, permit: &Permit<P>, id: &TemplateId) -> Result<TemplateRecord> {
    let keys: Vec<_> = permit.org.lineage().map(|o| (o.clone(), id.clone())).collect();
    ctx.store.templates(&keys).await?.into_iter().next().ok_or(Error::NotFound("message template"))
}

async fn own<P>(ctx: &Ctx, permit: &Permit<P>, id: &TemplateId, expected_version: u64) -> Result<TemplateRecord> {
    let t = find(ctx, permit, id).await?;
    if t.org_id != permit.org.org_id {
        return Err(Error::InheritedReadOnly("message template"));
    }
    if t.version != expected_version {
        return Err(Error::PreconditionFailed);
    }
    Ok(t)
}

pub async fn get(ctx: &Ctx, permit: &Permit<ReadOrg>, id: &TemplateId) -> Result<TemplateView> {
    Ok(view(permit, &find(ctx, permit, id).await?))
}

pub async fn create(ctx: &Ctx, permit: &Permit<UpdateOrg>, input: TemplateInput) -> Result<TemplateView> {
    let now = ctx.now();
    let t = TemplateRecord {
        template_id: TemplateId::new(ctx.ulid()),
        org_id: permit.org.org_id.clone(),
        name: input.name.as_str().to_owned(),
        language: input.language.as_str().to_owned(),
        body: input.body.as_str().to_owned(),
        version: 1,
        created_at: now,
        updated_at: now,
        updated_by: permit.user_id.clone(),
    };
    let act = permit_activity(ctx, permit, "message_template.created", Some(t.template_id.to_string()));
    ctx.store.create_template(&t, &act, &permit.org.lineage_ids()).await?;
    Ok(view(permit, &t))
}

pub async fn update(
    ctx: &Ctx,
    permit: &Permit<UpdateOrg>,
    id: &TemplateId,
    expected_version: u64,
    input: TemplateInput,
) -> Result<TemplateView> {
    let before = own(ctx, permit, id, expected_version).await?;
    let after = TemplateRecord {
        name: input.name.as_str().to_owned(),
        language: input.language.as_str().to_owned(),
        body: input.body.as_str().to_owned(),
        version: before.version + 1,
        updated_at: ctx.now(),
        updated_by: permit.user_id.clone(),
        ..before
    };
    let act = permit_activity(ctx, permit, "message_template.updated", Some(id.to_string()));
    ctx.store.update_template(&after, expected_version, &act, &permit.org.lineage_ids()).await?;
    Ok(view(permit, &after))
}

pub async fn delete(ctx: &Ctx, permit: &Permit<UpdateOrg>, id: &TemplateId, expected_version: u64) -> Result<()> {
    let before = own(ctx, permit, id, expected_version).await?;
    let act = permit_activity(ctx, permit, "message_template.deleted", Some(id.to_string()));
    ctx.store.delete_template(&before, expected_version, &act, &permit.org.lineage_ids()).await
}
