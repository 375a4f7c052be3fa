//! Links from people to shared (service) accounts they may act as.
//!
//! Key: `USER#<person>` / `ACTAS#<org>#<shared account>` (what a person can act as: one
//! query; the per-request check: one GetItem); GSI1 `SHARED#<org>#<shared account>` /
//! `LINK#<person>` (who is linked to a shared account).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::{OrgId, UserId};
use crate::error::{Error, Result};
use crate::store::items::{from_item, to_item, with_gsi1};
use crate::store::ops::{Item, key};
use crate::store::table::GSI1;
use crate::store::{QueryDir, Store};

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SharedLinkRecord {
    pub org_id: OrgId,
    pub shared_user_id: UserId,
    /// The shared account's display name when linked.
    pub shared_name: String,
    pub linked_user_id: UserId,
    pub linked_at: DateTime<Utc>,
}

impl crate::store::items::Entity for SharedLinkRecord {
    const TYPE: &'static str = "shared_link";
}

impl SharedLinkRecord {
    pub const SK_PREFIX: &'static str = "ACTAS#";

    pub fn key(person: &UserId, org: &OrgId, shared: &UserId) -> Item {
        key(format!("USER#{person}"), format!("{}{org}#{shared}", Self::SK_PREFIX))
    }

    pub(crate) fn item(&self) -> Result<Item> {
        let item = to_item(
            self,
            format!("USER#{}", self.linked_user_id),
            format!("{}{}#{}", Self::SK_PREFIX, self.org_id, self.shared_user_id),
        )?;
        Ok(with_gsi1(
            item,
            format!("SHARED#{}#{}", self.org_id, self.shared_user_id),
            format!("LINK#{}", self.linked_user_id),
        ))
    }
}

impl Store {
    pub async fn put_shared_link(&self, link: &SharedLinkRecord) -> Result<()> {
        if self.put_new(link.item()?).await? { Ok(()) } else { Err(Error::AlreadyMember) }
    }

    pub async fn get_shared_link(
        &self,
        person: &UserId,
        org: &OrgId,
        shared: &UserId,
    ) -> Result<Option<SharedLinkRecord>> {
        let k = SharedLinkRecord::key(person, org, shared);
        let (pk, sk) = (k["pk"].as_s().cloned().unwrap_or_default(), k["sk"].as_s().cloned().unwrap_or_default());
        self.get_item(&pk, &sk).await?.map(from_item).transpose()
    }

    pub async fn delete_shared_links(&self, links: &[SharedLinkRecord]) -> Result<()> {
        let keys =
            links.iter().map(|l| SharedLinkRecord::key(&l.linked_user_id, &l.org_id, &l.shared_user_id)).collect();
        self.batch_write(Vec::new(), keys).await
    }

    /// Everyone linked to a shared account (an index read).
    pub async fn links_of_shared(&self, org: &OrgId, shared: &UserId) -> Result<Vec<SharedLinkRecord>> {
        let page = self
            .query_prefix(Some(&GSI1), &format!("SHARED#{org}#{shared}"), "LINK#", QueryDir::Forward, 1000, None)
            .await?;
        page.items.into_iter().map(from_item).collect()
    }

    /// The shared accounts a person can act as.
    pub async fn links_of_person(&self, person: &UserId) -> Result<Vec<SharedLinkRecord>> {
        let page = self
            .query_prefix(None, &format!("USER#{person}"), SharedLinkRecord::SK_PREFIX, QueryDir::Forward, 1000, None)
            .await?;
        page.items.into_iter().map(from_item).collect()
    }
}
