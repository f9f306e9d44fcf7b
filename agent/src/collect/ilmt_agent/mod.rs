//! ILMT/BigFix agent health: client and disconnected scanner installed, version, running, last scans.
//!
//! Two ways ILMT sees a host: the BigFix client with ILMT's scanner deployed through it
//! ([`bigfix`]), or the disconnected scanner run from cron ([`scanner`]). Both are looked for;
//! the last software scan, capacity scan and upload are the newest either shows. Every signal
//! read is evidence, including "not found": a host without BigFix gets one evidence line, not a
//! warning storm.

pub mod bigfix;
pub mod procs;
pub mod scanner;
pub mod timefmt;

use subcap_proto::v1 as pb;

use super::Warnings;
use crate::root::Root;
use bigfix::Output;

/// What the ILMT agent collector found: the agents' health and the BigFix computer id (empty when
/// unreadable), which belongs to the host identity.
#[derive(Debug, Default)]
pub struct Collected {
    pub health: pb::IlmtAgentHealth,
    pub bigfix_computer_id: String,
}

/// The newest software scan, capacity scan and upload seen from any source (seconds).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Times {
    pub software: Option<i64>,
    pub capacity: Option<i64>,
    pub upload: Option<i64>,
}

impl Times {
    pub fn note(&mut self, kind: Output, secs: i64) {
        let slot = match kind {
            Output::Software => &mut self.software,
            Output::Capacity => &mut self.capacity,
            Output::Upload => &mut self.upload,
        };
        *slot = Some(slot.map_or(secs, |s| s.max(secs)));
    }
}

/// Collects the health of the ILMT agents under `root`.
pub fn collect(root: &Root, w: &mut Warnings) -> Collected {
    let mut health = pb::IlmtAgentHealth::default();
    let mut times = Times::default();
    let procs = procs::read(root, w);
    let id = bigfix::collect(root, procs.as_ref(), &mut health, &mut times, w);
    scanner::collect(root, procs.as_ref(), &mut health, &mut times, w);
    health.last_software_scan = times.software.map(timefmt::timestamp);
    health.last_capacity_scan = times.capacity.map(timefmt::timestamp);
    health.last_upload = times.upload.map(timefmt::timestamp);
    Collected {
        health,
        bigfix_computer_id: id,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_keep_the_newest() {
        let mut t = Times::default();
        t.note(Output::Software, 10);
        t.note(Output::Software, 5);
        t.note(Output::Upload, 7);
        assert_eq!(
            t,
            Times {
                software: Some(10),
                capacity: None,
                upload: Some(7)
            }
        );
    }

    #[test]
    fn text_parsers_never_panic() {
        for text in crate::collect::ibm::tests::noise(0xfeed, 3000) {
            let _ = timefmt::parse_iso8601(&text);
            let _ = scanner::cron_dirs(&text);
            let _ = scanner::status_times(&scanner::parse_status(&text));
            let _ = scanner::failures(&scanner::parse_status(&text));
            let _ = bigfix::computer_id(&bigfix::parse_config(&text));
            let _ = bigfix::log_version(&text);
            let _ = bigfix::classify(&text);
        }
    }

    #[test]
    fn nothing_installed_is_quiet() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = Warnings::new("ilmt_agent");
        let c = collect(&Root::new(dir.path()), &mut w);
        assert!(w.is_empty(), "{:?}", w.into_vec());
        assert!(!c.health.bigfix_installed && !c.health.scanner_installed);
        assert_eq!(c.bigfix_computer_id, "");
        let sources: Vec<&str> = c
            .health
            .evidence
            .iter()
            .map(|e| e.source.as_str())
            .collect();
        assert_eq!(sources, vec![bigfix::CLIENT, scanner::DEFAULT_DIR]);
    }
}
