//! The end of an organization's life: closing (and restoring) it, and purging everything of
//! it once the restore window has passed.
//!
//! A closed organization carries its closure and sits in the sparse index `gsi3` under
//! `PURGE` / `<purge after, UTC seconds>`, so the scheduled purge reads what is due and
//! nothing else. The purge deletes in pages and in an order that keeps it resumable: what
//! points to other items (invitations to their tokens, imports to their rows, inboxes to
//! their feeds, groups to their contacts, domain claims to their guards, members to their
//! notifications and links) goes after what it points to, and the organization's own item,
//! which keeps it in the due index, goes last. A run cut short leaves only what the next
//! run finds again from the start.

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};

use crate::domain::{OrgId, UserId};
use crate::error::{Error, Result};
use crate::store::members::member_ops::activity_items;
use crate::store::ops::{Item, key, n, s};
use crate::store::table::{GSI1, GSI3, PRIMARY};
use crate::store::tx::{self, TxError};
use crate::store::{ActivityRecord, BillingEvent, Closure, MembershipRecord, OrgRecord, OrgStatus, OutboxEvent, Store};

const PURGE_KEY: &str = "PURGE";

fn status_value(st: OrgStatus) -> AttributeValue {
    s(crate::store::orgs::tree::status_str(st))
}

/// What one purge step deleted.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Deleted {
    pub items: usize,
    pub objects: usize,
}

impl std::ops::AddAssign for Deleted {
    fn add_assign(&mut self, o: Deleted) {
        self.items += o.items;
        self.objects += o.objects;
    }
}

impl Store {
    /// Close an organization still at `org.version` and not closed: the closure, the billing
    /// and outbox events and the activity, in one transaction.
    pub async fn close_org(
        &self,
        org: &OrgRecord,
        closure: &Closure,
        billing: &BillingEvent,
        event: &OutboxEvent,
        act: &ActivityRecord,
    ) -> Result<()> {
        let t = self.table_name();
        let c = serde_dynamo::to_attribute_value(closure).map_err(crate::store::error::storage)?;
        let update = tx::update_builder(t, key(OrgRecord::pk(&org.org_id), OrgRecord::SK))
            .condition_expression("version = :v AND #status <> :closed")
            .update_expression(
                "SET #status = :closed, closure = :c, #g3pk = :purge, #g3sk = :due, version = version + :one",
            )
            .expression_attribute_names("#status", "status")
            .expression_attribute_names("#g3pk", GSI3.key.hash)
            .expression_attribute_names("#g3sk", GSI3.key.range)
            .expression_attribute_values(":v", n(org.version as i64))
            .expression_attribute_values(":closed", status_value(OrgStatus::Closed))
            .expression_attribute_values(":c", c)
            .expression_attribute_values(":purge", s(PURGE_KEY))
            .expression_attribute_values(":due", s(crate::store::notify::notifications::due_sk(closure.purge_after)))
            .expression_attribute_values(":one", n(1));
        self.change_standing(org, update, billing, event, act).await
    }

    /// Restore a closed organization whose purge time has not come (`now` before it).
    pub async fn restore_org(
        &self,
        org: &OrgRecord,
        previous: OrgStatus,
        now: DateTime<Utc>,
        billing: &BillingEvent,
        event: &OutboxEvent,
        act: &ActivityRecord,
    ) -> Result<()> {
        let t = self.table_name();
        let update = tx::update_builder(t, key(OrgRecord::pk(&org.org_id), OrgRecord::SK))
            .condition_expression("version = :v AND #status = :closed AND #g3sk > :now")
            .update_expression("SET #status = :prev, version = version + :one REMOVE closure, #g3pk, #g3sk")
            .expression_attribute_names("#status", "status")
            .expression_attribute_names("#g3pk", GSI3.key.hash)
            .expression_attribute_names("#g3sk", GSI3.key.range)
            .expression_attribute_values(":v", n(org.version as i64))
            .expression_attribute_values(":closed", status_value(OrgStatus::Closed))
            .expression_attribute_values(":now", s(crate::store::notify::notifications::due_sk(now)))
            .expression_attribute_values(":prev", status_value(previous))
            .expression_attribute_values(":one", n(1));
        self.change_standing(org, update, billing, event, act).await
    }

    /// A closure or restore: the organization's update with the events and activity it causes.
    async fn change_standing(
        &self,
        org: &OrgRecord,
        update: aws_sdk_dynamodb::types::builders::UpdateBuilder,
        billing: &BillingEvent,
        event: &OutboxEvent,
        act: &ActivityRecord,
    ) -> Result<()> {
        let t = self.table_name();
        let mut items = vec![tx::update(update)?, tx::put_new(t, billing.item()?)?, tx::put_new(t, event.item()?)?];
        items.extend(activity_items(t, act, &org.lineage_ids())?);
        match self.transact(items).await {
            Ok(()) => Ok(()),
            Err(TxError::Conditions(_)) => Err(Error::Conflict),
            Err(TxError::Other(e)) => Err(e),
        }
    }

