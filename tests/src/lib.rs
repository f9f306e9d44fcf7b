//! Helpers shared by subcap's end-to-end tests: where the fixtures are.
#![forbid(unsafe_code)]

use std::path::PathBuf;

/// `tests/fixtures` in the source tree.
pub fn fixtures_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

/// `tests/fixtures/hosts/NAME`: one host's fixture (its `root/` tree and expectations).
pub fn host_fixture(name: &str) -> PathBuf {
    fixtures_dir().join("hosts").join(name)
}
