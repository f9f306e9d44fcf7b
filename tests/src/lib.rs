//! Helpers shared by subcap's end-to-end tests: where the fixtures are and how one is scanned.
#![forbid(unsafe_code)]

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use subcap_agent::collect::virt::CpuidSource;
use subcap_agent::scan::{self, ScanOptions};
use subcap_proto::v1 as pb;

/// `tests/fixtures` in the source tree.
pub fn fixtures_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

/// `tests/fixtures/hosts/NAME`: one host's fixture (its `root/` tree and expectations).
pub fn host_fixture(name: &str) -> PathBuf {
    fixtures_dir().join("hosts").join(name)
}

/// Names of every host fixture (folders of `tests/fixtures/hosts` that hold a `root/`), sorted.
pub fn host_fixture_names() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(fixtures_dir().join("hosts"))
        .expect("tests/fixtures/hosts is readable")
        .filter_map(|e| e.ok())
        .filter(|e| e.path().join("root").is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// The CPUID a fixture stands for: its `cpuid-vendor` file (as `--cpuid-vendor` takes it, `none`
/// for a processor without the hypervisor bit), or, without one, no x86 CPUID at all.
pub fn fixture_cpuid(dir: &Path) -> CpuidSource {
    match std::fs::read_to_string(dir.join("cpuid-vendor")) {
        Ok(s) => {
            let sig = s.trim_end_matches(['\n', '\r']);
            CpuidSource::Override(if sig == "none" {
                String::new()
            } else {
                sig.to_string()
            })
        }
        Err(_) => CpuidSource::Override(String::new()),
    }
}

/// The fixed collection time of fixture scans, so their reports are reproducible.
pub const FIXTURE_TIME: Duration = Duration::from_secs(1_795_392_000); // 2026-11-23T00:00:00Z

/// Scans the fixture `name` as `subcap-agent scan --root DIR/root --cpuid-vendor ...` would, at
/// [`FIXTURE_TIME`], with a fixed report id.
pub fn scan_fixture(name: &str) -> pb::HostReport {
    let dir = host_fixture(name);
    let opts = ScanOptions {
        root: dir.join("root"),
        cpuid: fixture_cpuid(&dir),
        ..ScanOptions::default()
    };
    scan::scan(
        &opts,
        SystemTime::UNIX_EPOCH + FIXTURE_TIME,
        format!("fixture-{name}"),
    )
}

/// A workspace binary (`subcap-agent`, `subcap-aggregator`), built once per process in the
/// profile of the running executable: debug for `cargo test`, release for `cargo bench` (whose
/// executables live in `target/release`).
pub fn binary(name: &str) -> PathBuf {
    // target/<profile>/deps/<this executable> -> target/<profile>/<name>
    let exe = std::env::current_exe().expect("test executable path");
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("target profile folder")
        .to_path_buf();
    let release = dir.file_name().is_some_and(|n| n == "release");
    static BUILD: std::sync::Once = std::sync::Once::new();
    BUILD.call_once(|| {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut cmd = std::process::Command::new(cargo);
        cmd.args([
            "build",
            "--quiet",
            "-p",
            "subcap-agent",
            "-p",
            "subcap-aggregator",
            "--bins",
        ]);
        if release {
            cmd.arg("--release");
        }
        // The variables cargo set for this executable (CARGO_PKG_NAME=subcap-tests, ...) are
        // watched by build scripts (ring's, with rerun-if-env-changed): left in, they make this
        // build and the next plain `cargo build` rebuild each other's dependencies every time.
        for (key, _) in std::env::vars_os() {
            let k = key.to_string_lossy();
            if k.starts_with("CARGO_PKG_")
                || k.starts_with("CARGO_MANIFEST_")
                || matches!(
                    k.as_ref(),
                    "CARGO_CRATE_NAME"
                        | "CARGO_PRIMARY_PACKAGE"
                        | "CARGO_TARGET_TMPDIR"
                        | "OUT_DIR"
                )
            {
                cmd.env_remove(&key);
            }
        }
        let status = cmd
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .status()
            .expect("run cargo build");
        assert!(status.success(), "cargo build of the binaries failed");
    });
    let bin = dir.join(name);
    assert!(bin.exists(), "{} not built", bin.display());
    bin
}

pub mod pki;
pub mod process;
