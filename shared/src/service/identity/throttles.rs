//! Sign-in throttles: per login and client address, and per login across all addresses, so
//! neither one guesser nor many can try passwords at speed.

use chrono::Duration;

use crate::auth::secret;

pub(in crate::service) fn throttle_key(login: &str, addr: &str) -> String {
    secret::hash(&format!("{login}|{addr}"))
}

/// The throttle of a login across every address (`|` never ends a client address).
pub(crate) fn account_throttle_key(login: &str) -> String {
    secret::hash(&format!("{login}|"))
}

pub(crate) fn block_for(over: u32) -> Duration {
    // 30 s, doubling per further failure, at most 15 minutes.
    Duration::seconds((30i64 << over.min(5)).min(900))
}

/// Consecutive failures (from any address) a login may have before password logins stop
/// until its password is reset (NIST SP 800-63B §5.2.2 allows at most 100).
pub(in crate::service) const ACCOUNT_FAILURE_LIMIT: u32 = 100;
/// Consecutive failures from anywhere before each further one delays the next attempt.
const ACCOUNT_DELAY_AFTER: u32 = 10;

/// The account-wide delay after `failures` consecutive failures: none for the first ten,
/// then 1 s doubling per failure up to an hour, so a distributed guesser gets ~100 tries in
/// three days; at the limit, until a password reset (or 30 days without another failure).
/// The owner is never locked out for good: a reset link always works and clears it.
pub(in crate::service) fn account_block(failures: u32) -> Option<Duration> {
    if failures >= ACCOUNT_FAILURE_LIMIT {
        Some(ACCOUNT_THROTTLE_KEPT)
    } else if failures >= ACCOUNT_DELAY_AFTER {
        Some(Duration::seconds((1i64 << (failures - ACCOUNT_DELAY_AFTER).min(12)).min(3600)))
    } else {
        None
    }
}

/// How long consecutive failures are remembered without another.
pub(in crate::service) const ACCOUNT_THROTTLE_KEPT: Duration = Duration::days(30);
