//! Organizations (a tree of sub-accounts), memberships, and the activity feed.
//!
//! Keys:
//! - organization `ORG#<org>` / `ORG`; GSI1 `TREE#<root>` / `<tree path>` (a subtree is a
//!   prefix query); GSI2 `CHILDREN#<parent>` / `<org>` (direct children);
//! - membership `USER#<user>` / `MEMBER#<org>`; GSI1 `ORG#<org>` / `MEMBER#<user>`; owners
//!   and admins also GSI2 `ADMINS#<org>` / `MEMBER#<user>`;
//! - activity `FEED#<org>` / `ACT#<ulid>` (GSI1 `ACTADDR#<address>` when it names one), written once for the organization itself and once
//!   for each ancestor (at most 8 items, in the transaction of the change), so any admin's
//!   feed over their whole subtree is one time-ordered query.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::{Email, OrgId, Role, UserId};
use crate::domain::{Manage, Scope};
use crate::error::Result;
use crate::store::identity::merge_job::{MergeLockRecord, split_lock};
use crate::store::items::{from_item, to_item, with_gsi1};
use crate::store::ops::{Item, key};
use crate::store::table::{GSI1, GSI2};
use crate::store::{Cursor, Page, QueryDir, Store};

/// Deepest level below the top organization (0): eight levels in all.
pub const MAX_DEPTH: u32 = 7;

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
    /// Closed with its subtree: nobody below works in it; restorable until it is purged.
    Closed,
}

/// Why and until when an organization is closed.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Closure {
    pub closed_at: DateTime<Utc>,
    pub closed_by: UserId,
    /// From this moment the purge deletes it, with everything beneath it.
    pub purge_after: DateTime<Utc>,
    /// What a restore brings back (a suspended sub-account stays suspended).
    pub previous: OrgStatus,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OrgRecord {
    pub org_id: OrgId,
    pub name: String,
    pub parent_id: Option<OrgId>,
    pub root_id: OrgId,
    /// Root first, parent last; empty for a top-level organization. Fixed for life (no moves).
    #[serde(default)]
    pub ancestors: Vec<OrgId>,
    pub depth: u32,
    pub plan: Plan,
    pub trial_ends_at: Option<DateTime<Utc>>,
    pub status: OrgStatus,
    pub owner_id: UserId,
    pub created_at: DateTime<Utc>,
    /// Optimistic-concurrency version, bumped by every change.
    pub version: u64,
    /// Language of the organization's emails (invitations).
    #[serde(default)]
    pub language: crate::domain::Language,
    /// People without an address log in as `login_domain\username`.
    #[serde(default)]
    pub login_domain: Option<crate::domain::LoginDomain>,
    /// Set while the organization is closed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub closure: Option<Closure>,
    /// Company settings, locks, verified domains and aliases (top-level attributes).
    #[serde(flatten)]
    pub company: CompanyFields,
}

impl crate::store::items::Entity for OrgRecord {
    const TYPE: &'static str = "organization";
}

/// What the company settings keep on the organization's item, so that the access check's
/// read of the lineage brings every ancestor's settings along at no extra round trip.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct CompanyFields {
    /// The settings this organization sets itself; unset ones inherit.
    #[serde(default)]
    pub settings: crate::domain::settings::OrgSettings,
    /// Settings fixed for every organization beneath this one.
    #[serde(default)]
    pub locks: crate::domain::settings::Locks,
    /// Bumped by every change of `settings` or `locks`: the settings document's ETag.
    #[serde(default)]
    pub settings_version: u64,
    /// Verified company domains (each owned through its guard item).
    #[serde(default)]
    pub company_domains: Vec<crate::domain::DomainName>,
    /// Other names the organization is known by (top-level organizations only).
    #[serde(default)]
    pub aliases: Vec<String>,
    /// Per email type, what this organization chose (unset types inherit).
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty", deserialize_with = "known_types")]
    pub email_types: std::collections::BTreeMap<crate::domain::EmailType, crate::domain::TypeSetting>,
    /// Email types fixed for every organization beneath this one.
    #[serde(default, skip_serializing_if = "std::collections::BTreeSet::is_empty", deserialize_with = "known_locks")]
    pub email_locks: std::collections::BTreeSet<crate::domain::EmailType>,
}

