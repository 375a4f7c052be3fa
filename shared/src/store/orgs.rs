//! Organizations, memberships and the activity log.
//!
//! Keys: organization `ORG#<org>` / `ORG`; membership `USER#<user>` / `MEMBER#<org>` with
//! GSI1 `ORG#<org>` / `MEMBER#<user>` (an organization's members); activity
//! `ORG#<org>` / `ACT#<ulid>`.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::Store;
use super::items::{from_item, to_item, with_gsi1};
use super::ops::{Item, key};
use crate::domain::{OrgId, Role, UserId};
use crate::error::Result;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Plan {
    Trial,
    Active,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum OrgStatus {
    Active,
    Suspended,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OrgRecord {
    pub org_id: OrgId,
    pub name: String,
    pub parent_id: Option<OrgId>,
    pub root_id: OrgId,
    pub depth: u32,
    pub plan: Plan,
    pub trial_ends_at: Option<DateTime<Utc>>,
    pub status: OrgStatus,
    pub owner_id: UserId,
    pub created_at: DateTime<Utc>,
    pub version: u64,
}

impl OrgRecord {
    pub fn pk(id: &OrgId) -> String {
        format!("ORG#{id}")
    }
    pub const SK: &'static str = "ORG";

    pub(crate) fn item(&self) -> Result<Item> {
        to_item(self, Self::pk(&self.org_id), Self::SK.to_owned())
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MembershipRecord {
    pub user_id: UserId,
    pub org_id: OrgId,
    pub roles: Vec<Role>,
    pub joined_at: DateTime<Utc>,
}

impl MembershipRecord {
    pub const SK_PREFIX: &'static str = "MEMBER#";

    pub fn pk(user: &UserId) -> String {
        format!("USER#{user}")
    }
    pub fn sk(org: &OrgId) -> String {
        format!("{}{org}", Self::SK_PREFIX)
    }
    pub fn gsi1pk(org: &OrgId) -> String {
        OrgRecord::pk(org)
    }
    pub fn gsi1sk(user: &UserId) -> String {
        format!("{}{user}", Self::SK_PREFIX)
    }

    pub(crate) fn item(&self) -> Result<Item> {
        let item = to_item(self, Self::pk(&self.user_id), Self::sk(&self.org_id))?;
        Ok(with_gsi1(item, Self::gsi1pk(&self.org_id), Self::gsi1sk(&self.user_id)))
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ActivityRecord {
    pub activity_id: String,
    pub org_id: OrgId,
    pub actor_id: UserId,
    pub action: String,
    pub target: Option<String>,
    pub at: DateTime<Utc>,
}

impl ActivityRecord {
    pub const SK_PREFIX: &'static str = "ACT#";

    pub(crate) fn item(&self) -> Result<Item> {
        to_item(self, OrgRecord::pk(&self.org_id), format!("{}{}", Self::SK_PREFIX, self.activity_id))
    }
}

impl Store {
    pub async fn get_membership(&self, user: &UserId, org: &OrgId) -> Result<Option<MembershipRecord>> {
        self.get_item(&MembershipRecord::pk(user), &MembershipRecord::sk(org)).await?.map(from_item).transpose()
    }

    /// Any one membership of a user (the oldest-keyed), for a client with no last organization.
    pub async fn first_membership(&self, user: &UserId) -> Result<Option<MembershipRecord>> {
        let page = self
            .query_prefix(
                None,
                &MembershipRecord::pk(user),
                MembershipRecord::SK_PREFIX,
                super::QueryDir::Forward,
                1,
                None,
            )
            .await?;
        page.items.into_iter().next().map(from_item).transpose()
    }

    /// One page of a user's memberships (one query, strongly consistent).
    pub async fn memberships(
        &self,
        user: &UserId,
        limit: i32,
        cursor: Option<&super::Cursor>,
    ) -> Result<super::Page<MembershipRecord>> {
        let page = self
            .query_prefix(
                None,
                &MembershipRecord::pk(user),
                MembershipRecord::SK_PREFIX,
                super::QueryDir::Forward,
                limit,
                cursor,
            )
            .await?;
        Ok(super::Page { items: page.items.into_iter().map(from_item).collect::<Result<_>>()?, next: page.next })
    }

    /// Many organizations by id in one round trip per 100.
    pub async fn get_orgs(&self, ids: &[OrgId]) -> Result<Vec<OrgRecord>> {
        let keys = ids.iter().map(|id| key(OrgRecord::pk(id), OrgRecord::SK)).collect();
        self.batch_get(keys).await?.into_iter().map(from_item).collect()
    }

    pub async fn get_org(&self, id: &OrgId) -> Result<Option<OrgRecord>> {
        self.get_item(&OrgRecord::pk(id), OrgRecord::SK).await?.map(from_item).transpose()
    }
}
