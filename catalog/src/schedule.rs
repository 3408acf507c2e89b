//! When a schedule ticks: `every = "weekday 09:00"` (or an interval, `every = "10m"`)
//! and `cron = "0 9 * * 1-5"` read into one [`When`]. Shared by the compiler, which
//! refuses a wrong one with its reason, and the runtime, which computes the ticks in the
//! schedule's time zone.

/// When a schedule ticks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum When {
    /// Every so many seconds, at the multiples of it since the Unix epoch (so every
    /// process of a fleet has the same ticks).
    Every(u64),
    /// At the wall-clock times of a calendar, in the schedule's time zone.
    At(Calendar),
}

/// Wall-clock times, as cron reads them: each field a set (bit `n` for value `n`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Calendar {
    /// Minutes 0–59.
    pub minutes: u64,
    /// Hours 0–23.
    pub hours: u32,
    /// Days of the month 1–31.
    pub days: u32,
    /// Months 1–12.
    pub months: u16,
    /// Days of the week, 0 (Sunday) – 6.
    pub weekdays: u8,
    /// The day of the month was `*` (then the day of the week alone decides).
    pub any_day: bool,
    /// The day of the week was `*` (then the day of the month alone decides).
    pub any_weekday: bool,
}

impl Calendar {
    /// Whether the date `day`/`month` (a `weekday`, 0 = Sunday) is one of its days. As
    /// in cron, when both the day of the month and of the week are restricted, either
    /// one will do.
    pub fn on(&self, day: u8, month: u8, weekday: u8) -> bool {
        let in_month = self.months & (1 << month) != 0;
        let by_day = self.days & (1 << day) != 0;
        let by_weekday = self.weekdays & (1 << weekday) != 0;
        in_month
            && match (self.any_day, self.any_weekday) {
                (true, true) => true,
                (true, false) => by_weekday,
                (false, true) => by_day,
                (false, false) => by_day || by_weekday,
            }
    }

    /// Whether `hour:minute` is one of its times.
    pub fn at(&self, hour: u8, minute: u8) -> bool {
        self.hours & (1 << hour) != 0 && self.minutes & (1 << minute) != 0
    }
}

const WEEKDAYS: [&str; 7] = [
    "sunday",
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
];
const MONTHS: [&str; 12] = [
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];

/// The day names `every` takes, and what they stand for.
pub const EVERY_DAYS: &str = "day (or daily), weekday, weekend, monday ... sunday (or mon ... sun), several joined by commas";

/// Reads `every`: an interval (`"30s"`, `"10m"`, `"2h"`), `"hourly"` or `"hourly :15"`,
/// or days and times: `"weekday 09:00"`, `"day 18:30"`, `"mon,thu 09:00,17:00"`.
pub fn parse_every(text: &str) -> Result<When, String> {
    let text = text.trim().to_ascii_lowercase();
    if let Some(secs) = interval(&text) {
        return match secs {
            Some(s) => Ok(When::Every(s)),
            None => Err(format!(
                "`{text}` is no interval: at least 1s, at most 7 days (`30s`, `10m`, `2h`)"
            )),
        };
    }
    let mut cal = Calendar {
        minutes: 0,
        hours: 0,
        days: 0,
        months: 0b1_1111_1111_1110,
        weekdays: 0,
        any_day: true,
        any_weekday: false,
    };
    let (days, times) = text.split_once(' ').unwrap_or((&text, ""));
    if days == "hourly" {
        cal.hours = (1 << 24) - 1;
        cal.weekdays = 0x7f;
        cal.any_weekday = true;
        let minute = match times.trim() {
            "" => 0,
            t => t
                .strip_prefix(':')
                .and_then(|m| m.parse::<u8>().ok())
                .filter(|m| *m < 60)
                .ok_or_else(|| {
                    format!("`hourly {t}`: the minute is written `:MM` (`hourly :15`)")
                })?,
        };
        cal.minutes = 1 << minute;
        return Ok(When::At(cal));
    }
    for day in days.split(',').map(str::trim) {
        cal.weekdays |= match day {
            "day" | "daily" => 0x7f,
            "weekday" | "weekdays" => 0b011_1110,
            "weekend" | "weekends" => 0b100_0001,
            d => {
                let i = WEEKDAYS
                    .iter()
                    .position(|w| *w == d || (d.len() >= 3 && w.starts_with(d)));
                1 << i.ok_or_else(|| format!("`{d}` is not a day: one of {EVERY_DAYS}"))?
            }
        };
    }
    cal.any_weekday = cal.weekdays == 0x7f;
    if times.trim().is_empty() {
        return Err(format!("`{text}` needs a time of day: `{days} 09:00`"));
    }
    for t in times.split(',').map(str::trim) {
        let (h, m) = t
            .split_once(':')
            .and_then(|(h, m)| Some((h.parse::<u8>().ok()?, m.parse::<u8>().ok()?)))
            .filter(|(h, m)| *h < 24 && *m < 60)
            .ok_or_else(|| format!("`{t}` is not a time of day: `HH:MM`, 00:00 to 23:59"))?;
        cal.hours |= 1 << h;
        cal.minutes |= 1 << m;
    }
    if times.split(',').count() > 1 && (cal.hours.count_ones() > 1 && cal.minutes.count_ones() > 1)
    {
        return Err(format!(
            "`{times}`: times with different hours and minutes cannot be mixed in one `every`; write a `cron` or two schedules"
        ));
    }
    Ok(When::At(cal))
}