    /// Closed organizations whose purge is due at `now`, oldest first.
    pub async fn due_purges(&self, now: DateTime<Utc>, limit: i32) -> Result<Vec<OrgRecord>> {
        let out = self
            .client
            .query()
            .table_name(self.table_name())
            .index_name(GSI3.name)
            .key_condition_expression("#h = :h AND #r <= :now")
            .expression_attribute_names("#h", GSI3.key.hash)
            .expression_attribute_names("#r", GSI3.key.range)
            .expression_attribute_values(":h", s(PURGE_KEY))
            .expression_attribute_values(":now", s(crate::store::notify::notifications::due_sk(now)))
            .limit(limit)
            .send()
            .await
            .map_err(crate::store::error::storage)?;
        out.items.unwrap_or_default().into_iter().map(crate::store::items::from_item).collect()
    }

    /// One page of the organization's own partition, with what its items point to deleted
    /// first. Returns what it deleted; nothing once only the organization's item is left.
    pub async fn purge_org_partition_page(&self, org: &OrgId) -> Result<Deleted> {
        let mut done = Deleted::default();
        let items = self.partition_items(&OrgRecord::pk(org), 200, None).await?.items;
        let mut keys = Vec::new();
        for item in items {
            let sk = item.get(PRIMARY.range).and_then(|v| v.as_s().ok()).cloned().unwrap_or_default();
            let text = |name: &str| item.get(name).and_then(|v| v.as_s().ok()).cloned();
            if sk == OrgRecord::SK {
                continue;
            }
            if let Some(id) = sk.strip_prefix("IMPORT#") {
                done.items += self.delete_partition(&crate::store::ImportRowRecord::pk(id)).await?;
            } else if let Some(id) = sk.strip_prefix("INBOX#") {
                done.items += self.delete_partition(&format!("INBOXFEED#{id}")).await?;
            } else if let Some(id) = sk.strip_prefix("CGROUP#").or_else(|| sk.strip_prefix("CLEANUP#CGROUP#")) {
                done.items += self.delete_partition(&format!("CGROUP#{id}")).await?;
            } else if sk.starts_with("INVITE#") {
                if let Some(hash) = text("token_hash") {
                    self.batch_write(
                        Vec::new(),
                        vec![key(crate::store::InviteTokenRecord::pk(&hash), crate::store::InviteTokenRecord::SK)],
                    )
                    .await?;
                    done.items += 1;
                }
            } else if let Some(rest) = sk.strip_prefix("DOMAIN#") {
                // A verified claim owns its guard; the guard goes only while it is still ours.
                let guard = match rest.split_once('#') {
                    Some(("company", d)) => Some(format!("CDOMAIN#{d}")),
                    Some(("e2s", d)) => Some(format!("E2SDOMAIN#{d}")),
                    _ => None,
                };
                if let Some(pk) = guard {
                    done.items +=
                        self.delete_if(&pk, crate::store::DomainGuardRecord::SK, "org_id", org.as_str()).await?;
                }
            }
            keys.push(key(OrgRecord::pk(org), sk));
        }
        done.items += keys.len();
        self.batch_write(Vec::new(), keys).await?;
        Ok(done)
    }

    /// A page of the organization's memberships (by index), each with its notifications,
    /// shared-account links and OAuth grants and consents deleted before it.
    pub async fn purge_members_page(&self, org: &OrgId) -> Result<(Deleted, Vec<UserId>)> {
        let page = self
            .query_prefix(
                Some(&GSI1),
                &MembershipRecord::gsi1pk(org),
                MembershipRecord::SK_PREFIX,
                crate::store::QueryDir::Forward,
                100,
                None,
            )
            .await?;
        let mut done = Deleted::default();
        let mut members = Vec::new();
        for item in page.items {
            let m: MembershipRecord = crate::store::items::from_item(item)?;
            members.push(m.user_id.clone());
            done.items += self.purge_member_items(org, &m.user_id).await?;
            if let Some(login) = &m.member_login
                && let Some((_, username)) = login.split_once('\\')
            {
                // A login without an address that lives under this organization's login domain
                // exists only here: it goes with its profile and sessions.
                let pk = format!("LOGIN#{org}\\{username}");
                if self.delete_if(&pk, crate::store::CredentialRecord::SK, "user_id", m.user_id.as_str()).await? == 1 {
                    done.items += 1 + self.delete_partition(&crate::store::UserRecord::pk(&m.user_id)).await?;
                }
            }
            let mut keys = crate::store::members::member_search::keys(&m);
            keys.push(key(MembershipRecord::pk(&m.user_id), MembershipRecord::sk(org)));
            self.batch_write(Vec::new(), keys).await?;
            done.items += 1;
        }
        Ok((done, members))
    }

