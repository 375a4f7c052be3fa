//! Finding members by what an admin types: one search entry per term of a member (each word
//! of the name, the whole name, the address, the words of its local part and its domain, the
//! username), `MSEARCH#<org>#<first character>` / `<term>\u{1}<user>`. A search is a prefix
//! query on one partition, so a page of matches costs the same reads with 50 or 50,000
//! members; the first character spreads an import's writes over many partitions.
//!
//! Entries are written and deleted with their membership (in its transaction, or beside a
//! batch that deletes it), and replaced when the person's name or address changes. A member
//! matching on several terms is returned once, at the first of their terms (in key order)
//! that starts with the search: each entry carries `d` (dup_below), the longest start it shares
//! with an earlier term of the same member, and a search of n characters keeps only entries
//! with `d < n` (a filter DynamoDB applies while reading, a megabyte per call).

use std::collections::BTreeSet;

use aws_sdk_dynamodb::types::TransactWriteItem;
use serde::{Deserialize, Serialize};

use crate::domain::{OrgId, UserId};
use crate::error::Result;
use crate::store::items::to_item;
use crate::store::ops::{Item, key};
use crate::store::tx;
use crate::store::{Cursor, MembershipRecord, Page, Store};

/// Terms longer than this are cut (a key stays small; nobody types more to find someone).
const TERM_MAX: usize = 100;
/// Between a term and the user id in a sort key: below every character a term can hold.
const SEP: char = '\u{1}';
/// Calls (a megabyte of entries each, about 9,000) for one page at most; a page cut short
/// carries a cursor. Only a page whose matches are followed by a long run of second matches
/// needs more than one: the last page of a search that matches everyone on two terms.
const ROUNDS: usize = 32;

#[derive(Debug, Clone, Serialize, Deserialize)]
struct SearchEntry {
    /// Short attribute names: a search reads (and pays for) every entry it passes over.
    #[serde(rename = "u")]
    user_id: UserId,
    /// In characters, the longest start this entry's term shares with an earlier term (in key
    /// order) of the same member: a search that short or shorter found them there already.
    #[serde(rename = "d")]
    dup_below: usize,
}

impl crate::store::items::Entity for SearchEntry {
    const TYPE: &'static str = "search_entry";
}

/// The characters `a` and `b` start with alike.
fn shared_start(a: &str, b: &str) -> usize {
    a.chars().zip(b.chars()).take_while(|(x, y)| x == y).count()
}

/// The terms a member is found by, lowercased and without duplicates.
pub(crate) fn terms(m: &MembershipRecord) -> Vec<String> {
    let mut out = BTreeSet::new();
    let mut add = |t: &str| {
        let t: String = t.trim().to_lowercase().chars().filter(|c| *c != SEP).take(TERM_MAX).collect();
        if !t.is_empty() {
            out.insert(t);
        }
    };
    if let Some(name) = &m.member_name {
        add(name);
        name.split_whitespace().for_each(&mut add);
    }
    if let Some(email) = &m.member_email {
        let address = email.as_str();
        add(address);
        if let Some((local, domain)) = address.split_once('@') {
            local.split(['.', '_', '-', '+']).for_each(&mut add);
            add(domain);
        }
    }
    if let Some(login) = &m.member_login {
        add(login);
        if let Some((_, username)) = login.split_once('\\') {
            add(username);
        }
    }
    out.into_iter().collect()
}

fn partition(org: &OrgId, first: char) -> String {
    format!("MSEARCH#{org}#{first}")
}

/// The key of the entry for `term` (none for an empty term).
fn entry_key(org: &OrgId, term: &str, user: &UserId) -> Option<(String, String)> {
    let first = term.chars().next()?;
    Some((partition(org, first), format!("{term}{SEP}{user}")))
}

fn entry_keys(m: &MembershipRecord, terms: &[String]) -> Vec<Item> {
    terms.iter().filter_map(|t| entry_key(&m.org_id, t, &m.user_id)).map(|(pk, sk)| key(pk, sk)).collect()
}

/// `m`'s entries as items (for a batch write).
pub(crate) fn items(m: &MembershipRecord) -> Result<Vec<Item>> {
    let terms = terms(m);
    let mut out = Vec::with_capacity(terms.len());
    // `terms` is sorted as the keys are (the user id after the separator is the same).
    for (i, term) in terms.iter().enumerate() {
        let Some((pk, sk)) = entry_key(&m.org_id, term, &m.user_id) else { continue };
        let dup_below = terms[..i].iter().map(|t| shared_start(t, term)).max().unwrap_or(0);
        out.push(to_item(&SearchEntry { user_id: m.user_id.clone(), dup_below }, pk, sk)?);
    }
    Ok(out)
}

/// The puts of `m`'s entries, for the transaction that writes the membership.
pub(crate) fn puts(t: &str, m: &MembershipRecord) -> Result<Vec<TransactWriteItem>> {
    items(m)?.into_iter().map(|i| tx::put(t, i)).collect()
}

