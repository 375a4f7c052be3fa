//! IANA timezones, and the local moments digests fall due at. Windows are computed in the
//! recipient's zone, never in UTC: a weekly digest "on Monday at 08:00" in Sydney is due on
//! Sunday evening UTC, and the hour moves with daylight saving.

use std::str::FromStr;

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveDateTime, TimeZone, Timelike, Utc, Weekday};
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

/// The instant a local wall-clock time names in `tz`: the earlier of two in the hour that
/// repeats when clocks go back, and the first moment after the gap when they go forward.
fn resolve(tz: Tz, local: NaiveDateTime) -> Option<DateTime<Utc>> {
    (0..3).find_map(|h| tz.from_local_datetime(&(local + Duration::hours(h))).earliest().map(|t| t.with_timezone(&Utc)))
}

fn at_hour(tz: Tz, day: NaiveDate, hour: u32) -> Option<DateTime<Utc>> {
    resolve(tz, day.and_hms_opt(hour, 0, 0)?)
}

/// The end of the window `after` falls in: when a digest of `interval` gathering something
/// that arrived at `after` is due. `None` for `immediate`, which never waits.
pub fn next_due(interval: Interval, after: DateTime<Utc>, tz: Timezone, time: DigestTime) -> Option<DateTime<Utc>> {
    let tz = tz.tz();
    let local = after.with_timezone(&tz);
    match interval {
        Interval::Immediate => None,
        // The next local full hour (zones a half hour off UTC have theirs at :30 UTC).
        Interval::Hourly => {
            let start = local.date_naive().and_hms_opt(local.hour(), 0, 0)?;
            let this_hour = resolve(tz, start)?;
            Some(this_hour + Duration::hours(1))
        }
        Interval::Daily => {
            (0..3).filter_map(|d| at_hour(tz, local.date_naive() + Duration::days(d), time.hour)).find(|t| *t > after)
        }
        Interval::Weekly => (0..15)
            .map(|d| local.date_naive() + Duration::days(d))
            .filter(|day| day.weekday() == time.weekday)
            .filter_map(|day| at_hour(tz, day, time.hour))
            .find(|t| *t > after),
    }
}

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
