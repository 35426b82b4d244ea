//! Time of day for routing: the dialplan's time zone, the weekly windows a
//! rule may be limited to, and RFC 3339 instants for callers that try a call
//! at a given time.
//!
//! The zone is a fixed offset from UTC. The city's zone (Asia/Ho_Chi_Minh,
//! UTC+07:00) has had no daylight-saving time since 1975, so a fixed offset is
//! exact for it, and the routing path needs no time-zone database (nor the
//! files one reads at run time). A zone with DST is refused by name: its
//! windows would be an hour off for half the year.

use std::fmt;

/// The dialplan's clock: a name for traces and a fixed offset from UTC.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimeZone {
    /// As written (`Asia/Ho_Chi_Minh`, `UTC`, `+07:00`).
    pub name: String,
    /// Seconds east of UTC.
    pub offset_secs: i32,
}

impl Default for TimeZone {
    fn default() -> Self {
        TimeZone {
            name: "Asia/Ho_Chi_Minh".into(),
            offset_secs: 7 * 3600,
        }
    }
}

/// Named zones known without a database: fixed offsets, no DST.
const NAMED_ZONES: [(&str, i32); 6] = [
    ("Asia/Ho_Chi_Minh", 7 * 3600),
    ("Asia/Saigon", 7 * 3600),
    ("Asia/Bangkok", 7 * 3600),
    ("UTC", 0),
    ("Etc/UTC", 0),
    ("Z", 0),
];

/// Offsets in use on Earth lie within ±14:00.
const MAX_OFFSET_SECS: i32 = 14 * 3600;

impl TimeZone {
    /// `Asia/Ho_Chi_Minh` (or another of the few fixed-offset names known),
    /// `UTC`, or a fixed offset `+HH:MM` / `-HH:MM`.
    pub fn parse(s: &str) -> Result<TimeZone, String> {
        if let Some(&(_, off)) = NAMED_ZONES.iter().find(|(n, _)| *n == s) {
            return Ok(TimeZone {
                name: s.to_string(),
                offset_secs: off,
            });
        }
        if let Some(off) = parse_offset(s) {
            return if off.abs() <= MAX_OFFSET_SECS {
                Ok(TimeZone {
                    name: s.to_string(),
                    offset_secs: off,
                })
            } else {
                Err(format!("offset {s:?} is beyond ±14:00"))
            };
        }
        let known: Vec<&str> = NAMED_ZONES.iter().map(|(n, _)| *n).collect();
        Err(format!(
            "unknown time zone {s:?}: write a fixed offset such as \"+07:00\" or one of {} \
             (no time-zone database is used, so zones with daylight-saving time are not offered)",
            known.join(", ")
        ))
    }

    /// The local weekday and minute of the day at `unix_secs`.
    pub fn local(&self, unix_secs: i64) -> LocalTime {
        let local = unix_secs.saturating_add(i64::from(self.offset_secs));
        let days = local.div_euclid(86_400);
        let secs = local.rem_euclid(86_400);
        LocalTime {
            // 1970-01-01 was a Thursday (3 counting from Monday = 0).
            weekday: (days + 3).rem_euclid(7) as u8,
            minute: (secs / 60) as u16,
        }
    }
}

impl fmt::Display for TimeZone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)
    }
}

/// `+HH:MM` or `-HH:MM` (also `+HHMM`, `+HH`), in seconds east of UTC.
fn parse_offset(s: &str) -> Option<i32> {
    let (sign, rest) = match s.as_bytes().first()? {
        b'+' => (1, &s[1..]),
        b'-' => (-1, &s[1..]),
        _ => return None,
    };
    let (h, m) = match rest.len() {
        2 => (rest, "00"),
        4 => (&rest[..2], &rest[2..]),
        5 if rest.as_bytes()[2] == b':' => (&rest[..2], &rest[3..]),
        _ => return None,
    };
    let h = two_digits(h)?;
    let m = two_digits(m)?;
    if m > 59 {
        return None;
    }
    Some(sign * (h as i32 * 3600 + m as i32 * 60))
}