/// Email types are read by key, skipping keys this build does not know (a type retired or
/// added by a newer version), so that they never make the organization unreadable.
fn known_types<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> std::result::Result<std::collections::BTreeMap<crate::domain::EmailType, crate::domain::TypeSetting>, D::Error> {
    let raw = std::collections::BTreeMap::<String, crate::domain::TypeSetting>::deserialize(d)?;
    Ok(raw.into_iter().filter_map(|(k, v)| crate::domain::EmailType::parse(&k, "type").ok().map(|t| (t, v))).collect())
}

fn known_locks<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> std::result::Result<std::collections::BTreeSet<crate::domain::EmailType>, D::Error> {
    let raw = Vec::<String>::deserialize(d)?;
    Ok(raw.iter().filter_map(|k| crate::domain::EmailType::parse(k, "type").ok()).collect())
}

impl OrgRecord {
    pub fn pk(id: &OrgId) -> String {
        format!("ORG#{id}")
    }
    pub const SK: &'static str = "ORG";

    /// The organization whose partition (`ORG#<org>`) an item is in.
    pub(crate) fn owner_of(item: &Item) -> Option<OrgId> {
        let pk = item.get(crate::store::table::PRIMARY.hash)?.as_s().ok()?;
        OrgId::parse(pk.strip_prefix("ORG#")?, "org_id").ok()
    }

    /// `org_a/org_b/…/self/`: a descendant's path starts with its ancestors' paths.
    pub fn tree_path(&self) -> String {
        let mut p = String::new();
        for id in self.ancestors.iter().chain(std::iter::once(&self.org_id)) {
            p.push_str(id.as_str());
            p.push('/');
        }
        p
    }

    pub fn has_ancestor(&self, id: &OrgId) -> bool {
        self.ancestors.contains(id)
    }

    /// Ancestors and the organization itself, root first.
    pub fn lineage(&self) -> impl Iterator<Item = &OrgId> {
        self.ancestors.iter().chain(std::iter::once(&self.org_id))
    }

    /// [`Self::lineage`] as owned ids: the feeds an activity entry here is written to.
    pub fn lineage_ids(&self) -> Vec<OrgId> {
        self.lineage().cloned().collect()
    }

