//! Message templates and each organization's catalog of them.
//!
//! Keys:
//! - template `ORG#<owner>` / `MSGTPL#<tpl>`: name, language, body, version;
//! - catalog `ORG#<owner>` / `MSGTPLS`: one top-level attribute `t_<tpl>` per template (its
//!   name and language) and `count`, written in the template's own transaction. Templates are
//!   visible to every organization beneath their owner, so what one organization can use is
//!   its lineage's catalogs (one `BatchGetItem`, at most 8 keys) and then one page of
//!   templates (one `BatchGetItem`), whatever the depth and however many templates exist
//!   elsewhere in the tree.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::{OrgId, TemplateId, UserId};
use crate::error::{Error, Result};
use crate::store::items::typed_update;
use crate::store::items::{from_item, to_item};
use crate::store::members::member_ops::activity_items;
use crate::store::ops::{Item, key, n};
use crate::store::tx::{self, Guard, Tx, TxError};
use crate::store::{ActivityRecord, OrgRecord, Store};

/// Templates one organization keeps (its catalog is one item).
pub const MAX_TEMPLATES: u32 = 300;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TemplateRecord {
    pub template_id: TemplateId,
    pub org_id: OrgId,
    pub name: String,
    pub language: String,
    pub body: String,
    pub version: u64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub updated_by: UserId,
}

impl crate::store::items::Entity for TemplateRecord {
    const TYPE: &'static str = "message_template";
}

/// What the catalog keeps of a template.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TemplateSummary {
    pub name: String,
    pub language: String,
}

impl TemplateRecord {
    pub fn sk(id: &TemplateId) -> String {
        format!("MSGTPL#{id}")
    }

    pub(crate) fn key_of(owner: &OrgId, id: &TemplateId) -> Item {
        key(OrgRecord::pk(owner), Self::sk(id))
    }

    fn item(&self) -> Result<Item> {
        to_item(self, OrgRecord::pk(&self.org_id), Self::sk(&self.template_id))
    }

    fn summary(&self) -> Result<aws_sdk_dynamodb::types::AttributeValue> {
        let s = TemplateSummary { name: self.name.clone(), language: self.language.clone() };
        serde_dynamo::to_attribute_value(s).map_err(crate::store::error::storage)
    }
}

const CATALOG_SK: &str = "MSGTPLS";
const PREFIX: &str = "t_";

/// The item listing an organization's templates.
struct TemplateCatalogItem;

impl crate::store::items::Entity for TemplateCatalogItem {
    const TYPE: &'static str = "template_catalog";
}

fn catalog_key(owner: &OrgId) -> Item {
    key(OrgRecord::pk(owner), CATALOG_SK)
}

fn attr(id: &TemplateId) -> String {
    format!("{PREFIX}{id}")
}

/// One organization's templates, by id.
pub type TemplateCatalog = BTreeMap<TemplateId, TemplateSummary>;

