//! Digest bookkeeping, in the person's notification partition (`NOTIF#<user>#<org>`):
//! - `DIGEST#<interval>`: what waits for that interval's digest: `pending` count, `since`
//!   (the ULID the last claimed window ended at), and while something waits the due-index
//!   keys `gsi3pk = DUE#<shard>`, `gsi3sk = <due time>`.
//! - `DSENT#<interval>#<due time>`: one claimed window (TTL 35 days). It exists once per
//!   window, so a second claim of the same window fails; while its email is not yet queued it
//!   sits in the due index at its lease's end, so a run that died is picked up by the next.
//! - Unsubscribe links `UNSUB#<sha256 of the secret>` / `UNSUB` (TTL) and the suppression list
//!   `SUPPRESS#<address>` / `SUPPRESS` live outside the partition.

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::{Email, EmailType, Interval, OrgId, UserId};
use crate::error::Result;
use crate::store::error::storage;
use crate::store::items::{from_item, to_item, with_ttl};
use crate::store::notify::notifications::{NotificationRecord, due_sk, partition};
use crate::store::ops::{Item, key, n, s};
use crate::store::table::{GSI3, PRIMARY};
use crate::store::tx::{self, TxError};
use crate::store::{Cursor, Store};

/// The due index's partitions: writes of many people spread over them; a run reads each.
pub const DUE_SHARDS: u32 = 8;
/// How long a run holds a claimed window before another run may send it instead.
pub const LEASE_MINUTES: i64 = 15;
const MARKER_DAYS: i64 = 35;

pub fn shard_key(shard: u32) -> String {
    format!("DUE#{shard}")
}

impl DigestState {
    pub fn sk(interval: Interval) -> String {
        format!("DIGEST#{}", interval.as_str())
    }
}

/// What waits for one interval's digest of one person in one organization.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DigestState {
    pub user_id: UserId,
    pub org_id: OrgId,
    pub interval: Interval,
    #[serde(default)]
    pub pending: i64,
    #[serde(default)]
    pub since: Option<String>,
    /// The due index's sort key: when the waiting window is due (absent while none waits).
    #[serde(default)]
    pub gsi3sk: Option<String>,
    /// The highest notification id counted here: a claim's window reaches at least this far,
    /// so nothing counted is left behind when the claiming machine's clock is behind.
    #[serde(default)]
    pub last_id: Option<String>,
    /// The end of the last window claimed (a due-index time): the next window ends later.
    #[serde(default)]
    pub last_due: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WindowStatus {
    /// Claimed by a run that has not queued its email yet.
    Claimed,
    /// The email is queued.
    Queued,
    /// Nothing was left to send (all read meanwhile, or the recipient went away).
    Skipped,
}

/// One claimed window.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DigestWindow {
    pub user_id: UserId,
    pub org_id: OrgId,
    pub interval: Interval,
    /// When it was due (its identity, with the interval).
    pub due: String,
    /// The notifications it gathers: ids after `from` up to and including `to`.
    pub from: Option<String>,
    pub to: String,
    pub count: i64,
    pub status: WindowStatus,
    pub claimed_at: DateTime<Utc>,
    // Absent, not NULL, until sent: the mail worker's condition is `attribute_not_exists`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sent_at: Option<DateTime<Utc>>,
    /// The sort key the record was read with (records written before windows were named by
    /// their start as well as their end have the shorter form).
    #[serde(default, rename = "sk", skip_serializing)]
    pub stored_sk: Option<String>,
}

impl crate::store::items::Entity for DigestWindow {
    const TYPE: &'static str = "digest_window";
}

impl DigestWindow {
    /// A window is named by its end and its start (the end of the window before it), so a
    /// window record that exists already can never stand in the way of a later window, even
    /// one that ends at the same time.
    pub fn sk(&self) -> String {
        match &self.stored_sk {
            Some(sk) => sk.clone(),
            None => format!("DSENT#{}#{}#{}", self.interval.as_str(), self.due, self.from.as_deref().unwrap_or("0")),
        }
    }
}

/// An entry of the due index.
#[derive(Debug, Clone)]
pub enum Due {
    State(DigestState),
    /// A window whose run's lease ran out before its email was queued.
    Window {
        window: DigestWindow,
        lease: String,
    },
}

/// An unsubscribe link's record.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UnsubscribeRecord {
    pub user_id: UserId,
    pub org_id: OrgId,
    pub types: Vec<EmailType>,
    pub expires_at: DateTime<Utc>,
}

