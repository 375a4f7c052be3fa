//! Single-use secrets sent by email, and login-failure throttles.
//!
//! Keys: token `TOKEN#<sha256 of the secret>` / `TOKEN`; throttle
//! `THROTTLE#<sha256 of email and client address>` / `LOGIN`. Both expire through TTL.

use aws_sdk_dynamodb::types::ReturnValue;
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::{Email, UserId};
use crate::error::Result;
use crate::store::Store;
use crate::store::error::storage;
use crate::store::items::{from_item, to_item, with_ttl};
use crate::store::ops::{Item, key, n, s};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenPurpose {
    VerifyEmail,
    PasswordReset,
    /// The second login step, after the password, for a login with two-factor on.
    MfaChallenge,
    /// Confirms a new address for a login (`email` is the new one).
    ChangeEmail,
    /// A single sign-on that passed at the provider, exchanged once by the client for tokens.
    SsoSignIn,
    /// A signed-in person's ticket to link a provider: opens the provider's sign-in in their
    /// browser (`org` is the provider's organization).
    SsoLink,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TokenRecord {
    pub purpose: TokenPurpose,
    pub user_id: UserId,
    /// The address the token was sent to (or, for a change, the new one); none for a login
    /// challenge of a login with a username only.
    pub email: Option<Email>,
    pub expires_at: DateTime<Utc>,
    /// For a login challenge: the client logging in, and wrong codes so far.
    #[serde(default)]
    pub client: Option<crate::domain::ClientType>,
    #[serde(default)]
    pub attempts: u32,
    /// For an address change: the address being replaced.
    #[serde(default)]
    pub previous_email: Option<Email>,
    /// For a login challenge: the login-failure throttles its completion clears.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub throttle_keys: Vec<String>,
    /// For a login challenge: the device signing in (see `sessions::device_of`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<String>,
    /// For a single sign-on (and its second step): the organization the session opens in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub org: Option<crate::domain::OrgId>,
    /// For a single sign-on: the provider's sign-in counts as the second factor.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub second_factor: bool,
}

impl crate::store::items::Entity for TokenRecord {
    const TYPE: &'static str = "token";
}

impl TokenRecord {
    /// A token of `purpose` for `user_id`, sent to `email`, with none of the fields that only
    /// some purposes use (set those with struct update syntax).
    pub fn new(purpose: TokenPurpose, user_id: UserId, email: Option<Email>, expires_at: DateTime<Utc>) -> Self {
        TokenRecord {
            purpose,
            user_id,
            email,
            expires_at,
            client: None,
            attempts: 0,
            previous_email: None,
            throttle_keys: Vec::new(),
            device: None,
            org: None,
            second_factor: false,
        }
    }

    pub fn pk(hash: &str) -> String {
        format!("TOKEN#{hash}")
    }
    pub const SK: &'static str = "TOKEN";

    pub fn by_user(user: &UserId) -> String {
        format!("USERTOKEN#{user}")
    }

    pub(crate) fn item(&self, hash: &str) -> Result<Item> {
        // Indexed by person, so erasing a login finds its pending tokens.
        let item = to_item(self, Self::pk(hash), Self::SK.to_owned())?;
        Ok(with_ttl(
            crate::store::items::with_gsi1(item, Self::by_user(&self.user_id), Self::pk(hash)),
            self.expires_at,
        ))
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ThrottleRecord {
    pub failures: u32,
    pub window_start: Option<DateTime<Utc>>,
    pub blocked_until: Option<DateTime<Utc>>,
}

impl crate::store::items::Entity for ThrottleRecord {
    const TYPE: &'static str = "throttle";
}

impl ThrottleRecord {
    pub fn pk(hash: &str) -> String {
        format!("THROTTLE#{hash}")
    }
    pub const SK: &'static str = "LOGIN";
}

impl Store {
    pub async fn get_token(&self, hash: &str) -> Result<Option<TokenRecord>> {
        self.get_item(&TokenRecord::pk(hash), TokenRecord::SK).await?.map(from_item).transpose()
    }

    /// Add one to a counter (atomically, so parallel requests all count); its state after.
    async fn bump(&self, counter_key: &str, now: DateTime<Utc>, keep: Duration) -> Result<ThrottleRecord> {
        let out = self
            .client
            .update_item()
            .table_name(self.table_name())
            .set_key(Some(key(ThrottleRecord::pk(counter_key), ThrottleRecord::SK)))
            .update_expression(
                "SET window_start = if_not_exists(window_start, :now), #ttl = :ttl, #et = :et ADD failures :one",
            )
            .expression_attribute_names("#ttl", crate::store::table::TTL_ATTRIBUTE)
            .expression_attribute_names("#et", crate::store::items::ENTITY_TYPE)
            .expression_attribute_values(":et", s(<ThrottleRecord as crate::store::items::Entity>::TYPE))
            .expression_attribute_values(":now", s(now.to_rfc3339()))
            .expression_attribute_values(":ttl", n((now + keep).timestamp()))
            .expression_attribute_values(":one", n(1))
            .return_values(ReturnValue::AllNew)
            .send()
            .await
            .map_err(storage)?;
        from_item(out.attributes.unwrap_or_default())
    }

    async fn put_throttle(&self, counter_key: &str, record: &ThrottleRecord, until: DateTime<Utc>) -> Result<()> {
        let item = with_ttl(to_item(record, ThrottleRecord::pk(counter_key), ThrottleRecord::SK.to_owned())?, until);
        self.client.put_item().table_name(self.table_name()).set_item(Some(item)).send().await.map_err(storage)?;
        Ok(())
    }

    /// Count one failure and block further attempts for as long as `block` says for the count
    /// reached. With a `window`, counts older than it start over; without one they run until
    /// cleared (consecutive failures).
    pub async fn record_failure(
        &self,
        throttle_key: &str,
        now: DateTime<Utc>,
        window: Option<Duration>,
        keep: Duration,
        block: impl Fn(u32) -> Option<Duration>,
    ) -> Result<()> {
        let rec = self.bump(throttle_key, now, keep).await?;
        let stale = window.is_some_and(|w| rec.window_start.is_some_and(|start| now - start > w));
        let (failures, window_start) = if stale { (1, now) } else { (rec.failures, rec.window_start.unwrap_or(now)) };
        let blocked_until = block(failures).map(|d| now + d);
        if stale || blocked_until.is_some() {
            let record = ThrottleRecord { failures, window_start: Some(window_start), blocked_until };
            self.put_throttle(throttle_key, &record, now + keep).await?;
        }
        Ok(())
    }

    /// [`Self::record_failure`] within a window: `limit` failures in it block for `block(over)`.
    pub async fn record_login_failure(
        &self,
        throttle_key: &str,
        now: DateTime<Utc>,
        window: Duration,
        limit: u32,
        block: impl Fn(u32) -> Duration,
    ) -> Result<()> {
        let policy = |failures: u32| (failures >= limit).then(|| block(failures - limit));
        self.record_failure(throttle_key, now, Some(window), window * 4, policy).await
    }

    /// Count one event in a window (atomically) and return the count so far and when the
    /// window began; a window older than `window` starts over at 1.
    pub async fn count_in_window(
        &self,
        counter_key: &str,
        now: DateTime<Utc>,
        window: Duration,
    ) -> Result<(u32, DateTime<Utc>)> {
        let rec = self.bump(counter_key, now, window * 2).await?;
        let started = rec.window_start.unwrap_or(now);
        if now - started <= window {
            return Ok((rec.failures, started));
        }
        let fresh = ThrottleRecord { failures: 1, window_start: Some(now), blocked_until: None };
        self.put_throttle(counter_key, &fresh, now + window * 2).await?;
        Ok((1, now))
    }

    /// Clear several throttles (batched).
    pub async fn clear_throttles(&self, throttle_keys: &[String]) -> Result<()> {
        let keys = throttle_keys.iter().map(|t| key(ThrottleRecord::pk(t), ThrottleRecord::SK)).collect();
        self.batch_write(Vec::new(), keys).await
    }

    pub async fn get_throttle(&self, throttle_key: &str) -> Result<Option<ThrottleRecord>> {
        self.get_item(&ThrottleRecord::pk(throttle_key), ThrottleRecord::SK).await?.map(from_item).transpose()
    }
}

impl Store {
    pub async fn put_token(&self, hash: &str, token: &TokenRecord) -> Result<()> {
        if self.put_new(token.item(hash)?).await? { Ok(()) } else { Err(crate::Error::Conflict) }
    }

    /// A new token and the emails carrying its link, in one transaction: both or neither.
    /// `Conflict`, nothing written, when the token or one of the emails exists already.
    pub async fn put_token_with_mail(
        &self,
        hash: &str,
        token: &TokenRecord,
        mails: &[crate::store::OutboxMail],
    ) -> Result<()> {
        if mails.is_empty() {
            return self.put_token(hash, token).await;
        }
        let t = self.table_name();
        let mut items = vec![crate::store::tx::put_new(t, token.item(hash)?)?];
        for m in mails {
            items.push(m.put(t)?);
        }
        match self.transact(items).await {
            Ok(()) => Ok(()),
            Err(crate::store::tx::TxError::Conditions(_)) => Err(crate::Error::Conflict),
            Err(crate::store::tx::TxError::Other(e)) => Err(e),
        }
    }
}
