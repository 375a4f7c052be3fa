//! Conversion between records and DynamoDB items. Records carry no key attributes: each
//! entity module adds its own keys, built beside the entity, and every record written through
//! [`to_item`] names its entity type in [`ENTITY_TYPE`], so a reader of a partition (an
//! export) knows what an item is without guessing from its key.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::Result;
use crate::store::error::storage;
use crate::store::ops::{Item, s};
use crate::store::table::{GSI1, PRIMARY, TTL_ATTRIBUTE};

/// The attribute naming an item's entity type.
pub const ENTITY_TYPE: &str = "entity_type";

/// A kind of record kept in the table, with the name its items carry in [`ENTITY_TYPE`].
pub trait Entity {
    const TYPE: &'static str;
}

/// The entity type an item names, if it names one.
pub fn entity_of(item: &Item) -> Option<&str> {
    item.get(ENTITY_TYPE).and_then(|v| v.as_s().ok()).map(String::as_str)
}

/// An item written by hand (a guard, an index entry, a catalog), named as `T`.
pub(crate) fn typed<T: Entity>(mut item: Item) -> Item {
    item.insert(ENTITY_TYPE.to_owned(), s(T::TYPE));
    item
}

/// For an update that may create its item: `SET #et = :et` names it as `T` (add `#et = :et` to
/// the update's `SET` clause).
pub(crate) fn typed_update<T: Entity>(
    b: aws_sdk_dynamodb::types::builders::UpdateBuilder,
) -> aws_sdk_dynamodb::types::builders::UpdateBuilder {
    b.expression_attribute_names("#et", ENTITY_TYPE).expression_attribute_values(":et", s(T::TYPE))
}

pub(crate) fn to_item<T: Serialize + Entity>(record: &T, pk: String, sk: String) -> Result<Item> {
    let mut item: Item = serde_dynamo::to_item(record).map_err(storage)?;
    item.insert(ENTITY_TYPE.to_owned(), s(T::TYPE));
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
