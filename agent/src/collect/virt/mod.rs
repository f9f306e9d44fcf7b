//! Virtualization: reads the signals (CPUID, DMI, device tree, /proc, /sys, container markers) and
//! hands them to the pure classifier.
//!
//! [`signals`] reads through the scan root, [`classify`] decides with no I/O, [`cpuid`] reads the
//! processor. CPUID is native only on a live x86 root; `--cpuid-vendor` replaces it (fixture trees,
//! diagnosis). On a root that is not the running system and without `--cpuid-vendor`, CPUID is
//! unknown: the classifier then decides from the files alone (DMI, SMBIOS, device tree, /proc), and
//! an x86 tree gets a warning saying so.

pub mod classify;
pub mod cpuid;
pub mod signals;

use subcap_proto::v1 as pb;
use subcap_proto::vocab::VirtKind;

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
pub fn collect(root: &Root, cpuid: &CpuidSource, w: &mut Warnings) -> pb::Virtualization {
    let signals = signals::read(root, cpuid, w);
    let verdict = classify::classify(&signals);
    for d in &verdict.doubts {
        w.warn(d.source.clone(), d.message.clone());
    }
    to_proto(&signals, &verdict)
}

/// The report section: the verdict's words, its layers, and every signal as evidence (plus, for a
/// layer our vocabulary calls `other`, the name it was recognised as).
pub fn to_proto(signals: &signals::Signals, verdict: &classify::Verdict) -> pb::Virtualization {
    let mut evidence: Vec<pb::Evidence> = signals
        .evidence()
        .into_iter()
        .map(|(source, value)| pb::Evidence { source, value })
        .collect();
    for (i, l) in verdict.layers.iter().enumerate() {
        if let Some(name) = &l.recognised {
            evidence.push(pb::Evidence {
                source: "classifier".to_string(),
                value: format!(
                    "layer {} ({} other) recognised as {name}",
                    i + 1,
                    l.kind.as_str()
                ),
            });
        }
    }
    let kind = verdict.kind();
    pb::Virtualization {
        kind: kind.as_str().to_string(),
        technology: match kind {
            VirtKind::BareMetal => String::new(),
            _ => verdict
                .technology()
                .map(|t| t.as_str().to_string())
                .unwrap_or_default(),
        },
        cloud: verdict.cloud.as_str().to_string(),
        layers: verdict
            .layers
            .iter()
            .map(|l| pb::VirtLayer {
                kind: l.kind.as_str().to_string(),
                technology: l.technology.as_str().to_string(),
                decided_by: l.decided_by.clone(),
            })
            .collect(),
        evidence,
    }
}
