//! Calendar dates and UTC instants as ILMT writes them, without a date-time dependency: a civil
//! (proleptic Gregorian) date conversion and parsers for the few forms ILMT exports use.
//!
//! ILMT gives times in GMT ("The time is specified in the GMT time zone", REST API v2 docs):
//! `2025-03-04T10:11:12Z`, `2025-03-04 10:11:12`, optionally with fractional seconds, a `GMT`/`UTC`
//! suffix or a numeric offset. UI exports in some languages write `04.03.2025 10:11:12`. Nothing
//! else is guessed (`03/04/2025` is ambiguous and refused).

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A calendar day (proleptic Gregorian), serialized as `YYYY-MM-DD`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CivilDate {
    year: i32,
    month: u8,
    day: u8,
}

/// An instant in UTC with second precision, serialized as `YYYY-MM-DDTHH:MM:SSZ`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct UtcTime {
    /// Seconds since 1970-01-01T00:00:00Z.
    unix: i64,
}

/// What the accepted forms are, for error messages.
pub const ACCEPTED_TIME_FORMS: &str = "YYYY-MM-DDTHH:MM:SSZ, YYYY-MM-DD HH:MM:SS (GMT), \
     YYYY-MM-DD, or DD.MM.YYYY [HH:MM[:SS]]";

/// What the accepted date forms are, for error messages.
pub const ACCEPTED_DATE_FORMS: &str = "YYYY-MM-DD, DD.MM.YYYY or '4 March 2025' / 'March 4, 2025'";

impl CivilDate {
    /// The date, if it exists in the calendar (years 1..=9999).
    pub fn new(year: i32, month: u8, day: u8) -> Option<CivilDate> {
        if !(1..=9999).contains(&year) || !(1..=12).contains(&month) {
            return None;
        }
        if day == 0 || day > days_in_month(year, month) {
            return None;
        }
        Some(CivilDate { year, month, day })
    }

    pub fn year(self) -> i32 {
        self.year
    }

    pub fn month(self) -> u8 {
        self.month
    }

    pub fn day(self) -> u8 {
        self.day
    }

    /// Days since 1970-01-01 (negative before).
    pub fn days_since_epoch(self) -> i64 {
        days_from_civil(self.year, self.month, self.day)
    }

    /// The date `days` after 1970-01-01.
    pub fn from_days_since_epoch(days: i64) -> Option<CivilDate> {
        let (y, m, d) = civil_from_days(days);
        let year = i32::try_from(y).ok()?;
        CivilDate::new(year, m, d)
    }
}

impl UtcTime {
    pub fn from_unix(unix: i64) -> UtcTime {
        UtcTime { unix }
    }

    /// Seconds since the Unix epoch.
    pub fn unix(self) -> i64 {
        self.unix
    }

    /// Midnight UTC of `date` plus a time of day.
    pub fn from_parts(date: CivilDate, hour: u8, minute: u8, second: u8) -> Option<UtcTime> {
        if hour > 23 || minute > 59 || second > 60 {
            return None;
        }
        // A leap second is folded into the next second.
        let unix = date.days_since_epoch() * 86_400
            + i64::from(hour) * 3_600
            + i64::from(minute) * 60
            + i64::from(second);
        Some(UtcTime { unix })
    }

    pub fn date(self) -> CivilDate {
        // Every UtcTime was built from a valid CivilDate, or by from_unix; clamp the latter.
        let days = self.unix.div_euclid(86_400);
        CivilDate::from_days_since_epoch(days).unwrap_or(CivilDate {
            year: 1970,
            month: 1,
            day: 1,
        })
    }
}

impl fmt::Display for CivilDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

impl fmt::Display for UtcTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (y, m, d) = civil_from_days(self.unix.div_euclid(86_400));
        let secs = self.unix.rem_euclid(86_400);
        write!(
            f,
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
            y,
            m,
            d,
            secs / 3_600,
            secs % 3_600 / 60,
            secs % 60
        )
    }
}