impl Store {
    pub async fn create_template(&self, tpl: &TemplateRecord, act: &ActivityRecord, lineage: &[OrgId]) -> Result<()> {
        let t = self.table_name();
        let catalog = typed_update::<TemplateCatalogItem>(tx::update_builder(t, catalog_key(&tpl.org_id)))
            .condition_expression("attribute_not_exists(#count) OR #count < :max")
            .update_expression("SET #a = :s, #et = :et ADD #count :one")
            .expression_attribute_names("#a", attr(&tpl.template_id))
            .expression_attribute_names("#count", "count")
            .expression_attribute_values(":s", tpl.summary()?)
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":max", n(i64::from(MAX_TEMPLATES)));
        let mut items = Tx::new();
        items.push(tx::put_new(t, tpl.item()?)?).guarded(Guard::Limit, tx::update(catalog)?);
        items.extend(activity_items(t, act, lineage)?);
        match self.transact(items).await {
            Ok(()) => Ok(()),
            Err(TxError::Conditions(f)) if f.has(Guard::Limit) => Err(Error::validation(
                "too_many_templates",
                "name",
                format!("an organization keeps at most {MAX_TEMPLATES} templates"),
            )),
            Err(TxError::Conditions(_)) => Err(Error::Conflict),
            Err(TxError::Other(e)) => Err(e),
        }
    }

    /// Replace a template still at `expected_version` (`after.version` is the next one).
    pub async fn update_template(
        &self,
        after: &TemplateRecord,
        expected_version: u64,
        act: &ActivityRecord,
        lineage: &[OrgId],
    ) -> Result<()> {
        let t = self.table_name();
        let put = aws_sdk_dynamodb::types::Put::builder()
            .table_name(t)
            .set_item(Some(after.item()?))
            .condition_expression("version = :v")
            .expression_attribute_values(":v", n(expected_version as i64))
            .build()
            .map_err(crate::store::error::storage)?;
        let catalog = typed_update::<TemplateCatalogItem>(tx::update_builder(t, catalog_key(&after.org_id)))
            .update_expression("SET #a = :s, #et = :et")
            .expression_attribute_names("#a", attr(&after.template_id))
            .expression_attribute_values(":s", after.summary()?);
        let mut items =
            vec![aws_sdk_dynamodb::types::TransactWriteItem::builder().put(put).build(), tx::update(catalog)?];
        items.extend(activity_items(t, act, lineage)?);
        tx::versioned(self, items).await
    }

    pub async fn delete_template(
        &self,
        before: &TemplateRecord,
        expected_version: u64,
        act: &ActivityRecord,
        lineage: &[OrgId],
    ) -> Result<()> {
        let t = self.table_name();
        let delete =
            tx::delete_at_version(t, TemplateRecord::key_of(&before.org_id, &before.template_id), expected_version)?;
        let catalog = tx::update_builder(t, catalog_key(&before.org_id))
            .condition_expression("attribute_exists(#a)")
            .update_expression("REMOVE #a ADD #count :minus")
            .expression_attribute_names("#a", attr(&before.template_id))
            .expression_attribute_names("#count", "count")
            .expression_attribute_values(":minus", n(-1));
        let mut items = vec![delete, tx::update(catalog)?];
        items.extend(activity_items(t, act, lineage)?);
        tx::versioned(self, items).await
    }

    pub async fn get_template(&self, owner: &OrgId, id: &TemplateId) -> Result<Option<TemplateRecord>> {
        self.get_item(&OrgRecord::pk(owner), &TemplateRecord::sk(id)).await?.map(from_item).transpose()
    }

    /// Templates by (owner, id), one `BatchGetItem` per 100; missing ones are left out.
    pub async fn templates(&self, keys: &[(OrgId, TemplateId)]) -> Result<Vec<TemplateRecord>> {
        let keys = keys.iter().map(|(o, t)| TemplateRecord::key_of(o, t)).collect();
        self.batch_get(keys).await?.into_iter().map(from_item).collect()
    }

    /// The catalogs of `owners` (an organization's lineage), one `BatchGetItem`.
    pub async fn template_catalogs(&self, owners: &[OrgId]) -> Result<BTreeMap<OrgId, TemplateCatalog>> {
        let items = self.batch_get(owners.iter().map(catalog_key).collect()).await?;
        let mut out = BTreeMap::new();
        for item in items {
            let Some(owner) = OrgRecord::owner_of(&item) else { continue };
            let mut catalog = TemplateCatalog::new();
            for (name, value) in item {
                let Some(id) = name.strip_prefix(PREFIX).and_then(|i| TemplateId::parse(i, "id").ok()) else {
                    continue;
                };
                catalog.insert(id, serde_dynamo::from_attribute_value(value).map_err(crate::store::error::storage)?);
            }
            out.insert(owner, catalog);
        }
        Ok(out)
    }
}
