//! Writes to the organization tree: creating organizations and sub-accounts, renaming,
//! suspending, and switching a session's active organization. Each is one transaction that
//! also writes its activity entries, so a change and its record exist together or not at all.

use crate::domain::{ClientType, OrgId, UserId};
use crate::error::{Error, Result};
use crate::store::ops::{key, s};
use crate::store::tx::{self, Guard, Tx, TxError};
use crate::store::{ActivityRecord, MembershipRecord, OrgRecord, OrgStatus, SessionRecord, Store, UserRecord};

/// A change to an organization's own item.
#[derive(Debug, Clone)]
pub enum OrgChange {
    Rename(String),
    Status(OrgStatus),
}

pub(crate) fn status_str(s: OrgStatus) -> &'static str {
    match s {
        OrgStatus::Active => "active",
        OrgStatus::Suspended => "suspended",
        OrgStatus::Closed => "closed",
    }
}

impl Store {
    /// Create `org` with its owner's membership. For a sub-account the parent must exist and
    /// be active when the transaction commits; a concurrent change to the parent cannot slip
    /// in between, and nothing shared is updated, so concurrent creations cannot corrupt the tree.
    pub async fn create_org(
        &self,
        org: &OrgRecord,
        owner: &MembershipRecord,
        seats: &crate::store::SeatsRecord,
        activity: &ActivityRecord,
    ) -> Result<()> {
        let t = self.table_name();
        let mut items = Tx::new();
        if let Some(parent) = &org.parent_id {
            items.guarded(
                Guard::Open,
                tx::check(
                    t,
                    key(OrgRecord::pk(parent), OrgRecord::SK),
                    "attribute_exists(#pk) AND #status = :active",
                    &[("#status", "status")],
                    &[(":active", "active")],
                )?,
            );
        }
        items.extend(crate::store::orgs::directory::new_org_items(t, org)?);
        items.push(tx::put_new(t, owner.item()?)?);
        items.push(tx::put_new(t, seats.item(&org.org_id)?)?);
        let lineage = org.lineage_ids();
        for item in activity.items(&lineage)? {
            items.push(tx::put_new(t, item)?);
        }
        items.extend(crate::store::members::member_search::puts(t, owner)?);
        let with_parent = org.parent_id.is_some();
        match self.transact(items).await {
            Ok(()) => Ok(()),
            Err(TxError::Conditions(f)) if with_parent && f.maybe(Guard::Open) => Err(Error::OrgSuspended),
            Err(TxError::Conditions(_)) => Err(Error::Conflict),
            Err(TxError::Other(e)) => Err(e),
        }
    }

    /// Apply `change` if the organization is still at `expected_version`.
    pub async fn change_org(
        &self,
        org: &OrgRecord,
        expected_version: u64,
        change: &OrgChange,
        activity: &ActivityRecord,
    ) -> Result<()> {
        let t = self.table_name();
        let mut b = tx::update_builder(t, key(OrgRecord::pk(&org.org_id), OrgRecord::SK))
            .condition_expression("version = :v")
            .expression_attribute_values(":v", crate::store::ops::n(expected_version as i64))
            .expression_attribute_values(":one", crate::store::ops::n(1));
        b = match change {
            OrgChange::Rename(_) => b
                .update_expression("SET #name = :x, version = version + :one")
                .expression_attribute_names("#name", "name"),
            OrgChange::Status(_) => b
                .update_expression("SET #status = :x, version = version + :one")
                .expression_attribute_names("#status", "status"),
        };
        let value = match change {
            OrgChange::Rename(name) => name.clone(),
            OrgChange::Status(st) => status_str(*st).to_owned(),
        };
        let mut items = vec![tx::update(b.expression_attribute_values(":x", s(value)))?];
        if let OrgChange::Rename(name) = change {
            items.extend(rename_entries(t, org, name)?);
        }
        let lineage = org.lineage_ids();
        for item in activity.items(&lineage)? {
            items.push(tx::put_new(t, item)?);
        }
        match self.transact(items).await {
            Ok(()) => Ok(()),
            Err(TxError::Conditions(_)) => Err(Error::Conflict),
            Err(TxError::Other(e)) => Err(e),
        }
    }

