//! IBM install signatures: SWID tags, slmtags, Installation Manager, Db2, MQ, packages, install roots.

use std::path::PathBuf;
use std::time::Duration;

use subcap_proto::v1 as pb;

use super::Warnings;
use crate::root::Root;

/// Bounds on the search for IBM installs: never a walk of the whole filesystem.
#[derive(Debug, Clone)]
pub struct SearchLimits {
    /// Extra directories (relative to the root) searched like the known install roots.
    pub extra_paths: Vec<PathBuf>,
    /// Deepest directory level below an install root that is visited.
    pub max_depth: usize,
    /// Most directory entries examined in all.
    pub max_files: usize,
    /// Wall-clock budget for the whole search.
    pub time_budget: Duration,
}

impl Default for SearchLimits {
    fn default() -> Self {
        SearchLimits {
            extra_paths: Vec::new(),
            max_depth: 6,
            max_files: 20_000,
            time_budget: Duration::from_secs(2),
        }
    }
}

/// Collects the IBM installations found under `root`.
pub fn collect(_root: &Root, _limits: &SearchLimits, _w: &mut Warnings) -> Vec<pb::IbmInstall> {
    Vec::new()
}