fn two_digits(s: &str) -> Option<u32> {
    let b = s.as_bytes();
    if b.len() == 2 && b.iter().all(u8::is_ascii_digit) {
        Some(u32::from(b[0] - b'0') * 10 + u32::from(b[1] - b'0'))
    } else {
        None
    }
}

/// A moment as a weekly window sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LocalTime {
    /// Monday = 0 … Sunday = 6.
    pub weekday: u8,
    /// Minutes since local midnight, 0..1440.
    pub minute: u16,
}

impl fmt::Display for LocalTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let day = DAY_NAMES.get(self.weekday as usize).copied().unwrap_or("?");
        let mut name = day.to_string();
        name[..1].make_ascii_uppercase();
        write!(f, "{name} {:02}:{:02}", self.minute / 60, self.minute % 60)
    }
}

const DAY_NAMES: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
const ALL_DAYS: u8 = 0x7f;
const MINUTES_PER_DAY: u16 = 1440;

/// A weekly window, `[DAYS] HH:MM-HH:MM` in the dialplan's zone: the days
/// it starts on and the minutes it spans. An end before the start crosses
/// midnight into the next day (`fri 22:00-06:00` holds until Saturday
/// 06:00).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimeWindow {
    /// As written, for traces.
    pub text: String,
    /// Bit `d` set: the window starts on weekday `d` (Monday = 0).
    pub days: u8,
    /// Minutes since midnight; `end` may be 1440 (`24:00`).
    pub start: u16,
    pub end: u16,
}

impl TimeWindow {
    /// Reads `mon-fri 07:30-17:00`, `sat,sun 08:00-12:00`,
    /// `daily 22:00-06:00` or `07:30-17:00` (every day).
    pub fn parse(text: &str) -> Result<TimeWindow, String> {
        let t = text.trim();
        let (days_text, times) = match t.rsplit_once(char::is_whitespace) {
            Some((d, tm)) => (Some(d.trim()), tm),
            None => (None, t),
        };
        let days = match days_text {
            None => ALL_DAYS,
            Some(d) => parse_days(d)?,
        };
        let (a, b) = times
            .split_once('-')
            .ok_or_else(|| format!("{times:?} is not a span of times HH:MM-HH:MM"))?;
        let start = parse_clock(a, false)?;
        let end = parse_clock(b, true)?;
        if start == end {
            return Err(format!(
                "{times:?} is empty (start equals end); a whole day is 00:00-24:00"
            ));
        }
        Ok(TimeWindow {
            text: t.to_string(),
            days,
            start,
            end,
        })
    }

    /// Whether the window holds at `t`.
    pub fn holds(&self, t: LocalTime) -> bool {
        let on = |d: u8| self.days & (1 << d) != 0;
        if self.start < self.end {
            on(t.weekday) && (self.start..self.end).contains(&t.minute)
        } else {
            // Crosses midnight: the evening of a listed day, or the morning
            // after one.
            (on(t.weekday) && t.minute >= self.start)
                || (on((t.weekday + 6) % 7) && t.minute < self.end)
        }
    }
}

impl fmt::Display for TimeWindow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

fn day_number(s: &str) -> Result<u8, String> {
    let lower = s.to_ascii_lowercase();
    DAY_NAMES
        .iter()
        .position(|d| *d == lower)
        .map(|p| p as u8)
        .ok_or_else(|| {
            format!(
                "unknown day {s:?} (mon tue wed thu fri sat sun, a range such as mon-fri, or daily)"
            )
        })
}

