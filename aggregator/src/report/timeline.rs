//! Coverage over time: from each host's history periods, how many hosts were in each coverage
//! state and how many failed a sub-capacity condition, per day (windows of up to
//! [`DAILY_UP_TO`] days) or per week. Pure.

use serde::{Deserialize, Serialize};

use super::model::Window;
use crate::domain::Coverage;
use crate::ilmt::time::CivilDate;

/// Windows of up to this many days are counted per day; longer ones per week.
pub const DAILY_UP_TO: u32 = 92;

/// A host's days in one state: days since 1970-01-01, both included.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Span {
    pub from: i64,
    pub to: i64,
    /// `None` for a state this version does not know (counted in `reporting` only).
    pub coverage: Option<Coverage>,
    pub fails: bool,
    pub exposed_pvu: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Timeline {
    /// `day` or `week` (seven days from the window's first day; the last may be shorter).
    pub granularity: String,
    pub points: Vec<Point>,
}

/// One day or week. The states count the hosts on the point's last day (`to`); `failing` counts
/// the hosts that failed on at least one of its days.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Point {
    pub from: CivilDate,
    pub to: CivilDate,
    /// Hosts with a known state on `to` (they had reported by then).
    pub reporting: u64,
    pub covered: u64,
    pub stale: u64,
    pub uncovered: u64,
    pub not_required: u64,
    pub superseded: u64,
    /// Hosts failing a sub-capacity condition on at least one day of the point.
    pub failing: u64,
    /// Sum of the exposed PVU of the hosts failing on `to`, where known.
    pub exposed_pvu: f64,
}