    /// What one person has in one organization besides the membership.
    pub(crate) async fn purge_member_items(&self, org: &OrgId, user: &UserId) -> Result<usize> {
        let mut n = self.delete_partition(&crate::store::notify::notifications::partition(user, org)).await?;
        let mine = crate::store::UserRecord::pk(user);
        let mut keys = Vec::new();
        for prefix in [format!("ACTAS#{org}#"), "OAGRANT#".to_owned(), "OACONSENT#".to_owned()] {
            let page = self.query_prefix(None, &mine, &prefix, crate::store::QueryDir::Forward, 1000, None).await?;
            for item in page.items {
                let of_org = prefix.starts_with("ACTAS#")
                    || item.get("org_id").and_then(|v| v.as_s().ok()).is_some_and(|o| o == org.as_str());
                if of_org && let Some(sk) = item.get(PRIMARY.range).and_then(|v| v.as_s().ok()) {
                    keys.push(key(mine.clone(), sk.clone()));
                }
            }
        }
        self.forget_last_org(user, org).await?;
        // Links of others to this person's shared account here.
        let links = self.links_of_shared(org, user).await?;
        for l in &links {
            keys.push(key(crate::store::UserRecord::pk(&l.linked_user_id), format!("ACTAS#{org}#{user}")));
        }
        n += keys.len();
        self.batch_write(Vec::new(), keys).await?;
        Ok(n)
    }

    /// Take `org` out of the organizations the person's clients used last (it is going): a
    /// read of the profile, then one update removing each entry still naming it. An entry
    /// moved meanwhile (a sign-in elsewhere) is left as it now is.
    async fn forget_last_org(&self, user: &UserId, org: &OrgId) -> Result<()> {
        let Some(profile) = self.get_user(user).await? else { return Ok(()) };
        let clients: Vec<&String> = profile.last_org.iter().filter(|(_, o)| *o == org).map(|(c, _)| c).collect();
        if clients.is_empty() {
            return Ok(());
        }
        let mut update = self
            .client
            .update_item()
            .table_name(self.table_name())
            .set_key(Some(key(crate::store::UserRecord::pk(user), crate::store::UserRecord::SK)))
            .expression_attribute_values(":o", s(org.as_str()));
        let (mut removes, mut conditions) = (Vec::new(), Vec::new());
        for (i, c) in clients.iter().enumerate() {
            update = update.expression_attribute_names(format!("#c{i}"), c.as_str());
            removes.push(format!("last_org.#c{i}"));
            conditions.push(format!("last_org.#c{i} = :o"));
        }
        let res = update
            .update_expression(format!("REMOVE {}", removes.join(", ")))
            .condition_expression(conditions.join(" AND "))
            .send()
            .await;
        // Not applied: a client moved on meanwhile; it stays as it now is.
        crate::store::error::applied(res).map(|_| ())
    }

    /// Items found through the indexes by organization: SSO providers and OAuth applications.
    pub async fn purge_indexed(&self, org: &OrgId) -> Result<usize> {
        let mut keys = Vec::new();
        for (hash, prefix) in [(format!("SSOORG#{org}"), "SSO#"), (format!("OAPPORG#{org}"), "APP#")] {
            let page =
                self.query_prefix(Some(&GSI1), &hash, prefix, crate::store::QueryDir::Forward, 1000, None).await?;
            for item in page.items {
                if let (Some(pk), Some(sk)) = (
                    item.get(PRIMARY.hash).and_then(|v| v.as_s().ok()),
                    item.get(PRIMARY.range).and_then(|v| v.as_s().ok()),
                ) {
                    keys.push(key(pk.clone(), sk.clone()));
                }
            }
        }
        let n = keys.len();
        self.batch_write(Vec::new(), keys).await?;
        Ok(n)
    }

    /// The guards and search entries the organization's item names, then the item itself.
    pub async fn purge_org_item(&self, org: &OrgRecord) -> Result<usize> {
        let mut n = 0;
        if let Some(d) = &org.login_domain {
            n += self
                .delete_if(
                    &crate::store::LoginDomainRecord::pk(d),
                    crate::store::LoginDomainRecord::SK,
                    "org_id",
                    org.org_id.as_str(),
                )
                .await?;
        }
        for d in &org.company.company_domains {
            n += self
                .delete_if(
                    &crate::store::DomainGuardRecord::pk(crate::store::DomainKind::Company, d),
                    crate::store::DomainGuardRecord::SK,
                    "org_id",
                    org.org_id.as_str(),
                )
                .await?;
        }
        let entries = crate::store::orgs::directory::name_entries(org, &org.name, &org.company.aliases);
        let mut keys: Vec<Item> =
            entries.iter().filter_map(|e| crate::store::NameEntryRecord::keys(&e.org_id, &e.name)).collect();
        keys.push(key(OrgRecord::pk(&org.org_id), OrgRecord::SK));
        n += keys.len();
        self.batch_write(Vec::new(), keys).await?;
        Ok(n)
    }
}
