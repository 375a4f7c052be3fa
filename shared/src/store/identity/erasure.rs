//! Erasing a person (GDPR Art. 17): their login's items, found from the person.
//!
//! Pending tokens are indexed by person (`gsi1` `USERTOKEN#<user>` / `TOKEN#<hash>`), so
//! they go with the login rather than waiting for their expiry.

use crate::domain::{OrgId, UserId};
use crate::error::Result;
use crate::store::ops::{Item, key, s};
use crate::store::table::{GSI1, PRIMARY};
use crate::store::{CredentialRecord, Store, TokenPurpose, TokenRecord, UserRecord};

impl Store {
    pub async fn credential(&self, login: &str) -> Result<Option<CredentialRecord>> {
        self.get_item(&CredentialRecord::pk_of(login), CredentialRecord::SK)
            .await?
            .map(crate::store::items::from_item)
            .transpose()
    }

    /// Delete the login of `user`: pending tokens (and the addresses a pending change holds),
    /// the credential while it is still theirs, then everything under the person (profile,
    /// sessions, devices, shared-account links, OAuth grants and consents). Idempotent.
    pub async fn erase_login(&self, user: &UserId, login: Option<&str>) -> Result<usize> {
        let page = self
            .query_prefix(
                Some(&GSI1),
                &TokenRecord::by_user(user),
                "TOKEN#",
                crate::store::QueryDir::Forward,
                1000,
                None,
            )
            .await?;
        let mut keys: Vec<Item> = Vec::new();
        for item in page.items {
            let Some(pk) = item.get(PRIMARY.hash).and_then(|v| v.as_s().ok()).cloned() else { continue };
            let token: TokenRecord = crate::store::items::from_item(item)?;
            // A pending address change holds the new address until it is confirmed.
            if token.purpose == TokenPurpose::ChangeEmail
                && let Some(email) = &token.email
            {
                self.delete_if(&format!("PENDINGEMAIL#{email}"), "PENDING", "user_id", user.as_str()).await?;
            }
            keys.push(key(pk, TokenRecord::SK));
        }
        let mut n = keys.len();
        self.batch_write(Vec::new(), keys).await?;
        if let Some(login) = login {
            n +=
                self.delete_if(&CredentialRecord::pk_of(login), CredentialRecord::SK, "user_id", user.as_str()).await?;
        }
        n += self.delete_partition(&UserRecord::pk(user)).await?;
        Ok(n)
    }

    /// Replace `address` with `pseudonym` in every activity entry indexed under it, in every
    /// organization's feed, and take the entries out of that index; returns how many changed.
    /// A page of the index per 1,000 entries, one conditional update per entry.
    pub async fn pseudonymize_activity(&self, address: &crate::domain::Email, pseudonym: &str) -> Result<usize> {
        let hash = crate::store::ActivityRecord::by_address(address);
        let (mut changed, mut cursor) = (0, None);
        loop {
            let prefix = crate::store::ActivityRecord::SK_PREFIX;
            let page = self
                .query_prefix(Some(&GSI1), &hash, prefix, crate::store::QueryDir::Forward, 1000, cursor.as_ref())
                .await?;
            for item in page.items {
                let (Some(pk), Some(sk)) = (
                    item.get(PRIMARY.hash).and_then(|v| v.as_s().ok()),
                    item.get(PRIMARY.range).and_then(|v| v.as_s().ok()),
                ) else {
                    continue;
                };
                let res = self
                    .client
                    .update_item()
                    .table_name(self.table_name())
                    .set_key(Some(key(pk.clone(), sk.clone())))
                    .update_expression("SET #t = :p REMOVE #ip, #is")
                    .condition_expression("attribute_exists(#ip)")
                    .expression_attribute_names("#t", "target")
                    .expression_attribute_names("#ip", GSI1.key.hash)
                    .expression_attribute_names("#is", GSI1.key.range)
                    .expression_attribute_values(":p", s(pseudonym))
                    .send()
                    .await;
                // Not applied: rewritten meanwhile (an erasure run again), or gone with its feed.
                if crate::store::error::applied(res)? {
                    changed += 1;
                }
            }
            match page.next {
                Some(c) => cursor = Some(c),
                None => return Ok(changed),
            }
        }
    }

    /// Replace `target` with `pseudonym` in the activity of `org` wherever it names the
    /// person's address; returns how many entries changed. Reads the feed once, a page per
    /// 1,000 entries.
    pub async fn pseudonymize_feed(&self, org: &OrgId, target: &str, pseudonym: &str) -> Result<usize> {
        let pk = format!("FEED#{org}");
        let mut start = None;
        let mut changed = 0;
        loop {
            let out = self
                .client
                .query()
                .table_name(self.table_name())
                .key_condition_expression("#h = :h")
                .filter_expression("#t = :t")
                .expression_attribute_names("#h", PRIMARY.hash)
                .expression_attribute_names("#t", "target")
                .expression_attribute_values(":h", s(&pk))
                .expression_attribute_values(":t", s(target))
                .projection_expression("#h, sk")
                .set_exclusive_start_key(start)
                .limit(1000)
                .send()
                .await
                .map_err(crate::store::error::storage)?;
            for item in out.items.unwrap_or_default() {
                let Some(sk) = item.get(PRIMARY.range).and_then(|v| v.as_s().ok()) else { continue };
                self.client
                    .update_item()
                    .table_name(self.table_name())
                    .set_key(Some(key(pk.clone(), sk.clone())))
                    .update_expression("SET #t = :p")
                    .expression_attribute_names("#t", "target")
                    .expression_attribute_values(":p", s(pseudonym))
                    .send()
                    .await
                    .map_err(crate::store::error::storage)?;
                changed += 1;
            }
            match out.last_evaluated_key {
                Some(k) => start = Some(k),
                None => return Ok(changed),
            }
        }
    }
}
