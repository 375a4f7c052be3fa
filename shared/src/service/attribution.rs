//! Activity written by a login that was later merged into another is shown as the main
//! login's: feeds keep what was written (an audit trail is not rewritten) and map actors
//! when read, so attribution follows every merge, including into organizations the old login
//! had already left, at one batch read per page.

use std::collections::{BTreeMap, BTreeSet};

use crate::domain::UserId;
use crate::error::Result;
use crate::service::Ctx;
use crate::store::ActivityRecord;

/// Merges of merged logins are followed this many times (A into B, later B into C).
const MAX_CHAIN: usize = 4;

/// Replace each actor that was merged away with the login it was merged into, keeping the
/// original in `merged_actor_id`. Round trips: one per page, plus one per further link of a
/// chain of merges (rare).
pub async fn attribute(ctx: &Ctx, entries: &mut [ActivityRecord]) -> Result<()> {
    let mut unresolved: BTreeSet<UserId> =
        entries.iter().flat_map(|e| std::iter::once(&e.actor_id).chain(e.real_actor_id.as_ref())).cloned().collect();
    let mut merged: BTreeMap<UserId, UserId> = BTreeMap::new();
    for _ in 0..MAX_CHAIN {
        if unresolved.is_empty() {
            break;
        }
        let ids: Vec<UserId> = std::mem::take(&mut unresolved).into_iter().collect();
        for user in ctx.store.get_users(&ids).await? {
            if let Some(into) = user.merged_into {
                if !merged.contains_key(&into) {
                    unresolved.insert(into.clone());
                }
                merged.insert(user.user_id, into);
            }
        }
    }
    let resolve = |id: &UserId| {
        let mut at = id;
        for _ in 0..MAX_CHAIN {
            match merged.get(at) {
                Some(next) => at = next,
                None => break,
            }
        }
        at.clone()
    };
    for e in entries.iter_mut() {
        let actor = resolve(&e.actor_id);
        if actor != e.actor_id {
            e.merged_actor_id = Some(std::mem::replace(&mut e.actor_id, actor));
        }
        e.real_actor_id = e.real_actor_id.as_ref().map(resolve);
    }
    Ok(())
}
