//! The notification feed of one person in one organization, and what the digests wait for.
//!
//! Keys, all in the partition `NOTIF#<user>#<org>`:
//! - `N#<ulid>`: one notification (TTL 90 days); the ULID orders the feed.
//! - `NC#<ulid>`: its message content, kept only until its digest is due (TTL).
//! - `FEED`: unread count, the "all read before" mark, the person's preferences.
//! - `KEY#<sha256 of the event's idempotency key>`: a redelivered event changes nothing (TTL 7 days).
//! - `DIGEST#<interval>` and `DSENT#…`: see `digests.rs`.

use std::collections::{BTreeSet, HashMap};

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::notification::NotificationKind;
use crate::domain::{EmailType, Interval, OrgId, UserId};
use crate::error::Result;
use crate::store::error::storage;
use crate::store::items::{ENTITY_TYPE, Entity, from_item, to_item, typed, typed_update, with_ttl};
use crate::store::ops::{Item, Page, QueryDir, key, n, s};
use crate::store::tx::{self, Guard, Tx, TxError};
use crate::store::{Cursor, Store};

/// How long a notification stays in the feed.
pub const FEED_DAYS: i64 = 90;
/// How long a redelivered event is recognized.
pub const GUARD_DAYS: i64 = 7;

pub fn partition(user: &UserId, org: &OrgId) -> String {
    format!("NOTIF#{user}#{org}")
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NotificationRecord {
    pub notification_id: String,
    pub kind: NotificationKind,
    /// When it happened (the sender's time).
    pub at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conversation_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conversation_name: Option<String>,
    /// Who or what it is about (a caller, a member, a file), as the sender named it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// Where in the client it leads.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link: Option<String>,
    /// The digest it waits for, if its type is gathered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<Interval>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_at: Option<DateTime<Utc>>,
}

impl crate::store::items::Entity for NotificationRecord {
    const TYPE: &'static str = "notification";
}

impl NotificationRecord {
    pub fn sk(id: &str) -> String {
        format!("N#{id}")
    }

    pub fn content_sk(id: &str) -> String {
        format!("NC#{id}")
    }
}

/// The feed's own item: unread count, read mark and the person's choices.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct FeedRecord {
    #[serde(default)]
    pub unread: i64,
    /// Every notification whose id sorts at or before this one is read.
    #[serde(default)]
    pub read_before: Option<String>,
    /// Email types the person switched off for themselves here (a key this build does not
    /// know is skipped, as in the organization's email settings).
    #[serde(default, deserialize_with = "known_types")]
    pub off: BTreeSet<EmailType>,
    /// Local hour and weekday of their daily and weekly digests (`None`: the default).
    #[serde(default)]
    pub digest_hour: Option<u32>,
    #[serde(default)]
    pub digest_weekday: Option<String>,
}

fn known_types<'de, D: serde::Deserializer<'de>>(d: D) -> std::result::Result<BTreeSet<EmailType>, D::Error> {
    let raw = Vec::<String>::deserialize(d)?;
    Ok(raw.iter().filter_map(|k| EmailType::parse(k, "off").ok()).collect())
}

impl FeedRecord {
    pub const SK: &'static str = "FEED";

    /// Whether the notification `id` is read.
    pub fn is_read(&self, n: &NotificationRecord) -> bool {
        n.read_at.is_some() || self.read_before.as_deref().is_some_and(|b| n.notification_id.as_str() <= b)
    }
}

/// One notification to record for one person, with what it changes beside the feed.
#[derive(Debug, Clone)]
pub struct NewNotification {
    pub user_id: UserId,
    pub org_id: OrgId,
    pub record: NotificationRecord,
    /// SHA-256 of the event's idempotency key.
    pub guard: String,
    /// Message content for the digest's email, kept until `until`.
    pub content: Option<(String, DateTime<Utc>)>,
    /// When its digest is due (`Some` exactly when `record.digest` is), and the due index's
    /// partition for this person.
    pub due: Option<(String, DateTime<Utc>)>,
    pub now: DateTime<Utc>,
}

