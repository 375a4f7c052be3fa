//! The table's shape, declared once. `create_if_missing` builds it for local engines and
//! tests; a test checks that `infra/template.yaml` declares exactly the same keys, indexes and
//! TTL attribute.

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection, ProjectionType,
    ScalarAttributeType, TimeToLiveSpecification,
};

use crate::error::Result;
use crate::store::Store;
use crate::store::error::storage;

/// A key schema: hash attribute and range attribute, both strings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyDef {
    pub hash: &'static str,
    pub range: &'static str,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IndexDef {
    pub name: &'static str,
    pub key: KeyDef,
}

pub const PRIMARY: KeyDef = KeyDef { hash: "pk", range: "sk" };

/// Inverse lookups: an organization's members, an organization tree by path.
pub const GSI1: IndexDef = IndexDef { name: "gsi1", key: KeyDef { hash: "gsi1pk", range: "gsi1sk" } };

/// Direct children of an organization.
pub const GSI2: IndexDef = IndexDef { name: "gsi2", key: KeyDef { hash: "gsi2pk", range: "gsi2sk" } };

/// Digests by when they are due: sparse, an item is in it only while something waits
/// (`DUE#<shard>` / due time), so a run reads what is due and nothing else.
pub const GSI3: IndexDef = IndexDef { name: "gsi3", key: KeyDef { hash: "gsi3pk", range: "gsi3sk" } };

pub const INDEXES: &[IndexDef] = &[GSI1, GSI2, GSI3];

/// Epoch seconds after which DynamoDB may delete an item (sessions, tokens, throttles).
pub const TTL_ATTRIBUTE: &str = "ttl";

fn key_schema(k: KeyDef) -> Result<Vec<KeySchemaElement>> {
    let el =
        |name: &str, t: KeyType| KeySchemaElement::builder().attribute_name(name).key_type(t).build().map_err(storage);
    Ok(vec![el(k.hash, KeyType::Hash)?, el(k.range, KeyType::Range)?])
}

fn string_attr(name: &str) -> Result<AttributeDefinition> {
    AttributeDefinition::builder().attribute_name(name).attribute_type(ScalarAttributeType::S).build().map_err(storage)
}

impl Store {
    /// Create the table with its indexes and TTL unless it exists. For local engines and tests;
    /// in AWS the SAM template owns the table.
    pub async fn create_table_if_missing(&self) -> Result<()> {
        match self.client.describe_table().table_name(self.table_name()).send().await {
            Ok(_) => return Ok(()),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_resource_not_found_exception()) => {}
            Err(e) => return Err(storage(e)),
        }
        let mut attrs = vec![string_attr(PRIMARY.hash)?, string_attr(PRIMARY.range)?];
        let mut req = self
            .client
            .create_table()
            .table_name(self.table_name())
            .billing_mode(BillingMode::PayPerRequest)
            .set_key_schema(Some(key_schema(PRIMARY)?));
        for idx in INDEXES {
            attrs.push(string_attr(idx.key.hash)?);
            attrs.push(string_attr(idx.key.range)?);
            req = req.global_secondary_indexes(
                GlobalSecondaryIndex::builder()
                    .index_name(idx.name)
                    .set_key_schema(Some(key_schema(idx.key)?))
                    .projection(Projection::builder().projection_type(ProjectionType::All).build())
                    .build()
                    .map_err(storage)?,
            );
        }
        match req.set_attribute_definitions(Some(attrs)).send().await {
            Ok(_) => {}
            // Another process created it between describe and create.
            Err(e) if e.as_service_error().is_some_and(|s| s.is_resource_in_use_exception()) => {
                return Ok(());
            }
            Err(e) => return Err(storage(e)),
        }
        self.client
            .update_time_to_live()
            .table_name(self.table_name())
            .time_to_live_specification(
                TimeToLiveSpecification::builder()
                    .attribute_name(TTL_ATTRIBUTE)
                    .enabled(true)
                    .build()
                    .map_err(storage)?,
            )
            .send()
            .await
            .map_err(storage)?;
        Ok(())
    }

    /// What the engine reports for the table: (key schema, indexes, TTL attribute).
    pub async fn describe_shape(&self) -> Result<(KeyDef, Vec<(String, String, String)>, Option<String>)> {
        let t = self.client.describe_table().table_name(self.table_name()).send().await.map_err(storage)?;
        let table = t.table.ok_or_else(|| crate::Error::internal("DescribeTable answered without a table"))?;
        let find = |ks: &[KeySchemaElement], kt: KeyType| {
            ks.iter().find(|k| k.key_type == kt).map(|k| k.attribute_name.clone()).unwrap_or_default()
        };
        let ks = table.key_schema.unwrap_or_default();
        let primary = (find(&ks, KeyType::Hash), find(&ks, KeyType::Range));
        let indexes = table
            .global_secondary_indexes
            .unwrap_or_default()
            .into_iter()
            .map(|g| {
                let ks = g.key_schema.unwrap_or_default();
                (g.index_name.unwrap_or_default(), find(&ks, KeyType::Hash), find(&ks, KeyType::Range))
            })
            .collect();
        let ttl = self
            .client
            .describe_time_to_live()
            .table_name(self.table_name())
            .send()
            .await
            .map_err(storage)?
            .time_to_live_description
            .and_then(|d| d.attribute_name);
        let primary_ok = primary.0 == PRIMARY.hash && primary.1 == PRIMARY.range;
        Ok((if primary_ok { PRIMARY } else { KeyDef { hash: "?", range: "?" } }, indexes, ttl))
    }
}
