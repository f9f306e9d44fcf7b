//! Timestamps as the ILMT scanner writes them (`2024-01-15T02:00:03Z`, ISO 8601 with `Z` or an
//! offset, optional fraction) to seconds since the epoch, UTC; and file times to the same.

use std::time::SystemTime;

/// Seconds since the Unix epoch of an ISO 8601 date-time, or `None` if it is not one.
pub fn parse_iso8601(s: &str) -> Option<i64> {
    let s = s.trim().trim_matches(|c| c == '"' || c == '\'');
    let (date, time) = s.split_once(['T', ' '])?;
    let mut d = date.splitn(3, '-');
    let year: i64 = num(d.next()?, 4)?;
    let month: i64 = num(d.next()?, 2)?;
    let day: i64 = num(d.next()?, 2)?;
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) {
        return None;
    }
    // Split the zone off: Z, +hh:mm, -hh:mm, +hhmm.
    let (clock, offset) = if let Some(c) = time.strip_suffix(['Z', 'z']) {
        (c, 0)
    } else if let Some(i) = time.rfind(['+', '-']) {
        let (c, z) = time.split_at(i);
        let sign = if z.starts_with('-') { -1 } else { 1 };
        let z = z[1..].replace(':', "");
        if z.len() != 4 || !z.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let hh: i64 = num(&z[..2], 2)?;
        let mm: i64 = num(&z[2..], 2)?;
        (c, sign * (hh * 3600 + mm * 60))
    } else {
        // No zone: the scanner writes UTC (`date -u`).
        (time, 0)
    };
    let clock = clock.split('.').next()?;
    let mut t = clock.splitn(3, ':');
    let h: i64 = num(t.next()?, 2)?;
    let m: i64 = num(t.next()?, 2)?;
    let sec: i64 = match t.next() {
        Some(x) => num(x, 2)?,
        None => 0,
    };
    if h > 23 || m > 59 || sec > 60 {
        return None;
    }
    Some(days_from_civil(year, month, day) * 86_400 + h * 3600 + m * 60 + sec - offset)
}

fn num(s: &str, width: usize) -> Option<i64> {
    (s.len() == width && s.bytes().all(|b| b.is_ascii_digit()))
        .then(|| s.parse().ok())
        .flatten()
}

/// Howard Hinnant's civil-to-days algorithm (proleptic Gregorian).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// A protobuf timestamp for `secs` since the epoch.
pub fn timestamp(secs: i64) -> pbjson_types::Timestamp {
    pbjson_types::Timestamp {
        seconds: secs,
        nanos: 0,
    }
}

/// Seconds since the epoch of a file time (before 1970: `None`).
pub fn file_secs(t: SystemTime) -> Option<i64> {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .ok()
        .and_then(|d| i64::try_from(d.as_secs()).ok())
}

/// `YYYY-MM-DDTHH:MM:SSZ` for evidence.
pub fn show(secs: i64) -> String {
    crate::render::rfc3339(secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table() {
        for (s, want) in [
            ("1970-01-01T00:00:00Z", Some(0)),
            ("2024-01-15T02:00:03Z", Some(1_705_284_003)),
            ("2024-01-15T03:00:03+01:00", Some(1_705_284_003)),
            ("2024-01-14T21:00:03-0500", Some(1_705_284_003)),
            ("2024-01-15T02:00:03.250Z", Some(1_705_284_003)),
            ("2024-01-15 02:00:03", Some(1_705_284_003)),
            ("2024-02-29T00:00:00Z", Some(1_709_164_800)),
            ("2024-13-01T00:00:00Z", None),
            ("2024-01-15", None),
            ("", None),
            ("yesterday", None),
            ("2024-01-15T25:00:00Z", None),
            ("2024-1-5T02:00:03Z", None),
            ("2024-01-15T02:00:03+1\u{e9}1", None),
            ("\u{e9}\u{e9}\u{e9}\u{e9}-\u{e9}-\u{e9}T\u{e9}:\u{e9}", None),
        ] {
            assert_eq!(parse_iso8601(s), want, "{s:?}");
        }
    }

    #[test]
    fn round_trip_with_render() {
        let s = "2023-09-30T23:59:59Z";
        assert_eq!(show(parse_iso8601(s).unwrap()), s);
    }
}
