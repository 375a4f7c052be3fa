//! Organizations' own email templates: one item per organization and email type holding
//! each language it overrides, so resolving a template along a lineage is one BatchGet.
//!
//! Keys: `ORG#<org>` / `EMAILTPL#<type>`, attributes `en` / `nl` / `de` (each subject, title,
//! body), `version` (the ETag: bumped by every change to any language).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::template_text::TemplateParts as Parts;
use crate::domain::{EmailType, Language, OrgId, UserId};
use crate::error::Result;
use crate::store::items::from_item;
use crate::store::ops::{key, n, s};
use crate::store::tx;
use crate::store::{ActivityRecord, OrgRecord, Store};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TemplateOverride {
    #[serde(flatten)]
    pub parts: Parts,
    pub updated_at: DateTime<Utc>,
    pub updated_by: UserId,
}

/// One organization's overrides of one type.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct EmailTemplateRecord {
    #[serde(default)]
    pub org_id: Option<OrgId>,
    #[serde(default)]
    pub version: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub en: Option<TemplateOverride>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nl: Option<TemplateOverride>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub de: Option<TemplateOverride>,
}
impl crate::store::items::Entity for EmailTemplateRecord {
    const TYPE: &'static str = "email_template";
}

impl EmailTemplateRecord {
    pub fn sk(ty: EmailType) -> String {
        format!("EMAILTPL#{}", ty.key())
    }

    pub fn language(&self, lang: Language) -> Option<&TemplateOverride> {
        match lang {
            Language::En => self.en.as_ref(),
            Language::Nl => self.nl.as_ref(),
            Language::De => self.de.as_ref(),
        }
    }
}

/// The condition that the item is still at `expected` (absent counts as version 0).
fn version_condition(expected: u64) -> &'static str {
    if expected == 0 { "attribute_not_exists(version) OR version = :v" } else { "version = :v" }
}

impl Store {
    /// The overrides of `ty` by each of `orgs` that has any (one BatchGet).
    pub async fn email_templates(&self, orgs: &[OrgId], ty: EmailType) -> Result<BTreeMap<OrgId, EmailTemplateRecord>> {
        let keys = orgs.iter().map(|o| key(OrgRecord::pk(o), EmailTemplateRecord::sk(ty))).collect();
        let mut out = BTreeMap::new();
        for item in self.batch_get(keys).await? {
            let r: EmailTemplateRecord = from_item(item)?;
            if let Some(org) = r.org_id.clone() {
                out.insert(org, r);
            }
        }
        Ok(out)
    }

    /// Set (`Some`) or remove (`None`) one language of an organization's template of `ty`,
    /// if the item is still at `expected_version`, with the activity entry.
    pub async fn put_email_template(
        &self,
        org: &OrgRecord,
        ty: EmailType,
        lang: Language,
        parts: Option<&TemplateOverride>,
        expected_version: u64,
        activity: &ActivityRecord,
    ) -> Result<()> {
        let t = self.table_name();
        let mut update = tx::update_builder(t, key(OrgRecord::pk(&org.org_id), EmailTemplateRecord::sk(ty)))
            .condition_expression(version_condition(expected_version))
            .expression_attribute_names("#lang", lang.as_str())
            .expression_attribute_values(":v", n(expected_version as i64))
            .expression_attribute_values(":next", n(expected_version as i64 + 1))
            .expression_attribute_values(":org", s(org.org_id.as_str()))
            .expression_attribute_names("#et", crate::store::items::ENTITY_TYPE)
            .expression_attribute_values(":et", s(<EmailTemplateRecord as crate::store::items::Entity>::TYPE));
        // An update makes the item the first time, so it names its type as `to_item` would.
        update = match parts {
            Some(p) => update
                .update_expression("SET #lang = :p, version = :next, org_id = :org, #et = :et")
                .expression_attribute_values(
                    ":p",
                    serde_dynamo::to_attribute_value(p).map_err(crate::store::error::storage)?,
                ),
            None => update.update_expression("REMOVE #lang SET version = :next, org_id = :org, #et = :et"),
        };
        self.update_with_activity(update, org, activity).await
    }
}
