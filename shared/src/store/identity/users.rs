//! Users and their credentials.
//!
//! Keys: profile `USER#<user>` / `PROFILE`; credential `EMAIL#<normalized email>` /
//! `CREDENTIAL`. The credential item doubles as the uniqueness guard for the email address:
//! it is written with `attribute_not_exists` in the same transaction as the user, so one
//! address can never belong to two users, and login needs one key lookup to find it.

use std::collections::BTreeMap;

use aws_sdk_dynamodb::types::{Delete, TransactWriteItem};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::{ClientType, Email, Language, LoginKey, OrgId, UserId};
use crate::error::{Error, Result};
use crate::store::error::{is_condition_failed, storage};
use crate::store::items::{from_item, to_item};
use crate::store::ops::{key, s};
use crate::store::table::PRIMARY;
use crate::store::tx::{self, Guard, TxError};
use crate::store::{ActivityRecord, MembershipRecord, OrgRecord, Store, ThrottleRecord, TokenRecord};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UserRecord {
    pub user_id: UserId,
    pub email: Option<Email>,
    /// `org_id\username` (see `LoginKey`), for a login without an address.
    #[serde(default)]
    pub username: Option<String>,
    pub first_name: String,
    pub last_name: String,
    pub language: Language,
    pub email_verified: bool,
    pub created_at: DateTime<Utc>,
    /// The organization each client type used last, reopened at the next login.
    #[serde(default)]
    pub last_org: BTreeMap<String, OrgId>,
    #[serde(default)]
    pub job_title: Option<String>,
    /// E.164.
    #[serde(default)]
    pub mobile: Option<crate::domain::Phone>,
    /// When `mobile` was proven by a code sent to it (cleared when the number changes).
    #[serde(default)]
    pub mobile_verified_at: Option<DateTime<Utc>>,
    /// Two-factor authentication, once enrolment started.
    #[serde(default)]
    pub totp: Option<TotpState>,
    /// Set when this login was merged into another: it can no longer be used.
    #[serde(default)]
    pub merged_into: Option<UserId>,
    /// Set while a merge job moves another login into this one (cleared when it finishes).
    #[serde(default)]
    pub merging_from: Option<UserId>,
    /// Where the person lives, for when digests come (the organization's default otherwise).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timezone: Option<crate::domain::Timezone>,
    /// Sessions of another epoch have ended: ending them all is one write here (`ADD`), in
    /// the transaction of what ends them; deleting their items is clean-up after.
    #[serde(default)]
    pub session_epoch: u64,
    /// A session's second factor counts only in the epoch it was passed in: turning
    /// two-factor off moves it, ending that standing in every session at once.
    #[serde(default)]
    pub factor_epoch: u64,
}

impl crate::store::items::Entity for UserRecord {
    const TYPE: &'static str = "user";
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TotpState {
    /// Base64 of the 20-byte secret.
    pub secret: String,
    /// False until confirmed with a first code.
    pub enabled: bool,
    /// The last 30-second step whose code was used: each code works once.
    pub last_step: i64,
    /// SHA-256 of each unused recovery code.
    #[serde(default)]
    pub recovery: BTreeMap<String, bool>,
}

impl UserRecord {
    /// The name shown for the person ([`crate::domain::full_name`]).
    pub fn display_name(&self) -> String {
        crate::domain::full_name(&self.first_name, &self.last_name)
    }

    /// A new login's profile, with nothing optional set yet.
    pub fn new(
        user_id: UserId,
        login: &LoginKey,
        first_name: &str,
        last_name: &str,
        language: Language,
        email_verified: bool,
        created_at: DateTime<Utc>,
    ) -> Self {
        let (email, username) = match login {
            LoginKey::Email(e) => (Some(e.clone()), None),
            LoginKey::Username { .. } => (None, Some(login.as_string())),
        };
        UserRecord {
            user_id,
            email,
            username,
            first_name: first_name.to_owned(),
            last_name: last_name.to_owned(),
            language,
            email_verified,
            created_at,
            last_org: Default::default(),
            job_title: None,
            mobile: None,
            mobile_verified_at: None,
            totp: None,
            merged_into: None,
            merging_from: None,
            timezone: None,
            session_epoch: 0,
            factor_epoch: 0,
        }
    }

    pub fn pk(id: &UserId) -> String {
        format!("USER#{id}")
    }
    pub const SK: &'static str = "PROFILE";

    /// What this person logs in with, in its stored form (the credential's key).
    pub fn login_key(&self) -> &str {
        self.email.as_ref().map(Email::as_str).or(self.username.as_deref()).unwrap_or_default()
    }

    /// The address to write to; a login with a username only has none.
    pub fn address(&self) -> Result<&Email> {
        self.email.as_ref().ok_or(Error::NoEmail)
    }

