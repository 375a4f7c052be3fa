//! Window ends over every IANA zone whose offset changes in 2026–2028. The checks here do not
//! reuse `next_due`'s way of finding an end: they walk the timeline in quarter hours (every
//! offset in use is a whole number of quarter hours, and clocks change on the minute) and read
//! the wall clock at each step.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use chrono::{DateTime, Datelike, Duration, NaiveDateTime, Offset, Timelike, Utc, Weekday};
use chrono_tz::{TZ_VARIANTS, Tz};
use proptest::prelude::*;

use super::{DigestTime, Interval, Timezone, next_due, next_due_after};

const FROM: i64 = 1_767_225_600; // 2026-01-01T00:00:00Z
const TO: i64 = 1_861_920_000; // 2029-01-01T00:00:00Z
const QUARTER: i64 = 900;

fn instant(t: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(t, 0).unwrap_or_default()
}

fn offset(tz: Tz, t: i64) -> i32 {
    instant(t).with_timezone(&tz).offset().fix().local_minus_utc()
}

fn wall(tz: Tz, t: i64) -> NaiveDateTime {
    instant(t).with_timezone(&tz).naive_local()
}

/// A zone and the instants its offset changes at, in the span.
#[derive(Debug, Clone)]
struct Zone {
    tz: Tz,
    changes: Vec<i64>,
}

/// One zone for each distinct pattern of changes (most of Europe shares one), found by
/// stepping half days and then halving to the second.
fn zones() -> &'static [Zone] {
    static ZONES: OnceLock<Vec<Zone>> = OnceLock::new();
    ZONES.get_or_init(|| {
        let mut seen: BTreeMap<Vec<(i64, i32)>, Zone> = BTreeMap::new();
        for tz in TZ_VARIANTS {
            let mut changes = Vec::new();
            let mut t = FROM;
            while t < TO {
                let next = t + 12 * 3600;
                if offset(tz, t) != offset(tz, next) {
                    let (mut lo, mut hi) = (t, next);
                    while hi - lo > 1 {
                        let mid = lo + (hi - lo) / 2;
                        if offset(tz, mid) == offset(tz, t) { lo = mid } else { hi = mid }
                    }
                    changes.push(hi);
                }
                t = next;
            }
            if !changes.is_empty() {
                let pattern = changes.iter().map(|c| (*c, offset(tz, *c) - offset(tz, c - 1))).collect();
                seen.entry(pattern).or_insert(Zone { tz, changes });
            }
        }
        seen.into_values().collect()
    })
}

/// Whether the wall clock shows `boundary` at `t`, or skips over it there.
fn shows(tz: Tz, t: i64, boundary: &dyn Fn(NaiveDateTime) -> bool) -> bool {
    if boundary(wall(tz, t)) {
        return true;
    }
    let jump = offset(tz, t) - offset(tz, t - 1);
    // A forward jump at t skips the wall times from wall(t - 1) + 1 s up to wall(t).
    jump > 0 && (1..=i64::from(jump) / 60).any(|m| boundary(wall(tz, t - 1) + Duration::seconds(1 + (m - 1) * 60)))
}

/// Whether `t` is the first instant of its local day to show (or skip) `boundary`: a daily
/// boundary the clocks show twice counts once.
fn first_of_day(tz: Tz, t: i64, boundary: &dyn Fn(NaiveDateTime) -> bool) -> bool {
    let day = wall(tz, t).date();
    (1..=16).map(|q| t - q * QUARTER).all(|e| !(wall(tz, e).date() == day && shows(tz, e, boundary)))
}

/// The checks for one window end; `Err` says what is wrong.
fn check(tz: Tz, event: i64, interval: Interval, time: DigestTime) -> Result<i64, String> {
    let end = next_due(interval, instant(event), Timezone(tz), time)
        .ok_or_else(|| format!("{tz}: no end for {interval:?} after {}", instant(event)))?
        .timestamp();
    let hourly = |w: NaiveDateTime| w.minute() == 0 && w.second() == 0;
    let daily = move |w: NaiveDateTime| hourly(w) && w.hour() == time.hour;
    let weekly = move |w: NaiveDateTime| daily(w) && w.weekday() == time.weekday;
    let (boundary, once_a_day, limit): (&dyn Fn(NaiveDateTime) -> bool, bool, i64) = match interval {
        Interval::Hourly => (&hourly, false, 3 * 3600),
        Interval::Daily => (&daily, true, 2 * 86400 + 3 * 3600),
        Interval::Weekly => (&weekly, true, 8 * 86400),
        Interval::Immediate => return Err("immediate has no window".into()),
    };
    let at = || format!("{tz} {interval:?} {time:?}: event {} end {}", instant(event), instant(end));
    if end <= event {
        return Err(format!("{}: the end is not after the event", at()));
    }
    if end - event > limit {
        return Err(format!("{}: the end is too far", at()));
    }
    let counts = |t: i64| shows(tz, t, boundary) && (!once_a_day || first_of_day(tz, t, boundary));
    if !counts(end) {
        return Err(format!("{}: the wall clock shows {} there, not the boundary", at(), wall(tz, end)));
    }
    // Nothing earlier after the event would do: every quarter hour between, and every change.
    let first = (event / QUARTER + 1) * QUARTER;
    let steps = (first..end).step_by(QUARTER as usize);
    let changes = zones().iter().find(|z| z.tz == tz).map(|z| z.changes.clone()).unwrap_or_default();
    if let Some(t) = steps.chain(changes.into_iter().filter(|c| *c > event && *c < end)).find(|t| counts(*t)) {
        return Err(format!("{}: {} comes first", at(), instant(t)));
    }
    Ok(end)
}

