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

/// `tests/fixtures/hosts/NAME`: one platform's host fixture (its `root/` tree and expectations).
pub fn host_fixture(name: &str) -> PathBuf {
    fixtures_dir().join(HOSTS).join(name)
}

/// `tests/fixtures/ibm-hosts/NAME`: a host fixture with IBM software or ILMT agents.
pub fn ibm_fixture(name: &str) -> PathBuf {
    fixtures_dir().join(IBM_HOSTS).join(name)
}

/// The folders of host fixtures under `tests/fixtures`: platforms, and IBM software.
pub const HOSTS: &str = "hosts";
pub const IBM_HOSTS: &str = "ibm-hosts";

/// Names of every platform host fixture (folders of `tests/fixtures/hosts` with a `root/`), sorted.
pub fn host_fixture_names() -> Vec<String> {
    fixture_names(HOSTS)
}

/// Names of the fixtures in `tests/fixtures/<group>` that hold a `root/`, sorted.
pub fn fixture_names(group: &str) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(fixtures_dir().join(group))
        .expect("the fixture folder is readable")
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

/// Scans the platform fixture `name` as `subcap-agent scan --root DIR/root --cpuid-vendor ...`
/// would, at [`FIXTURE_TIME`], with a fixed report id.
pub fn scan_fixture(name: &str) -> pb::HostReport {
    scan_fixture_dir(&host_fixture(name), name)
}

/// Scans the fixture in `dir` (see [`scan_fixture`]).
pub fn scan_fixture_dir(dir: &Path, name: &str) -> pb::HostReport {
    let root = fixture_root(dir);
    let opts = ScanOptions {
        root: root.root.clone(),
        cpuid: fixture_cpuid(dir),
        ..ScanOptions::default()
    };
    scan::scan(
        &opts,
        SystemTime::UNIX_EPOCH + FIXTURE_TIME,
        format!("fixture-{name}"),
    )
}

/// A fixture's root tree ready to scan: the tree itself, or, for a fixture whose signals are file
/// times (git keeps none), a temporary copy whose files have the times its `mtimes.txt` lists
/// (`<path relative to root> <ISO 8601 time>` per line), so nothing depends on the checkout.
pub struct FixtureRoot {
    pub root: PathBuf,
    _copy: Option<tempfile::TempDir>,
}

/// See [`FixtureRoot`]; `dir` is the fixture folder (holding `root/`).
pub fn fixture_root(dir: &Path) -> FixtureRoot {
    let mtimes = dir.join("mtimes.txt");
    if !mtimes.exists() {
        return FixtureRoot {
            root: dir.join("root"),
            _copy: None,
        };
    }
    let copy = tempfile::tempdir().expect("temp dir");
    copy_tree(&dir.join("root"), copy.path());
    let text = std::fs::read_to_string(&mtimes).expect("mtimes.txt");
    for line in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
    {
        let (path, time) = line.split_once(' ').expect("`<path> <time>` lines");
        let secs = subcap_agent::collect::ilmt_agent::timefmt::parse_iso8601(time)
            .unwrap_or_else(|| panic!("bad time in {line}"));
        let when = SystemTime::UNIX_EPOCH + Duration::from_secs(secs as u64);
        std::fs::File::options()
            .write(true)
            .open(copy.path().join(path))
            .and_then(|f| f.set_modified(when))
            .unwrap_or_else(|e| panic!("{path}: {e}"));
    }
    FixtureRoot {
        root: copy.path().to_path_buf(),
        _copy: Some(copy),
    }
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("create dir");
    for entry in std::fs::read_dir(from).expect("read fixture dir") {
        let entry = entry.expect("dir entry");
        let (src, dst) = (entry.path(), to.join(entry.file_name()));
        let ft = entry.file_type().expect("file type");
        if ft.is_symlink() {
            std::os::unix::fs::symlink(std::fs::read_link(&src).expect("link"), &dst)
                .expect("symlink");
        } else if ft.is_dir() {
            copy_tree(&src, &dst);
        } else {
            std::fs::copy(&src, &dst).expect("copy");
        }
    }
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
pub mod zip;
