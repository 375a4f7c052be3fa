//! The handful of generic table operations every entity module builds on.

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::types::{AttributeValue, DeleteRequest, KeysAndAttributes, PutRequest, WriteRequest};

use crate::error::{Error, Result};
use crate::store::Store;
use crate::store::cursor::Cursor;
use crate::store::error::storage;
use crate::store::table::{IndexDef, PRIMARY};

pub type Item = HashMap<String, AttributeValue>;

/// Largest batch DynamoDB accepts per BatchWriteItem / BatchGetItem call.
const WRITE_BATCH: usize = 25;
const GET_BATCH: usize = 100;
/// Unprocessed items are retried with exponential backoff this many times before giving up.
const BATCH_RETRIES: u32 = 8;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueryDir {
    Forward,
    Backward,
}

#[derive(Debug)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next: Option<Cursor>,
}

/// A failed query: a forged cursor pointing outside the key range (DynamoDB's validation
/// error when a cursor was given) is the caller's fault; anything else is storage's.
pub(crate) fn query_failed<R: std::fmt::Debug + Send + Sync + 'static>(
    e: aws_sdk_dynamodb::error::SdkError<aws_sdk_dynamodb::operation::query::QueryError, R>,
    cursor_given: bool,
) -> Error {
    use aws_sdk_dynamodb::error::ProvideErrorMetadata;
    if cursor_given && e.as_service_error().and_then(|s| s.code()) == Some("ValidationException") {
        Error::validation("invalid_cursor", "cursor", "does not belong to this listing")
    } else {
        storage(e)
    }
}

/// A shard in `0..shards` for `text`, the same on every machine (SHA-256's first four bytes).
pub(crate) fn shard_of_text(text: &str, shards: u32) -> u32 {
    use sha2::Digest;
    let h = sha2::Sha256::digest(text.as_bytes());
    u32::from_be_bytes([h[0], h[1], h[2], h[3]]) % shards
}

pub(crate) fn key(pk: impl Into<String>, sk: impl Into<String>) -> Item {
    HashMap::from([
        (PRIMARY.hash.to_owned(), AttributeValue::S(pk.into())),
        (PRIMARY.range.to_owned(), AttributeValue::S(sk.into())),
    ])
}

pub(crate) fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

pub(crate) fn n(v: i64) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

/// How long to wait before retry `attempt` (1, 2, …): "full jitter" over an exponential
/// cap, so writers that collided do not collide again in step.
pub(crate) fn backoff(attempt: u32) -> Duration {
    let cap = 20u64 << attempt.min(7);
    Duration::from_millis(rand::random_range(cap / 4..=cap))
}

/// Reads one filtered page may take to fill itself.
pub(crate) const FILTERED_ROUNDS: usize = 4;

impl Store {
    /// Strongly consistent read of one item.
    pub(crate) async fn get_item(&self, pk: &str, sk: &str) -> Result<Option<Item>> {
        let out = self
            .client
            .get_item()
            .table_name(self.table_name())
            .set_key(Some(key(pk, sk)))
            .consistent_read(true)
            .send()
            .await
            .map_err(storage)?;
        Ok(out.item)
    }

