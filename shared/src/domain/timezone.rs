//! IANA timezones, and the local moments digests fall due at. Windows are computed in the
//! recipient's zone, never in UTC: a weekly digest "on Monday at 08:00" in Sydney is due on
//! Sunday evening UTC, and the hour moves with daylight saving.

use std::str::FromStr;

use chrono::{DateTime, Datelike, Duration, LocalResult, NaiveDateTime, TimeZone, Timelike, Utc, Weekday};
use chrono_tz::Tz;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::Interval;
use crate::error::{Error, Result};

/// A timezone of the IANA database, by its canonical name (`Europe/Amsterdam`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timezone(Tz);

impl Timezone {
    pub const UTC: Timezone = Timezone(Tz::UTC);

    pub fn parse(raw: &str, field: &str) -> Result<Self> {
        let raw = raw.trim();
        Tz::from_str(raw).map(Timezone).map_err(|_| {
            Error::validation("invalid_timezone", field, "must be an IANA timezone name such as Europe/Amsterdam")
        })
    }

    pub fn as_str(self) -> &'static str {
        self.0.name()
    }

    pub fn tz(self) -> Tz {
        self.0
    }
}

impl Default for Timezone {
    fn default() -> Self {
        Timezone::UTC
    }
}

impl Serialize for Timezone {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// A name the database no longer knows (zones are renamed now and then) reads as UTC rather
/// than making the record that holds it unreadable.
impl<'de> Deserialize<'de> for Timezone {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let raw = String::deserialize(d)?;
        Ok(Timezone::parse(&raw, "timezone").unwrap_or_default())
    }
}

impl utoipa::PartialSchema for Timezone {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .description(Some("An IANA timezone name"))
            .examples([serde_json::json!("Europe/Amsterdam")])
            .into()
    }
}

impl utoipa::ToSchema for Timezone {}

/// When someone's daily and weekly digests come: a local hour, and for weekly ones a weekday.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DigestTime {
    pub hour: u32,
    pub weekday: Weekday,
}

impl DigestTime {
    /// Before the working day starts, at the start of the week.
    pub const DEFAULT: DigestTime = DigestTime { hour: 8, weekday: Weekday::Mon };

    pub fn parse(hour: u32, weekday: &str, field: &str) -> Result<Self> {
        if hour > 23 {
            return Err(Error::validation("invalid_digest_time", field, "the hour must be 0 to 23"));
        }
        let weekday = Weekday::from_str(weekday.trim())
            .map_err(|_| Error::validation("invalid_digest_time", field, "the weekday must be monday to sunday"))?;
        Ok(DigestTime { hour, weekday })
    }

    pub fn weekday_name(self) -> &'static str {
        match self.weekday {
            Weekday::Mon => "monday",
            Weekday::Tue => "tuesday",
            Weekday::Wed => "wednesday",
            Weekday::Thu => "thursday",
            Weekday::Fri => "friday",
            Weekday::Sat => "saturday",
            Weekday::Sun => "sunday",
        }
    }
}

/// Every instant a local wall-clock time names in `tz`: one as a rule, two in the hour that
/// repeats when clocks go back, and for a time the clocks skip, the instant they skip at (the
/// first one after the gap).
fn instants(tz: Tz, local: NaiveDateTime) -> Vec<DateTime<Utc>> {
    match tz.from_local_datetime(&local) {
        LocalResult::Single(t) => vec![t.with_timezone(&Utc)],
        LocalResult::Ambiguous(a, b) => vec![a.with_timezone(&Utc), b.with_timezone(&Utc)],
        LocalResult::None => gap_end(tz, local).into_iter().collect(),
    }
}

/// The first of the instants [`instants`] names: one local day has one 08:00, even where the
/// clocks show it twice.
fn first_instant(tz: Tz, local: NaiveDateTime) -> Option<DateTime<Utc>> {
    instants(tz, local).into_iter().min()
}

/// The instant the clocks jump over `local` (a wall time that does not exist in `tz`). Around
/// one forward jump the wall time only grows with the instant, so the first instant whose wall
/// time is past `local` is found by halving a range that surely holds it: no zone is more than
/// 14 hours ahead of UTC or 12 behind.
fn gap_end(tz: Tz, local: NaiveDateTime) -> Option<DateTime<Utc>> {
    let past =
        |t: i64| DateTime::<Utc>::from_timestamp(t, 0).is_some_and(|t| t.with_timezone(&tz).naive_local() > local);
    let naive = local.and_utc().timestamp();
    let (mut lo, mut hi) = (naive - 15 * 3600, naive + 13 * 3600);
    if past(lo) || !past(hi) {
        return None;
    }
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if past(mid) { hi = mid } else { lo = mid }
    }
    DateTime::from_timestamp(hi, 0)
}

