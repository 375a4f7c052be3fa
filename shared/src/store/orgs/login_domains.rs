//! Login domains: unique across all organizations, through a guard item per domain that moves
//! in the same transaction as the organization's setting.

use serde::{Deserialize, Serialize};

use crate::domain::{LoginDomain, OrgId};
use crate::error::{Error, Result};
use crate::store::items::{from_item, to_item};
use crate::store::ops::{key, n, s};
use crate::store::tx::{self, Guard, Tx, TxError};
use crate::store::{ActivityRecord, OrgRecord, Store};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LoginDomainRecord {
    pub org_id: OrgId,
    pub domain: LoginDomain,
}

impl crate::store::items::Entity for LoginDomainRecord {
    const TYPE: &'static str = "login_domain";
}

impl LoginDomainRecord {
    pub fn pk(d: &LoginDomain) -> String {
        format!("LOGINDOMAIN#{}", d.as_str())
    }
    pub const SK: &'static str = "LOGINDOMAIN";
}

impl Store {
    /// The organization that owns a login domain.
    pub async fn login_domain_owner(&self, d: &LoginDomain) -> Result<Option<OrgId>> {
        let item = self.get_item(&LoginDomainRecord::pk(d), LoginDomainRecord::SK).await?;
        Ok(item.map(from_item::<LoginDomainRecord>).transpose()?.map(|r| r.org_id))
    }

    /// Set, change or clear the organization's login domain if it is still at
    /// `expected_version`: the old guard goes, the new one must be free.
    pub async fn set_login_domain(
        &self,
        org: &OrgRecord,
        expected_version: u64,
        new: Option<&LoginDomain>,
        activity: &ActivityRecord,
    ) -> Result<()> {
        let t = self.table_name();
        let update = tx::update_builder(t, key(OrgRecord::pk(&org.org_id), OrgRecord::SK))
            .condition_expression("version = :v")
            .expression_attribute_values(":v", n(expected_version as i64))
            .expression_attribute_values(":one", n(1));
        let update = match new {
            Some(d) => update
                .update_expression("SET login_domain = :d, version = version + :one")
                .expression_attribute_values(":d", s(d.as_str())),
            None => update.update_expression("REMOVE login_domain SET version = version + :one"),
        };
        let mut items = Tx::new();
        // The new domain's guard tells a taken domain from a concurrent change.
        if let Some(d) = new {
            let record = LoginDomainRecord { org_id: org.org_id.clone(), domain: d.clone() };
            let guard = to_item(&record, LoginDomainRecord::pk(d), LoginDomainRecord::SK.into())?;
            items.guarded(Guard::Name, tx::put_new(t, guard)?);
        }
        items.push(tx::update(update)?);
        if let Some(old) = &org.login_domain {
            let d = aws_sdk_dynamodb::types::Delete::builder()
                .table_name(t)
                .set_key(Some(key(LoginDomainRecord::pk(old), LoginDomainRecord::SK)))
                .condition_expression("org_id = :o")
                .expression_attribute_values(":o", s(org.org_id.as_str()))
                .build()
                .map_err(crate::store::error::storage)?;
            items.push(aws_sdk_dynamodb::types::TransactWriteItem::builder().delete(d).build());
        }
        for item in activity.items(&org.lineage_ids())? {
            items.push(tx::put_new(t, item)?);
        }
        match self.transact(items).await {
            Ok(()) => Ok(()),
            Err(TxError::Conditions(f)) if f.has(Guard::Name) => Err(Error::LoginDomainTaken),
            Err(TxError::Conditions(_)) => Err(Error::Conflict),
            Err(TxError::Other(e)) => Err(e),
        }
    }
}