/// `daily`, or days and day ranges separated by commas (`mon-fri,sun`); a
/// range may wrap around the week (`fri-mon`).
fn parse_days(s: &str) -> Result<u8, String> {
    if s.eq_ignore_ascii_case("daily") {
        return Ok(ALL_DAYS);
    }
    let mut days = 0u8;
    for part in s.split(',') {
        let part = part.trim();
        if part.is_empty() {
            return Err(format!("empty day in {s:?}"));
        }
        match part.split_once('-') {
            Some((a, b)) => {
                let (mut d, b) = (day_number(a.trim())?, day_number(b.trim())?);
                loop {
                    days |= 1 << d;
                    if d == b {
                        break;
                    }
                    d = (d + 1) % 7;
                }
            }
            None => days |= 1 << day_number(part)?,
        }
    }
    Ok(days)
}

/// `HH:MM`, 00:00 ..= 23:59, and 24:00 where `end`.
fn parse_clock(s: &str, end: bool) -> Result<u16, String> {
    let bad = || format!("{s:?} is not a time HH:MM (00:00 to 24:00)");
    let (h, m) = s.split_once(':').ok_or_else(bad)?;
    if h.is_empty() || h.len() > 2 || !h.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let h: u16 = h.parse().map_err(|_| bad())?;
    let m = two_digits(m).ok_or_else(bad)? as u16;
    match (h, m) {
        (24, 0) if end => Ok(MINUTES_PER_DAY),
        (0..=23, 0..=59) => Ok(h * 60 + m),
        _ => Err(bad()),
    }
}