/// `"30s"`, `"10m"`, `"2h"`: `Some(Some(secs))`; a number with another unit or out of
/// range: `Some(None)`; not a number first: `None`.
fn interval(text: &str) -> Option<Option<u64>> {
    let digits = text.chars().take_while(char::is_ascii_digit).count();
    if digits == 0 {
        return None;
    }
    let (n, unit) = text.split_at(digits);
    let n: u64 = n.parse().ok()?;
    let scale = match unit.trim() {
        "s" | "sec" | "secs" | "second" | "seconds" => 1,
        "m" | "min" | "mins" | "minute" | "minutes" => 60,
        "h" | "hour" | "hours" => 3600,
        _ => return Some(None),
    };
    let secs = n.checked_mul(scale)?;
    Some((1..=7 * 86_400).contains(&secs).then_some(secs))
}

/// Reads a cron expression: minute, hour, day of the month, month, day of the week;
/// each `*`, `*/N`, `A`, `A-B`, `A-B/N` or a list of them (`1,15`); months and days by
/// number or name (`jan`, `mon`); Sunday is 0 or 7.
pub fn parse_cron(text: &str) -> Result<When, String> {
    let fields: Vec<&str> = text.split_whitespace().collect();
    let [minute, hour, day, month, weekday] = fields[..] else {
        return Err(format!(
            "a cron expression has 5 fields (minute hour day month weekday), not {}: `{text}`",
            fields.len()
        ));
    };
    let weekdays = field(weekday, "weekday", 0, 7, &WEEKDAYS)?;
    Ok(When::At(Calendar {
        minutes: field(minute, "minute", 0, 59, &[])?,
        hours: field(hour, "hour", 0, 23, &[])? as u32,
        days: field(day, "day", 1, 31, &[])? as u32,
        months: field(month, "month", 1, 12, &MONTHS)? as u16,
        // 7 is Sunday too.
        weekdays: ((weekdays | (weekdays >> 7)) & 0x7f) as u8,
        any_day: day == "*",
        any_weekday: weekday == "*",
    }))
}

/// One cron field as a set of `lo..=hi`; `names[i]` (3 letters are enough) stands for
/// `i` (`i + 1` for months).
fn field(text: &str, what: &str, lo: u64, hi: u64, names: &[&str]) -> Result<u64, String> {
    let value = |s: &str| -> Result<u64, String> {
        let s = s.to_ascii_lowercase();
        let named = names
            .iter()
            .position(|n| s.len() >= 3 && n.starts_with(&s))
            .map(|i| i as u64 + u64::from(what == "month"));
        named
            .or_else(|| s.parse().ok())
            .filter(|v| (lo..=hi).contains(v))
            .ok_or_else(|| format!("`{s}` is not a {what} ({lo}-{hi})"))
    };
    let mut set = 0u64;
    for part in text.split(',') {
        let (range, step) = match part.split_once('/') {
            Some((r, s)) => (
                r,
                s.parse::<u64>()
                    .ok()
                    .filter(|s| *s > 0)
                    .ok_or_else(|| format!("`/{s}` is not a step"))?,
            ),
            None => (part, 1),
        };
        let (a, b) = match range {
            "*" => (lo, hi),
            r => match r.split_once('-') {
                Some((a, b)) => (value(a)?, value(b)?),
                None if step > 1 => (value(r)?, hi),
                None => (value(r)?, value(r)?),
            },
        };
        if a > b {
            return Err(format!("`{range}` runs backwards"));
        }
        for v in (a..=b).step_by(step as usize) {
            set |= 1 << v;
        }
    }
    Ok(set)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cal(w: When) -> Calendar {
        match w {
            When::At(c) => c,
            When::Every(_) => panic!("an interval"),
        }
    }

    #[test]
    fn every_reads_intervals_days_and_times() {
        assert_eq!(parse_every("10m"), Ok(When::Every(600)));
        assert_eq!(parse_every("2 hours"), Ok(When::Every(7200)));
        let c = cal(parse_every("weekday 09:00").unwrap());
        assert!(c.on(7, 12, 1) && c.on(11, 12, 5) && !c.on(12, 12, 6) && !c.on(13, 12, 0));
        assert!(c.at(9, 0) && !c.at(9, 1) && !c.at(10, 0));
        let c = cal(parse_every("Mon,Thu 09:00,17:00").unwrap());
        assert!(c.on(1, 1, 1) && c.on(1, 1, 4) && !c.on(1, 1, 2));
        assert!(c.at(17, 0) && c.at(9, 0));
        let c = cal(parse_every("hourly :15").unwrap());
        assert!(c.at(3, 15) && !c.at(3, 0) && c.on(1, 1, 0));
        for bad in [
            "0s",
            "8 days",
            "5 fortnights",
            "someday 09:00",
            "weekday",
            "day 24:00",
            "day 9",
            "day 09:00,10:30",
            "hourly 15",
        ] {
            assert!(parse_every(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn cron_reads_ranges_steps_lists_names_and_either_day() {
        let c = cal(parse_cron("*/15 9-17 * * mon-fri").unwrap());
        assert!(c.at(9, 45) && !c.at(9, 50) && !c.at(18, 0));
        assert!(c.on(3, 6, 1) && !c.on(3, 6, 0));
        let c = cal(parse_cron("0 0 1,15 * 7").unwrap());
        // The 1st, the 15th, or a Sunday.
        assert!(c.on(1, 2, 3) && c.on(9, 2, 0) && !c.on(9, 2, 3));
        let c = cal(parse_cron("30 4 * jan-mar *").unwrap());
        assert!(c.on(9, 3, 2) && !c.on(9, 4, 2));
        for bad in [
            "* * * *",
            "60 * * * *",
            "* 24 * * *",
            "* * 0 * *",
            "* * * 13 *",
            "5-1 * * * *",
            "*/0 * * * *",
            "* * * * funday",
        ] {
            assert!(parse_cron(bad).is_err(), "{bad}");
        }
    }
}
