//! When a schedule's ticks fall: [`zlc_catalog::schedule::When`] in the schedule's time
//! zone (IANA names, read from the system's zoneinfo or the copy compiled in). Wall-clock
//! times that a daylight-saving change skips happen at the first instant after the gap;
//! times it repeats happen once, the first time.

use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::{Timestamp, Zoned};
use zlc_catalog::schedule::{Calendar, When};

use crate::error::{Error, Result};

/// How many days a calendar is searched for its next (or last) day: one that matches
/// only on February 29 of a Monday may wait 28 years.
const SEARCH_DAYS: i32 = 366 * 29;

/// A schedule's ticks, as Unix seconds.
#[derive(Debug, Clone)]
pub struct Ticks {
    when: When,
    tz: TimeZone,
}

/// A tick as templates show it, in the schedule's time zone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalTick {
    /// `2026-12-07 09:00`.
    pub time: String,
    /// `2026-12-07`.
    pub date: String,
    /// `Monday`.
    pub weekday: String,
}

impl Ticks {
    /// The ticks of `every` or `cron` (exactly one of them) in time zone `tz`.
    pub fn new(when: When, tz: &str) -> Result<Self> {
        let tz = TimeZone::get(tz)
            .map_err(|e| Error::Config(format!("unknown time zone `{tz}`: {e}")))?;
        Ok(Ticks { when, tz })
    }

    /// The first tick after `t`.
    pub fn next_after(&self, t: i64) -> Option<i64> {
        match self.when {
            When::Every(secs) => Some((t.div_euclid(secs as i64) + 1) * secs as i64),
            When::At(cal) => self.walk(&cal, t, true),
        }
    }

    /// The last tick at or before `t`.
    pub fn last_at_or_before(&self, t: i64) -> Option<i64> {
        match self.when {
            When::Every(secs) => Some(t.div_euclid(secs as i64) * secs as i64),
            When::At(cal) => self.walk(&cal, t, false),
        }
    }

    /// Tick `t` on the schedule's wall clock.
    pub fn local(&self, t: i64) -> LocalTick {
        let z = self.zoned(t);
        LocalTick {
            time: z.strftime("%Y-%m-%d %H:%M").to_string(),
            date: z.strftime("%Y-%m-%d").to_string(),
            weekday: z.strftime("%A").to_string(),
        }
    }

    fn zoned(&self, t: i64) -> Zoned {
        Timestamp::from_second(t)
            .unwrap_or(Timestamp::UNIX_EPOCH)
            .to_zoned(self.tz.clone())
    }

    /// Day by day from `t`'s date, forwards (the first tick after `t`) or backwards
    /// (the last at or before it).
    fn walk(&self, cal: &Calendar, t: i64, forwards: bool) -> Option<i64> {
        let mut day: Date = self.zoned(t).date();
        for _ in 0..SEARCH_DAYS {
            let weekday = day.weekday().to_sunday_zero_offset() as u8;
            if cal.on(day.day() as u8, day.month() as u8, weekday) {
                let mut times: Vec<(u8, u8)> = (0..24u8)
                    .flat_map(|h| (0..60u8).map(move |m| (h, m)))
                    .filter(|(h, m)| cal.at(*h, *m))
                    .collect();
                if !forwards {
                    times.reverse();
                }
                for (h, m) in times {
                    let civil = day.at(h as i8, m as i8, 0, 0);
                    let Ok(z) = self.tz.to_ambiguous_zoned(civil).compatible() else {
                        continue;
                    };
                    let s = z.timestamp().as_second();
                    if (forwards && s > t) || (!forwards && s <= t) {
                        return Some(s);
                    }
                }
            }
            day = if forwards {
                day.tomorrow()
            } else {
                day.yesterday()
            }
            .ok()?;
        }
        None
    }
}

/// Whether `name` is a time zone this machine knows (the system's or the copy
/// compiled in).
pub fn is_time_zone(name: &str) -> bool {
    TimeZone::get(name).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use zlc_catalog::schedule::{parse_cron, parse_every};

    fn at(s: &str) -> i64 {
        s.parse::<Timestamp>().unwrap().as_second()
    }

    #[test]
    fn weekday_mornings_in_berlin_skip_the_weekend_and_follow_the_clock() {
        let t = Ticks::new(parse_every("weekday 09:00").unwrap(), "Europe/Berlin").unwrap();
        // Friday 2026-12-04 10:00 in Berlin (09:00 UTC): next is Monday 09:00 (08:00 UTC).
        let fri = at("2026-12-04T09:00:00Z");
        assert_eq!(t.next_after(fri), Some(at("2026-12-07T08:00:00Z")));
        assert_eq!(t.last_at_or_before(fri), Some(at("2026-12-04T08:00:00Z")));
        assert_eq!(
            t.last_at_or_before(at("2026-12-04T08:00:00Z")),
            Some(at("2026-12-04T08:00:00Z"))
        );
        let local = t.local(at("2026-12-07T08:00:00Z"));
        assert_eq!(
            (local.time.as_str(), local.weekday.as_str()),
            ("2026-12-07 09:00", "Monday")
        );
        // Summer time: 09:00 in Berlin is 07:00 UTC.
        assert_eq!(
            t.next_after(at("2026-07-01T12:00:00Z")),
            Some(at("2026-07-02T07:00:00Z"))
        );
    }

    #[test]
    fn a_time_the_clock_skips_happens_after_the_gap_and_a_repeated_one_once() {
        // 2026-03-29 02:30 does not exist in Berlin (02:00 -> 03:00).
        let t = Ticks::new(parse_cron("30 2 * * *").unwrap(), "Europe/Berlin").unwrap();
        let before = at("2026-03-28T12:00:00Z");
        assert_eq!(t.next_after(before), Some(at("2026-03-29T01:30:00Z")));
        // 2026-10-25 02:30 happens twice: once.
        let t = Ticks::new(parse_cron("30 2 * * *").unwrap(), "Europe/Berlin").unwrap();
        let first = t.next_after(at("2026-10-24T12:00:00Z")).unwrap();
        assert_eq!(first, at("2026-10-25T00:30:00Z"));
        assert_eq!(t.next_after(first), Some(at("2026-10-26T01:30:00Z")));
    }

    #[test]
    fn intervals_fall_on_multiples_since_the_epoch_and_zones_are_checked() {
        let t = Ticks::new(parse_every("10m").unwrap(), "UTC").unwrap();
        assert_eq!(
            t.next_after(at("2026-12-04T09:03:00Z")),
            Some(at("2026-12-04T09:10:00Z"))
        );
        assert_eq!(
            t.last_at_or_before(at("2026-12-04T09:10:00Z")),
            Some(at("2026-12-04T09:10:00Z"))
        );
        assert!(Ticks::new(parse_every("10m").unwrap(), "Europe/Berln").is_err());
        assert!(is_time_zone("America/New_York") && !is_time_zone("Mars/Olympus"));
    }
}