    /// Replace a top-level organization's aliases (and their search entries) if its settings
    /// are still at `expected_version`; the settings version moves on.
    pub async fn set_aliases(
        &self,
        org: &OrgRecord,
        expected_version: u64,
        aliases: &[String],
        activity: &ActivityRecord,
    ) -> Result<()> {
        let t = self.table_name();
        let condition = crate::store::orgs::settings::version_condition(expected_version);
        let list = aws_sdk_dynamodb::types::AttributeValue::L(aliases.iter().map(s).collect());
        let update = tx::update_builder(t, key(OrgRecord::pk(&org.org_id), OrgRecord::SK))
            .condition_expression(condition)
            .update_expression("SET aliases = :a, settings_version = :next")
            .expression_attribute_names("#pk", crate::store::table::PRIMARY.hash)
            .expression_attribute_values(":v", crate::store::ops::n(expected_version as i64))
            .expression_attribute_values(":next", crate::store::ops::n(expected_version as i64 + 1))
            .expression_attribute_values(":a", list);
        let mut items = vec![tx::update(update)?];
        let old = crate::store::orgs::directory::name_entries(org, &org.name, &org.company.aliases);
        let new = crate::store::orgs::directory::name_entries(org, &org.name, aliases);
        items.extend(entry_changes(t, &old, &new)?);
        for item in activity.items(&org.lineage_ids())? {
            items.push(tx::put_new(t, item)?);
        }
        match self.transact(items).await {
            Ok(()) => Ok(()),
            Err(TxError::Conditions(_)) => Err(Error::PreconditionFailed),
            Err(TxError::Other(e)) => Err(e),
        }
    }

    /// Point one session at `org` and remember it as this client type's last organization.
    pub async fn switch_org(
        &self,
        session: &SessionRecord,
        org: &OrgId,
        client: ClientType,
        acting_as: Option<&UserId>,
    ) -> Result<()> {
        let t = self.table_name();
        let user = &session.user_id;
        let session_update =
            tx::update_builder(t, key(SessionRecord::pk(user), SessionRecord::sk(&session.session_id)))
                .condition_expression("attribute_exists(#pk)")
                .expression_attribute_names("#pk", crate::store::table::PRIMARY.hash)
                .expression_attribute_values(":o", s(org.as_str()));
        let session_update = match acting_as {
            Some(a) => session_update
                .update_expression("SET active_org = :o, acting_as = :a")
                .expression_attribute_values(":a", s(a.as_str())),
            None => session_update.update_expression("SET active_org = :o REMOVE acting_as"),
        };
        let profile_update = tx::update_builder(t, key(UserRecord::pk(user), UserRecord::SK))
            .update_expression("SET last_org.#c = :o")
            .expression_attribute_names("#c", client.as_str())
            .expression_attribute_values(":o", s(org.as_str()));
        match self.transact(vec![tx::update(session_update)?, tx::update(profile_update)?]).await {
            Ok(()) => Ok(()),
            Err(TxError::Conditions(_)) => Err(Error::SessionEnded),
            Err(TxError::Other(e)) => Err(e),
        }
    }
}

/// The search entries a rename deletes and writes.
fn rename_entries(t: &str, org: &OrgRecord, name: &str) -> Result<Vec<aws_sdk_dynamodb::types::TransactWriteItem>> {
    let old = crate::store::orgs::directory::name_entries(org, &org.name, &[]);
    let new = crate::store::orgs::directory::name_entries(org, name, &[]);
    entry_changes(t, &old, &new)
}

/// Deletes of entries in `old` but not `new`, puts of the others in `new`.
fn entry_changes(
    t: &str,
    old: &[crate::store::NameEntryRecord],
    new: &[crate::store::NameEntryRecord],
) -> Result<Vec<aws_sdk_dynamodb::types::TransactWriteItem>> {
    let keys = |v: &[crate::store::NameEntryRecord]| -> Vec<crate::store::ops::Item> {
        v.iter().filter_map(|e| crate::store::NameEntryRecord::keys(&e.org_id, &e.name)).collect()
    };
    let (old_keys, new_keys) = (keys(old), keys(new));
    let mut items = Vec::new();
    for k in old_keys.iter().filter(|k| !new_keys.contains(k)) {
        let d = aws_sdk_dynamodb::types::Delete::builder()
            .table_name(t)
            .set_key(Some(k.clone()))
            .build()
            .map_err(crate::store::error::storage)?;
        items.push(aws_sdk_dynamodb::types::TransactWriteItem::builder().delete(d).build());
    }
    let mut seen = Vec::new();
    for e in new {
        if let Some(item) = e.item()?
            && let Some(k) = crate::store::NameEntryRecord::keys(&e.org_id, &e.name)
            && !seen.contains(&k)
        {
            seen.push(k);
            items.push(tx::put(t, item)?);
        }
    }
    Ok(items)
}
