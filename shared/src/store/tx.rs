//! Transactions: building blocks for conditional transaction items, and a runner that
//! retries transaction conflicts and reports which conditions failed.

use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{ConditionCheck, Put, TransactWriteItem, Update};

use crate::error::Error;
use crate::store::Store;
use crate::store::error::storage;
use crate::store::ops::Item;
use crate::store::table::PRIMARY;

/// What an item's condition guards: a transaction names the items whose failure means
/// something of its own, and a failure is read by these names, never by position.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Guard {
    /// A single-use token or proof is still there (and still this one).
    Token,
    /// The organization has a free seat.
    Seats,
    /// The person is not yet a member (or the membership is as read).
    Membership,
    /// The person is not yet invited.
    Invitation,
    /// The address has no login yet.
    Login,
    /// The record changed is still there (a group, an inbox, a template).
    Exists,
    /// A name is free (a template's, a login domain's, a company domain's).
    Name,
    /// An organization (the parent, or each of a lineage) is there and open.
    Open,
    /// The row or event was not recorded before.
    Once,
    /// The device is not remembered yet.
    Device,
    /// A count stays under its limit (templates, shared groups).
    Limit,
    /// The n-th contact of a batch is new.
    Contact(usize),
}

/// A transaction being built: its items, and the guard of those whose failure the caller
/// tells apart.
#[derive(Debug, Default)]
pub(crate) struct Tx {
    items: Vec<TransactWriteItem>,
    guards: Vec<Option<Guard>>,
}

impl Tx {
    pub(crate) fn new() -> Tx {
        Tx::default()
    }

    /// Add an item whose failed condition means `guard`.
    pub(crate) fn guarded(&mut self, guard: Guard, item: TransactWriteItem) -> &mut Tx {
        self.items.push(item);
        self.guards.push(Some(guard));
        self
    }

    pub(crate) fn push(&mut self, item: TransactWriteItem) -> &mut Tx {
        self.items.push(item);
        self.guards.push(None);
        self
    }

    pub(crate) fn extend(&mut self, items: impl IntoIterator<Item = TransactWriteItem>) -> &mut Tx {
        for item in items {
            self.push(item);
        }
        self
    }

    /// Another transaction's items, with their guards.
    pub(crate) fn append(&mut self, mut other: Tx) -> &mut Tx {
        self.items.append(&mut other.items);
        self.guards.append(&mut other.guards);
        self
    }

    pub(crate) fn len(&self) -> usize {
        self.items.len()
    }
}

impl From<Vec<TransactWriteItem>> for Tx {
    fn from(items: Vec<TransactWriteItem>) -> Tx {
        let guards = vec![None; items.len()];
        Tx { items, guards }
    }
}

/// The conditions a cancelled transaction failed.
#[derive(Debug, Default)]
pub(crate) struct Failed {
    guards: Vec<Guard>,
    /// The engine said which items failed (moto, for some transactions, gives no reasons).
    explained: bool,
}

impl Failed {
    /// The condition named `guard` failed.
    pub(crate) fn has(&self, guard: Guard) -> bool {
        self.guards.contains(&guard)
    }

    /// The engine gave no reasons: any condition may have failed.
    pub(crate) fn unexplained(&self) -> bool {
        !self.explained
    }

    /// `guard` failed, or the engine did not say which did.
    pub(crate) fn maybe(&self, guard: Guard) -> bool {
        self.unexplained() || self.has(guard)
    }

    /// The named conditions that failed, in the order of the items.
    pub(crate) fn guards(&self) -> impl Iterator<Item = Guard> + '_ {
        self.guards.iter().copied()
    }
}

/// Why a transaction did not commit.
#[derive(Debug)]
pub(crate) enum TxError {
    /// Conditions failed.
    Conditions(Failed),
    Other(Error),
}

/// DynamoDB's limit on the items of one transaction.
pub const MAX_ITEMS: usize = 100;

/// Times a transaction cancelled for a conflict is tried again after its first attempt (seven
/// attempts in all, as docs/faults.md says).
const CONFLICT_RETRIES: u32 = 6;

/// Cancellation reasons that say "not now" rather than "no".
const TRANSIENT_REASONS: [&str; 3] = ["TransactionConflict", "ThrottlingError", "ProvisionedThroughputExceeded"];

pub(crate) fn put_new(table: &str, item: Item) -> Result<TransactWriteItem, Error> {
    let put = Put::builder()
        .table_name(table)
        .set_item(Some(item))
        .condition_expression("attribute_not_exists(#pk)")
        .expression_attribute_names("#pk", PRIMARY.hash)
        .build()
        .map_err(storage)?;
    Ok(TransactWriteItem::builder().put(put).build())
}

pub(crate) fn put(table: &str, item: Item) -> Result<TransactWriteItem, Error> {
    let put = Put::builder().table_name(table).set_item(Some(item)).build().map_err(storage)?;
    Ok(TransactWriteItem::builder().put(put).build())
}

/// A condition on an item the transaction does not write. `#pk` is always bound to the hash key.
pub(crate) fn check(
    table: &str,
    key: Item,
    condition: &str,
    names: &[(&str, &str)],
    values: &[(&str, &str)],
) -> Result<TransactWriteItem, Error> {
    let mut c = ConditionCheck::builder()
        .table_name(table)
        .set_key(Some(key))
        .condition_expression(condition)
        .expression_attribute_names("#pk", PRIMARY.hash);
    for (k, v) in names {
        c = c.expression_attribute_names(*k, *v);
    }
    for (k, v) in values {
        c = c.expression_attribute_values(*k, crate::store::ops::s(*v));
    }
    Ok(TransactWriteItem::builder().condition_check(c.build().map_err(storage)?).build())
}

