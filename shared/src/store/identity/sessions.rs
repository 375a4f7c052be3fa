//! Sessions: one per signed-in client. Key `USER#<user>` / `SESSION#<session>`, so the
//! per-request liveness check is one GetItem and "sign out everywhere" one query.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::{ClientType, OrgId, SessionId, UserId};
use crate::error::{Error, Result};
use crate::store::Store;
use crate::store::items::{from_item, to_item, with_ttl};
use crate::store::ops::{Item, key, s};
use crate::store::table::PRIMARY;
use crate::store::tx::{Guard, Tx};
use aws_sdk_dynamodb::types::TransactWriteItem;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SessionRecord {
    pub session_id: SessionId,
    pub user_id: UserId,
    pub client: ClientType,
    pub active_org: Option<OrgId>,
    /// SHA-256 of the current refresh token's secret.
    pub refresh_hash: String,
    /// SHA-256 of the previous secret: presenting it again means the token was stolen.
    pub prev_refresh_hash: Option<String>,
    pub created_at: DateTime<Utc>,
    pub last_used_at: DateTime<Utc>,
    /// Absolute end of the session, whatever the refreshes.
    pub expires_at: DateTime<Utc>,
    /// The shared account this session acts in the name of, in `active_org`.
    #[serde(default)]
    pub acting_as: Option<UserId>,
    /// The login passed a second factor (or turned two-factor on in this session):
    /// organizations that require two-factor admit only such sessions.
    #[serde(default)]
    pub second_factor: bool,
    /// Opened through this organization's identity provider: the session works in it and
    /// beneath it only (a provider vouches for its organization, not for the person
    /// everywhere).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confined_to: Option<OrgId>,
    /// The person's session epoch when it opened: it ends when theirs moves on.
    #[serde(default)]
    pub epoch: u64,
    /// The person's factor epoch when `second_factor` was passed.
    #[serde(default)]
    pub factor_epoch: u64,
}

impl crate::store::items::Entity for SessionRecord {
    const TYPE: &'static str = "session";
}

impl SessionRecord {
    pub const SK_PREFIX: &'static str = "SESSION#";

    /// This session as it stands for `user` now: `None` once their sessions were ended (in
    /// the transaction of a sign-out everywhere, a password change or reset); its second
    /// factor dropped once two-factor was turned off after it was passed.
    pub fn standing(mut self, user: &crate::store::UserRecord) -> Option<SessionRecord> {
        if self.epoch != user.session_epoch {
            return None;
        }
        self.second_factor &= self.factor_epoch == user.factor_epoch;
        Some(self)
    }

    pub fn pk(user: &UserId) -> String {
        format!("USER#{user}")
    }
    pub fn sk(id: &SessionId) -> String {
        format!("{}{id}", Self::SK_PREFIX)
    }

    pub(crate) fn item(&self) -> Result<Item> {
        Ok(with_ttl(to_item(self, Self::pk(&self.user_id), Self::sk(&self.session_id))?, self.expires_at))
    }
}

impl Store {
    pub async fn put_session(&self, session: &SessionRecord) -> Result<()> {
        if self.put_new(session.item()?).await? { Ok(()) } else { Err(Error::Conflict) }
    }

    /// The per-request liveness check: one strongly consistent key lookup.
    pub async fn get_session(&self, user: &UserId, id: &SessionId) -> Result<Option<SessionRecord>> {
        self.get_item(&SessionRecord::pk(user), &SessionRecord::sk(id)).await?.map(from_item).transpose()
    }

