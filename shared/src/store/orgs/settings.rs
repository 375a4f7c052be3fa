//! Company settings live on the organization's item (`settings`, `locks`, `settings_version`):
//! the access check already reads the organization and every ancestor, so the effective
//! settings of any organization cost no round trip of their own.

use crate::store::ops::{key, n};
use crate::store::tx::{self, TxError};
use crate::store::{ActivityRecord, OrgRecord, Store};
use std::collections::{BTreeMap, BTreeSet};

use crate::domain::settings::{Locks, OrgSettings};
use crate::domain::{EmailType, TypeSetting};
use crate::error::{Error, Result};

/// The condition that the organization's settings are still at `expected` (organizations
/// created before settings existed have no version: that is version 0).
pub(crate) fn version_condition(expected: u64) -> &'static str {
    if expected == 0 {
        "attribute_exists(#pk) AND (attribute_not_exists(settings_version) OR settings_version = :v)"
    } else {
        "attribute_exists(#pk) AND settings_version = :v"
    }
}

fn value<T: serde::Serialize>(v: &T) -> Result<aws_sdk_dynamodb::types::AttributeValue> {
    serde_dynamo::to_attribute_value(v).map_err(crate::store::error::storage)
}

impl Store {
    /// Set attributes of the organization's item if its settings are still at
    /// `expected_version` (the ETag the admin read), bumping the version, with the activity
    /// entry.
    async fn put_company(
        &self,
        org: &OrgRecord,
        expected_version: u64,
        attributes: Vec<(&'static str, aws_sdk_dynamodb::types::AttributeValue)>,
        activity: &ActivityRecord,
    ) -> Result<()> {
        let t = self.table_name();
        let mut sets = vec!["settings_version = :next".to_owned()];
        let mut update = tx::update_builder(t, key(OrgRecord::pk(&org.org_id), OrgRecord::SK))
            .condition_expression(version_condition(expected_version))
            .expression_attribute_names("#pk", crate::store::table::PRIMARY.hash)
            .expression_attribute_values(":v", n(expected_version as i64))
            .expression_attribute_values(":next", n(expected_version as i64 + 1));
        for (i, (name, v)) in attributes.into_iter().enumerate() {
            // Names go through placeholders: `locks` is a reserved word.
            sets.push(format!("#a{i} = :a{i}"));
            update = update
                .expression_attribute_names(format!("#a{i}"), name)
                .expression_attribute_values(format!(":a{i}"), v);
        }
        let update = update.update_expression(format!("SET {}", sets.join(", ")));
        self.update_with_activity(update, org, activity).await
    }

    /// One conditional update and its activity entries in the organization's lineage, as one
    /// transaction; a failed condition means the version read is stale (412).
    pub(in crate::store) async fn update_with_activity(
        &self,
        update: aws_sdk_dynamodb::types::builders::UpdateBuilder,
        org: &OrgRecord,
        activity: &ActivityRecord,
    ) -> Result<()> {
        let mut items = vec![tx::update(update)?];
        for item in activity.items(&org.lineage_ids())? {
            items.push(tx::put_new(self.table_name(), item)?);
        }
        match self.transact(items).await {
            Ok(()) => Ok(()),
            Err(TxError::Conditions(_)) => Err(Error::PreconditionFailed),
            Err(TxError::Other(e)) => Err(e),
        }
    }

    /// Replace the organization's own settings and locks.
    pub async fn put_settings(
        &self,
        org: &OrgRecord,
        expected_version: u64,
        settings: &OrgSettings,
        locks: &Locks,
        activity: &ActivityRecord,
    ) -> Result<()> {
        let attributes = vec![("settings", value(settings)?), ("locks", value(locks)?)];
        self.put_company(org, expected_version, attributes, activity).await
    }

    /// Replace the organization's own email type choices and the types it locks.
    pub async fn put_email_types(
        &self,
        org: &OrgRecord,
        expected_version: u64,
        types: &BTreeMap<EmailType, TypeSetting>,
        locks: &BTreeSet<EmailType>,
        activity: &ActivityRecord,
    ) -> Result<()> {
        let attributes = vec![("email_types", value(types)?), ("email_locks", value(locks)?)];
        self.put_company(org, expected_version, attributes, activity).await
    }
}