/// What became of one notification.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorded {
    New,
    /// The event was seen before: nothing changed.
    Duplicate,
    /// Its id (or its window's end) does not come after the marks already in the feed: a read
    /// mark, a claimed window or a later id, made by a machine whose clock is ahead. Record it
    /// again above them ([`Store::feed_marks`]).
    Stale,
}

/// Items per notification in a transaction, at most: guard, notification, feed, digest, content.
const ITEMS_EACH: usize = 5;

/// The sort key of a due index (`gsi3`): whole seconds, UTC, so strings compare as times.
pub fn due_sk(due: DateTime<Utc>) -> String {
    due.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// The key of an event already recorded for a recipient: the same event again records nothing.
struct EventGuard;

impl crate::store::items::Entity for EventGuard {
    const TYPE: &'static str = "notification_event_guard";
}

/// A notification's message text, kept apart and for less time than the notification.
struct NotificationContent;

impl crate::store::items::Entity for NotificationContent {
    const TYPE: &'static str = "notification_content";
}

impl Entity for FeedRecord {
    const TYPE: &'static str = "notification_feed";
}

impl NewNotification {
    fn items(&self, t: &str) -> Result<Tx> {
        let pk = partition(&self.user_id, &self.org_id);
        let id = &self.record.notification_id;
        let mut guard = typed::<EventGuard>(key(pk.clone(), format!("KEY#{}", self.guard)));
        guard.insert("at".to_owned(), s(self.now.to_rfc3339()));
        let guard = with_ttl(guard, self.now + Duration::days(GUARD_DAYS));
        let mut items = Tx::new();
        items.guarded(Guard::Once, tx::put_new(t, guard)?).extend([
            tx::put_new(
                t,
                with_ttl(
                    to_item(&self.record, pk.clone(), NotificationRecord::sk(id))?,
                    self.now + Duration::days(FEED_DAYS),
                ),
            )?,
            tx::update(
                typed_update::<FeedRecord>(tx::update_builder(t, key(pk.clone(), FeedRecord::SK)))
                    .update_expression("SET #et = :et ADD unread :one")
                    .condition_expression("attribute_not_exists(read_before) OR read_before < :id")
                    .expression_attribute_values(":one", n(1))
                    .expression_attribute_values(":id", s(id)),
            )?,
        ]);
        if let (Some(interval), Some((shard, due))) = (self.record.digest, &self.due) {
            // The notification joins the window waiting (or opens the next one) only with an id
            // after every id counted so far and after the last claimed window, and, opening a
            // window, with an end after the last one claimed: whatever clock made the id, it
            // lands in a window still to come. Otherwise it is `Stale` and tried again above
            // those marks.
            items.push(tx::update(
                tx::update_builder(t, key(pk.clone(), crate::store::DigestState::sk(interval)))
                    .update_expression(
                        "ADD #pending :one SET #ip = if_not_exists(#ip, :shard), #is = if_not_exists(#is, :due), \
                         user_id = :u, org_id = :o, #iv = :iv, #last = :id",
                    )
                    .condition_expression(
                        "(attribute_not_exists(#since) OR #since < :id) AND (attribute_not_exists(#last) OR #last < :id) \
                         AND (attribute_exists(#is) OR attribute_not_exists(#ldue) OR #ldue < :due)",
                    )
                    .expression_attribute_names("#pending", "pending")
                    .expression_attribute_names("#since", "since")
                    .expression_attribute_names("#last", "last_id")
                    .expression_attribute_names("#ldue", "last_due")
                    .expression_attribute_names("#ip", crate::store::table::GSI3.key.hash)
                    .expression_attribute_names("#is", crate::store::table::GSI3.key.range)
                    .expression_attribute_names("#iv", "interval")
                    .expression_attribute_values(":one", n(1))
                    .expression_attribute_values(":shard", s(shard))
                    .expression_attribute_values(":due", s(due_sk(*due)))
                    .expression_attribute_values(":u", s(self.user_id.as_str()))
                    .expression_attribute_values(":o", s(self.org_id.as_str()))
                    .expression_attribute_values(":iv", s(interval.as_str()))
                    .expression_attribute_values(":id", s(id)),
            )?);
        }
        if let Some((content, until)) = &self.content {
            let mut item: Item = [("content".to_owned(), s(content))].into_iter().collect();
            item.extend(key(pk, NotificationRecord::content_sk(id)));
            let item = typed::<NotificationContent>(item);
            items.push(tx::put(t, with_ttl(item, *until))?);
        }
        Ok(items)
    }
}

impl Store {
    /// Record notifications, each atomically with its guard, unread count and digest: many
    /// in one transaction while none was seen before; one by one otherwise, to tell which.
    /// Returns what became of each, in order.
    pub async fn record_notifications(&self, batch: &[NewNotification]) -> Result<Vec<Recorded>> {
        let t = self.table_name();
        let mut out = Vec::with_capacity(batch.len());
        for chunk in batch.chunks(crate::store::tx::MAX_ITEMS / ITEMS_EACH) {
            let mut items = Tx::new();
            for n in chunk {
                items.append(n.items(t)?);
            }
            match self.transact(items).await {
                Ok(()) => out.extend(chunk.iter().map(|_| Recorded::New)),
                Err(TxError::Conditions(_)) => {
                    for n in chunk {
                        out.push(match self.transact(n.items(t)?).await {
                            Ok(()) => Recorded::New,
                            // Its key was recorded: seen before.
                            Err(TxError::Conditions(f)) if f.maybe(Guard::Once) => Recorded::Duplicate,
                            Err(TxError::Conditions(_)) => Recorded::Stale,
                            Err(TxError::Other(e)) => return Err(e),
                        });
                    }
                }
                Err(TxError::Other(e)) => return Err(e),
            }
        }
        Ok(out)
    }

    /// The feed items of many people (their choices), by (user, org); missing ones are absent.
    pub async fn feeds(&self, pairs: &[(UserId, OrgId)]) -> Result<HashMap<(UserId, OrgId), FeedRecord>> {
        let by_pk: HashMap<String, &(UserId, OrgId)> = pairs.iter().map(|p| (partition(&p.0, &p.1), p)).collect();
        let keys = by_pk.keys().map(|pk| key(pk.clone(), FeedRecord::SK)).collect();
        let mut out = HashMap::new();
        for item in self.batch_get(keys).await? {
            let pk = item.get(crate::store::table::PRIMARY.hash).and_then(|v| v.as_s().ok());
            if let Some(pair) = pk.and_then(|pk| by_pk.get(pk)) {
                out.insert((*pair).clone(), from_item(item)?);
            }
        }
        Ok(out)
    }

    pub async fn feed(&self, user: &UserId, org: &OrgId) -> Result<FeedRecord> {
        Ok(self.get_item(&partition(user, org), FeedRecord::SK).await?.map(from_item).transpose()?.unwrap_or_default())
    }

    /// What notifications' ids and window ends must come after, read strongly consistent in
    /// one batch for all of them: each feed's read mark and, for a gathered type, the digest's
    /// state; by partition (absent items read as empty).
    pub async fn feed_marks(
        &self,
        wanted: &[(&UserId, &OrgId, Option<Interval>)],
    ) -> Result<HashMap<String, (FeedRecord, Option<crate::store::DigestState>)>> {
        let mut keys = BTreeSet::new();
        for (user, org, interval) in wanted {
            let pk = partition(user, org);
            keys.insert((pk.clone(), FeedRecord::SK.to_owned()));
            keys.extend(interval.map(|iv| (pk.clone(), crate::store::DigestState::sk(iv))));
        }
        let mut marks: HashMap<String, (FeedRecord, Option<crate::store::DigestState>)> = HashMap::new();
        for item in self.batch_get(keys.into_iter().map(|(pk, sk)| key(pk, sk)).collect()).await? {
            let text = |name: &str| item.get(name).and_then(|v| v.as_s().ok()).cloned().unwrap_or_default();
            let (pk, sk) = (text(crate::store::table::PRIMARY.hash), text(crate::store::table::PRIMARY.range));
            let entry = marks.entry(pk).or_default();
            if sk == FeedRecord::SK {
                entry.0 = from_item(item)?;
            } else {
                entry.1 = Some(from_item(item)?);
            }
        }
        Ok(marks)
    }

    /// A page of the feed, newest first.
    pub async fn notifications(
        &self,
        user: &UserId,
        org: &OrgId,
        limit: i32,
        cursor: Option<&Cursor>,
    ) -> Result<Page<NotificationRecord>> {
        let page = self.query_prefix(None, &partition(user, org), "N#", QueryDir::Backward, limit, cursor).await?;
        Ok(Page { items: page.items.into_iter().map(from_item).collect::<Result<_>>()?, next: page.next })
    }

    /// Mark one notification read. `false`: there is no such notification.
    pub async fn mark_read(&self, user: &UserId, org: &OrgId, id: &str, now: DateTime<Utc>) -> Result<bool> {
        let t = self.table_name();
        let pk = partition(user, org);
        let items = vec![
            tx::update(
                tx::update_builder(t, key(pk.clone(), NotificationRecord::sk(id)))
                    .update_expression("SET read_at = :now")
                    .condition_expression("attribute_exists(#pk) AND attribute_not_exists(read_at)")
                    .expression_attribute_names("#pk", crate::store::table::PRIMARY.hash)
                    .expression_attribute_values(":now", s(now.to_rfc3339())),
            )?,
            tx::update(
                tx::update_builder(t, key(pk.clone(), FeedRecord::SK))
                    .update_expression("ADD unread :minus")
                    .condition_expression("unread > :zero AND (attribute_not_exists(read_before) OR read_before < :id)")
                    .expression_attribute_values(":minus", n(-1))
                    .expression_attribute_values(":zero", n(0))
                    .expression_attribute_values(":id", s(id)),
            )?,
        ];
        match self.transact(items).await {
            Ok(()) => Ok(true),
            // Read already (one by one, or by "mark all"): nothing to count down.
            Err(TxError::Conditions(_)) => Ok(self.get_item(&pk, &NotificationRecord::sk(id)).await?.is_some()),
            Err(TxError::Other(e)) => Err(e),
        }
    }

    /// Everything up to `mark` (a ULID of now) is read; the unread count starts over. A newer
    /// mark already set wins.
    pub async fn mark_all_read(&self, user: &UserId, org: &OrgId, mark: &str) -> Result<()> {
        let res = self
            .client
            .update_item()
            .table_name(self.table_name())
            .set_key(Some(key(partition(user, org), FeedRecord::SK)))
            .update_expression("SET read_before = :m, unread = :zero, #et = :et")
            .condition_expression("attribute_not_exists(read_before) OR read_before < :m")
            .expression_attribute_names("#et", ENTITY_TYPE)
            .expression_attribute_values(":et", s(<FeedRecord as Entity>::TYPE))
            .expression_attribute_values(":m", s(mark))
            .expression_attribute_values(":zero", n(0))
            .send()
            .await;
        crate::store::error::applied(res).map(|_| ())
    }

    /// Replace the person's choices (unread count and read mark untouched).
    pub async fn put_preferences(&self, user: &UserId, org: &OrgId, prefs: &FeedRecord) -> Result<()> {
        let off: Vec<AttributeValue> = prefs.off.iter().map(|t| s(t.key())).collect();
        let mut u = self
            .client
            .update_item()
            .table_name(self.table_name())
            .set_key(Some(key(partition(user, org), FeedRecord::SK)))
            .expression_attribute_names("#off", "off")
            .expression_attribute_values(":off", AttributeValue::L(off))
            .expression_attribute_names("#et", ENTITY_TYPE)
            .expression_attribute_values(":et", s(<FeedRecord as Entity>::TYPE));
        let mut set = vec!["#off = :off", "#et = :et"];
        let mut remove = Vec::new();
        match prefs.digest_hour {
            Some(h) => {
                set.push("digest_hour = :h");
                u = u.expression_attribute_values(":h", n(i64::from(h)));
            }
            None => remove.push("digest_hour"),
        }
        match &prefs.digest_weekday {
            Some(w) => {
                set.push("digest_weekday = :w");
                u = u.expression_attribute_values(":w", s(w));
            }
            None => remove.push("digest_weekday"),
        }
        let mut expr = format!("SET {}", set.join(", "));
        if !remove.is_empty() {
            expr.push_str(&format!(" REMOVE {}", remove.join(", ")));
        }
        u.update_expression(expr).send().await.map_err(storage)?;
        Ok(())
    }
}
