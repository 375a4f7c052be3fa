//! A ceiling on how fast one bulk operation writes. DynamoDB takes at most 1,000 write units a
//! second on one partition, and every row of an import (every address of a bulk invitation)
//! writes into its organization's partitions; left unpaced, a fast run would throttle itself
//! and everyone else in that organization.

use std::time::{Duration, Instant};

#[derive(Debug)]
pub(crate) struct Pace {
    started: Instant,
    per_second: u32,
}

impl Pace {
    pub(crate) fn new(per_second: u32) -> Self {
        Pace { started: Instant::now(), per_second: per_second.max(1) }
    }

    /// How long to wait, once `done` operations are finished, to stay under the rate.
    fn ahead(&self, done: usize, now: Instant) -> Duration {
        let due = Duration::from_secs_f64(done as f64 / f64::from(self.per_second));
        due.saturating_sub(now.saturating_duration_since(self.started))
    }

    /// Wait until `done` operations fit the rate.
    pub(crate) async fn wait_for(&self, done: usize) {
        let wait = self.ahead(done, Instant::now());
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_ahead_of_its_rate_waits_and_one_behind_does_not() {
        let p = Pace::new(400);
        assert_eq!(p.ahead(200, p.started), Duration::from_millis(500), "200 done at once: half a second early");
        assert_eq!(p.ahead(200, p.started + Duration::from_millis(300)), Duration::from_millis(200));
        assert_eq!(p.ahead(200, p.started + Duration::from_secs(1)), Duration::ZERO, "behind the rate");
    }
}