impl Serialize for CivilDate {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for CivilDate {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        parse_date(&text).ok_or_else(|| serde::de::Error::custom(format!("not a date: {text:?}")))
    }
}

impl Serialize for UtcTime {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for UtcTime {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        parse_time(&text)
            .ok_or_else(|| serde::de::Error::custom(format!("not a UTC time: {text:?}")))
    }
}

fn is_leap(year: i32) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: i32, month: u8) -> u8 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(year) => 29,
        2 => 28,
        _ => 0,
    }
}

/// Days since 1970-01-01 of a civil date (Howard Hinnant's `days_from_civil`, written out here).
fn days_from_civil(year: i32, month: u8, day: u8) -> i64 {
    let y = i64::from(year) - i64::from(month <= 2);
    let era = y.div_euclid(400);
    let yoe = y - era * 400; // [0, 399]
    let m = i64::from(month);
    let mp = (m + 9) % 12; // March = 0
    let doy = (153 * mp + 2) / 5 + i64::from(day) - 1; // [0, 365]
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy; // [0, 146096]
    era * 146_097 + doe - 719_468
}

/// The inverse of [`days_from_civil`].
fn civil_from_days(days: i64) -> (i64, u8, u8) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u8; // [1, 31]
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u8; // [1, 12]
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// A fixed-width run of ASCII digits.
fn digits(s: &str, width: usize) -> Option<u32> {
    if s.len() != width || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// `YYYY-MM-DD`.
fn iso_date(s: &str) -> Option<CivilDate> {
    let mut it = s.split('-');
    let y = digits(it.next()?, 4)?;
    let m = digits(it.next()?, 2)?;
    let d = digits(it.next()?, 2)?;
    if it.next().is_some() {
        return None;
    }
    CivilDate::new(
        i32::try_from(y).ok()?,
        u8::try_from(m).ok()?,
        u8::try_from(d).ok()?,
    )
}

/// `DD.MM.YYYY` (one-digit day and month allowed).
fn dotted_date(s: &str) -> Option<CivilDate> {
    let mut it = s.split('.');
    let d = it.next()?;
    let m = it.next()?;
    let y = digits(it.next()?, 4)?;
    if it.next().is_some() || d.is_empty() || d.len() > 2 || m.is_empty() || m.len() > 2 {
        return None;
    }
    let d: u8 = d.parse().ok()?;
    let m: u8 = m.parse().ok()?;
    CivilDate::new(i32::try_from(y).ok()?, m, d)
}

const MONTHS: [&str; 12] = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
];

fn month_name(word: &str) -> Option<u8> {
    let w = word.trim_end_matches('.').to_ascii_lowercase();
    if w.len() < 3 {
        return None;
    }
    MONTHS
        .iter()
        .position(|m| m.starts_with(&w) && (w.len() == 3 || *m == w))
        .and_then(|i| u8::try_from(i + 1).ok())
}

/// `4 March 2025`, `4 Mar 2025`, `March 4, 2025`, `Mar 4 2025`.
fn english_date(s: &str) -> Option<CivilDate> {
    let words: Vec<&str> = s
        .split(|c: char| c.is_whitespace() || c == ',')
        .filter(|w| !w.is_empty())
        .collect();
    let [a, b, c] = words.as_slice() else {
        return None;
    };
    let year = i32::try_from(digits(c, 4)?).ok()?;
    let (day, month) = if let Some(m) = month_name(a) {
        (b.parse::<u8>().ok()?, m)
    } else {
        (a.parse::<u8>().ok()?, month_name(b)?)
    };
    CivilDate::new(year, month, day)
}

/// A calendar date in one of [`ACCEPTED_DATE_FORMS`]; `None` for anything else.
pub fn parse_date(text: &str) -> Option<CivilDate> {
    let s = text.trim();
    iso_date(s)
        .or_else(|| dotted_date(s))
        .or_else(|| english_date(s))
}

