//! Coverage history as pure values: a host's state on one day ([`DayState`]), taken from a
//! reconciliation, and the periods over which it held ([`periods`]), clipped to a window. The
//! ledger keeps only the days a state changed; a state holds until the next change.

use super::model::{CivilDate, Code, Coverage, Reconciliation};

/// What held for a host on one day.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DayState {
    pub coverage: Coverage,
    /// Codes of the host's findings: bit `code as usize`.
    pub codes: u16,
    pub exposed_pvu: Option<f64>,
    /// The ILMT import reconciled against (0: none).
    pub import: u64,
    /// The host's latest report was older than the stale threshold on that day.
    pub agent_silent: bool,
}

impl DayState {
    pub fn codes(&self) -> impl Iterator<Item = Code> + '_ {
        Code::ALL
            .iter()
            .copied()
            .filter(|c| self.codes & (1 << *c as usize) != 0)
    }

    /// Whether a sub-capacity condition failed: uncovered, or a finding that fails one.
    pub fn fails(&self) -> bool {
        self.coverage == Coverage::Uncovered || self.codes().any(Code::breaks_claim)
    }

    /// Fixed-size bytes for the store: coverage, codes (LE), flags, exposed PVU (LE f64, NaN for
    /// unknown), import id (LE).
    pub fn encode(&self) -> [u8; 20] {
        let mut b = [0u8; 20];
        b[0] = Coverage::ALL
            .iter()
            .position(|c| *c == self.coverage)
            .and_then(|i| u8::try_from(i).ok())
            .unwrap_or(u8::MAX);
        b[1..3].copy_from_slice(&self.codes.to_le_bytes());
        b[3] = u8::from(self.agent_silent);
        b[4..12].copy_from_slice(&self.exposed_pvu.unwrap_or(f64::NAN).to_le_bytes());
        b[12..20].copy_from_slice(&self.import.to_le_bytes());
        b
    }

    /// The inverse of [`DayState::encode`]; `None` for bytes it did not write.
    pub fn decode(b: &[u8]) -> Option<DayState> {
        let b: &[u8; 20] = b.try_into().ok()?;
        let coverage = *Coverage::ALL.get(usize::from(b[0]))?;
        let codes = u16::from_le_bytes([b[1], b[2]]);
        let mut pvu = [0u8; 8];
        pvu.copy_from_slice(&b[4..12]);
        let pvu = f64::from_le_bytes(pvu);
        let mut import = [0u8; 8];
        import.copy_from_slice(&b[12..20]);
        Some(DayState {
            coverage,
            codes,
            exposed_pvu: (!pvu.is_nan()).then_some(pvu),
            import: u64::from_le_bytes(import),
            agent_silent: b[3] != 0,
        })
    }
}

/// Each host's state from a reconciliation (in the reconciliation's host order). `silent(host)`
/// says whether the host's latest report was older than the stale threshold that day.
pub fn day_states(
    r: &Reconciliation,
    import: u64,
    silent: impl Fn(&str) -> bool,
) -> Vec<(String, DayState)> {
    let mut codes: std::collections::HashMap<&str, u16> = std::collections::HashMap::new();
    for f in &r.findings {
        if let Some(h) = &f.host_key {
            *codes.entry(h.as_str()).or_default() |= 1 << f.code as usize;
        }
    }
    r.hosts
        .iter()
        .map(|h| {
            (
                h.host_key.clone(),
                DayState {
                    coverage: h.coverage,
                    codes: codes.get(h.host_key.as_str()).copied().unwrap_or(0),
                    exposed_pvu: h.exposure.exposed_pvu,
                    import,
                    agent_silent: silent(&h.host_key),
                },
            )
        })
        .collect()
}

/// Days, both included, over which one state held.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Period {
    pub from: CivilDate,
    pub to: CivilDate,
    pub state: DayState,
}

impl Period {
    pub fn days(&self) -> i64 {
        self.to.days_since_epoch() - self.from.days_since_epoch() + 1
    }
}

/// The periods of a host's `changes` (day of change and new state, oldest first) within
/// `from..=to`: each state holds from its day until the day before the next change, the last
/// one through `to`. Days before the first change have no period.
pub fn periods(changes: &[(CivilDate, DayState)], from: CivilDate, to: CivilDate) -> Vec<Period> {
    let mut out: Vec<Period> = Vec::new();
    for (i, (day, state)) in changes.iter().enumerate() {
        let end = match changes.get(i + 1) {
            Some((next, _)) => {
                match CivilDate::from_days_since_epoch(next.days_since_epoch() - 1) {
                    Some(d) => d,
                    None => continue,
                }
            }
            None => to,
        };
        let (start, end) = ((*day).max(from), end.min(to));
        if start > end {
            continue;
        }
        match out.last_mut() {
            // Equal states on adjacent days are one period (a replay may write a state twice).
            Some(p)
                if p.state == *state && p.to.days_since_epoch() + 1 == start.days_since_epoch() =>
            {
                p.to = end;
            }
            _ => out.push(Period {
                from: start,
                to: end,
                state: *state,
            }),
        }
    }
    out
}

/// Days on which a condition failed, and the largest exposed PVU over them.
pub fn failing(periods: &[Period]) -> (u32, Option<f64>) {
    let mut days = 0i64;
    let mut max: Option<f64> = None;
    for p in periods.iter().filter(|p| p.state.fails()) {
        days += p.days();
        if let Some(e) = p.state.exposed_pvu {
            max = Some(max.map_or(e, |m: f64| m.max(e)));
        }
    }
    (u32::try_from(days).unwrap_or(u32::MAX), max)
}