/// The keys of `m`'s entries (to delete with it).
pub(crate) fn keys(m: &MembershipRecord) -> Vec<Item> {
    entry_keys(m, &terms(m))
}

/// Deletes of `m`'s entries, for the transaction that deletes the membership.
pub(crate) fn deletes(t: &str, m: &MembershipRecord) -> Result<Vec<TransactWriteItem>> {
    keys(m).into_iter().map(|k| tx::delete(t, k)).collect()
}

/// The keys of `before`'s entries that `after` no longer has (all of them for another person).
fn gone(before: &MembershipRecord, after: &MembershipRecord) -> Vec<Item> {
    let keep = if before.user_id == after.user_id { terms(after) } else { Vec::new() };
    let old: Vec<String> = terms(before).into_iter().filter(|t| !keep.contains(t)).collect();
    entry_keys(before, &old)
}

/// `before`'s entries (if any) replaced by `after`'s in one transaction: the terms it no
/// longer has deleted, every term of `after` put (an item is touched once).
pub(crate) fn replace(
    t: &str,
    before: Option<&MembershipRecord>,
    after: &MembershipRecord,
) -> Result<Vec<TransactWriteItem>> {
    let gone = before.map(|b| gone(b, after)).unwrap_or_default();
    let mut out = gone.into_iter().map(|k| tx::delete(t, k)).collect::<Result<Vec<_>>>()?;
    out.extend(puts(t, after)?);
    Ok(out)
}

impl Store {
    /// Members of `org` with a term starting with `text` (already lowercased), in term order:
    /// a full page, or the last one (no cursor). Each call reads up to a megabyte of entries,
    /// duplicates filtered out as it reads; past `ROUNDS` calls the page ends with a cursor.
    pub async fn search_members(
        &self,
        org: &OrgId,
        text: &str,
        limit: i32,
        cursor: Option<&Cursor>,
    ) -> Result<Page<MembershipRecord>> {
        use crate::store::table::PRIMARY;
        let text: String = text.chars().filter(|c| *c != SEP).take(TERM_MAX).collect();
        // Only characters no term holds: nobody matches.
        let Some(first) = text.chars().next() else { return Ok(Page { items: Vec::new(), next: None }) };
        let pk = partition(org, first);
        let wanted = limit.clamp(1, 100) as usize;
        let mut start = cursor.map(|c| c.to_key(PRIMARY.hash, &pk)).transpose()?;
        let mut found: Vec<Item> = Vec::new();
        for _ in 0..ROUNDS {
            let out = self
                .client
                .query()
                .table_name(self.table_name())
                .key_condition_expression("#h = :h AND begins_with(#r, :p)")
                .filter_expression("d < :n")
                .expression_attribute_names("#h", PRIMARY.hash)
                .expression_attribute_names("#r", PRIMARY.range)
                .expression_attribute_values(":h", crate::store::ops::s(&pk))
                .expression_attribute_values(":p", crate::store::ops::s(&text))
                .expression_attribute_values(":n", crate::store::ops::n(text.chars().count() as i64))
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| crate::store::ops::query_failed(e, cursor.is_some()))?;
            found.extend(out.items.unwrap_or_default());
            start = out.last_evaluated_key;
            if found.len() > wanted || start.is_none() {
                break;
            }
        }
        let next = if found.len() > wanted {
            found.truncate(wanted);
            found.last().and_then(|l| Cursor::after(l, &[PRIMARY.hash, PRIMARY.range]))
        } else {
            // Out of calls before the page filled: go on where reading stopped.
            start.as_ref().and_then(Cursor::from_key)
        };
        let users: Vec<UserId> = found
            .into_iter()
            .map(crate::store::items::from_item::<SearchEntry>)
            .map(|e| e.map(|e| e.user_id))
            .collect::<Result<_>>()?;
        let members = self.members_among(org, &users).await?;
        // In the search's order; a membership removed meanwhile is left out.
        let items = users.iter().filter_map(|u| members.iter().find(|m| &m.user_id == u).cloned()).collect();
        Ok(Page { items, next })
    }

    /// Delete `m`'s entries (its membership went by other means: a login's partition).
    pub async fn delete_member_entries(&self, m: &MembershipRecord) -> Result<()> {
        self.batch_write(Vec::new(), keys(m)).await
    }

    /// [`replace`] for each (before, after) pair, outside a transaction, in one batch write
    /// (a rename, after each membership's own update).
    pub(crate) async fn replace_member_entries(&self, pairs: &[(MembershipRecord, MembershipRecord)]) -> Result<()> {
        let (mut puts, mut gone_keys) = (Vec::new(), Vec::new());
        for (before, after) in pairs {
            // Every entry's `d` depends on the member's other terms: all are written again.
            puts.extend(items(after)?);
            gone_keys.extend(gone(before, after));
        }
        self.batch_write(puts, gone_keys).await
    }
}