/// `HH:MM[:SS[.fff]]` → (h, m, s).
fn time_of_day(s: &str) -> Option<(u8, u8, u8)> {
    let mut it = s.split(':');
    let h = digits(it.next()?, 2)?;
    let m = digits(it.next()?, 2)?;
    let sec = match it.next() {
        None => 0,
        Some(sec) => {
            let whole = match sec.split_once(['.', ',']) {
                Some((whole, frac)) => {
                    if frac.is_empty() || !frac.bytes().all(|b| b.is_ascii_digit()) {
                        return None;
                    }
                    whole
                }
                None => sec,
            };
            digits(whole, 2)?
        }
    };
    if it.next().is_some() {
        return None;
    }
    Some((
        u8::try_from(h).ok()?,
        u8::try_from(m).ok()?,
        u8::try_from(sec).ok()?,
    ))
}

/// Splits a trailing zone designator off `s`: `Z`, ` GMT`, ` UTC`, `+hh:mm`, `-hhmm`. Returns the
/// rest and the offset in seconds east of UTC. No designator means GMT (ILMT's convention).
fn split_zone(s: &str) -> Option<(&str, i64)> {
    let t = s.trim_end();
    for suffix in [" GMT", " UTC", "GMT", "UTC", "Z", "z"] {
        if let Some(rest) = t.strip_suffix(suffix) {
            return Some((rest.trim_end(), 0));
        }
    }
    // A numeric offset after the time: the last '+' or a '-' after the 'T'/' ' separator.
    if let Some(pos) = t.rfind(['+', '-']) {
        let (rest, zone) = t.split_at(pos);
        // Only when the '+'/'-' follows a time (a ':' before it), not the date's own '-'.
        if rest.contains(':') {
            let sign = if zone.starts_with('-') { -1 } else { 1 };
            let z = zone.get(1..)?;
            let (hh, mm) = match z.split_once(':') {
                Some((hh, mm)) => (digits(hh, 2)?, digits(mm, 2)?),
                None if z.len() == 4 => (digits(z.get(..2)?, 2)?, digits(z.get(2..)?, 2)?),
                None => (digits(z, 2)?, 0),
            };
            if hh > 14 || mm > 59 {
                return None;
            }
            return Some((
                rest.trim_end(),
                sign * (i64::from(hh) * 3_600 + i64::from(mm) * 60),
            ));
        }
    }
    Some((t, 0))
}

