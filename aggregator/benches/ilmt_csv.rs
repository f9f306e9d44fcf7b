//! CSV import speed (issue 4 target: at least 50 MB/s). Generates an English hardware inventory
//! export in memory (default 200 MB; `SUBCAP_BENCH_MB` changes it), then times the whole import
//! (decode, tokenize, map headers, convert cells into computers) and the tokenizer alone, three
//! runs each. Another job on the machine makes the figures noisy: note the load with them.
//!
//! `cargo bench -p subcap-aggregator --bench ilmt_csv`

use std::time::{Duration, Instant};

use subcap_aggregator::ilmt::csv::{parse_report, CsvReader, Record};
use subcap_aggregator::ilmt::{Aliases, Limits};

const HEADER: &str = "Computer Name,DNS Name,IP Address,Operating System,Computer Type,Status,\
Server Name,Server Serial Number,Processor Brand String,Partition Cores,Server Active Sockets,\
Cluster Name,Cluster Cores,Last Seen,Deleted,Comment\n";

/// A small deterministic generator (64-bit LCG), so every run parses the same bytes.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }
}

fn generate(target_bytes: usize) -> (Vec<u8>, usize) {
    let oses = [
        "Linux Red Hat Enterprise Linux 8.9",
        "\"Windows Server 2019, Datacenter\"",
        "AIX 7.3",
        "Linux SUSE Linux Enterprise Server 15 SP5",
    ];
    let statuses = [
        "OK",
        "OK",
        "OK",
        "Missing VM manager data",
        "Missing scan data",
    ];
    let brands = [
        "Intel(R) Xeon(R) Gold 6338 CPU @ 2.00GHz",
        "PowerPC_POWER10",
        "AMD EPYC 7763 64-Core Processor",
    ];
    let mut out = Vec::with_capacity(target_bytes + 1024);
    out.extend_from_slice(HEADER.as_bytes());
    let mut rng = Lcg(42);
    let mut rows = 0usize;
    while out.len() < target_bytes {
        let i = rows;
        let r = rng.next();
        let virt = !r.is_multiple_of(5);
        let server = if r.is_multiple_of(7) {
            format!("TLM_VM_{:08x}-9d1e-5f3a-b0c2-{:012x}", r, i)
        } else {
            format!("VMware esx{:03}.bank.example", r % 400)
        };
        let comment = if r.is_multiple_of(11) {
            "\"owner said \"\"keep\"\", see CHG0042\""
        } else {
            ""
        };
        let line = format!(
            "host{i:07},host{i:07}.bank.example,\"10.{}.{}.{}, 192.168.{}.{}\",{},{},{},{},{},{},{},{},PROD-CL{:02},{},2025-03-{:02} {:02}:{:02}:{:02},{},{}\n",
            i / 65536 % 256,
            i / 256 % 256,
            i % 256,
            r % 256,
            (r >> 8) % 256,
            oses[(r % 4) as usize],
            if virt { "Virtual" } else { "Physical" },
            statuses[(r % 5) as usize],
            server,
            format_args!("{:07}", r % 10_000_000),
            brands[(r % 3) as usize],
            (r % 32) + 1,
            (r % 4) + 1,
            r % 20,
            ((r % 8) + 1) * 64,
            (r % 28) + 1,
            r % 24,
            (r >> 5) % 60,
            (r >> 11) % 60,
            if r.is_multiple_of(13) { "Yes" } else { "No" },
            comment,
        );
        out.extend_from_slice(line.as_bytes());
        rows += 1;
    }
    (out, rows)
}

/// CPU time of this process (user + system) from `/proc/self/stat`, in clock ticks of 1/100 s
/// (Linux's fixed USER_HZ): unlike wall time, it does not grow when other jobs share the cores.
fn cpu_time() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let after = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = after.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(Duration::from_millis((utime + stime) * 10))
}

fn mb_per_s(bytes: usize, d: Duration) -> f64 {
    bytes as f64 / 1e6 / d.as_secs_f64()
}

fn main() {
    // `cargo bench` passes `--bench`; run as a test (`cargo test --all-targets`) it only checks
    // that the benchmark works, on 1 MB.
    let benching = std::env::args().any(|a| a == "--bench");
    let mb: usize = std::env::var("SUBCAP_BENCH_MB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if benching { 200 } else { 1 });
    let (data, rows) = generate(mb * 1_000_000);
    println!(
        "generated {} bytes ({:.1} MB), {rows} rows",
        data.len(),
        data.len() as f64 / 1e6
    );
    let limits = Limits::default();
    let aliases = Aliases::builtin();
    let runs = 3;

    let mut times = Vec::new();
    let mut cpu_times = Vec::new();
    for run in 1..=runs {
        let cpu_start = cpu_time();
        let start = Instant::now();
        let import = match parse_report("bench.csv", &data, aliases, &limits) {
            Ok(i) => i,
            Err(e) => {
                eprintln!("import failed: {e}");
                std::process::exit(1);
            }
        };
        let elapsed = start.elapsed();
        let cpu = cpu_time()
            .zip(cpu_start)
            .map(|(end, begin)| end.saturating_sub(begin));
        if import.computers.len() != rows {
            eprintln!("import read {} rows of {rows}", import.computers.len());
            std::process::exit(1);
        }
        println!(
            "import   run {run}: {:>7.3} s  {:>7.1} MB/s wall, {} ({} computers)",
            elapsed.as_secs_f64(),
            mb_per_s(data.len(), elapsed),
            match cpu {
                Some(c) if !c.is_zero() => format!("{:>7.1} MB/s CPU", mb_per_s(data.len(), c)),
                _ => "CPU time unknown".to_string(),
            },
            import.computers.len()
        );
        times.push(elapsed);
        cpu_times.extend(cpu.filter(|c| !c.is_zero()));
        drop(import);
    }

    let text = match std::str::from_utf8(&data) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("generated data is not UTF-8: {e}");
            std::process::exit(1);
        }
    };
    let mut tokenize = Vec::new();
    for run in 1..=runs {
        let start = Instant::now();
        let mut reader = CsvReader::new("bench.csv", text, &limits);
        let mut record = Record::default();
        let mut fields = 0usize;
        loop {
            match reader.next_record(&mut record) {
                Ok(true) => fields += record.len(),
                Ok(false) => break,
                Err(e) => {
                    eprintln!("tokenizing failed: {e}");
                    std::process::exit(1);
                }
            }
        }
        let elapsed = start.elapsed();
        println!(
            "tokenize run {run}: {:>7.3} s  {:>7.1} MB/s  ({fields} fields)",
            elapsed.as_secs_f64(),
            mb_per_s(data.len(), elapsed)
        );
        tokenize.push(elapsed);
    }

    times.sort();
    tokenize.sort();
    cpu_times.sort();
    let cpu = cpu_times
        .get(cpu_times.len() / 2)
        .map(|c| format!(", {:.1} MB/s per CPU second", mb_per_s(data.len(), *c)))
        .unwrap_or_default();
    println!(
        "import median {:.1} MB/s wall (best {:.1}){cpu}; tokenizer median {:.1} MB/s; target 50 MB/s",
        mb_per_s(data.len(), times[times.len() / 2]),
        mb_per_s(data.len(), times[0]),
        mb_per_s(data.len(), tokenize[tokenize.len() / 2]),
    );
}