fn times(tz: Tz, change: i64) -> Vec<DigestTime> {
    let skipped = wall(tz, change - 1) + Duration::seconds(1);
    let around = [wall(tz, change - 1), skipped, wall(tz, change), wall(tz, change - 3600)];
    around.iter().map(|w| DigestTime { hour: w.hour(), weekday: w.weekday() }).collect()
}

#[test]
fn zones_with_changes_are_found() {
    let names: Vec<&str> = zones().iter().map(|z| z.tz.name()).collect();
    assert!(zones().len() > 10, "{names:?}");
    let amsterdam_like = zones().iter().find(|z| z.changes.contains(&1_792_890_000));
    assert!(amsterdam_like.is_some(), "25 October 2026 01:00 UTC is Europe's autumn change: {names:?}");
}

/// Every zone's every change, with events around it, for each interval and the digest hours
/// the change touches.
#[test]
fn every_change_in_every_zone() {
    let offsets = [-7200, -3601, -3600, -1800, -1, 0, 1, 1799, 1800, 3599, 3600, 5400, 86_400 - 1];
    let mut failures = Vec::new();
    for z in zones() {
        for change in &z.changes {
            for d in offsets {
                let event = change + d;
                let mut cases = vec![(Interval::Hourly, DigestTime::DEFAULT)];
                for t in times(z.tz, *change) {
                    cases.push((Interval::Daily, t));
                    cases.push((Interval::Weekly, t));
                }
                failures.extend(cases.into_iter().filter_map(|(iv, t)| check(z.tz, event, iv, t).err()));
            }
        }
    }
    assert!(failures.is_empty(), "{} failures, first: {:?}", failures.len(), &failures[..failures.len().min(5)]);
}

#[test]
fn the_autumn_repeated_hour_in_amsterdam() {
    let ams: Tz = "Europe/Amsterdam".parse().unwrap_or(Tz::UTC);
    let hourly = |t: &str| {
        let at = DateTime::parse_from_rfc3339(t).map(|t| t.timestamp()).unwrap_or_default();
        check(ams, at, Interval::Hourly, DigestTime::DEFAULT).map(instant)
    };
    // 02:30 CEST, then the clocks go back; 02:00 shows again at 01:00 UTC.
    assert_eq!(hourly("2026-10-25T00:30:00Z"), Ok(instant(1_792_890_000)));
    // 02:30:05 CET, the repeated hour: the end is 03:00 CET, after the message.
    assert_eq!(hourly("2026-10-25T01:30:05Z"), Ok(instant(1_792_893_600)));
}

fn weekday() -> impl Strategy<Value = Weekday> {
    (0u8..7).prop_map(|d| Weekday::try_from(d).unwrap_or(Weekday::Mon))
}

fn interval() -> impl Strategy<Value = Interval> {
    prop_oneof![Just(Interval::Hourly), Just(Interval::Daily), Just(Interval::Weekly)]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(600))]

    /// Any instant near a change (within four days) in any of the zones, any interval and
    /// digest time.
    #[test]
    fn any_event_near_a_change(
        zone in 0usize..4096, change in 0usize..16, within in -4 * 86_400i64..4 * 86_400,
        iv in interval(), hour in 0u32..24, day in weekday(),
    ) {
        let z = &zones()[zone % zones().len()];
        let event = z.changes[change % z.changes.len()] + within;
        let checked = check(z.tz, event, iv, DigestTime { hour, weekday: day });
        prop_assert!(checked.is_ok(), "{:?}", checked);
    }

    /// Windows of one person never repeat: events arrive from machines whose clocks disagree
    /// (up to a day either way), claims come at the window's end or later (a run days ahead),
    /// and every next window ends after the last one claimed and after its event.
    #[test]
    fn windows_only_move_forward(
        zone in 0usize..4096, change in 0usize..16, iv in interval(), hour in 0u32..24,
        steps in proptest::collection::vec((-86_400i64..86_400, 0i64..3 * 86_400, any::<bool>()), 1..12),
    ) {
        let z = &zones()[zone % zones().len()];
        let tz = Timezone(z.tz);
        let time = DigestTime { hour, weekday: Weekday::Mon };
        let mut now = z.changes[change % z.changes.len()] - 86_400;
        let mut last: Option<DateTime<Utc>> = None;
        for (skew, wait, claim) in steps {
            let seen = instant(now + skew);
            let end = next_due_after(iv, seen, last, tz, time);
            prop_assert!(end.is_some());
            let end = end.unwrap_or_default();
            prop_assert!(end > seen && last.is_none_or(|l| end > l), "{end} after {seen} and {last:?}");
            if claim {
                last = Some(end);
            }
            now += wait;
        }
    }
}