/// Seconds since the Unix epoch of an RFC 3339 date-time
/// (`2025-07-01T08:30:00+07:00`, `2025-07-01T01:30:00Z`, fractions of a
/// second ignored).
pub fn parse_rfc3339(s: &str) -> Result<i64, String> {
    let bad = |why: &str| format!("{s:?} is not an RFC 3339 date-time ({why})");
    let b = s.as_bytes();
    if b.len() < 20 || !b.is_ascii() {
        return Err(bad("expected YYYY-MM-DDTHH:MM:SS and a zone"));
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let part = &s[r];
        part.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| part.parse().ok())
            .flatten()
    };
    let seps = b[4] == b'-'
        && b[7] == b'-'
        && matches!(b[10], b'T' | b't' | b' ')
        && b[13] == b':'
        && b[16] == b':';
    let (Some(y), Some(mo), Some(d), Some(h), Some(mi), Some(sec), true) = (
        num(0..4),
        num(5..7),
        num(8..10),
        num(11..13),
        num(14..16),
        num(17..19),
        seps,
    ) else {
        return Err(bad("expected YYYY-MM-DDTHH:MM:SS and a zone"));
    };
    let mut rest = &s[19..];
    if let Some(frac) = rest.strip_prefix('.') {
        let digits = frac.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err(bad("empty fraction of a second"));
        }
        rest = &frac[digits..];
    }
    let offset = match rest {
        "Z" | "z" => 0,
        o => match parse_offset(o) {
            Some(off) if o.len() == 6 && off.abs() < 24 * 3600 => i64::from(off),
            _ => return Err(bad("the zone must be Z or ±HH:MM")),
        },
    };
    if !(1..=12).contains(&mo) || d < 1 || d > days_in_month(y, mo) {
        return Err(bad("no such date"));
    }
    // A leap second (:60) is read as the last second of its minute.
    if h > 23 || mi > 59 || sec > 60 {
        return Err(bad("no such time of day"));
    }
    let days = days_from_civil(y, mo, d);
    Ok(days * 86_400 + h * 3600 + mi * 60 + sec.min(59) - offset)
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (the usual
/// era-of-400-years computation).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(w: &str, day: u8, hh: u16, mm: u16) -> bool {
        TimeWindow::parse(w).unwrap().holds(LocalTime {
            weekday: day,
            minute: hh * 60 + mm,
        })
    }

    #[test]
    fn windows_hold_within_their_days_and_hours() {
        assert!(at("mon-fri 07:30-17:00", 0, 7, 30));
        assert!(at("mon-fri 07:30-17:00", 4, 16, 59));
        assert!(!at("mon-fri 07:30-17:00", 4, 17, 0));
        assert!(!at("mon-fri 07:30-17:00", 5, 9, 0));
        assert!(at("sat,sun 08:00-12:00", 6, 8, 0));
        assert!(at("07:00-08:00", 3, 7, 59));
        assert!(at("daily 00:00-24:00", 2, 23, 59));
        // A range wrapping around the week.
        assert!(at("fri-mon 10:00-11:00", 6, 10, 30));
        assert!(!at("fri-mon 10:00-11:00", 2, 10, 30));
    }

    #[test]
    fn windows_crossing_midnight_continue_into_the_next_day() {
        let w = "fri 22:00-06:00";
        assert!(at(w, 4, 22, 0));
        assert!(at(w, 4, 23, 59));
        assert!(at(w, 5, 0, 0));
        assert!(at(w, 5, 5, 59));
        assert!(!at(w, 5, 6, 0));
        assert!(!at(w, 4, 5, 0), "Friday morning follows Thursday");
        assert!(!at(w, 5, 22, 30));
        // Sunday night runs into Monday.
        assert!(at("sun 23:00-01:00", 0, 0, 30));
    }

    #[test]
    fn bad_windows_say_what_is_wrong() {
        let e = |w: &str| TimeWindow::parse(w).unwrap_err();
        assert!(e("mon-fry 07:30-17:00").contains("unknown day \"fry\""));
        assert!(e("mon 7:30").contains("not a span"));
        assert!(e("mon 07:30-25:00").contains("not a time"));
        assert!(e("mon 07:60-08:00").contains("not a time"));
        assert!(e("mon 24:00-08:00").contains("not a time"));
        assert!(e("mon 08:00-08:00").contains("empty"));
        assert!(e("mon,,tue 08:00-09:00").contains("empty day"));
    }

    #[test]
    fn local_time_of_the_city() {
        let z = TimeZone::default();
        // 2025-07-01T00:30:00Z is Tuesday 07:30 in Hà Nội.
        let t = z.local(parse_rfc3339("2025-07-01T00:30:00Z").unwrap());
        assert_eq!(
            t,
            LocalTime {
                weekday: 1,
                minute: 7 * 60 + 30
            }
        );
        assert_eq!(t.to_string(), "Tue 07:30");
        // Before the epoch too.
        let t = TimeZone::parse("UTC").unwrap().local(-1);
        assert_eq!((t.weekday, t.minute), (2, 1439));
    }

    #[test]
    fn zones_are_fixed_offsets() {
        assert_eq!(TimeZone::parse("+07:00").unwrap().offset_secs, 25_200);
        assert_eq!(TimeZone::parse("-05:30").unwrap().offset_secs, -19_800);
        assert_eq!(TimeZone::parse("UTC").unwrap().offset_secs, 0);
        assert!(TimeZone::parse("Europe/Paris")
            .unwrap_err()
            .contains("fixed offset"));
        assert!(TimeZone::parse("+15:00").unwrap_err().contains("beyond"));
    }

    #[test]
    fn rfc3339_instants() {
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Ok(0));
        assert_eq!(
            parse_rfc3339("2025-07-01T07:30:00+07:00"),
            parse_rfc3339("2025-07-01T00:30:00Z")
        );
        assert_eq!(parse_rfc3339("2025-07-01T00:30:00Z"), Ok(1_751_329_800));
        assert_eq!(parse_rfc3339("2024-02-29T12:00:00.123Z"), Ok(1_709_208_000));
        for bad in [
            "2025-02-29T00:00:00Z",
            "2025-07-01 00:30:00",
            "2025-07-01T24:00:00Z",
            "2025-13-01T00:00:00Z",
            "2025-07-01T00:30:00+7",
            "yesterday",
        ] {
            assert!(parse_rfc3339(bad).is_err(), "{bad}");
        }
    }
}