/// The end of the window `after` falls in: when a digest of `interval` gathering something
/// that arrived at `after` is due. Always strictly after `after`, at the first instant the
/// local clock shows the boundary (the next full hour; `time`'s hour; its weekday and hour),
/// or where the clocks skip that boundary, the instant they skip at. A full hour the clocks
/// show twice ends two hourly windows; a day has one daily boundary, the first. `None` for
/// `immediate`, which never waits.
pub fn next_due(interval: Interval, after: DateTime<Utc>, tz: Timezone, time: DigestTime) -> Option<DateTime<Utc>> {
    let tz = tz.tz();
    let local = after.with_timezone(&tz).naive_local();
    let later = |t: &DateTime<Utc>| *t > after;
    match interval {
        Interval::Immediate => None,
        // Zones a half hour off UTC have their full hours at :30 UTC. Local times before
        // the event's count too: where clocks go back two hours (Antarctica/Troll), the next
        // full hour the clock shows is an earlier one.
        Interval::Hourly => {
            let hour = local.date().and_hms_opt(local.hour(), 0, 0)?;
            (-3..4).flat_map(|h| instants(tz, hour + Duration::hours(h))).filter(later).min()
        }
        Interval::Daily => (-1..3)
            .filter_map(|d| (local.date() + Duration::days(d)).and_hms_opt(time.hour, 0, 0))
            .filter_map(|n| first_instant(tz, n))
            .filter(later)
            .min(),
        Interval::Weekly => (-1..15)
            .map(|d| local.date() + Duration::days(d))
            .filter(|day| day.weekday() == time.weekday)
            .filter_map(|day| day.and_hms_opt(time.hour, 0, 0))
            .filter_map(|n| first_instant(tz, n))
            .filter(later)
            .min(),
    }
}

/// The end of the next window for something that arrived at `after` when the last window
/// claimed ended at `last`: as [`next_due`], and strictly after `last` too. A window claimed
/// by a machine whose clock runs ahead (or by `local digests --at` a day ahead) is never
/// named again, so the later windows are never blocked by it.
pub fn next_due_after(
    interval: Interval,
    after: DateTime<Utc>,
    last: Option<DateTime<Utc>>,
    tz: Timezone,
    time: DigestTime,
) -> Option<DateTime<Utc>> {
    next_due(interval, last.map_or(after, |l| l.max(after)), tz, time)
}

#[cfg(test)]
#[path = "timezone_tests.rs"]
mod properties;

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn tz(name: &str) -> Timezone {
        Timezone::parse(name, "tz").unwrap()
    }

    #[test]
    fn names_parse_and_unknown_ones_are_refused() {
        assert_eq!(tz("Europe/Amsterdam").as_str(), "Europe/Amsterdam");
        assert!(Timezone::parse("Mars/Olympus", "tz").is_err());
        let read: Timezone = serde_json::from_str("\"Atlantis/Capital\"").unwrap();
        assert_eq!(read, Timezone::UTC);
    }

    #[test]
    fn weekly_in_sydney_is_sunday_evening_utc() {
        // Thursday 3 December 2026, summer time (UTC+11) in Sydney.
        let due = next_due(Interval::Weekly, utc("2026-12-03T10:00:00Z"), tz("Australia/Sydney"), DigestTime::DEFAULT);
        assert_eq!(due, Some(utc("2026-12-06T21:00:00Z")));
        assert_eq!(due.unwrap().with_timezone(&tz("Australia/Sydney").tz()).weekday(), Weekday::Mon);
    }

    #[test]
    fn daily_follows_the_clock_change() {
        let ams = tz("Europe/Amsterdam");
        // Summer time ends on Sunday 25 October 2026 at 03:00 local.
        let sat = next_due(Interval::Daily, utc("2026-10-24T07:00:00Z"), ams, DigestTime::DEFAULT);
        assert_eq!(sat, Some(utc("2026-10-25T07:00:00Z")));
        let sun = next_due(Interval::Daily, sat.unwrap(), ams, DigestTime::DEFAULT);
        assert_eq!(sun, Some(utc("2026-10-26T07:00:00Z")));
        let before = next_due(Interval::Daily, utc("2026-10-24T05:59:00Z"), ams, DigestTime::DEFAULT);
        assert_eq!(before, Some(utc("2026-10-24T06:00:00Z")));
    }

    #[test]
    fn a_local_time_in_the_spring_gap_moves_to_after_it() {
        let ny = tz("America/New_York");
        // Clocks go from 02:00 to 03:00 on 8 March 2026.
        let t = DigestTime { hour: 2, weekday: Weekday::Sun };
        let due = next_due(Interval::Daily, utc("2026-03-08T05:00:00Z"), ny, t);
        assert_eq!(due, Some(utc("2026-03-08T07:00:00Z")));
    }

    #[test]
    fn hourly_is_the_next_local_full_hour() {
        let due = next_due(Interval::Hourly, utc("2026-12-01T10:10:00Z"), Timezone::UTC, DigestTime::DEFAULT);
        assert_eq!(due, Some(utc("2026-12-01T11:00:00Z")));
        let india = next_due(Interval::Hourly, utc("2026-12-01T10:10:00Z"), tz("Asia/Kolkata"), DigestTime::DEFAULT);
        assert_eq!(india, Some(utc("2026-12-01T10:30:00Z")));
        assert_eq!(
            next_due(Interval::Immediate, utc("2026-12-01T10:10:00Z"), Timezone::UTC, DigestTime::DEFAULT),
            None
        );
    }

    #[test]
    fn a_window_end_is_never_the_moment_itself() {
        let at = utc("2026-12-07T07:00:00Z");
        let due = next_due(Interval::Weekly, at, tz("Europe/Amsterdam"), DigestTime::DEFAULT);
        assert_eq!(due, Some(utc("2026-12-14T07:00:00Z")));
    }
}
