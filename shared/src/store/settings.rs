//! Company settings live on the organization's item (`settings`, `locks`, `settings_version`):
//! the access check already reads the organization and every ancestor, so the effective
//! settings of any organization cost no round trip of their own.

use super::ops::{key, n};
use super::tx::{self, TxError};
use super::{ActivityRecord, OrgRecord, Store};
use crate::domain::settings::{Locks, OrgSettings};
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

impl Store {
    /// Replace the organization's own settings and locks if they are still at
    /// `expected_version` (the ETag the admin read), with the activity entry.
    pub async fn put_settings(
        &self,
        org: &OrgRecord,
        expected_version: u64,
        settings: &OrgSettings,
        locks: &Locks,
        activity: &ActivityRecord,
    ) -> Result<()> {
        let t = self.table_name();
        let condition = version_condition(expected_version);
        let settings = serde_dynamo::to_attribute_value(settings).map_err(super::error::storage)?;
        let locks = serde_dynamo::to_attribute_value(locks).map_err(super::error::storage)?;
        let update = tx::update_builder(t, key(OrgRecord::pk(&org.org_id), OrgRecord::SK))
            .condition_expression(condition)
            .update_expression("SET #settings = :s, #locks = :l, settings_version = :next")
            .expression_attribute_names("#settings", "settings")
            .expression_attribute_names("#locks", "locks")
            .expression_attribute_names("#pk", super::table::PRIMARY.hash)
            .expression_attribute_values(":v", n(expected_version as i64))
            .expression_attribute_values(":next", n(expected_version as i64 + 1))
            .expression_attribute_values(":s", settings)
            .expression_attribute_values(":l", locks);
        let mut items = vec![tx::update(update)?];
        for item in activity.items(&org.lineage_ids())? {
            items.push(tx::put_new(t, item)?);
        }
        match self.transact(items).await {
            Ok(()) => Ok(()),
            Err(TxError::Conditions(_)) => Err(Error::PreconditionFailed),
            Err(TxError::Other(e)) => Err(e),
        }
    }
}
