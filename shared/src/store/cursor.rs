//! Opaque pagination cursors: the engine's LastEvaluatedKey, carried as base64url JSON of
//! string attributes. A cursor is only accepted for the partition it was issued for, so it
//! cannot be used to read another tenant's items.

use std::collections::{BTreeMap, HashMap};

use aws_sdk_dynamodb::types::AttributeValue;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::error::{Error, Result};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor(String);

impl Cursor {
    pub fn parse(raw: &str, field: &str) -> Result<Self> {
        let bad = || Error::validation("invalid_cursor", field, "is not a cursor this API issued");
        if raw.len() > 2048 {
            return Err(bad());
        }
        let bytes = URL_SAFE_NO_PAD.decode(raw).map_err(|_| bad())?;
        serde_json::from_slice::<BTreeMap<String, String>>(&bytes).map_err(|_| bad())?;
        Ok(Cursor(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// A cursor of a listing that is not one query: named fields, one of them `pk` (the
    /// partition it is valid for).
    pub(crate) fn from_fields(fields: &[(&str, &str)]) -> Option<Self> {
        let map: BTreeMap<&str, &str> = fields.iter().copied().collect();
        let json = serde_json::to_vec(&map).ok()?;
        Some(Cursor(URL_SAFE_NO_PAD.encode(json)))
    }

    /// One field of the cursor.
    pub(crate) fn field(&self, name: &str) -> Option<String> {
        let bytes = URL_SAFE_NO_PAD.decode(&self.0).ok()?;
        let mut map: BTreeMap<String, String> = serde_json::from_slice(&bytes).ok()?;
        map.remove(name)
    }

    pub(crate) fn from_key(key: &HashMap<String, AttributeValue>) -> Option<Self> {
        let map: BTreeMap<&str, &str> =
            key.iter().filter_map(|(k, v)| v.as_s().ok().map(|s| (k.as_str(), s.as_str()))).collect();
        let json = serde_json::to_vec(&map).ok()?;
        Some(Cursor(URL_SAFE_NO_PAD.encode(json)))
    }

    /// The cursor that starts after `item`: its values of `attrs` (the index's keys and the
    /// table's), as DynamoDB's own LastEvaluatedKey would name them.
    pub(crate) fn after(item: &HashMap<String, AttributeValue>, attrs: &[&str]) -> Option<Self> {
        let key: HashMap<String, AttributeValue> =
            attrs.iter().filter_map(|a| Some(((*a).to_owned(), item.get(*a)?.clone()))).collect();
        Self::from_key(&key)
    }

    /// The start key, provided it belongs to partition `hash_attr = hash_value`.
    pub(crate) fn to_key(&self, hash_attr: &str, hash_value: &str) -> Result<HashMap<String, AttributeValue>> {
        let bad = || Error::validation("invalid_cursor", "cursor", "does not belong to this listing");
        let bytes = URL_SAFE_NO_PAD.decode(&self.0).map_err(|_| bad())?;
        let map: BTreeMap<String, String> = serde_json::from_slice(&bytes).map_err(|_| bad())?;
        if map.get(hash_attr).map(String::as_str) != Some(hash_value) {
            return Err(bad());
        }
        Ok(map.into_iter().map(|(k, v)| (k, AttributeValue::S(v))).collect())
    }
}
