//! The clock every test app runs on.

use switchboard::clock::{Clock, ManualClock};

/// Where every test app's clock starts, whatever today's date: the tests set it to chosen
/// instants after this one (the end of summer time on 25 October 2026, a Monday's 08:00), so
/// they mean the same on any day they run.
pub const TEST_EPOCH: &str = "2026-03-02T09:00:00Z";

/// The clock of a test app: it starts at [`TEST_EPOCH`] and only moves forward. Set back, the
/// app would hand out instants before the ids it already made (ids never go back), which is
/// a mistake in the test, so it fails there and then.
#[derive(Debug, Clone)]
pub struct TestClock(ManualClock);

impl TestClock {
    pub fn new() -> Self {
        let start = chrono::DateTime::parse_from_rfc3339(TEST_EPOCH).expect("TEST_EPOCH").to_utc();
        TestClock(ManualClock::new(start))
    }

    /// Move to `to`, which must not be before the clock's now.
    #[track_caller]
    pub fn set(&self, to: chrono::DateTime<chrono::Utc>) {
        let now = self.0.now();
        assert!(to >= now, "the test clock moves forward only: from {now} back to {to}");
        self.0.set(to);
    }

    #[track_caller]
    pub fn advance(&self, by: chrono::Duration) {
        assert!(by >= chrono::Duration::zero(), "the test clock moves forward only: {by}");
        self.0.advance(by);
    }
}

impl Default for TestClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for TestClock {
    fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.0.now()
    }
}