    pub fn last_org_for(&self, client: ClientType) -> Option<&OrgId> {
        self.last_org.get(client.as_str())
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CredentialRecord {
    pub user_id: UserId,
    /// What the person logs in with: a normalized address, or `logindomain\username`.
    #[serde(alias = "email")]
    pub login: String,
    /// Argon2id PHC string.
    pub password_hash: String,
}

impl crate::store::items::Entity for CredentialRecord {
    const TYPE: &'static str = "credential";
}

impl CredentialRecord {
    pub fn pk(email: &Email) -> String {
        Self::pk_of(email.as_str())
    }
    /// The key of a login name in its stored form: addresses never contain `\`, usernames
    /// always do, so the two cannot collide.
    pub fn pk_of(login: &str) -> String {
        if login.contains('\\') { format!("LOGIN#{login}") } else { format!("EMAIL#{login}") }
    }
    pub fn for_login(user_id: &UserId, login: &LoginKey, password_hash: String) -> Self {
        CredentialRecord { user_id: user_id.clone(), login: login.as_string(), password_hash }
    }
    pub const SK: &'static str = "CREDENTIAL";
}

/// Everything a registration writes, in one transaction.
pub struct RegisterRecords {
    pub credential: CredentialRecord,
    pub user: UserRecord,
    pub org: OrgRecord,
    pub membership: MembershipRecord,
    pub activity: ActivityRecord,
    pub verify_token_hash: String,
    pub verify_token: TokenRecord,
    pub seats: crate::store::SeatsRecord,
    /// The verification email, recorded with the account.
    pub mails: Vec<crate::store::OutboxMail>,
}

/// What login reads in its first round trip.
pub struct LoginLookup {
    pub credential: Option<CredentialRecord>,
    /// The throttles asked for that exist, by throttle key.
    pub throttles: std::collections::BTreeMap<String, ThrottleRecord>,
}

impl Store {
    /// Create user, credential, organization, owner membership, activity entry and the email
    /// verification token atomically. A taken email cancels all of it.
    pub async fn register(&self, r: &RegisterRecords) -> Result<()> {
        let t = self.table_name();
        // The credential guards the address: its failure is a taken email.
        let mut items = crate::store::NewLogin { credential: &r.credential, user: &r.user }.items(t)?;
        items.extend([
            tx::put_new(t, r.membership.item()?)?,
            tx::put_new(t, r.verify_token.item(&r.verify_token_hash)?)?,
            tx::put_new(t, r.seats.item(&r.org.org_id)?)?,
        ]);
        items.extend(crate::store::orgs::directory::new_org_items(t, &r.org)?);
        for m in &r.mails {
            items.push(m.put(t)?);
        }
        for item in r.activity.items(std::slice::from_ref(&r.org.org_id))? {
            items.push(tx::put_new(t, item)?);
        }
        items.extend(crate::store::members::member_search::puts(t, &r.membership)?);
        match self.transact(items).await {
            Ok(()) => Ok(()),
            Err(TxError::Conditions(f)) if f.maybe(Guard::Login) => Err(Error::EmailTaken),
            Err(TxError::Conditions(_)) => Err(Error::Conflict),
            Err(TxError::Other(e)) => Err(e),
        }
    }

    /// Credential and throttle state for a login attempt, in one round trip.
    pub async fn login_lookup(&self, login: &str, throttle_keys: &[&str]) -> Result<LoginLookup> {
        let cred_pk = CredentialRecord::pk_of(login);
        let mut keys = vec![key(cred_pk.clone(), CredentialRecord::SK)];
        keys.extend(throttle_keys.iter().map(|t| key(ThrottleRecord::pk(t), ThrottleRecord::SK)));
        let mut out = LoginLookup { credential: None, throttles: Default::default() };
        for item in self.batch_get(keys).await? {
            let pk = item.get(PRIMARY.hash).and_then(|v| v.as_s().ok()).cloned().unwrap_or_default();
            if pk == cred_pk {
                out.credential = Some(from_item(item)?);
            } else if let Some(t) = pk.strip_prefix("THROTTLE#") {
                out.throttles.insert(t.to_owned(), from_item(item)?);
            }
        }
        Ok(out)
    }

    /// Many profiles in one round trip per 100; missing ones are absent.
    pub async fn get_users(&self, ids: &[UserId]) -> Result<Vec<UserRecord>> {
        let keys = ids.iter().map(|id| key(UserRecord::pk(id), UserRecord::SK)).collect();
        self.batch_get(keys).await?.into_iter().map(from_item).collect()
    }

    pub async fn get_user(&self, id: &UserId) -> Result<Option<UserRecord>> {
        self.get_item(&UserRecord::pk(id), UserRecord::SK).await?.map(from_item).transpose()
    }

    /// Replace a password hash (parameter upgrade on login) unless it changed meanwhile.
    pub async fn replace_password_hash(&self, login: &str, old: &str, new: &str) -> Result<bool> {
        let res = self
            .client
            .update_item()
            .table_name(self.table_name())
            .set_key(Some(key(CredentialRecord::pk_of(login), CredentialRecord::SK)))
            .update_expression("SET password_hash = :new")
            .condition_expression("password_hash = :old")
            .expression_attribute_values(":new", s(new))
            .expression_attribute_values(":old", s(old))
            .send()
            .await;
        crate::store::error::applied(res)
    }

    /// Consume a password-reset token, set the new hash, clear `throttles` and record `mails`
    /// (the notice that `sessions` ended) atomically, with the deletes of as many of the
    /// sessions as fit; the rest end right after.
    pub async fn consume_password_reset(
        &self,
        token_hash: &str,
        token: &TokenRecord,
        new_hash: &str,
        throttles: &[String],
        sessions: &[crate::store::SessionRecord],
        mails: &[crate::store::OutboxMail],
    ) -> Result<()> {
        let update = tx::update_builder(
            self.table_name(),
            key(CredentialRecord::pk(token_address(token)?), CredentialRecord::SK),
        )
        .update_expression("SET password_hash = :h")
        .condition_expression("user_id = :u")
        .expression_attribute_values(":h", s(new_hash))
        .expression_attribute_values(":u", s(token.user_id.as_str()));
        let mut also = mails.iter().map(|m| m.put(self.table_name())).collect::<Result<Vec<_>>>()?;
        for t in throttles {
            also.push(tx::delete(self.table_name(), key(ThrottleRecord::pk(t), ThrottleRecord::SK))?);
        }
        // Every session ends with the new password, in its transaction. A link that went to
        // the login's address proves the person holds it: the address is verified too.
        match &token.email {
            Some(e) => {
                let b = tx::update_builder(self.table_name(), key(UserRecord::pk(&token.user_id), UserRecord::SK))
                    .update_expression("ADD session_epoch :one SET email_verified = :t")
                    .condition_expression("email = :e")
                    .expression_attribute_values(":one", crate::store::ops::n(1))
                    .expression_attribute_values(":t", aws_sdk_dynamodb::types::AttributeValue::Bool(true))
                    .expression_attribute_values(":e", s(e.as_str()));
                also.push(tx::update(b)?);
            }
            None => also.push(self.end_all_sessions(&token.user_id)?),
        }
        self.consume_token_with(token_hash, update, also).await?;
        self.clean_up_sessions(sessions).await;
        Ok(())
    }

    /// Consume a verification token and mark the address verified, recording `mails` (the
    /// welcome), atomically; the user must still have the address it was sent to.
    pub async fn consume_verify_email(
        &self,
        token_hash: &str,
        token: &TokenRecord,
        mails: &[crate::store::OutboxMail],
    ) -> Result<()> {
        let update = tx::update_builder(self.table_name(), key(UserRecord::pk(&token.user_id), UserRecord::SK))
            .update_expression("SET email_verified = :t")
            .condition_expression("email = :e")
            .expression_attribute_values(":t", aws_sdk_dynamodb::types::AttributeValue::Bool(true))
            .expression_attribute_values(":e", s(token_address(token)?.as_str()));
        let mails = mails.iter().map(|m| m.put(self.table_name())).collect::<Result<_>>()?;
        self.consume_token_with(token_hash, update, mails).await
    }

    /// Delete a single-use token (it must still exist) and apply `update`, in one transaction:
    /// a token that was used, or an update whose condition fails, changes nothing.
    async fn consume_token_with(
        &self,
        token_hash: &str,
        update: aws_sdk_dynamodb::types::builders::UpdateBuilder,
        also: Vec<TransactWriteItem>,
    ) -> Result<()> {
        let delete = Delete::builder()
            .table_name(self.table_name())
            .set_key(Some(key(TokenRecord::pk(token_hash), TokenRecord::SK)))
            .condition_expression("attribute_exists(#pk)")
            .expression_attribute_names("#pk", PRIMARY.hash)
            .build()
            .map_err(storage)?;
        let mut items = vec![TransactWriteItem::builder().delete(delete).build(), tx::update(update)?];
        items.extend(also);
        match self.transact(items).await {
            Ok(()) => Ok(()),
            Err(TxError::Conditions(_)) => Err(Error::InvalidToken),
            Err(TxError::Other(e)) => Err(e),
        }
    }
}

/// Changes a person makes to their own profile.
#[derive(Debug, Default)]
pub struct ProfileChange {
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub job_title: Option<Option<String>>,
    pub mobile: Option<Option<crate::domain::Phone>>,
    pub language: Option<Language>,
    pub timezone: Option<Option<crate::domain::Timezone>>,
}

impl Store {
    /// Apply a profile change, then refresh the name copied onto each membership (for the
    /// members pages and their search): one update per organization the person belongs to.
    pub async fn update_profile(&self, user: &UserRecord, change: &ProfileChange) -> Result<UserRecord> {
        let mut after = user.clone();
        if let Some(v) = &change.first_name {
            after.first_name = v.clone();
        }
        if let Some(v) = &change.last_name {
            after.last_name = v.clone();
        }
        if let Some(v) = &change.job_title {
            after.job_title = v.clone();
        }
        if let Some(v) = &change.mobile {
            if after.mobile != *v {
                // A new number is unproven.
                after.mobile_verified_at = None;
            }
            after.mobile = v.clone();
        }
        if let Some(v) = change.language {
            after.language = v;
        }
        if let Some(v) = change.timezone {
            after.timezone = v;
        }
        let item = to_item(&after, UserRecord::pk(&user.user_id), UserRecord::SK.into())?;
        // The whole profile is written back: only over the epochs it was read with, so a
        // sign-out everywhere or a second factor turned off meanwhile is never undone.
        let res = self
            .client
            .put_item()
            .table_name(self.table_name())
            .set_item(Some(item))
            .condition_expression(
                "attribute_exists(#pk) AND (attribute_not_exists(session_epoch) OR session_epoch = :se) \
                 AND (attribute_not_exists(factor_epoch) OR factor_epoch = :fe)",
            )
            .expression_attribute_names("#pk", PRIMARY.hash)
            .expression_attribute_values(":se", crate::store::ops::n(user.session_epoch as i64))
            .expression_attribute_values(":fe", crate::store::ops::n(user.factor_epoch as i64))
            .send()
            .await;
        match res {
            Ok(_) => {}
            Err(e) if is_condition_failed(&e) => return Err(Error::Conflict),
            Err(e) => return Err(storage(e)),
        }
        if after.first_name != user.first_name || after.last_name != user.last_name {
            self.refresh_member_copies(&after).await?;
        }
        Ok(after)
    }
}

impl Store {
    /// Record `org` as the organization `client` used last, on the profile only if it still
    /// exists (an erased login is not brought back).
    pub async fn note_last_org(&self, user: &UserId, client: ClientType, org: &OrgId) -> Result<()> {
        let res = self
            .client
            .update_item()
            .table_name(self.table_name())
            .set_key(Some(key(UserRecord::pk(user), UserRecord::SK)))
            .update_expression("SET last_org.#c = :o")
            .condition_expression("attribute_exists(#pk)")
            .expression_attribute_names("#c", client.as_str())
            .expression_attribute_names("#pk", PRIMARY.hash)
            .expression_attribute_values(":o", s(org.as_str()))
            .send()
            .await;
        match res {
            Ok(_) => Ok(()),
            Err(e) if is_condition_failed(&e) => Err(Error::NotFound("user")),
            Err(e) => Err(storage(e)),
        }
    }

    /// Copy the person's current name and address onto each of their memberships (for the
    /// members pages and their search): one update of only those attributes per organization,
    /// so a concurrent role change is never overwritten.
    pub async fn refresh_member_copies(&self, user: &UserRecord) -> Result<()> {
        let name = user.display_name();
        let mut renamed = Vec::new();
        for m in self.all_memberships(&user.user_id).await? {
            let res = self
                .client
                .update_item()
                .table_name(self.table_name())
                .set_key(Some(key(
                    crate::store::MembershipRecord::pk(&m.user_id),
                    crate::store::MembershipRecord::sk(&m.org_id),
                )))
                .update_expression(if user.email.is_some() {
                    "SET member_name = :n, member_email = :e REMOVE #s"
                } else {
                    "SET member_name = :n REMOVE #s"
                })
                .condition_expression("attribute_exists(#pk)")
                .expression_attribute_names("#pk", PRIMARY.hash)
                .expression_attribute_names("#s", "search")
                .set_expression_attribute_values(Some(member_copy_values(user, &name)))
                .send()
                .await;
            match res {
                Ok(_) => {
                    let mut after = m.clone();
                    after.member_name = Some(name.clone());
                    if user.email.is_some() {
                        after.member_email = user.email.clone();
                    }
                    renamed.push((m, after));
                }
                // Left the organization meanwhile.
                Err(e) if is_condition_failed(&e) => {}
                Err(e) => return Err(storage(e)),
            }
        }
        // The search entries of every organization in one batch.
        self.replace_member_entries(&renamed).await
    }
}

fn token_address(token: &TokenRecord) -> Result<&Email> {
    token.email.as_ref().ok_or(Error::InvalidToken)
}

fn member_copy_values(
    user: &UserRecord,
    name: &str,
) -> std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue> {
    let mut v = std::collections::HashMap::from([(":n".to_owned(), s(name))]);
    if let Some(e) = &user.email {
        v.insert(":e".to_owned(), s(e.as_str()));
    }
    v
}