/// An instant in one of [`ACCEPTED_TIME_FORMS`]. A date alone is midnight UTC. `None` for anything
/// else, including an empty string.
pub fn parse_time(text: &str) -> Option<UtcTime> {
    let (s, offset) = split_zone(text.trim())?;
    let (date_part, time_part) = match s.split_once(['T', ' ']) {
        Some((d, t)) => (d, Some(t.trim())),
        None => (s, None),
    };
    let date = iso_date(date_part).or_else(|| dotted_date(date_part))?;
    let (h, m, sec) = match time_part {
        Some(t) => time_of_day(t)?,
        None => (0, 0, 0),
    };
    let t = UtcTime::from_parts(date, h, m, sec)?;
    Some(UtcTime::from_unix(t.unix() - offset))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_round_trip_over_four_centuries() {
        // Every day from 1600-01-01 to 2400-12-31 maps back to itself, and consecutive days differ
        // by one: a full check of the conversion over two 400-year cycles.
        let start = CivilDate::new(1600, 1, 1).map(CivilDate::days_since_epoch);
        let end = CivilDate::new(2400, 12, 31).map(CivilDate::days_since_epoch);
        let (Some(start), Some(end)) = (start, end) else {
            panic!("bounds are valid dates");
        };
        let mut prev: Option<CivilDate> = None;
        for days in start..=end {
            let d = CivilDate::from_days_since_epoch(days);
            let Some(d) = d else {
                panic!("day {days} has no date");
            };
            assert_eq!(d.days_since_epoch(), days);
            if let Some(p) = prev {
                assert!(p < d, "{p} then {d}");
            }
            prev = Some(d);
        }
    }

    #[test]
    fn known_epoch_days() {
        let cases = [
            ((1970, 1, 1), 0),
            ((2000, 3, 1), 11_017),
            ((1969, 12, 31), -1),
            ((2024, 2, 29), 19_782),
        ];
        for ((y, m, d), want) in cases {
            let date = CivilDate::new(y, m, d).map(CivilDate::days_since_epoch);
            assert_eq!(date, Some(want), "{y}-{m}-{d}");
        }
        assert_eq!(CivilDate::new(2023, 2, 29), None);
        assert_eq!(CivilDate::new(1900, 2, 29), None);
        assert!(CivilDate::new(2000, 2, 29).is_some());
        assert_eq!(CivilDate::new(2025, 13, 1), None);
        assert_eq!(CivilDate::new(2025, 4, 31), None);
    }

    #[test]
    fn time_forms() {
        let cases: [(&str, Option<&str>); 16] = [
            ("2025-03-04T10:11:12Z", Some("2025-03-04T10:11:12Z")),
            ("2025-03-04 10:11:12", Some("2025-03-04T10:11:12Z")),
            ("2025-03-04 10:11:12 GMT", Some("2025-03-04T10:11:12Z")),
            ("2025-03-04T10:11:12.345Z", Some("2025-03-04T10:11:12Z")),
            ("2025-03-04T10:11:12+02:00", Some("2025-03-04T08:11:12Z")),
            ("2025-03-04T00:30:00-0100", Some("2025-03-04T01:30:00Z")),
            ("2025-03-04T10:11", Some("2025-03-04T10:11:00Z")),
            ("2025-03-04", Some("2025-03-04T00:00:00Z")),
            ("04.03.2025 10:11:12", Some("2025-03-04T10:11:12Z")),
            ("4.3.2025", Some("2025-03-04T00:00:00Z")),
            ("  2014-06-06T03:56:39Z ", Some("2014-06-06T03:56:39Z")),
            ("03/04/2025", None),
            ("2025-02-30T00:00:00Z", None),
            ("2025-03-04T24:00:00Z", None),
            ("yesterday", None),
            ("", None),
        ];
        for (text, want) in cases {
            let got = parse_time(text).map(|t| t.to_string());
            assert_eq!(got.as_deref(), want, "{text:?}");
        }
    }

    #[test]
    fn date_forms() {
        let cases: [(&str, Option<&str>); 8] = [
            ("2025-01-01", Some("2025-01-01")),
            ("31.03.2025", Some("2025-03-31")),
            ("4 March 2025", Some("2025-03-04")),
            ("March 4, 2025", Some("2025-03-04")),
            ("Mar 4 2025", Some("2025-03-04")),
            ("4 Mars 2025", None),
            ("2025-1-1", None),
            ("31.02.2025", None),
        ];
        for (text, want) in cases {
            let got = parse_date(text).map(|d| d.to_string());
            assert_eq!(got.as_deref(), want, "{text:?}");
        }
    }

    #[test]
    fn serde_round_trip() {
        let t = parse_time("2025-03-04T10:11:12Z");
        let json = serde_json::to_string(&t).unwrap_or_default();
        assert_eq!(json, "\"2025-03-04T10:11:12Z\"");
        let back: Option<UtcTime> = serde_json::from_str(&json).ok();
        assert_eq!(back, t);
        let d = parse_date("2025-12-31");
        let json = serde_json::to_string(&d).unwrap_or_default();
        assert_eq!(json, "\"2025-12-31\"");
        assert!(serde_json::from_str::<CivilDate>("\"2025-12-32\"").is_err());
    }
}
