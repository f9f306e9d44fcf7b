//! Virtualization: reads the signals (CPUID, DMI, device tree, /proc, /sys, container markers) and
//! hands them to the pure classifier.

use subcap_proto::v1 as pb;

use super::Warnings;
use crate::root::Root;

/// Where CPUID answers come from: the processor, or a signature given on the command line.
#[derive(Debug, Clone, Default)]
pub enum CpuidSource {
    /// Read the processor natively (x86 on a live root only).
    #[default]
    Native,
    /// `--cpuid-vendor SIG`: the leaf 0x40000000 signature to assume; empty means no hypervisor.
    Override(String),
}

/// Collects the virtualization verdict of the host under `root`.
pub fn collect(_root: &Root, _cpuid: &CpuidSource, _w: &mut Warnings) -> pb::Virtualization {
    pb::Virtualization::default()
}