    /// A session and its person's profile in one round trip (both keys are known from the
    /// access token).
    pub async fn get_session_and_profile(
        &self,
        user: &UserId,
        id: &SessionId,
    ) -> Result<(Option<SessionRecord>, Option<crate::store::UserRecord>)> {
        let keys = vec![
            crate::store::ops::key(SessionRecord::pk(user), SessionRecord::sk(id)),
            crate::store::ops::key(crate::store::UserRecord::pk(user), crate::store::UserRecord::SK),
        ];
        let (mut session, mut profile) = (None, None);
        for item in self.batch_get(keys).await? {
            let sk =
                item.get(crate::store::table::PRIMARY.range).and_then(|v| v.as_s().ok()).cloned().unwrap_or_default();
            if sk == crate::store::UserRecord::SK {
                profile = Some(from_item(item)?);
            } else {
                session = Some(from_item(item)?);
            }
        }
        Ok((session, profile))
    }

    /// Swap the refresh secret if the presented one is still current, and record the
    /// organization (and shared account) the session now works in. `Ok(false)` when another
    /// refresh won the race or the session is gone.
    pub async fn rotate_refresh(&self, session: &SessionRecord, new_hash: &str, now: DateTime<Utc>) -> Result<bool> {
        let mut set = "SET refresh_hash = :new, prev_refresh_hash = :old, last_used_at = :now".to_owned();
        let mut remove = Vec::new();
        let mut req = self
            .client
            .update_item()
            .table_name(self.table_name())
            .set_key(Some(key(SessionRecord::pk(&session.user_id), SessionRecord::sk(&session.session_id))))
            .condition_expression("attribute_exists(#pk) AND refresh_hash = :old")
            .expression_attribute_names("#pk", PRIMARY.hash)
            .expression_attribute_values(":new", s(new_hash))
            .expression_attribute_values(":old", s(&session.refresh_hash))
            .expression_attribute_values(":now", s(now.to_rfc3339()));
        match &session.active_org {
            Some(o) => {
                set.push_str(", active_org = :org");
                req = req.expression_attribute_values(":org", s(o.as_str()));
            }
            None => remove.push("active_org"),
        }
        match &session.acting_as {
            Some(a) => {
                set.push_str(", acting_as = :act");
                req = req.expression_attribute_values(":act", s(a.as_str()));
            }
            None => remove.push("acting_as"),
        }
        if !remove.is_empty() {
            set = format!("{set} REMOVE {}", remove.join(", "));
        }
        crate::store::error::applied(req.update_expression(set).send().await)
    }

    /// Note that this session's login now has a second factor (two-factor turned on in it).
    pub async fn mark_second_factor(&self, user: &UserId, id: &SessionId, factor_epoch: u64) -> Result<()> {
        let res = self
            .client
            .update_item()
            .table_name(self.table_name())
            .set_key(Some(key(SessionRecord::pk(user), SessionRecord::sk(id))))
            .condition_expression("attribute_exists(#pk)")
            .expression_attribute_names("#pk", PRIMARY.hash)
            .update_expression("SET second_factor = :t, factor_epoch = :fe")
            .expression_attribute_values(":t", aws_sdk_dynamodb::types::AttributeValue::Bool(true))
            .expression_attribute_values(":fe", crate::store::ops::n(factor_epoch as i64))
            .send()
            .await;
        crate::store::error::applied(res).map(|_| ())
    }

    pub async fn delete_session(&self, user: &UserId, id: &SessionId) -> Result<()> {
        self.delete_item(&SessionRecord::pk(user), &SessionRecord::sk(id)).await
    }

    /// A user's sessions (one query per 1,000).
    pub async fn list_sessions(&self, user: &UserId) -> Result<Vec<SessionRecord>> {
        self.query_all(&SessionRecord::pk(user), SessionRecord::SK_PREFIX).await
    }

    /// End the sessions of `user` that `which` selects. Returns how many ended.
    pub async fn end_sessions(&self, user: &UserId, which: impl Fn(&SessionRecord) -> bool) -> Result<usize> {
        let sessions = self.list_sessions(user).await?;
        let ending: Vec<&SessionRecord> = sessions.iter().filter(|s| which(s)).collect();
        self.delete_sessions(&ending).await?;
        Ok(ending.len())
    }

