//! ILMT/BigFix agent health: client and disconnected scanner installed, version, running, last scans.

use subcap_proto::v1 as pb;

use super::Warnings;
use crate::root::Root;

/// What the ILMT agent collector found: the agents' health and the BigFix computer id (empty when
/// unreadable), which belongs to the host identity.
#[derive(Debug, Default)]
pub struct Collected {
    pub health: pb::IlmtAgentHealth,
    pub bigfix_computer_id: String,
}

/// Collects the health of the ILMT agents under `root`.
pub fn collect(_root: &Root, _w: &mut Warnings) -> Collected {
    Collected::default()
}
