//! Requests made safe to repeat (draft-ietf-httpapi-idempotency-key-header): a creating POST
//! with an `Idempotency-Key` runs once; the same key with the same request gets the first
//! answer for 24 hours, with another request 422, and while the first still runs 409.

use sha2::{Digest, Sha256};

use crate::domain::UserId;
use crate::domain::idempotency_key::IdempotencyKey;
use crate::error::{Error, Result};
use crate::service::Ctx;
use crate::store::{Claim, IdempotencyRecord, StoredAnswer};

/// How long a first request is presumed alive. API Gateway ends a request after 29 s, so a
/// claim older than this belongs to a request that crashed: its key may be used again.
const LEASE_SECS: i64 = 30;

/// Answers larger than this are not kept (an item holds 400 KB): the key is given up and a
/// repeat runs again, where the operation's own conditions refuse a second effect.
pub const MAX_KEPT_BODY: usize = 256 * 1024;

/// A claimed key, for recording the answer.
#[derive(Debug)]
pub struct Slot {
    slot: String,
    fingerprint: String,
}

#[derive(Debug)]
pub enum Begin {
    Run(Slot),
    Replay(StoredAnswer),
}

fn sha256_hex(parts: &[&[u8]]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        // Lengths first, so no two different part lists hash alike.
        h.update((p.len() as u64).to_be_bytes());
        h.update(p);
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// Claim `key` for this caller's request (`caller` is `None` before sign-in: register,
/// accepting as a new person), or find what it answered before.
pub async fn begin(
    ctx: &Ctx,
    caller: Option<&UserId>,
    key: &IdempotencyKey,
    method: &str,
    path: &str,
    body: &[u8],
) -> Result<Begin> {
    let who = caller.map(UserId::as_str).unwrap_or("anonymous");
    let slot = sha256_hex(&[who.as_bytes(), key.as_str().as_bytes()]);
    let fingerprint = sha256_hex(&[method.as_bytes(), path.as_bytes(), body]);
    let now = ctx.now();
    let record = IdempotencyRecord {
        fingerprint: fingerprint.clone(),
        locked_until: now + chrono::Duration::seconds(LEASE_SECS),
        answer: None,
        created_at: now,
    };
    match ctx.store.claim_idempotency_key(&slot, &record).await? {
        Claim::Claimed => Ok(Begin::Run(Slot { slot, fingerprint })),
        Claim::Existing(old) if old.fingerprint != fingerprint => Err(Error::IdempotencyKeyReused),
        Claim::Existing(IdempotencyRecord { answer: Some(a), .. }) => Ok(Begin::Replay(a)),
        Claim::Existing(_) => Err(Error::IdempotencyInProgress),
    }
}

/// Keep `answer` for repeats; `None` gives the key up (a failure a retry may fix).
pub async fn finish(ctx: &Ctx, slot: &Slot, answer: Option<StoredAnswer>) -> Result<()> {
    match answer {
        Some(a) if a.body.len() <= MAX_KEPT_BODY => {
            ctx.store.store_idempotent_answer(&slot.slot, &slot.fingerprint, &a).await
        }
        _ => ctx.store.release_idempotency_key(&slot.slot, &slot.fingerprint).await,
    }
}