impl crate::store::items::Entity for UnsubscribeRecord {
    const TYPE: &'static str = "unsubscribe";
}

impl UnsubscribeRecord {
    pub fn pk(hash: &str) -> String {
        format!("UNSUB#{hash}")
    }
    pub const SK: &'static str = "UNSUB";

    pub(crate) fn item(&self, hash: &str) -> Result<Item> {
        Ok(with_ttl(to_item(self, Self::pk(hash), Self::SK.into())?, self.expires_at))
    }
}

/// Why an address gets no more email.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SuppressionRecord {
    pub email: Email,
    /// `bounce` or `complaint`.
    pub reason: String,
    pub at: DateTime<Utc>,
    #[serde(default)]
    pub detail: Option<String>,
}

impl crate::store::items::Entity for SuppressionRecord {
    const TYPE: &'static str = "suppression";
}

impl SuppressionRecord {
    pub fn pk(email: &Email) -> String {
        format!("SUPPRESS#{email}")
    }
    pub const SK: &'static str = "SUPPRESS";
}

fn lease_values(w: &DigestWindow, lease_until: DateTime<Utc>, shard: &str) -> Result<Item> {
    let mut item = to_item(w, partition(&w.user_id, &w.org_id), w.sk())?;
    item.insert(GSI3.key.hash.into(), s(shard));
    item.insert(GSI3.key.range.into(), s(due_sk(lease_until)));
    Ok(with_ttl(item, w.claimed_at + Duration::days(MARKER_DAYS)))
}

/// The range of a window's items with sort keys `<prefix><id>`.
fn window_range(w: &DigestWindow, prefix: &str) -> (String, String) {
    let from = match &w.from {
        // `~` sorts after every ULID character: ids after `from`, not `from` itself.
        Some(f) => format!("{prefix}{f}~"),
        None => prefix.to_owned(),
    };
    (from, format!("{prefix}{}", w.to))
}

impl Store {
    /// Due-index entries of one shard due at or before `until`, earliest first.
    pub async fn due_digests(
        &self,
        shard: u32,
        until: DateTime<Utc>,
        limit: i32,
        cursor: Option<&Cursor>,
    ) -> Result<(Vec<Due>, Option<Cursor>)> {
        let (items, next) = self.due_page(&shard_key(shard), &due_sk(until), true, limit, cursor).await?;
        let mut due = Vec::new();
        for item in items {
            let sk = item.get(PRIMARY.range).and_then(|v| v.as_s().ok()).cloned().unwrap_or_default();
            let lease = item.get(GSI3.key.range).and_then(|v| v.as_s().ok()).cloned().unwrap_or_default();
            if sk.starts_with("DSENT#") {
                due.push(Due::Window { window: from_item(item)?, lease });
            } else if sk.starts_with("DIGEST#") {
                due.push(Due::State(from_item(item)?));
            }
        }
        Ok((due, next))
    }

    /// Claim `window` of `state` as seen in the index: the window's record is created (once
    /// ever) and the state moves past it (nothing pending, out of the index) in one
    /// transaction, which fails if another run claimed it first or the state changed since.
    /// With it, the unsubscribe link the email will carry. `false`: not claimed.
    pub async fn claim_digest(
        &self,
        state: &DigestState,
        window: &DigestWindow,
        lease_until: DateTime<Utc>,
        unsubscribe: Option<(&str, &UnsubscribeRecord)>,
    ) -> Result<bool> {
        let t = self.table_name();
        let pk = partition(&state.user_id, &state.org_id);
        let shard = shard_key(shard_of(&state.user_id, &state.org_id));
        // The window reaches every id counted (the claim fails if one counted since goes
        // further), and its end becomes the mark the next window's end must pass.
        let mut update = tx::update_builder(t, key(pk, DigestState::sk(state.interval)))
            .update_expression("SET #since = :to, #last = :to, #ldue = :due, #pending = :zero REMOVE #ip, #is")
            .expression_attribute_names("#since", "since")
            .expression_attribute_names("#last", "last_id")
            .expression_attribute_names("#ldue", "last_due")
            .expression_attribute_names("#pending", "pending")
            .expression_attribute_names("#ip", GSI3.key.hash)
            .expression_attribute_names("#is", GSI3.key.range)
            .expression_attribute_values(":to", s(&window.to))
            .expression_attribute_values(":zero", n(0))
            .expression_attribute_values(":due", s(&window.due));
        let reach = "(attribute_not_exists(#last) OR #last <= :to)";
        update = match &state.since {
            Some(since) => update
                .condition_expression(format!("#is = :due AND #since = :since AND {reach}"))
                .expression_attribute_values(":since", s(since)),
            None => update.condition_expression(format!("#is = :due AND attribute_not_exists(#since) AND {reach}")),
        };
        let mut items = vec![tx::put_new(t, lease_values(window, lease_until, &shard)?)?, tx::update(update)?];
        if let Some((hash, u)) = unsubscribe {
            items.push(tx::put(t, u.item(hash)?)?);
        }
        match self.transact(items).await {
            Ok(()) => Ok(true),
            Err(TxError::Conditions(_)) => Ok(false),
            Err(TxError::Other(e)) => Err(e),
        }
    }

