//! Two-factor state on the user's profile item, changed only by conditional updates: a code
//! or recovery code is accepted once even under concurrent logins.

use aws_sdk_dynamodb::types::AttributeValue;

use crate::domain::UserId;
use crate::error::{Error, Result};
use crate::store::error::{is_condition_failed, storage};
use crate::store::ops::{key, n, s};
use crate::store::{Store, TokenRecord, TotpState, UserRecord};

impl Store {
    async fn update_totp(
        &self,
        user: &UserId,
        update: &str,
        condition: &str,
        values: Vec<(&str, AttributeValue)>,
        names: &[(&str, &str)],
    ) -> Result<bool> {
        let mut req = self
            .client
            .update_item()
            .table_name(self.table_name())
            .set_key(Some(key(UserRecord::pk(user), UserRecord::SK)))
            .update_expression(update)
            .condition_expression(condition);
        for (k, v) in values {
            req = req.expression_attribute_values(k, v);
        }
        for (k, v) in names {
            req = req.expression_attribute_names(*k, *v);
        }
        crate::store::error::applied(req.send().await)
    }

    /// Start (or restart) enrolment, unless two-factor is already on.
    pub async fn begin_totp(&self, user: &UserId, state: &TotpState) -> Result<()> {
        let value = AttributeValue::M(serde_dynamo::to_item(state).map_err(storage)?);
        let ok = self
            .update_totp(
                user,
                "SET totp = :t",
                // A profile written without two-factor holds `totp` as NULL (or not at all).
                "attribute_not_exists(totp) OR attribute_type(totp, :null) OR totp.enabled = :no",
                vec![(":t", value), (":no", AttributeValue::Bool(false)), (":null", s("NULL"))],
                &[],
            )
            .await?;
        if ok { Ok(()) } else { Err(Error::TwoFactorAlreadyOn) }
    }

    /// Turn two-factor on with the first code's step and the recovery codes' hashes.
    pub async fn enable_totp(&self, user: &UserId, secret: &str, step: i64, recovery: &[String]) -> Result<()> {
        let map = recovery.iter().map(|h| (h.clone(), AttributeValue::Bool(true))).collect();
        let ok = self
            .update_totp(
                user,
                "SET totp.enabled = :yes, totp.last_step = :s, totp.recovery = :r",
                "totp.enabled = :no AND totp.secret = :secret",
                vec![
                    (":yes", AttributeValue::Bool(true)),
                    (":no", AttributeValue::Bool(false)),
                    (":s", n(step)),
                    (":r", AttributeValue::M(map)),
                    (":secret", s(secret)),
                ],
                &[],
            )
            .await?;
        if ok { Ok(()) } else { Err(Error::Conflict) }
    }

    /// Record that the code of `step` was used; false if it (or a later one) already was.
    pub async fn use_totp_step(&self, user: &UserId, step: i64) -> Result<bool> {
        self.update_totp(
            user,
            "SET totp.last_step = :s",
            "totp.enabled = :yes AND totp.last_step < :s",
            vec![(":s", n(step)), (":yes", AttributeValue::Bool(true))],
            &[],
        )
        .await
    }

    /// Spend a recovery code; false if it does not exist (or was just spent).
    pub async fn use_recovery_code(&self, user: &UserId, hash: &str) -> Result<bool> {
        self.update_totp(
            user,
            "REMOVE totp.recovery.#h",
            "attribute_exists(totp.recovery.#h) AND totp.enabled = :yes",
            vec![(":yes", AttributeValue::Bool(true))],
            &[("#h", hash)],
        )
        .await
    }

    /// Turn two-factor off, and record `mails` (the notice) with it.
    pub async fn clear_totp(&self, user: &UserId, mails: &[crate::store::OutboxMail]) -> Result<()> {
        if mails.is_empty() {
            let one = vec![(":one", crate::store::ops::n(1))];
            self.update_totp(user, "REMOVE totp ADD factor_epoch :one", "attribute_exists(pk)", one, &[]).await?;
            return Ok(());
        }
        self.remove_totp(user, Vec::new(), mails, false).await
    }

    /// Count a wrong code against a login challenge; false once it has had its five tries.
    pub async fn challenge_failed(&self, hash: &str) -> Result<bool> {
        let res = self
            .client
            .update_item()
            .table_name(self.table_name())
            .set_key(Some(key(TokenRecord::pk(hash), TokenRecord::SK)))
            .update_expression("ADD attempts :one")
            .condition_expression("attribute_exists(pk) AND (attribute_not_exists(attempts) OR attempts < :max)")
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":max", n(4))
            .send()
            .await;
        match res {
            Ok(_) => Ok(true),
            Err(e) if is_condition_failed(&e) => {
                self.delete_item(&TokenRecord::pk(hash), TokenRecord::SK).await?;
                Ok(false)
            }
            Err(e) => Err(storage(e)),
        }
    }

    /// Use up a login challenge; false if it was already used.
    pub async fn consume_challenge(&self, hash: &str) -> Result<bool> {
        let res = self
            .client
            .delete_item()
            .table_name(self.table_name())
            .set_key(Some(key(TokenRecord::pk(hash), TokenRecord::SK)))
            .condition_expression("attribute_exists(pk)")
            .send()
            .await;
        crate::store::error::applied(res)
    }
}

impl Store {
    /// An admin's reset: two-factor off, the activity entry, the member's notice and the end
    /// of their `sessions` (as many as fit; the rest right after), in one transaction.
    pub async fn reset_totp(
        &self,
        user: &UserId,
        lineage: &[crate::domain::OrgId],
        activity: &crate::store::ActivityRecord,
        mails: &[crate::store::OutboxMail],
        sessions: &[crate::store::SessionRecord],
    ) -> Result<()> {
        let t = self.table_name();
        let items = activity
            .items(lineage)?
            .into_iter()
            .map(|i| crate::store::tx::put_new(t, i))
            .collect::<Result<Vec<_>>>()?;
        // The sessions end by the same update that turns two-factor off.
        self.remove_totp(user, items, mails, true).await?;
        self.clean_up_sessions(sessions).await;
        Ok(())
    }

    /// Two-factor off for `user`, with `items` and the puts of `mails`, in one transaction.
    async fn remove_totp(
        &self,
        user: &UserId,
        mut items: Vec<aws_sdk_dynamodb::types::TransactWriteItem>,
        mails: &[crate::store::OutboxMail],
        end_sessions: bool,
    ) -> Result<()> {
        let t = self.table_name();
        // Every session's second factor ends with it; with `end_sessions`, the sessions too.
        let add = if end_sessions { "factor_epoch :one, session_epoch :one" } else { "factor_epoch :one" };
        let update = crate::store::tx::update_builder(t, key(UserRecord::pk(user), UserRecord::SK))
            .update_expression(format!("REMOVE totp ADD {add}"))
            .expression_attribute_values(":one", crate::store::ops::n(1))
            .condition_expression("attribute_exists(pk)");
        items.insert(0, crate::store::tx::update(update)?);
        for m in mails {
            items.push(m.put(t)?);
        }
        match self.transact(items).await {
            Ok(()) => Ok(()),
            Err(crate::store::tx::TxError::Conditions(_)) => Err(Error::NotFound("member")),
            Err(crate::store::tx::TxError::Other(e)) => Err(e),
        }
    }
}
