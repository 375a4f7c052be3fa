//! Conversion between records and DynamoDB items. Records carry no key attributes: each
//! entity module adds its own keys, built beside the entity.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::Result;
use crate::store::error::storage;
use crate::store::ops::{Item, s};
use crate::store::table::{GSI1, PRIMARY, TTL_ATTRIBUTE};

pub(crate) fn to_item<T: Serialize>(record: &T, pk: String, sk: String) -> Result<Item> {
    let mut item: Item = serde_dynamo::to_item(record).map_err(storage)?;
    item.insert(PRIMARY.hash.to_owned(), s(pk));
    item.insert(PRIMARY.range.to_owned(), s(sk));
    Ok(item)
}

pub(crate) fn with_gsi1(mut item: Item, pk: String, sk: String) -> Item {
    item.insert(GSI1.key.hash.to_owned(), s(pk));
    item.insert(GSI1.key.range.to_owned(), s(sk));
    item
}

/// DynamoDB's TTL deletes lazily (within days), so readers still check expiry themselves.
pub(crate) fn with_ttl(mut item: Item, expires: chrono::DateTime<chrono::Utc>) -> Item {
    item.insert(TTL_ATTRIBUTE.to_owned(), crate::store::ops::n(expires.timestamp()));
    item
}

pub(crate) fn from_item<T: DeserializeOwned>(item: Item) -> Result<T> {
    serde_dynamo::from_item(item).map_err(storage)
}