    /// The write that ends every session of `user` at once: their session epoch moves on.
    pub(crate) fn end_all_sessions(&self, user: &UserId) -> Result<TransactWriteItem> {
        let b = crate::store::tx::update_builder(
            self.table_name(),
            key(crate::store::UserRecord::pk(user), crate::store::UserRecord::SK),
        )
        .update_expression("ADD session_epoch :one")
        .condition_expression("attribute_exists(#pk)")
        .expression_attribute_names("#pk", PRIMARY.hash)
        .expression_attribute_values(":one", crate::store::ops::n(1));
        crate::store::tx::update(b)
    }

    /// End every session of `user` and record `mails` (their notice) in one transaction, so
    /// the notice is written exactly when the sessions end; `sessions` (their items) are
    /// deleted after, as clean-up: a failure or a crash there leaves them ended all the same.
    pub async fn end_sessions_telling(
        &self,
        user: &UserId,
        sessions: &[SessionRecord],
        mails: &[crate::store::OutboxMail],
    ) -> Result<()> {
        let mut items = mails.iter().map(|m| m.put(self.table_name())).collect::<Result<Vec<_>>>()?;
        items.push(self.end_all_sessions(user)?);
        match self.transact(items).await {
            Ok(()) => {}
            // An outbox id is fresh randomness: what fails is the person gone.
            Err(crate::store::tx::TxError::Conditions(_)) => return Err(Error::Conflict),
            Err(crate::store::tx::TxError::Other(e)) => return Err(e),
        }
        self.clean_up_sessions(sessions).await;
        Ok(())
    }

    /// A new password that ends every other session, in one transaction: the credential
    /// (still at `old`), the person's session epoch moved from the one `user` was read at,
    /// and the session `keep` carried into the new epoch. `Ok(false)` when the password or
    /// the epoch changed meanwhile.
    pub async fn replace_password_ending_others(
        &self,
        user: &crate::store::UserRecord,
        old: &str,
        new: &str,
        keep: &SessionId,
    ) -> Result<bool> {
        let t = self.table_name();
        let next = crate::store::ops::n(user.session_epoch as i64 + 1);
        let credential = crate::store::tx::update_builder(
            t,
            key(crate::store::CredentialRecord::pk_of(user.login_key()), crate::store::CredentialRecord::SK),
        )
        .update_expression("SET password_hash = :new")
        .condition_expression("password_hash = :old")
        .expression_attribute_values(":new", s(new))
        .expression_attribute_values(":old", s(old));
        let profile = crate::store::tx::update_builder(
            t,
            key(crate::store::UserRecord::pk(&user.user_id), crate::store::UserRecord::SK),
        )
        .update_expression("SET session_epoch = :next")
        .condition_expression("attribute_exists(#pk) AND (attribute_not_exists(session_epoch) OR session_epoch = :cur)")
        .expression_attribute_names("#pk", PRIMARY.hash)
        .expression_attribute_values(":next", next.clone())
        .expression_attribute_values(":cur", crate::store::ops::n(user.session_epoch as i64));
        let session =
            crate::store::tx::update_builder(t, key(SessionRecord::pk(&user.user_id), SessionRecord::sk(keep)))
                .update_expression("SET epoch = :next")
                .condition_expression("attribute_exists(#pk)")
                .expression_attribute_names("#pk", PRIMARY.hash)
                .expression_attribute_values(":next", next);
        let items = vec![
            crate::store::tx::update(credential)?,
            crate::store::tx::update(profile)?,
            crate::store::tx::update(session)?,
        ];
        match self.transact(items).await {
            Ok(()) => Ok(true),
            Err(crate::store::tx::TxError::Conditions(_)) => Ok(false),
            Err(crate::store::tx::TxError::Other(e)) => Err(e),
        }
    }

    /// Delete the items of sessions already ended by their epoch; a failure is only logged.
    pub(crate) async fn clean_up_sessions(&self, sessions: &[SessionRecord]) {
        let all: Vec<&SessionRecord> = sessions.iter().collect();
        if let Err(e) = self.delete_sessions(&all).await {
            tracing::warn!(error = %e, "ended sessions' items not deleted; their epoch keeps them ended");
        }
    }