/// The timeline of `hosts` (each host's spans, oldest first, not overlapping) over `window`.
/// Spans are clipped to the window. Work: the points each span touches, not days times hosts.
pub fn compute(window: Window, hosts: &[Vec<Span>]) -> Timeline {
    let (first, last) = (window.first(), window.last());
    let step: i64 = if window.days <= DAILY_UP_TO { 1 } else { 7 };
    let count = usize::try_from((last - first).div_euclid(step) + 1).unwrap_or(0);
    let mut points: Vec<Point> = (0..count)
        .map(|i| {
            let from = first + i as i64 * step;
            let to = (from + step - 1).min(last);
            Point {
                // Every day of a window of valid dates is a valid date.
                from: CivilDate::from_days_since_epoch(from).unwrap_or(window.from),
                to: CivilDate::from_days_since_epoch(to).unwrap_or(window.to),
                reporting: 0,
                covered: 0,
                stale: 0,
                uncovered: 0,
                not_required: 0,
                superseded: 0,
                failing: 0,
                exposed_pvu: 0.0,
            }
        })
        .collect();
    let index = |d: i64| usize::try_from((d - first).div_euclid(step)).unwrap_or(0);
    let end_of = |i: usize| (first + (i as i64 + 1) * step - 1).min(last);
    for spans in hosts {
        // The last point this host was counted failing in: a host failing in two spans of one
        // week counts once.
        let mut failing_counted: Option<usize> = None;
        for s in spans {
            let (from, to) = (s.from.max(first), s.to.min(last));
            if from > to {
                continue;
            }
            for i in index(from)..=index(to) {
                let Some(p) = points.get_mut(i) else {
                    continue;
                };
                let end = end_of(i);
                if (from..=to).contains(&end) {
                    p.reporting += 1;
                    match s.coverage {
                        Some(Coverage::Covered) => p.covered += 1,
                        Some(Coverage::Stale) => p.stale += 1,
                        Some(Coverage::Uncovered) => p.uncovered += 1,
                        Some(Coverage::NotRequired) => p.not_required += 1,
                        Some(Coverage::Superseded) => p.superseded += 1,
                        None => {}
                    }
                    if s.fails {
                        p.exposed_pvu += s.exposed_pvu.unwrap_or(0.0);
                    }
                }
                if s.fails && failing_counted.is_none_or(|c| c < i) {
                    p.failing += 1;
                    failing_counted = Some(i);
                }
            }
        }
    }
    Timeline {
        granularity: if step == 1 { "day" } else { "week" }.into(),
        points,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::model::day;

    fn d(s: &str) -> i64 {
        day(s).unwrap().days_since_epoch()
    }

    fn window(from: &str, to: &str) -> Window {
        let (f, t) = (day(from).unwrap(), day(to).unwrap());
        Window {
            from: f,
            to: t,
            days: (t.days_since_epoch() - f.days_since_epoch() + 1) as u32,
        }
    }

    fn span(from: &str, to: &str, c: Coverage, fails: bool, pvu: Option<f64>) -> Span {
        Span {
            from: d(from),
            to: d(to),
            coverage: Some(c),
            fails,
            exposed_pvu: pvu,
        }
    }

    #[test]
    fn daily_points_count_each_day() {
        let w = window("2025-03-01", "2025-03-05");
        let hosts = vec![
            // Covered, then uncovered from the 3rd.
            vec![
                span(
                    "2025-02-01",
                    "2025-03-02",
                    Coverage::Covered,
                    false,
                    Some(0.0),
                ),
                span(
                    "2025-03-03",
                    "2025-03-31",
                    Coverage::Uncovered,
                    true,
                    Some(3360.0),
                ),
            ],
            // Reports from the 4th.
            vec![span(
                "2025-03-04",
                "2025-03-05",
                Coverage::NotRequired,
                false,
                None,
            )],
        ];
        let t = compute(w, &hosts);
        assert_eq!(t.granularity, "day");
        let rows: Vec<(String, u64, u64, u64, u64, u64, f64)> = t
            .points
            .iter()
            .map(|p| {
                (
                    p.to.to_string(),
                    p.reporting,
                    p.covered,
                    p.uncovered,
                    p.not_required,
                    p.failing,
                    p.exposed_pvu,
                )
            })
            .collect();
        assert_eq!(
            rows,
            [
                ("2025-03-01".into(), 1, 1, 0, 0, 0, 0.0),
                ("2025-03-02".into(), 1, 1, 0, 0, 0, 0.0),
                ("2025-03-03".into(), 1, 0, 1, 0, 1, 3360.0),
                ("2025-03-04".into(), 2, 0, 1, 1, 1, 3360.0),
                ("2025-03-05".into(), 2, 0, 1, 1, 1, 3360.0),
            ]
        );
    }

    #[test]
    fn weekly_points_state_on_last_day_failing_on_any_day_once_per_host() {
        // 93 days: weekly; 14 points, the last two days long.
        let w = window("2025-01-01", "2025-04-03");
        let hosts = vec![
            // Fails two separate days of the first week, covered on its last day.
            vec![
                span(
                    "2025-01-01",
                    "2025-01-01",
                    Coverage::Stale,
                    true,
                    Some(100.0),
                ),
                span("2025-01-02", "2025-01-02", Coverage::Covered, false, None),
                span("2025-01-03", "2025-01-03", Coverage::Uncovered, true, None),
                span("2025-01-04", "2025-04-03", Coverage::Covered, false, None),
            ],
            // An unknown state: reporting only.
            vec![Span {
                from: d("2025-01-01"),
                to: d("2025-04-03"),
                coverage: None,
                fails: false,
                exposed_pvu: None,
            }],
        ];
        let t = compute(w, &hosts);
        assert_eq!(t.granularity, "week");
        assert_eq!(t.points.len(), 14);
        let p0 = &t.points[0];
        assert_eq!(
            (p0.from.to_string(), p0.to.to_string()),
            ("2025-01-01".into(), "2025-01-07".into())
        );
        assert_eq!((p0.reporting, p0.covered, p0.failing), (2, 1, 1));
        assert_eq!(p0.exposed_pvu, 0.0);
        let last = t.points.last().unwrap();
        assert_eq!(
            (last.from.to_string(), last.to.to_string()),
            ("2025-04-02".into(), "2025-04-03".into())
        );
        assert_eq!((last.reporting, last.covered, last.failing), (2, 1, 0));
    }

    #[test]
    fn spans_outside_the_window_count_nowhere_and_one_day_windows_work() {
        let w = window("2025-06-15", "2025-06-15");
        let hosts = vec![
            vec![span(
                "2025-01-01",
                "2025-06-14",
                Coverage::Uncovered,
                true,
                Some(5.0),
            )],
            vec![span(
                "2025-06-16",
                "2025-07-01",
                Coverage::Uncovered,
                true,
                Some(5.0),
            )],
            vec![span(
                "2025-06-15",
                "2025-06-15",
                Coverage::Superseded,
                false,
                None,
            )],
        ];
        let t = compute(w, &hosts);
        assert_eq!(t.points.len(), 1);
        let p = &t.points[0];
        assert_eq!(
            (p.reporting, p.superseded, p.uncovered, p.failing),
            (1, 1, 0, 0)
        );
    }
}
