//! Calendar quarters and the evaluation window, as whole days (days since 1970-01-01, from
//! `subcap_proto::time`): Q1 is January to March, and so on.

use std::fmt;

use subcap_proto::time::{civil_from_days, days_from_civil};

use crate::ilmt::CivilDate;

/// A calendar quarter, shown `2026-Q3`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Quarter {
    year: i64,
    /// 1 to 4.
    number: u8,
}

impl Quarter {
    /// The quarter `number` (1 to 4) of `year`.
    pub fn new(year: i64, number: u8) -> Option<Quarter> {
        (1..=4)
            .contains(&number)
            .then_some(Quarter { year, number })
    }

    /// The quarter that holds `day` (days since 1970-01-01).
    pub fn of_day(day: i64) -> Quarter {
        let (year, month, _) = civil_from_days(day);
        // month is 1..=12, so the quotient is 0..=3.
        let number = u8::try_from((month - 1) / 3 + 1).unwrap_or(4);
        Quarter { year, number }
    }

    /// The quarter that holds `date`.
    pub fn of(date: CivilDate) -> Quarter {
        Quarter::of_day(date.days_since_epoch())
    }

    /// Its first day.
    pub fn first_day(self) -> i64 {
        days_from_civil(self.year, i64::from(self.number) * 3 - 2, 1)
    }

    /// Its last day.
    pub fn last_day(self) -> i64 {
        self.next().first_day() - 1
    }

    pub fn next(self) -> Quarter {
        match self.number {
            4 => Quarter {
                year: self.year + 1,
                number: 1,
            },
            n => Quarter {
                year: self.year,
                number: n + 1,
            },
        }
    }

    pub fn prev(self) -> Quarter {
        match self.number {
            1 => Quarter {
                year: self.year - 1,
                number: 4,
            },
            n => Quarter {
                year: self.year,
                number: n - 1,
            },
        }
    }
}

impl std::str::FromStr for Quarter {
    type Err = String;
    /// `2026-Q3` (the `Q` in either case).
    fn from_str(text: &str) -> Result<Quarter, String> {
        let bad = || format!("{text:?} is not a quarter YYYY-QN (e.g. 2026-Q3)");
        let (year, q) = text.trim().split_once('-').ok_or_else(bad)?;
        let year: i64 = year.parse().map_err(|_| bad())?;
        let number: u8 = q
            .strip_prefix(['Q', 'q'])
            .and_then(|n| n.parse().ok())
            .ok_or_else(bad)?;
        if year.to_string().len() != 4 {
            return Err(bad());
        }
        Quarter::new(year, number).ok_or_else(bad)
    }
}

impl fmt::Display for Quarter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-Q{}", self.year, self.number)
    }
}

/// `YYYY-MM-DD` of a day number.
pub fn day_text(day: i64) -> String {
    let (y, m, d) = civil_from_days(day);
    format!("{y:04}-{m:02}-{d:02}")
}

/// An inclusive range of days as text: `2025-01-01..2025-03-31`, or one day alone.
pub fn range_text(first: i64, last: i64) -> String {
    if first == last {
        day_text(first)
    } else {
        format!("{}..{}", day_text(first), day_text(last))
    }
}