    /// Put an item only if no item with its key exists. `Ok(false)` when one does.
    pub async fn put_new(&self, item: Item) -> Result<bool> {
        let res = self
            .client
            .put_item()
            .table_name(self.table_name())
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(#pk)")
            .expression_attribute_names("#pk", PRIMARY.hash)
            .send()
            .await;
        crate::store::error::applied(res)
    }

    /// Items of one partition whose sort key starts with `sk_prefix`, a page at a time, on the
    /// table or on an index (index reads are eventually consistent, table reads are not).
    pub async fn query_prefix(
        &self,
        index: Option<&IndexDef>,
        pk: &str,
        sk_prefix: &str,
        dir: QueryDir,
        limit: i32,
        cursor: Option<&Cursor>,
    ) -> Result<Page<Item>> {
        self.query_page(index, pk, sk_prefix, dir, limit, cursor, None).await
    }

    /// [`Store::query_prefix`], keeping only items whose `attr` contains `text` (`contains`
    /// filter). The page is filled across a few reads (DynamoDB filters after its limit);
    /// past [`FILTERED_ROUNDS`] it ends short, with a cursor to go on.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn query_page(
        &self,
        index: Option<&IndexDef>,
        pk: &str,
        sk_prefix: &str,
        dir: QueryDir,
        limit: i32,
        cursor: Option<&Cursor>,
        contains: Option<(&str, &str)>,
    ) -> Result<Page<Item>> {
        let keydef = index.map(|i| i.key).unwrap_or(PRIMARY);
        let wanted = limit.clamp(1, 1000) as usize;
        let mut start = cursor.map(|c| c.to_key(keydef.hash, pk)).transpose()?;
        let mut items: Vec<Item> = Vec::new();
        // One more than asked, so a page that ends the listing says so (no cursor to an empty
        // page). A read that stops short with a key to go on (DynamoDB's 1 MB page, or its
        // limit before a filter) is followed, so the page is full whenever there is more.
        let mut rounds = 0;
        loop {
            rounds += 1;
            let mut q = self
                .client
                .query()
                .table_name(self.table_name())
                .set_index_name(index.map(|i| i.name.to_owned()))
                .key_condition_expression("#h = :h AND begins_with(#r, :p)")
                .expression_attribute_names("#h", keydef.hash)
                .expression_attribute_names("#r", keydef.range)
                .expression_attribute_values(":h", s(pk))
                .expression_attribute_values(":p", s(sk_prefix))
                .scan_index_forward(dir == QueryDir::Forward)
                .consistent_read(index.is_none())
                .limit((wanted + 1 - items.len()) as i32)
                .set_exclusive_start_key(start.take());
            if let Some((attr, text)) = contains {
                q = q
                    .filter_expression("contains(#f, :f)")
                    .expression_attribute_names("#f", attr)
                    .expression_attribute_values(":f", s(text));
            }
            let out = q.send().await.map_err(|e| query_failed(e, cursor.is_some()))?;
            items.extend(out.items.unwrap_or_default());
            start = out.last_evaluated_key;
            let out_of_rounds = contains.is_some() && rounds >= FILTERED_ROUNDS;
            if items.len() > wanted || start.is_none() || out_of_rounds {
                break;
            }
        }
        let next = if items.len() > wanted {
            items.truncate(wanted);
            // The next page starts after the last item kept.
            items.last().and_then(|last| Cursor::after(last, &[keydef.hash, keydef.range, PRIMARY.hash, PRIMARY.range]))
        } else {
            // Read as far as the rounds allow: where to go on, if anything is left.
            start.as_ref().and_then(Cursor::from_key)
        };
        Ok(Page { items, next })
    }

    /// Every item of one partition whose sort key starts with `sk_prefix` (strongly consistent),
    /// one query per 1,000, converted to `T`.
    pub(crate) async fn query_all<T: serde::de::DeserializeOwned>(&self, pk: &str, sk_prefix: &str) -> Result<Vec<T>> {
        let mut out = Vec::new();
        let mut cursor = None;
        loop {
            let page = self.query_prefix(None, pk, sk_prefix, QueryDir::Forward, 1000, cursor.as_ref()).await?;
            for item in page.items {
                out.push(crate::store::items::from_item(item)?);
            }
            match page.next {
                Some(c) => cursor = Some(c),
                None => return Ok(out),
            }
        }
    }

    /// A page of the due index (`gsi3`): partition `hash`, sort keys up to `bound` (below it
    /// unless `inclusive`), earliest first.
    pub(crate) async fn due_page(
        &self,
        hash: &str,
        bound: &str,
        inclusive: bool,
        limit: i32,
        cursor: Option<&Cursor>,
    ) -> Result<(Vec<Item>, Option<Cursor>)> {
        use crate::store::table::GSI3;
        let start = cursor.map(|c| c.to_key(GSI3.key.hash, hash)).transpose()?;
        let out = self
            .client
            .query()
            .table_name(self.table_name())
            .index_name(GSI3.name)
            .key_condition_expression(if inclusive { "#h = :h AND #r <= :b" } else { "#h = :h AND #r < :b" })
            .expression_attribute_names("#h", GSI3.key.hash)
            .expression_attribute_names("#r", GSI3.key.range)
            .expression_attribute_values(":h", s(hash))
            .expression_attribute_values(":b", s(bound))
            .limit(limit.clamp(1, 1000))
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(storage)?;
        let next = out.last_evaluated_key.as_ref().and_then(Cursor::from_key);
        Ok((out.items.unwrap_or_default(), next))
    }

    /// A page of a whole partition, from `cursor` (strongly consistent).
    pub async fn partition_items(&self, pk: &str, limit: i32, cursor: Option<&Cursor>) -> Result<Page<Item>> {
        let start = cursor.map(|c| c.to_key(PRIMARY.hash, pk)).transpose()?;
        let out = self
            .client
            .query()
            .table_name(self.table_name())
            .key_condition_expression("#h = :h")
            .expression_attribute_names("#h", PRIMARY.hash)
            .expression_attribute_values(":h", s(pk))
            .consistent_read(true)
            .limit(limit)
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(crate::store::error::storage)?;
        Ok(Page {
            next: out.last_evaluated_key.as_ref().and_then(Cursor::from_key),
            items: out.items.unwrap_or_default(),
        })
    }

