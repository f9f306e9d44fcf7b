//! Coverage ledger size and query cost (issue 5): five years of an estate's coverage states in a
//! real sled store on disk, as state changes, beside the same record kept as daily copies.
//!
//! ```text
//! cargo bench -p subcap-aggregator --bench ledger
//! cargo bench -p subcap-aggregator --bench ledger -- --hosts 20000 --years 5 --changes 12
//! ```
//!
//! `--changes` is the state changes per host per year (a host whose ILMT agent misses its scan
//! once a month and recovers: 24). Prints a Markdown section for BENCHMARKS.md. Not a test.

use std::sync::Arc;
use std::time::Instant;

use subcap_aggregator::domain::history::DayState;
use subcap_aggregator::domain::{Code, Coverage};
use subcap_aggregator::history::{host_history, Ledger};
use subcap_aggregator::ilmt::CivilDate;
use subcap_aggregator::store::{LedgerMarks, SledStore, Store};

struct Args {
    hosts: usize,
    years: u32,
    changes: u32,
    /// Hosts of the daily-copies comparison (its size is scaled to `hosts`).
    daily_hosts: usize,
}

fn args() -> Args {
    let mut a = Args {
        hosts: 20_000,
        years: 5,
        changes: 12,
        daily_hosts: 1_000,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().and_then(|v| v.parse::<usize>().ok());
        match flag.as_str() {
            "--hosts" => a.hosts = value().unwrap_or(a.hosts),
            "--years" => a.years = value().map_or(a.years, |v| v as u32),
            "--changes" => a.changes = value().map_or(a.changes, |v| v as u32),
            "--daily-hosts" => a.daily_hosts = value().unwrap_or(a.daily_hosts),
            _ => {}
        }
    }
    a
}

/// A small deterministic generator (xorshift), so runs are comparable.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

fn state(rng: &mut Rng) -> DayState {
    let coverage = Coverage::ALL[(rng.next() % 3) as usize];
    let codes = match coverage {
        Coverage::Uncovered => 1 << Code::Uncovered as usize | 1 << Code::Deadline as usize,
        _ if rng.next().is_multiple_of(2) => 1 << Code::IlmtAgentDown as usize,
        _ => 0,
    };
    DayState {
        coverage,
        codes,
        exposed_pvu: Some((rng.next() % 64 * 70) as f64),
        agent_silent: rng.next().is_multiple_of(10),
    }
}

fn host(i: usize) -> String {
    format!("host{i:06}.bank.example")
}

fn dir_bytes(path: &std::path::Path) -> u64 {
    let mut total = 0;
    let mut stack = vec![path.to_path_buf()];
    while let Some(p) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&p) else {
            continue;
        };
        for e in entries.flatten() {
            match e.metadata() {
                Ok(m) if m.is_dir() => stack.push(e.path()),
                Ok(m) => total += m.len(),
                Err(_) => {}
            }
        }
    }
    total
}

fn main() {
    let a = args();
    let first = CivilDate::new(2021, 11, 23)
        .expect("a date")
        .days_since_epoch();
    let days = i64::from(a.years) * 365 + i64::from(a.years / 4);
    let today = first + days - 1;
    let mut rng = Rng(0x5eed_cafe_f00d);

    // Changes: each host's first report day, then `changes` per year on random days.
    let mut changes = Vec::new();
    for i in 0..a.hosts {
        let mut ds: Vec<i64> = (0..a.changes * a.years)
            .map(|_| first + (rng.next() % days as u64) as i64)
            .collect();
        ds.push(first);
        ds.sort_unstable();
        ds.dedup();
        for d in ds {
            changes.push((host(i), d as u32, state(&mut rng).encode().to_vec()));
        }
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let store: Arc<dyn Store> = Arc::new(SledStore::open(dir.path()).expect("store"));
    let marks = LedgerMarks {
        through_day: today as u32,
        reports: None,
        imports: 0,
    };
    let t = Instant::now();
    store.replace_ledger(0, &changes, marks).expect("write");
    store.sync().expect("flush");
    let write_s = t.elapsed().as_secs_f64();
    let on_disk = dir_bytes(dir.path());
    let host_years = (a.hosts as f64) * f64::from(a.years);

    // Queries: every host's periods in one quarter (which hosts were uncovered in Q), one host.
    let ledger = Ledger::new(Arc::clone(&store), 400);
    let q_from = CivilDate::from_days_since_epoch(today - 180).expect("day");
    let q_to = CivilDate::from_days_since_epoch(today - 90).expect("day");
    let t = Instant::now();
    let all = ledger.changes(None).expect("read");
    let failing = all
        .iter()
        .map(|(h, c)| host_history(h, c, q_from, q_to, &[], &[]))
        .filter(|h| h.failing_days > 0)
        .count();
    let quarter_s = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let one = ledger.changes(Some(&host(a.hosts / 2))).expect("read one");
    let one_ms = t.elapsed().as_secs_f64() * 1000.0;

    // The same record as daily copies, for a sample of hosts, scaled up.
    let daily_dir = tempfile::tempdir().expect("temp dir");
    let daily = SledStore::open(daily_dir.path()).expect("store");
    let mut copies = Vec::new();
    let sample = a.daily_hosts.min(a.hosts);
    for i in 0..sample {
        for d in first..=today {
            copies.push((host(i), d as u32, state(&mut rng).encode().to_vec()));
        }
    }
    daily
        .replace_ledger(0, &copies, marks)
        .expect("write daily");
    daily.sync().expect("flush");
    let daily_bytes = dir_bytes(daily_dir.path()) as f64 * (a.hosts as f64 / sample as f64);

    let mib = |b: f64| b / (1024.0 * 1024.0);
    println!("## Coverage ledger ({} hosts, {} years)", a.hosts, a.years);
    println!();
    println!(
        "- command: `cargo bench -p subcap-aggregator --bench ledger -- --hosts {} --years {} --changes {} --daily-hosts {}`",
        a.hosts, a.years, a.changes, a.daily_hosts
    );
    println!(
        "- {} state changes ({:.1} per host per year), written in {:.2} s",
        changes.len(),
        changes.len() as f64 / host_years,
        write_s
    );
    println!(
        "- on disk: {:.1} MiB, **{:.0} bytes per host per year**",
        mib(on_disk as f64),
        on_disk as f64 / host_years
    );
    println!(
        "- the same record as daily copies ({} hosts measured, scaled): {:.1} MiB, {:.0} bytes per host per year",
        sample,
        mib(daily_bytes),
        daily_bytes / host_years
    );
    println!(
        "- every host's periods in one quarter (\"which hosts failed in Q\"): {:.2} s, {} hosts failing",
        quarter_s, failing
    );
    println!(
        "- one host's whole ledger ({} changes): {:.2} ms",
        one.first().map_or(0, |(_, c)| c.len()),
        one_ms
    );
}