/// The state on `day`: the last change on or before it.
pub fn state_on(changes: &[(CivilDate, DayState)], day: CivilDate) -> Option<DayState> {
    changes
        .iter()
        .take_while(|(d, _)| *d <= day)
        .last()
        .map(|(_, s)| *s)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> CivilDate {
        crate::ilmt::time::parse_date(s).unwrap()
    }

    fn st(coverage: Coverage, codes: &[Code], pvu: Option<f64>) -> DayState {
        DayState {
            coverage,
            codes: codes.iter().fold(0, |a, c| a | 1 << *c as usize),
            exposed_pvu: pvu,
            import: 3,
            agent_silent: false,
        }
    }

    #[test]
    fn states_round_trip_through_bytes() {
        for s in [
            st(Coverage::Covered, &[], Some(3360.0)),
            st(
                Coverage::Uncovered,
                &[Code::Uncovered, Code::Deadline],
                None,
            ),
            DayState {
                agent_silent: true,
                import: u64::MAX,
                ..st(Coverage::Superseded, Code::ALL, Some(0.5))
            },
        ] {
            assert_eq!(DayState::decode(&s.encode()), Some(s));
        }
        assert_eq!(DayState::decode(&[0; 19]), None);
        let mut bad = st(Coverage::Covered, &[], None).encode();
        bad[0] = 99;
        assert_eq!(DayState::decode(&bad), None);
    }

    #[test]
    fn failing_means_uncovered_or_a_claim_breaking_code() {
        let cases = [
            (st(Coverage::Covered, &[], None), false),
            (
                st(Coverage::Covered, &[Code::Duplicate, Code::Ghost], None),
                false,
            ),
            (
                st(Coverage::Covered, &[Code::CapacityMismatch], None),
                false,
            ),
            (st(Coverage::Uncovered, &[], None), true),
            (
                st(Coverage::Covered, &[Code::IneligibleVirtualization], None),
                true,
            ),
            (st(Coverage::Stale, &[Code::Stale], None), true),
            (st(Coverage::Covered, &[Code::IlmtAgentDown], None), true),
            (
                st(Coverage::Covered, &[Code::VmManagerDataMissing], None),
                true,
            ),
            (st(Coverage::NotRequired, &[], None), false),
        ];
        for (s, want) in cases {
            assert_eq!(s.fails(), want, "{s:?}");
        }
    }

    #[test]
    fn periods_hold_until_the_next_change_and_clip_to_the_window() {
        let covered = st(Coverage::Covered, &[], Some(0.0));
        let uncovered = st(Coverage::Uncovered, &[Code::Uncovered], Some(3360.0));
        let changes = [
            (d("2026-01-10"), uncovered),
            (d("2026-02-01"), covered),
            // A replay wrote the same state again: one period.
            (d("2026-03-01"), covered),
            (d("2026-06-15"), uncovered),
        ];
        // (window, expected periods as (from, to, fails))
        type Span<'a> = (&'a str, &'a str, bool);
        let cases: [(&str, &str, &[Span]); 5] = [
            (
                "2026-01-01",
                "2026-12-31",
                &[
                    ("2026-01-10", "2026-01-31", true),
                    ("2026-02-01", "2026-06-14", false),
                    ("2026-06-15", "2026-12-31", true),
                ],
            ),
            // Q1 2026: the first failing stretch and the covered start.
            (
                "2026-01-01",
                "2026-03-31",
                &[
                    ("2026-01-10", "2026-01-31", true),
                    ("2026-02-01", "2026-03-31", false),
                ],
            ),
            // Q2: covered, then failing from June 15.
            (
                "2026-04-01",
                "2026-06-30",
                &[
                    ("2026-04-01", "2026-06-14", false),
                    ("2026-06-15", "2026-06-30", true),
                ],
            ),
            // Before the host's first report: nothing.
            ("2025-10-01", "2025-12-31", &[]),
            // One day.
            (
                "2026-01-31",
                "2026-01-31",
                &[("2026-01-31", "2026-01-31", true)],
            ),
        ];
        for (from, to, want) in cases {
            let got: Vec<(String, String, bool)> = periods(&changes, d(from), d(to))
                .iter()
                .map(|p| (p.from.to_string(), p.to.to_string(), p.state.fails()))
                .collect();
            let want: Vec<(String, String, bool)> = want
                .iter()
                .map(|(a, b, f)| (a.to_string(), b.to_string(), *f))
                .collect();
            assert_eq!(got, want, "window {from}..{to}");
        }
        let q1 = periods(&changes, d("2026-01-01"), d("2026-03-31"));
        assert_eq!(failing(&q1), (22, Some(3360.0)));
        assert_eq!(state_on(&changes, d("2026-02-15")), Some(covered));
        assert_eq!(state_on(&changes, d("2026-01-09")), None);
        assert_eq!(state_on(&changes, d("2026-07-01")), Some(uncovered));
    }

    #[test]
    fn a_leap_day_counts() {
        let s = st(Coverage::Uncovered, &[Code::Uncovered], None);
        let p = periods(&[(d("2024-02-01"), s)], d("2024-02-01"), d("2024-03-01"));
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].days(), 30);
        assert_eq!(failing(&p), (30, None));
    }
}
