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
        let (ms, rnd) = match last_rnd.checked_add(1).filter(|n| *n <= RANDOM_MASK) {
            _ if ms > last_ms => (ms, fresh()),
            Some(next) => (last_ms, next),
            // Never in practice (a fresh part leaves 2^79 steps); were the random part spent,
            // the next millisecond keeps the order rather than wrapping to a smaller id.
            None => (last_ms + 1, fresh()),
        };
        *last = (ms, rnd);
        ulid::Ulid::from_parts(ms, rnd)
    }

    /// A ULID after `floor` as well as after every one this source made: `floor` was made by
    /// a machine whose clock is ahead of this one's. Only this id steps past it; the source
    /// goes on from its own clock, so the ids of everything else keep telling this machine's
    /// time. The step is partly random, so two ids stepping past the same floor rarely meet
    /// (and a write that finds its key taken tries again).
    pub fn next_after(&self, clock: &dyn Clock, r: &dyn Random, floor: ulid::Ulid) -> ulid::Ulid {
        let id = self.next(clock, r);
        if id > floor {
            return id;
        }
        let step = u128::from(u32::from_le_bytes(random_bytes(r))) + 1;
        match floor.random().checked_add(step).filter(|n| *n <= RANDOM_MASK) {
            Some(rnd) => ulid::Ulid::from_parts(floor.timestamp_ms(), rnd),
            None => ulid::Ulid::from_parts(
                floor.timestamp_ms() + 1,
                u128::from_le_bytes(random_bytes(r)) & (RANDOM_MASK >> 1),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ulids_sort_in_creation_order_within_a_millisecond() {
        let clock = ManualClock::new(DateTime::from_timestamp(1_796_634_000, 0).unwrap_or_default());
        let (r, src) = (SeededRandom::new(3), UlidSource::default());
        let ids: Vec<ulid::Ulid> = (0..1000).map(|_| src.next(&clock, &r)).collect();
        assert!(ids.windows(2).all(|w| w[0] < w[1]));
        clock.advance(chrono::Duration::milliseconds(5));
        let later = src.next(&clock, &r);
        assert!(later > ids[999] && later.timestamp_ms() == ids[0].timestamp_ms() + 5);
    }

    /// The system clock is the process's (so CI's pass with the clock moved ahead moves it);
    /// that pass names the earliest instant it may read.
    #[test]
    fn the_system_clock_reads_the_process_clock() {
        let process = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
        let read = SystemClock.now().timestamp();
        assert!((read - process as i64).abs() <= 1, "{read} against {process}");
        if let Some(least) = std::env::var("SWITCHBOARD_CLOCK_AT_LEAST").ok().and_then(|s| s.parse::<i64>().ok()) {
            assert!(read >= least, "the clock reads {read}, before {least}: the shift is not in effect");
        }
    }

    #[test]
    fn ids_after_a_floor_from_a_clock_ahead_stay_after_it() {
        let clock = ManualClock::new(DateTime::from_timestamp(1_796_634_000, 0).unwrap_or_default());
        let (r, src) = (SeededRandom::new(4), UlidSource::default());
        let ahead = ulid::Ulid::from_parts(clock.now().timestamp_millis() as u64 + 86_400_000, 7);
        let past = src.next_after(&clock, &r, ahead);
        let again = src.next_after(&clock, &r, ahead);
        assert!(past > ahead && again > ahead && past != again);
        let own = src.next(&clock, &r);
        assert!(own < ahead, "the source goes on from its own clock");
        let full = ulid::Ulid::from_parts(ahead.timestamp_ms(), RANDOM_MASK);
        let over = src.next_after(&clock, &r, full);
        assert!(over > full && over.timestamp_ms() == full.timestamp_ms() + 1);
        let behind = ulid::Ulid::from_parts(1, 1);
        let now_id = src.next_after(&clock, &r, behind);
        assert!(now_id > own && now_id < ahead, "a floor behind changes nothing: {now_id} {own}");
    }
}