    /// Delete an item only while `attr` is still `value` (a guard another owner may hold since,
    /// a credential another login may have taken): 1 if it was deleted, 0 if not.
    pub(crate) async fn delete_if(&self, pk: &str, sk: &str, attr: &str, value: &str) -> Result<usize> {
        let res = self
            .client
            .delete_item()
            .table_name(self.table_name())
            .set_key(Some(key(pk, sk)))
            .condition_expression("#a = :v")
            .expression_attribute_names("#a", attr)
            .expression_attribute_values(":v", s(value))
            .send()
            .await;
        Ok(usize::from(crate::store::error::applied(res)?))
    }

    /// Delete every item of one partition, a page (1,000) at a time; returns how many.
    pub(crate) async fn delete_partition(&self, pk: &str) -> Result<usize> {
        let mut deleted = 0;
        loop {
            let page = self.partition_items(pk, 1000, None).await?;
            if page.items.is_empty() {
                return Ok(deleted);
            }
            deleted += page.items.len();
            let keys = page
                .items
                .iter()
                .filter_map(|i| Some(key(i.get(PRIMARY.hash)?.as_s().ok()?, i.get(PRIMARY.range)?.as_s().ok()?)))
                .collect();
            self.batch_write(Vec::new(), keys).await?;
        }
    }

    /// Put and delete any number of items in batches of 25, retrying what DynamoDB leaves
    /// unprocessed. Not atomic: for independent items only (use a transaction otherwise).
    pub async fn batch_write(&self, puts: Vec<Item>, deletes: Vec<Item>) -> Result<()> {
        let mut requests: Vec<WriteRequest> = Vec::with_capacity(puts.len() + deletes.len());
        for item in puts {
            requests.push(
                WriteRequest::builder()
                    .put_request(PutRequest::builder().set_item(Some(item)).build().map_err(storage)?)
                    .build(),
            );
        }
        for key in deletes {
            requests.push(
                WriteRequest::builder()
                    .delete_request(DeleteRequest::builder().set_key(Some(key)).build().map_err(storage)?)
                    .build(),
            );
        }
        for chunk in requests.chunks(WRITE_BATCH) {
            let mut pending = chunk.to_vec();
            let mut attempt = 0;
            while !pending.is_empty() {
                if attempt > BATCH_RETRIES {
                    return Err(crate::error::Error::busy(format!(
                        "{} writes left unprocessed after retries",
                        pending.len()
                    )));
                }
                if attempt > 0 {
                    tokio::time::sleep(backoff(attempt)).await;
                }
                let out = self
                    .client
                    .batch_write_item()
                    .request_items(self.table_name(), pending)
                    .send()
                    .await
                    .map_err(storage)?;
                pending = out.unprocessed_items.and_then(|mut m| m.remove(self.table_name())).unwrap_or_default();
                attempt += 1;
            }
        }
        Ok(())
    }

    /// Strongly consistent reads of many keys, retrying unprocessed keys. Missing items are
    /// simply absent from the result; order is not preserved.
    pub(crate) async fn batch_get(&self, keys: Vec<Item>) -> Result<Vec<Item>> {
        let mut found = Vec::with_capacity(keys.len());
        for chunk in keys.chunks(GET_BATCH) {
            let mut pending = chunk.to_vec();
            let mut attempt = 0;
            while !pending.is_empty() {
                if attempt > BATCH_RETRIES {
                    return Err(crate::error::Error::busy(format!(
                        "{} reads left unprocessed after retries",
                        pending.len()
                    )));
                }
                if attempt > 0 {
                    tokio::time::sleep(backoff(attempt)).await;
                }
                let req = KeysAndAttributes::builder()
                    .set_keys(Some(pending))
                    .consistent_read(true)
                    .build()
                    .map_err(storage)?;
                let out =
                    self.client.batch_get_item().request_items(self.table_name(), req).send().await.map_err(storage)?;
                if let Some(mut r) = out.responses {
                    found.extend(r.remove(self.table_name()).unwrap_or_default());
                }
                pending = out
                    .unprocessed_keys
                    .and_then(|mut m| m.remove(self.table_name()))
                    .map(|k| k.keys)
                    .unwrap_or_default();
                attempt += 1;
            }
        }
        Ok(found)
    }

    pub(crate) async fn delete_item(&self, pk: &str, sk: &str) -> Result<()> {
        self.client
            .delete_item()
            .table_name(self.table_name())
            .set_key(Some(key(pk, sk)))
            .send()
            .await
            .map_err(storage)?;
        Ok(())
    }
}