    /// Delete these sessions (batched).
    pub(crate) async fn delete_sessions(&self, sessions: &[&SessionRecord]) -> Result<()> {
        let keys: Vec<Item> =
            sessions.iter().map(|s| key(SessionRecord::pk(&s.user_id), SessionRecord::sk(&s.session_id))).collect();
        self.batch_write(Vec::new(), keys).await
    }
}

fn device_sk(device: &str) -> String {
    format!("DEVICE#{device}")
}

/// A device a login signed in from.
struct Device;

impl crate::store::items::Entity for Device {
    const TYPE: &'static str = "device";
}

/// A device a login signed in from (TTL 180 days).
fn device_item(user: &UserId, device: &str, now: chrono::DateTime<chrono::Utc>) -> crate::store::ops::Item {
    let mut item: crate::store::ops::Item =
        [("seen_at".to_owned(), crate::store::ops::s(now.to_rfc3339()))].into_iter().collect();
    item.extend(crate::store::ops::key(crate::store::UserRecord::pk(user), device_sk(device)));
    crate::store::items::with_ttl(crate::store::items::typed::<Device>(item), now + chrono::Duration::days(180))
}

impl Store {
    /// Remember a device a login signed in from (TTL 180 days). `true`: not seen before.
    pub async fn remember_device(
        &self,
        user: &UserId,
        device: &str,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<bool> {
        self.put_new(device_item(user, device, now)).await
    }

    /// A profile and whether `device` is remembered for it, in one round trip (sign-in knows
    /// both keys once it has the credential).
    pub async fn get_user_and_device(
        &self,
        user: &UserId,
        device: &str,
    ) -> Result<(Option<crate::store::UserRecord>, bool)> {
        let keys = vec![
            crate::store::ops::key(crate::store::UserRecord::pk(user), crate::store::UserRecord::SK),
            crate::store::ops::key(crate::store::UserRecord::pk(user), device_sk(device)),
        ];
        let (mut profile, mut known) = (None, false);
        for item in self.batch_get(keys).await? {
            let sk =
                item.get(crate::store::table::PRIMARY.range).and_then(|v| v.as_s().ok()).cloned().unwrap_or_default();
            if sk == crate::store::UserRecord::SK {
                profile = Some(from_item(item)?);
            } else {
                known = true;
            }
        }
        Ok((profile, known))
    }

    /// A new session from a device not remembered yet: both in one transaction. `Ok(false)`
    /// when another sign-in remembered the device meanwhile (the session is written alone).
    pub async fn put_session_from_new_device(
        &self,
        session: &SessionRecord,
        device: &str,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<bool> {
        let t = self.table_name();
        let mut items = Tx::new();
        items
            .guarded(Guard::Once, crate::store::tx::put_new(t, session.item()?)?)
            .guarded(Guard::Device, crate::store::tx::put_new(t, device_item(&session.user_id, device, now))?);
        match self.transact(items).await {
            Ok(()) => Ok(true),
            Err(crate::store::tx::TxError::Conditions(f)) if f.has(Guard::Device) && !f.has(Guard::Once) => {
                self.put_session(session).await.map(|()| false)
            }
            Err(crate::store::tx::TxError::Conditions(_)) => Err(Error::Conflict),
            Err(crate::store::tx::TxError::Other(e)) => Err(e),
        }
    }

    /// How many devices the login is remembered on, counting at most `up_to`.
    pub async fn devices(&self, user: &UserId, up_to: i32) -> Result<usize> {
        let page = self
            .query_prefix(
                None,
                &crate::store::UserRecord::pk(user),
                "DEVICE#",
                crate::store::QueryDir::Forward,
                up_to,
                None,
            )
            .await?;
        Ok(page.items.len())
    }
}