    pub(crate) fn item(&self) -> Result<Item> {
        let mut item = with_gsi1(
            to_item(self, Self::pk(&self.org_id), Self::SK.to_owned())?,
            format!("TREE#{}", self.root_id),
            self.tree_path(),
        );
        if let Some(parent) = &self.parent_id {
            item.insert(GSI2.key.hash.into(), crate::store::ops::s(format!("CHILDREN#{parent}")));
            item.insert(GSI2.key.range.into(), crate::store::ops::s(self.org_id.as_str()));
        }
        Ok(item)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MembershipRecord {
    pub user_id: UserId,
    pub org_id: OrgId,
    /// The organization's ancestors (root first), so reach can be computed without reading it.
    #[serde(default)]
    pub org_ancestors: Vec<OrgId>,
    pub roles: Vec<Role>,
    #[serde(default)]
    pub scope: Scope,
    #[serde(default)]
    pub manage: Manage,
    pub joined_at: DateTime<Utc>,
    #[serde(default)]
    pub status: MemberStatus,
    /// The member's address and name when they joined, for the members page and its search.
    #[serde(default)]
    pub member_email: Option<Email>,
    #[serde(default)]
    pub member_name: Option<String>,
    /// `logindomain\username` of a login without an address.
    #[serde(default)]
    pub member_login: Option<String>,
    /// A shared (service) account: linked users may act in its name.
    #[serde(default)]
    pub shared: bool,
    /// Sessions begun before this point (a session id minted when the member was signed out
    /// or deactivated) get nothing from the membership: read by every access check, so it
    /// applies on the next request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sessions_before: Option<crate::domain::SessionId>,
}

impl crate::store::items::Entity for MembershipRecord {
    const TYPE: &'static str = "membership";
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MemberStatus {
    #[default]
    Active,
    /// Cannot log in to or switch into the organization until reactivated.
    Deactivated,
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
    /// The `gsi2` partition of an organization's owners and admins.
    pub fn admins_of(org: &OrgId) -> String {
        format!("ADMINS#{org}")
    }

    /// The owner's membership of a new organization.
    pub fn owner(user: &UserId, org: &OrgRecord, at: DateTime<Utc>) -> Self {
        Self::new(user, org, vec![Role::Owner, Role::Admin], Scope::Subtree, at)
    }

    pub fn new(user: &UserId, org: &OrgRecord, roles: Vec<Role>, scope: Scope, at: DateTime<Utc>) -> Self {
        MembershipRecord {
            user_id: user.clone(),
            org_id: org.org_id.clone(),
            org_ancestors: org.ancestors.clone(),
            roles,
            scope,
            manage: Manage::All,
            joined_at: at,
            status: MemberStatus::Active,
            member_email: None,
            member_name: None,
            member_login: None,
            shared: false,
            sessions_before: None,
        }
    }

    /// With change rights below (for admins).
    pub fn managing(mut self, manage: Manage) -> Self {
        self.manage = manage;
        self
    }

    /// With the member's address and name, for listing and search.
    pub fn described(mut self, email: &Email, name: &str) -> Self {
        self.member_email = Some(email.clone());
        self.member_name = Some(name.to_owned());
        self
    }

    /// With the login's address (or, for a username login, just its name; the username is
    /// found through the search text).
    pub fn described_login(mut self, user: &crate::store::UserRecord, name: &str) -> Self {
        self.member_email = user.email.clone();
        self.member_name = Some(name.to_owned());
        self.member_login = user.username.clone();
        self
    }

    pub fn is_owner(&self) -> bool {
        self.roles.contains(&Role::Owner)
    }

    /// `org_a/…/org_x/`, the tree path of the membership's organization.
    pub fn org_tree_path(&self) -> String {
        let mut p = String::new();
        for id in self.org_ancestors.iter().chain(std::iter::once(&self.org_id)) {
            p.push_str(id.as_str());
            p.push('/');
        }
        p
    }

    /// The top organization of the membership's tree.
    pub fn root_id(&self) -> &OrgId {
        self.org_ancestors.first().unwrap_or(&self.org_id)
    }

    pub(crate) fn item(&self) -> Result<Item> {
        let mut item = to_item(self, Self::pk(&self.user_id), Self::sk(&self.org_id))?;
        // Owners and admins are also indexed by organization on their own, so "the admins of
        // an organization" is one short read at any number of members.
        if crate::domain::is_admin(&self.roles) {
            item.insert(GSI2.key.hash.into(), crate::store::ops::s(Self::admins_of(&self.org_id)));
            item.insert(GSI2.key.range.into(), crate::store::ops::s(Self::gsi1sk(&self.user_id)));
        }
        Ok(with_gsi1(item, Self::gsi1pk(&self.org_id), Self::gsi1sk(&self.user_id)))
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ActivityRecord {
    pub activity_id: String,
    pub org_id: OrgId,
    pub actor_id: UserId,
    /// The login that acted, when it has since been merged into `actor_id` (set when read).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merged_actor_id: Option<UserId>,
    /// The person, when they acted in the name of the shared account `actor_id`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub real_actor_id: Option<UserId>,
    /// e.g. `organization.created`, `organization.renamed`, `member.invited`.
    pub action: String,
    pub target: Option<String>,
    pub at: DateTime<Utc>,
}

impl crate::store::items::Entity for ActivityRecord {
    const TYPE: &'static str = "activity";
}

impl ActivityRecord {
    pub const SK_PREFIX: &'static str = "ACT#";

    pub fn feed_pk(org: &OrgId) -> String {
        format!("FEED#{org}")
    }

    /// One item per feed that shows it: the organization's and each ancestor's. An entry
    /// naming an address is also indexed under it (`gsi1`), so erasing that person finds it
    /// in every organization, including those they left or never joined.
    pub(crate) fn items(&self, lineage: &[OrgId]) -> Result<Vec<Item>> {
        let address = self.target.as_deref().and_then(|t| Email::parse(t, "target").ok());
        lineage
            .iter()
            .map(|feed| {
                let item = to_item(self, Self::feed_pk(feed), format!("{}{}", Self::SK_PREFIX, self.activity_id))?;
                Ok(match &address {
                    Some(a) => {
                        with_gsi1(item, Self::by_address(a), format!("{}{feed}#{}", Self::SK_PREFIX, self.activity_id))
                    }
                    None => item,
                })
            })
            .collect()
    }

    /// The index partition of the entries naming `address`.
    pub fn by_address(address: &Email) -> String {
        format!("ACTADDR#{address}")
    }
}

/// What [`Store::lineage`] reads.
#[derive(Debug)]
pub struct Lineage {
    pub memberships: Vec<MembershipRecord>,
    pub lock: Option<MergeLockRecord>,
    /// The organization's ancestors' records, in no particular order.
    pub ancestors: Vec<OrgRecord>,
}

impl Store {
    pub async fn get_membership(&self, user: &UserId, org: &OrgId) -> Result<Option<MembershipRecord>> {
        self.get_item(&MembershipRecord::pk(user), &MembershipRecord::sk(org)).await?.map(from_item).transpose()
    }

    /// What decides the user's access to `org`: their memberships in it and its ancestors,
    /// the ancestors' records (a suspended one locks its subtree) and the lock of a merge of
    /// logins in progress, if any: one round trip (≤ 16 keys).
    pub async fn lineage(&self, user: &UserId, org: &OrgRecord) -> Result<Lineage> {
        let mut keys: Vec<_> =
            org.lineage().map(|o| key(MembershipRecord::pk(user), MembershipRecord::sk(o))).collect();
        keys.push(key(MergeLockRecord::pk(user), MergeLockRecord::SK));
        keys.extend(org.ancestors.iter().map(|a| key(OrgRecord::pk(a), OrgRecord::SK)));
        let (orgs, rest): (Vec<Item>, Vec<Item>) = self.batch_get(keys).await?.into_iter().partition(|i| {
            i.get(crate::store::table::PRIMARY.range).and_then(|v| v.as_s().ok()).is_some_and(|sk| sk == OrgRecord::SK)
        });
        let (memberships, lock) = split_lock(rest)?;
        let ancestors = orgs.into_iter().map(from_item).collect::<Result<_>>()?;
        Ok(Lineage { memberships, lock, ancestors })
    }

    /// Any one membership of a user (the oldest-keyed), for a client with no last organization.
    pub async fn first_membership(&self, user: &UserId) -> Result<Option<MembershipRecord>> {
        let page = self
            .query_prefix(None, &MembershipRecord::pk(user), MembershipRecord::SK_PREFIX, QueryDir::Forward, 1, None)
            .await?;
        page.items.into_iter().find(|i| !MergeLockRecord::is_lock(i)).map(from_item).transpose()
    }

    /// One page of a user's memberships (one query, strongly consistent).
    pub async fn memberships(
        &self,
        user: &UserId,
        limit: i32,
        cursor: Option<&Cursor>,
    ) -> Result<Page<MembershipRecord>> {
        let page = self.membership_items(user, limit, cursor).await?;
        Ok(Page { items: split_lock(page.items)?.0, next: page.next })
    }

    /// A page of the raw items of a user's membership range (memberships and a merge lock).
    async fn membership_items(&self, user: &UserId, limit: i32, cursor: Option<&Cursor>) -> Result<Page<Item>> {
        self.query_prefix(
            None,
            &MembershipRecord::pk(user),
            MembershipRecord::SK_PREFIX,
            QueryDir::Forward,
            limit,
            cursor,
        )
        .await
    }

    /// The user's memberships among `orgs`, by organization: one round trip per 100.
    pub async fn memberships_in(&self, user: &UserId, orgs: &[OrgId]) -> Result<BTreeMap<OrgId, MembershipRecord>> {
        let keys = orgs.iter().map(|o| key(MembershipRecord::pk(user), MembershipRecord::sk(o))).collect();
        let found: Vec<MembershipRecord> = split_lock(self.batch_get(keys).await?)?.0;
        Ok(found.into_iter().map(|m| (m.org_id.clone(), m)).collect())
    }

    /// Every membership of a user: one query per 1,000.
    pub async fn all_memberships(&self, user: &UserId) -> Result<Vec<MembershipRecord>> {
        Ok(self.memberships_and_lock(user).await?.0)
    }

    /// Every membership of a user and the lock of a merge of logins in progress, if any (it
    /// sorts after the memberships, in the same range): one query per 1,000.
    pub async fn memberships_and_lock(
        &self,
        user: &UserId,
    ) -> Result<(Vec<MembershipRecord>, Option<MergeLockRecord>)> {
        let mut items = Vec::new();
        let mut cursor = None;
        loop {
            let page = self.membership_items(user, 1000, cursor.as_ref()).await?;
            items.extend(page.items);
            match page.next {
                Some(c) => cursor = Some(c),
                None => return split_lock(items),
            }
        }
    }

    /// Many organizations by id in one round trip per 100.
    pub async fn get_orgs(&self, ids: &[OrgId]) -> Result<Vec<OrgRecord>> {
        let keys = ids.iter().map(|id| key(OrgRecord::pk(id), OrgRecord::SK)).collect();
        self.batch_get(keys).await?.into_iter().map(from_item).collect()
    }

    pub async fn get_org(&self, id: &OrgId) -> Result<Option<OrgRecord>> {
        self.get_item(&OrgRecord::pk(id), OrgRecord::SK).await?.map(from_item).transpose()
    }

    /// A page of an organization and its descendants, in tree-path order (an index read, so
    /// eventually consistent). `root` is the tree's top organization, `path` the organization's
    /// tree path.
    pub async fn subtree(
        &self,
        root: &OrgId,
        path: &str,
        limit: i32,
        cursor: Option<&Cursor>,
    ) -> Result<Page<OrgRecord>> {
        let page =
            self.query_prefix(Some(&GSI1), &format!("TREE#{root}"), path, QueryDir::Forward, limit, cursor).await?;
        Ok(Page { items: page.items.into_iter().map(from_item).collect::<Result<_>>()?, next: page.next })
    }

    /// A page of the direct children of `org`, oldest first.
    pub async fn children(&self, org: &OrgId, limit: i32, cursor: Option<&Cursor>) -> Result<Page<OrgRecord>> {
        let page = self
            .query_prefix(Some(&GSI2), &format!("CHILDREN#{org}"), "org_", QueryDir::Forward, limit, cursor)
            .await?;
        Ok(Page { items: page.items.into_iter().map(from_item).collect::<Result<_>>()?, next: page.next })
    }

    /// A page of the activity feed of `org` (its own and its descendants'), newest first.
    pub async fn activity_feed(
        &self,
        org: &OrgId,
        limit: i32,
        cursor: Option<&Cursor>,
    ) -> Result<Page<ActivityRecord>> {
        let page = self
            .query_prefix(
                None,
                &ActivityRecord::feed_pk(org),
                ActivityRecord::SK_PREFIX,
                QueryDir::Backward,
                limit,
                cursor,
            )
            .await?;
        Ok(Page { items: page.items.into_iter().map(from_item).collect::<Result<_>>()?, next: page.next })
    }

    /// Add a membership (no transaction: for seeding and tests; invitations use their own).
    pub async fn put_membership(&self, m: &MembershipRecord) -> Result<()> {
        let mut items = vec![m.item()?];
        items.extend(crate::store::members::member_search::items(m)?);
        self.batch_write(items, Vec::new()).await
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn email_types_this_build_does_not_know_are_skipped() {
        let c: super::CompanyFields = serde_json::from_value(serde_json::json!({
            "email_types": {"mentions": {"enabled": false, "interval": "daily"}, "retired": {"enabled": true, "interval": "hourly"}},
            "email_locks": ["mentions", "retired"],
        }))
        .unwrap();
        assert_eq!(c.email_types.keys().map(|t| t.key()).collect::<Vec<_>>(), ["mentions"]);
        assert_eq!(c.email_locks.iter().map(|t| t.key()).collect::<Vec<_>>(), ["mentions"]);
    }
}