    /// Take over a window whose run's lease (`lease`, as seen) ran out. `false`: another run
    /// took it, or it was finished meanwhile.
    pub async fn renew_lease(&self, w: &DigestWindow, lease: &str, until: DateTime<Utc>) -> Result<bool> {
        let res = self
            .client
            .update_item()
            .table_name(self.table_name())
            .set_key(Some(key(partition(&w.user_id, &w.org_id), w.sk())))
            .update_expression("SET #is = :until")
            .condition_expression("#is = :seen AND #st = :claimed")
            .expression_attribute_names("#is", GSI3.key.range)
            .expression_attribute_names("#st", "status")
            .expression_attribute_values(":until", s(due_sk(until)))
            .expression_attribute_values(":seen", s(lease))
            .expression_attribute_values(":claimed", s("claimed"))
            .send()
            .await;
        crate::store::error::applied(res)
    }

    /// The window's email is queued (or there was none to send): out of the index.
    pub async fn finish_window(&self, w: &DigestWindow, status: WindowStatus) -> Result<()> {
        let status = match status {
            WindowStatus::Claimed => return Err(crate::error::Error::internal("a window finishes queued or skipped")),
            WindowStatus::Queued => "queued",
            WindowStatus::Skipped => "skipped",
        };
        let res = self
            .client
            .update_item()
            .table_name(self.table_name())
            .set_key(Some(key(partition(&w.user_id, &w.org_id), w.sk())))
            .update_expression("SET #st = :st REMOVE #ip, #is")
            .condition_expression("#st = :claimed")
            .expression_attribute_names("#st", "status")
            .expression_attribute_names("#ip", GSI3.key.hash)
            .expression_attribute_names("#is", GSI3.key.range)
            .expression_attribute_values(":st", s(status))
            .expression_attribute_values(":claimed", s("claimed"))
            .send()
            .await;
        crate::store::error::applied(res).map(|_| ())
    }

    /// The window's notifications (newest first, at most `limit`) and their message content
    /// when `with_content`.
    pub async fn window_items(
        &self,
        w: &DigestWindow,
        limit: usize,
        with_content: bool,
    ) -> Result<(Vec<NotificationRecord>, std::collections::HashMap<String, String>)> {
        let pk = partition(&w.user_id, &w.org_id);
        let (lo, hi) = window_range(w, "N#");
        let mut items = Vec::new();
        let mut start = None;
        // Pages of other intervals' notifications are filtered out; a few pages suffice.
        for _ in 0..5 {
            let out = self
                .client
                .query()
                .table_name(self.table_name())
                .key_condition_expression("#pk = :pk AND #sk BETWEEN :lo AND :hi")
                .filter_expression("#dg = :iv")
                .expression_attribute_names("#pk", PRIMARY.hash)
                .expression_attribute_names("#sk", PRIMARY.range)
                .expression_attribute_names("#dg", "digest")
                .expression_attribute_values(":pk", s(&pk))
                .expression_attribute_values(":lo", s(&lo))
                .expression_attribute_values(":hi", s(&hi))
                .expression_attribute_values(":iv", s(w.interval.as_str()))
                .scan_index_forward(false)
                .limit(limit.max(1) as i32 * 2)
                .consistent_read(true)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(storage)?;
            for item in out.items.unwrap_or_default() {
                items.push(from_item::<NotificationRecord>(item)?);
            }
            start = out.last_evaluated_key;
            if start.is_none() || items.len() >= limit {
                break;
            }
        }
        items.truncate(limit);
        let mut content = std::collections::HashMap::new();
        if with_content && !items.is_empty() {
            let (lo, hi) = window_range(w, "NC#");
            let out = self
                .client
                .query()
                .table_name(self.table_name())
                .key_condition_expression("#pk = :pk AND #sk BETWEEN :lo AND :hi")
                .expression_attribute_names("#pk", PRIMARY.hash)
                .expression_attribute_names("#sk", PRIMARY.range)
                .expression_attribute_values(":pk", s(&pk))
                .expression_attribute_values(":lo", s(&lo))
                .expression_attribute_values(":hi", s(&hi))
                .scan_index_forward(false)
                .limit(limit.max(1) as i32)
                .consistent_read(true)
                .send()
                .await
                .map_err(storage)?;
            for item in out.items.unwrap_or_default() {
                let sk = item.get(PRIMARY.range).and_then(|v| v.as_s().ok()).cloned().unwrap_or_default();
                if let (Some(id), Some(AttributeValue::S(c))) = (sk.strip_prefix("NC#"), item.get("content")) {
                    content.insert(id.to_owned(), c.clone());
                }
            }
        }
        Ok((items, content))
    }