/// The quarters an audit must be able to show on `as_of`: the `4 * years` calendar quarters that
/// ended before `as_of`, oldest first. The quarter holding `as_of` is still open (its snapshot can
/// only be made once it ends), so the window ends with the one before it: on 2026-05-10 with two
/// years, 2024-Q2 to 2026-Q1.
pub fn window(as_of: CivilDate, years: u32) -> Vec<Quarter> {
    let last = Quarter::of(as_of).prev();
    let count = years.saturating_mul(4);
    let mut quarters = Vec::with_capacity(usize::try_from(count).unwrap_or(0));
    let mut q = last;
    for _ in 0..count {
        quarters.push(q);
        q = q.prev();
    }
    quarters.reverse();
    quarters
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(y: i32, m: u8, d: u8) -> CivilDate {
        CivilDate::new(y, m, d).unwrap_or_else(|| panic!("bad test date {y}-{m}-{d}"))
    }

    #[test]
    fn quarters_read_as_written() {
        for (text, want) in [
            ("2026-Q1", Some(("2026-01-01", "2026-03-31"))),
            ("2026-q3", Some(("2026-07-01", "2026-09-30"))),
            ("2026-Q4", Some(("2026-10-01", "2026-12-31"))),
            ("2024-Q1", Some(("2024-01-01", "2024-03-31"))),
            ("2026-Q5", None),
            ("2026-Q0", None),
            ("2026", None),
            ("Q3-2026", None),
            ("26-Q3", None),
        ] {
            let got = text
                .parse::<Quarter>()
                .ok()
                .map(|q| (day_text(q.first_day()), day_text(q.last_day())));
            let want = want.map(|(a, b): (&str, &str)| (a.to_string(), b.to_string()));
            assert_eq!(got, want, "{text}");
        }
        assert_eq!("2026-q3".parse::<Quarter>().unwrap().to_string(), "2026-Q3");
    }

    #[test]
    fn quarter_bounds() {
        // (year, quarter, first day, last day, days in it)
        let cases = [
            (2025, 1, "2025-01-01", "2025-03-31", 90),
            (2024, 1, "2024-01-01", "2024-03-31", 91), // leap year: 29 February
            (2025, 2, "2025-04-01", "2025-06-30", 91),
            (2025, 3, "2025-07-01", "2025-09-30", 92),
            (2025, 4, "2025-10-01", "2025-12-31", 92),
            (2000, 1, "2000-01-01", "2000-03-31", 91), // divisible by 400: leap
            (2100, 1, "2100-01-01", "2100-03-31", 90), // divisible by 100: not leap
        ];
        for (year, n, first, last, days) in cases {
            let Some(q) = Quarter::new(year, n) else {
                panic!("{year} Q{n}");
            };
            assert_eq!(day_text(q.first_day()), first, "{q}");
            assert_eq!(day_text(q.last_day()), last, "{q}");
            assert_eq!(q.last_day() - q.first_day() + 1, days, "{q}");
            assert_eq!(Quarter::of_day(q.first_day()), q);
            assert_eq!(Quarter::of_day(q.last_day()), q);
            assert_eq!(q.next().prev(), q);
        }
        assert_eq!(Quarter::new(2025, 0), None);
        assert_eq!(Quarter::new(2025, 5), None);
        assert_eq!(
            Quarter::new(2025, 4).map(|q| q.next().to_string()),
            Some("2026-Q1".into())
        );
    }

    #[test]
    fn window_ends_with_the_last_complete_quarter() {
        // (as of, years, first, last)
        let cases = [
            (date(2026, 5, 10), 2, "2024-Q2", "2026-Q1"),
            (date(2026, 4, 1), 2, "2024-Q2", "2026-Q1"), // Q1 ended the day before
            (date(2026, 3, 31), 2, "2024-Q1", "2025-Q4"), // the last day: Q1 not over yet
            (date(2026, 1, 1), 1, "2025-Q1", "2025-Q4"),
            (date(2026, 12, 31), 5, "2021-Q4", "2026-Q3"),
        ];
        for (as_of, years, first, last) in cases {
            let w = window(as_of, years);
            assert_eq!(w.len(), years as usize * 4, "{as_of}");
            assert_eq!(w.first().map(ToString::to_string).as_deref(), Some(first));
            assert_eq!(w.last().map(ToString::to_string).as_deref(), Some(last));
            assert!(w.windows(2).all(|p| p[0].next() == p[1]), "consecutive");
        }
        assert!(window(date(2026, 5, 10), 0).is_empty());
    }

    #[test]
    fn range_texts() {
        let d = |y, m, dd| date(y, m, dd).days_since_epoch();
        assert_eq!(
            range_text(d(2024, 2, 29), d(2024, 3, 31)),
            "2024-02-29..2024-03-31"
        );
        assert_eq!(range_text(d(2024, 2, 29), d(2024, 2, 29)), "2024-02-29");
    }
}
