//! Time and randomness are injected so expiry and tokens are testable.

use std::sync::Arc;
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use rand::{RngCore, SeedableRng};

pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> DateTime<Utc>;
}

#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock tests move by hand.
#[derive(Debug, Clone)]
pub struct ManualClock(Arc<Mutex<DateTime<Utc>>>);

impl ManualClock {
    pub fn new(start: DateTime<Utc>) -> Self {
        ManualClock(Arc::new(Mutex::new(start)))
    }

    pub fn advance(&self, by: chrono::Duration) {
        if let Ok(mut t) = self.0.lock() {
            *t += by;
        }
    }

    pub fn set(&self, to: DateTime<Utc>) {
        if let Ok(mut t) = self.0.lock() {
            *t = to;
        }
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        self.0.lock().map(|t| *t).unwrap_or_else(|p| *p.into_inner())
    }
}

/// Source of secret random bytes (tokens, keys, ids).
pub trait Random: Send + Sync + 'static {
    fn fill(&self, buf: &mut [u8]);

    fn bytes<const N: usize>(&self) -> [u8; N]
    where
        Self: Sized,
    {
        let mut b = [0u8; N];
        self.fill(&mut b);
        b
    }
}

/// The operating system's CSPRNG.
#[derive(Debug, Default, Clone, Copy)]
pub struct OsRandom;

impl Random for OsRandom {
    fn fill(&self, buf: &mut [u8]) {
        rand::rng().fill_bytes(buf);
    }
}

/// Deterministic bytes for tests that need reproducible tokens.
#[derive(Debug)]
pub struct SeededRandom(Mutex<rand::rngs::StdRng>);

impl SeededRandom {
    pub fn new(seed: u64) -> Self {
        SeededRandom(Mutex::new(rand::rngs::StdRng::seed_from_u64(seed)))
    }
}

impl Random for SeededRandom {
    fn fill(&self, buf: &mut [u8]) {
        match self.0.lock() {
            Ok(mut r) => r.fill_bytes(buf),
            Err(p) => p.into_inner().fill_bytes(buf),
        }
    }
}

/// Fill a buffer through a trait object (the generic helper needs `Sized`).
pub fn random_bytes<const N: usize>(r: &dyn Random) -> [u8; N] {
    let mut b = [0u8; N];
    r.fill(&mut b);
    b
}

/// ULIDs from the injected clock and randomness that also sort in the order they were made
/// within one millisecond (the random part then counts up), so time-ordered keys such as
/// activity entries keep their order.
#[derive(Debug, Default)]
pub struct UlidSource(Mutex<(u64, u128)>);

/// ULIDs keep 80 random bits.
const RANDOM_MASK: u128 = (1 << 80) - 1;

impl UlidSource {
    pub fn next(&self, clock: &dyn Clock, r: &dyn Random) -> ulid::Ulid {
        let ms = clock.now().timestamp_millis().max(0) as u64;
        let fresh = || {
            let rnd: [u8; 16] = random_bytes(r);
            // Leave headroom so the count-up within a millisecond cannot overflow.
            u128::from_le_bytes(rnd) & (RANDOM_MASK >> 1)
        };
        let mut last = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let (last_ms, last_rnd) = *last;
        let (ms, rnd) = if ms <= last_ms { (last_ms, (last_rnd + 1) & RANDOM_MASK) } else { (ms, fresh()) };
        *last = (ms, rnd);
        ulid::Ulid::from_parts(ms, rnd)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ulids_sort_in_creation_order_within_a_millisecond() {
        let clock = ManualClock::new(Utc::now());
        let (r, src) = (SeededRandom::new(3), UlidSource::default());
        let ids: Vec<ulid::Ulid> = (0..1000).map(|_| src.next(&clock, &r)).collect();
        assert!(ids.windows(2).all(|w| w[0] < w[1]));
        clock.advance(chrono::Duration::milliseconds(5));
        let later = src.next(&clock, &r);
        assert!(later > ids[999] && later.timestamp_ms() == ids[0].timestamp_ms() + 5);
    }
}