    /// The mail worker's once-only check for a digest's email: `false` when it went out
    /// already (a run that died after queuing it was taken over).
    pub async fn mark_window_sent(&self, user: &UserId, org: &OrgId, sk: &str, now: DateTime<Utc>) -> Result<bool> {
        let res = self
            .client
            .update_item()
            .table_name(self.table_name())
            .set_key(Some(key(partition(user, org), sk)))
            .update_expression("SET sent_at = :now")
            .condition_expression("attribute_exists(#pk) AND attribute_not_exists(sent_at)")
            .expression_attribute_names("#pk", PRIMARY.hash)
            .expression_attribute_values(":now", s(now.to_rfc3339()))
            .send()
            .await;
        crate::store::error::applied(res)
    }

    /// Undo [`Store::mark_window_sent`] when the send is to be retried.
    pub async fn unmark_window_sent(&self, user: &UserId, org: &OrgId, sk: &str) -> Result<()> {
        self.client
            .update_item()
            .table_name(self.table_name())
            .set_key(Some(key(partition(user, org), sk)))
            .update_expression("REMOVE sent_at")
            .send()
            .await
            .map_err(storage)?;
        Ok(())
    }

    pub async fn put_unsubscribe_links(&self, links: &[(String, UnsubscribeRecord)]) -> Result<()> {
        let items = links.iter().map(|(h, u)| u.item(h)).collect::<Result<Vec<_>>>()?;
        self.batch_write(items, Vec::new()).await
    }

    pub async fn unsubscribe_link(&self, hash: &str) -> Result<Option<UnsubscribeRecord>> {
        self.get_item(&UnsubscribeRecord::pk(hash), UnsubscribeRecord::SK).await?.map(from_item).transpose()
    }

    pub async fn suppress(&self, r: &SuppressionRecord) -> Result<()> {
        let item = to_item(r, SuppressionRecord::pk(&r.email), SuppressionRecord::SK.into())?;
        self.client.put_item().table_name(self.table_name()).set_item(Some(item)).send().await.map_err(storage)?;
        Ok(())
    }

    pub async fn suppressed(&self, email: &Email) -> Result<Option<SuppressionRecord>> {
        self.get_item(&SuppressionRecord::pk(email), SuppressionRecord::SK).await?.map(from_item).transpose()
    }
}

/// The due-index partition of a person's digests in one organization.
pub fn shard_of(user: &UserId, org: &OrgId) -> u32 {
    crate::store::ops::shard_of_text(&format!("{user}#{org}"), DUE_SHARDS)
}

impl Store {
    /// A digest's recipient in one read: their profile, their feed item and their membership.
    pub async fn digest_recipient(
        &self,
        user: &UserId,
        org: &OrgId,
    ) -> Result<(Option<crate::store::UserRecord>, crate::store::FeedRecord, Option<crate::store::MembershipRecord>)>
    {
        let keys = vec![
            key(crate::store::UserRecord::pk(user), crate::store::UserRecord::SK),
            key(partition(user, org), crate::store::FeedRecord::SK),
            key(crate::store::MembershipRecord::pk(user), crate::store::MembershipRecord::sk(org)),
        ];
        let (mut profile, mut feed, mut member) = (None, crate::store::FeedRecord::default(), None);
        for item in self.batch_get(keys).await? {
            let sk = item.get(PRIMARY.range).and_then(|v| v.as_s().ok()).cloned().unwrap_or_default();
            if sk == crate::store::UserRecord::SK {
                profile = Some(from_item(item)?);
            } else if sk == crate::store::FeedRecord::SK {
                feed = from_item(item)?;
            } else {
                member = Some(from_item(item)?);
            }
        }
        Ok((profile, feed, member))
    }
}