pub(crate) fn update(b: aws_sdk_dynamodb::types::builders::UpdateBuilder) -> Result<TransactWriteItem, Error> {
    Ok(TransactWriteItem::builder().update(b.build().map_err(storage)?).build())
}

pub(crate) fn update_builder(table: &str, key: Item) -> aws_sdk_dynamodb::types::builders::UpdateBuilder {
    Update::builder().table_name(table).set_key(Some(key))
}

/// Replace an item that belongs to `org` and is still at `version` (both attributes of it).
pub(crate) fn replace_owned(
    table: &str,
    item: Item,
    org: &crate::domain::OrgId,
    version: u64,
) -> Result<TransactWriteItem, Error> {
    let put = Put::builder()
        .table_name(table)
        .set_item(Some(item))
        .condition_expression("attribute_exists(#pk) AND org_id = :org AND version = :v")
        .expression_attribute_names("#pk", PRIMARY.hash)
        .expression_attribute_values(":org", crate::store::ops::s(org.as_str()))
        .expression_attribute_values(":v", crate::store::ops::n(version as i64))
        .build()
        .map_err(storage)?;
    Ok(TransactWriteItem::builder().put(put).build())
}

/// Delete an item, whether or not it is still there.
pub(crate) fn delete(table: &str, key: Item) -> Result<TransactWriteItem, Error> {
    let delete =
        aws_sdk_dynamodb::types::Delete::builder().table_name(table).set_key(Some(key)).build().map_err(storage)?;
    Ok(TransactWriteItem::builder().delete(delete).build())
}

/// Delete an item still at `version`.
pub(crate) fn delete_at_version(table: &str, key: Item, version: u64) -> Result<TransactWriteItem, Error> {
    let delete = aws_sdk_dynamodb::types::Delete::builder()
        .table_name(table)
        .set_key(Some(key))
        .condition_expression("version = :v")
        .expression_attribute_values(":v", crate::store::ops::n(version as i64))
        .build()
        .map_err(storage)?;
    Ok(TransactWriteItem::builder().delete(delete).build())
}

/// Run a change whose only conditions are versions: a failed one means someone changed it.
pub(crate) async fn versioned(store: &Store, items: Vec<TransactWriteItem>) -> Result<(), Error> {
    match store.transact(items).await {
        Ok(()) => Ok(()),
        Err(TxError::Conditions(_)) => Err(Error::PreconditionFailed),
        Err(TxError::Other(e)) => Err(e),
    }
}

/// Delete an item that belongs to `org`.
pub(crate) fn delete_owned(table: &str, key: Item, org: &crate::domain::OrgId) -> Result<TransactWriteItem, Error> {
    let delete = aws_sdk_dynamodb::types::Delete::builder()
        .table_name(table)
        .set_key(Some(key))
        .condition_expression("org_id = :org")
        .expression_attribute_values(":org", crate::store::ops::s(org.as_str()))
        .build()
        .map_err(storage)?;
    Ok(TransactWriteItem::builder().delete(delete).build())
}

impl Store {
    /// Run a transaction whose conditions are the answer: `Ok(false)` when one failed.
    pub(crate) async fn transact_applied(&self, items: Vec<TransactWriteItem>) -> Result<bool, Error> {
        match self.transact(items).await {
            Ok(()) => Ok(true),
            Err(TxError::Conditions(_)) => Ok(false),
            Err(TxError::Other(e)) => Err(e),
        }
    }

    pub(crate) async fn transact(&self, tx: impl Into<Tx>) -> Result<(), TxError> {
        let Tx { items, guards } = tx.into();
        let mut attempt = 0;
        loop {
            let res = self.client.transact_write_items().set_transact_items(Some(items.clone())).send().await;
            let e = match res {
                Ok(_) => return Ok(()),
                Err(e) => e,
            };
            let Some(TransactWriteItemsError::TransactionCanceledException(c)) = e.as_service_error() else {
                // Some engines (moto) report a conflict as an error of its own, by code.
                let conflict = e.as_service_error().is_some_and(|s| {
                    s.is_transaction_in_progress_exception() || s.code() == Some("TransactionConflictException")
                });
                if conflict && attempt < CONFLICT_RETRIES {
                    attempt += 1;
                    tokio::time::sleep(crate::store::ops::backoff(attempt)).await;
                    continue;
                }
                return Err(TxError::Other(storage(e)));
            };
            let reasons = c.cancellation_reasons();
            let failed: Vec<usize> = reasons
                .iter()
                .enumerate()
                .filter(|(_, r)| r.code() == Some("ConditionalCheckFailed"))
                .map(|(i, _)| i)
                .collect();
            if !failed.is_empty() || reasons.is_empty() {
                let guards = failed.iter().filter_map(|i| guards.get(*i).copied().flatten()).collect();
                return Err(TxError::Conditions(Failed { guards, explained: !reasons.is_empty() }));
            }
            // Conflicts with another transaction, or throttling of one item, pass on their own.
            let transient = reasons.iter().filter_map(|r| r.code()).any(|c| TRANSIENT_REASONS.contains(&c));
            if transient && attempt < CONFLICT_RETRIES {
                attempt += 1;
                tokio::time::sleep(crate::store::ops::backoff(attempt)).await;
                continue;
            }
            if transient {
                tracing::warn!(error = ?e, "transaction still conflicting after retries");
                return Err(TxError::Other(crate::error::Error::busy("transaction conflicts outlasted the retries")));
            }
            return Err(TxError::Other(storage(e)));
        }
    }
}
