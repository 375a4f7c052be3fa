//! Moving a login to a new email address: the uniqueness guard (the credential item) moves in
//! the same transaction as the profile, so two logins can never hold one address.
//!
//! Keys: pending change `PENDINGEMAIL#<new address>` / `PENDING` (TTL), so an address can be
//! pending for one login at a time.

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};

use crate::domain::{Email, UserId};
use crate::error::{Error, Result};
use crate::store::error::{is_condition_failed, storage};
use crate::store::items::to_item;
use crate::store::ops::{key, s};
use crate::store::table::PRIMARY;
use crate::store::tx::{self, Guard, TxError};
use crate::store::{CredentialRecord, Store, TokenRecord, UserRecord};

fn pending_pk(email: &Email) -> String {
    format!("PENDINGEMAIL#{email}")
}
const PENDING_SK: &str = "PENDING";

/// An address reserved for a change to it that waits for its confirmation.
struct PendingEmail;

impl crate::store::items::Entity for PendingEmail {
    const TYPE: &'static str = "pending_email";
}

impl Store {
    /// Reserve `email` as pending for `user` unless it is pending for someone else.
    pub async fn reserve_pending_email(
        &self,
        email: &Email,
        user: &UserId,
        expires: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let mut item = std::collections::HashMap::new();
        item.insert(PRIMARY.hash.to_owned(), s(pending_pk(email)));
        item.insert(PRIMARY.range.to_owned(), s(PENDING_SK));
        item.insert("user_id".into(), s(user.as_str()));
        item.insert("expires_at".into(), s(expires.to_rfc3339()));
        item.insert(crate::store::table::TTL_ATTRIBUTE.into(), crate::store::ops::n(expires.timestamp()));
        let item = crate::store::items::typed::<PendingEmail>(item);
        let res = self
            .client
            .put_item()
            .table_name(self.table_name())
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(#pk) OR user_id = :me OR expires_at < :now")
            .expression_attribute_names("#pk", PRIMARY.hash)
            .expression_attribute_values(":me", s(user.as_str()))
            .expression_attribute_values(":now", s(now.to_rfc3339()))
            .send()
            .await;
        match res {
            Ok(_) => Ok(()),
            Err(e) if is_condition_failed(&e) => Err(Error::EmailPending),
            Err(e) => Err(storage(e)),
        }
    }

    /// Complete an address change: token used once, old guard released, new guard taken (it
    /// must be free), profile updated (if its address is still the old one), reservation gone.
    pub async fn change_email(
        &self,
        token_hash: &str,
        token: &TokenRecord,
        credential: &CredentialRecord,
    ) -> Result<()> {
        let t = self.table_name();
        let old = &credential.login;
        let new = token.email.as_ref().ok_or(crate::error::Error::InvalidToken)?;
        let moved = CredentialRecord { login: new.as_str().to_owned(), ..credential.clone() };
        let delete_token = aws_sdk_dynamodb::types::Delete::builder()
            .table_name(t)
            .set_key(Some(key(TokenRecord::pk(token_hash), TokenRecord::SK)))
            .condition_expression("attribute_exists(#pk)")
            .expression_attribute_names("#pk", PRIMARY.hash)
            .build()
            .map_err(storage)?;
        let delete_old = aws_sdk_dynamodb::types::Delete::builder()
            .table_name(t)
            .set_key(Some(key(CredentialRecord::pk_of(old), CredentialRecord::SK)))
            .condition_expression("user_id = :u")
            .expression_attribute_values(":u", s(credential.user_id.as_str()))
            .build()
            .map_err(storage)?;
        let profile = tx::update_builder(t, key(UserRecord::pk(&credential.user_id), UserRecord::SK))
            .update_expression("SET email = :new, email_verified = :yes")
            .condition_expression("email = :old")
            .expression_attribute_values(":new", s(new.as_str()))
            .expression_attribute_values(":old", s(old.as_str()))
            .expression_attribute_values(":yes", AttributeValue::Bool(true));
        let release = aws_sdk_dynamodb::types::Delete::builder()
            .table_name(t)
            .set_key(Some(key(pending_pk(new), PENDING_SK)))
            .build()
            .map_err(storage)?;
        let mut items = tx::Tx::new();
        items
            .push(aws_sdk_dynamodb::types::TransactWriteItem::builder().delete(delete_token).build())
            .push(aws_sdk_dynamodb::types::TransactWriteItem::builder().delete(delete_old).build())
            .guarded(
                Guard::Login,
                tx::put_new(t, to_item(&moved, CredentialRecord::pk(new), CredentialRecord::SK.into())?)?,
            )
            .push(tx::update(profile)?)
            .push(aws_sdk_dynamodb::types::TransactWriteItem::builder().delete(release).build());
        match self.transact(items).await {
            Ok(()) => Ok(()),
            Err(TxError::Conditions(f)) if f.has(Guard::Login) => Err(Error::EmailTaken),
            Err(TxError::Conditions(_)) => Err(Error::InvalidToken),
            Err(TxError::Other(e)) => Err(e),
        }
    }
}
