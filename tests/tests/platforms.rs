//! Every host fixture scanned end to end through `subcap_agent::scan::scan`: the virtualization
//! verdict against a table written by hand, every `decided_by` present in the evidence, and no
//! fixture directory left out of the table. Then the live root `/` of the machine running the
//! tests, against what `systemd-detect-virt` says about it.

use std::collections::BTreeSet;
use std::fs;
use std::path::Path;
use std::process::Command;
use std::time::SystemTime;

use subcap_agent::collect::virt::CpuidSource;
use subcap_agent::scan::{scan, ScanOptions};
use subcap_proto::v1 as pb;
use subcap_tests::{fixtures_dir, host_fixture};

/// One fixture's expected verdict. `layers` go from the machine outward, as `(kind, technology)`.
struct Row {
    fixture: &'static str,
    kind: &'static str,
    technology: &'static str,
    cloud: &'static str,
    layers: &'static [(&'static str, &'static str)],
}

const VM: &str = "virtual_machine";
const PART: &str = "partition";
const CT: &str = "container";

const fn row(
    fixture: &'static str,
    kind: &'static str,
    technology: &'static str,
    cloud: &'static str,
    layers: &'static [(&'static str, &'static str)],
) -> Row {
    Row {
        fixture,
        kind,
        technology,
        cloud,
        layers,
    }
}

const TABLE: &[Row] = &[
    row("baremetal-x86-2socket", "bare_metal", "", "none", &[]),
    row("vmware-vm", VM, "vmware", "none", &[(VM, "vmware")]),
    row("hyperv-onprem", VM, "hyperv", "none", &[(VM, "hyperv")]),
    row("azure-vm", VM, "hyperv", "azure", &[(VM, "hyperv")]),
    row("aws-nitro-vm", VM, "kvm", "aws", &[(VM, "kvm")]),
    row("aws-metal", "bare_metal", "", "aws", &[]),
    row("aws-graviton-vm", VM, "kvm", "aws", &[(VM, "kvm")]),
    row("gcp-vm", VM, "kvm", "gcp", &[(VM, "kvm")]),
    row("openstack-kvm", VM, "kvm", "openstack", &[(VM, "kvm")]),
    row("qemu-tcg", VM, "qemu_tcg", "none", &[(VM, "qemu_tcg")]),
    row(
        "virtualbox",
        VM,
        "virtualbox",
        "none",
        &[(VM, "virtualbox")],
    ),
    row("xen-pv", VM, "xen_pv", "none", &[(VM, "xen_pv")]),
    row("xen-dom0", VM, "xen_dom0", "none", &[(VM, "xen_dom0")]),
    row(
        "powervm-shared-lpar",
        PART,
        "powervm_lpar_shared",
        "none",
        &[(PART, "powervm_lpar_shared")],
    ),
    row(
        "powervm-dedicated-lpar",
        PART,
        "powervm_lpar_dedicated",
        "none",
        &[(PART, "powervm_lpar_dedicated")],
    ),
    row(
        "zvm-guest",
        VM,
        "zvm",
        "none",
        &[(PART, "z_lpar"), (VM, "zvm")],
    ),
    row("s390-lpar", PART, "z_lpar", "none", &[(PART, "z_lpar")]),
    row(
        "docker-in-vmware",
        CT,
        "docker",
        "none",
        &[(VM, "vmware"), (CT, "docker")],
    ),
    row(
        "podman",
        CT,
        "podman",
        "none",
        &[(VM, "kvm"), (CT, "podman")],
    ),
    row("lxc", CT, "lxc", "none", &[(CT, "lxc")]),
    row("wsl", VM, "wsl", "none", &[(VM, "wsl")]),
    // Extras: one per remaining vocabulary word and cloud.
    row("xen-hvm", VM, "xen_hvm", "none", &[(VM, "xen_hvm")]),
    row("parallels", VM, "parallels", "none", &[(VM, "parallels")]),
    row("bhyve", VM, "bhyve", "none", &[(VM, "bhyve")]),
    row(
        "nutanix-ahv",
        VM,
        "nutanix_ahv",
        "none",
        &[(VM, "nutanix_ahv")],
    ),
    row("ovirt", VM, "ovirt", "none", &[(VM, "ovirt")]),
    row("power-kvm", VM, "power_kvm", "none", &[(VM, "power_kvm")]),
    row(
        "z-kvm",
        VM,
        "z_kvm",
        "none",
        &[(PART, "z_lpar"), (VM, "z_kvm")],
    ),
    row("openvz", CT, "openvz", "none", &[(CT, "openvz")]),
    row(
        "systemd-nspawn",
        CT,
        "systemd_nspawn",
        "none",
        &[(VM, "kvm"), (CT, "systemd_nspawn")],
    ),
    row("oracle-cloud", VM, "kvm", "oracle", &[(VM, "kvm")]),
    row("alibaba-cloud", VM, "kvm", "alibaba", &[(VM, "kvm")]),
    row("ibm-cloud", VM, "kvm", "ibm_cloud", &[(VM, "kvm")]),
    row("acrn-vm", VM, "other", "none", &[(VM, "other")]),
];

/// The CPUID a fixture's host reports: `cpuid-vendor` holds the leaf 0x40000000 signature
/// (`none` for no hypervisor bit); without the file (non-x86) CPUID is unknown.
fn cpuid_of(fixture: &Path) -> CpuidSource {
    match fs::read_to_string(fixture.join("cpuid-vendor")) {
        Ok(text) => {
            let sig = text.strip_suffix('\n').unwrap_or(&text);
            CpuidSource::Override(if sig == "none" {
                String::new()
            } else {
                sig.to_string()
            })
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => CpuidSource::Native,
        Err(e) => panic!("{}: {e}", fixture.join("cpuid-vendor").display()),
    }
}

fn scan_root(root: &Path, cpuid: CpuidSource) -> pb::HostReport {
    let opts = ScanOptions {
        root: root.to_path_buf(),
        cpuid,
        ..ScanOptions::default()
    };
    scan(&opts, SystemTime::now(), "platforms-test".to_string())
}

/// Problems with one verdict's internal consistency: layers decided by something, that something
/// in the evidence, and kind/technology naming the innermost layer.
fn consistency(v: &pb::Virtualization) -> Vec<String> {
    let mut out = Vec::new();
    let sources: BTreeSet<&str> = v.evidence.iter().map(|e| e.source.as_str()).collect();
    for (i, l) in v.layers.iter().enumerate() {
        if l.decided_by.is_empty() {
            out.push(format!(
                "layer {} ({}) decided by nothing",
                i + 1,
                l.technology
            ));
        }
        for src in &l.decided_by {
            if !sources.contains(src.as_str()) {
                out.push(format!(
                    "layer {} ({}) decided by {src:?}, which is not in the evidence {sources:?}",
                    i + 1,
                    l.technology
                ));
            }
        }
    }
    match v.layers.last() {
        Some(l) if l.kind != v.kind || l.technology != v.technology => out.push(format!(
            "innermost layer {}/{} but verdict {}/{}",
            l.kind, l.technology, v.kind, v.technology
        )),
        None if v.kind != "bare_metal" || !v.technology.is_empty() => {
            out.push(format!("no layers but verdict {}/{}", v.kind, v.technology))
        }
        _ => {}
    }
    out
}

#[test]
fn every_fixture_has_the_verdict_of_its_row() {
    let hosts = fixtures_dir().join("hosts");
    let mut dirs: Vec<String> = fs::read_dir(&hosts)
        .unwrap_or_else(|e| panic!("{}: {e}", hosts.display()))
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    dirs.sort();
    let rows: Vec<&str> = TABLE.iter().map(|r| r.fixture).collect();
    let untested: Vec<&String> = dirs
        .iter()
        .filter(|d| !rows.contains(&d.as_str()))
        .collect();
    let missing: Vec<&&str> = rows
        .iter()
        .filter(|r| !dirs.iter().any(|d| d == **r))
        .collect();
    assert!(
        untested.is_empty(),
        "fixture directories without a row in TABLE (add one): {untested:?}"
    );
    assert!(
        missing.is_empty(),
        "rows without a fixture directory: {missing:?}"
    );

    let mut failures = Vec::new();
    for r in TABLE {
        let dir = host_fixture(r.fixture);
        let report = scan_root(&dir.join("root"), cpuid_of(&dir));
        let Some(v) = report.virtualization.as_ref() else {
            failures.push(format!("{}: no virtualization section", r.fixture));
            continue;
        };
        let layers: Vec<(&str, &str)> = v
            .layers
            .iter()
            .map(|l| (l.kind.as_str(), l.technology.as_str()))
            .collect();
        if v.kind != r.kind
            || v.technology != r.technology
            || v.cloud != r.cloud
            || layers != r.layers
        {
            failures.push(format!(
                "{}: want {} {} cloud {} layers {:?}; got {} {} cloud {} layers {:?}",
                r.fixture,
                r.kind,
                r.technology,
                r.cloud,
                r.layers,
                v.kind,
                v.technology,
                v.cloud,
                layers
            ));
        }
        for p in consistency(v) {
            failures.push(format!("{}: {p}", r.fixture));
        }
        // A complete fixture leaves the virtualization collector nothing to complain about.
        for w in report
            .warnings
            .iter()
            .filter(|w| w.collector == "virtualization")
        {
            failures.push(format!(
                "{}: virtualization warning {}: {}",
                r.fixture, w.source, w.message
            ));
        }
        // A layer outside the vocabulary still says what it was recognised as.
        if r.technology == "other"
            && !v
                .evidence
                .iter()
                .any(|e| e.source == "classifier" && e.value.contains("recognised as"))
        {
            failures.push(format!("{}: other without its recognised name", r.fixture));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[test]
fn recognised_name_of_an_other_hypervisor_is_in_the_evidence() {
    let dir = host_fixture("acrn-vm");
    let report = scan_root(&dir.join("root"), cpuid_of(&dir));
    let v = report.virtualization.expect("virtualization section");
    let values: Vec<String> = v
        .evidence
        .iter()
        .map(|e| format!("{} = {}", e.source, e.value))
        .collect();
    assert!(
        values.contains(&"cli:--cpuid-vendor = ACRNACRNACRN".to_string()),
        "{values:?}"
    );
    assert!(
        values
            .iter()
            .any(|e| e == "classifier = layer 1 (virtual_machine other) recognised as acrn"),
        "{values:?}"
    );
}

/// The technologies our vocabulary may give a layer systemd-detect-virt names `word`.
fn systemd_word_means(word: &str) -> &'static [&'static str] {
    match word {
        "kvm" => &["kvm", "power_kvm", "z_kvm", "nutanix_ahv", "ovirt"],
        "amazon" | "google" => &["kvm", "xen_hvm"],
        "qemu" => &["qemu_tcg", "power_kvm"],
        "xen" => &["xen_hvm", "xen_pv", "xen_dom0"],
        "vmware" => &["vmware"],
        "oracle" => &["virtualbox"],
        "microsoft" => &["hyperv", "wsl"],
        "zvm" => &["zvm"],
        "parallels" => &["parallels"],
        "bhyve" => &["bhyve"],
        "powervm" => &["powervm_lpar_shared", "powervm_lpar_dedicated"],
        "docker" => &["docker"],
        "podman" => &["podman"],
        "lxc" | "lxc-libvirt" => &["lxc"],
        "systemd-nspawn" => &["systemd_nspawn"],
        "openvz" => &["openvz"],
        "wsl" => &["wsl"],
        _ => &["other"],
    }
}

/// `systemd-detect-virt FLAG`'s word (`none` when it finds nothing), or `None` when it cannot run.
fn systemd_detect_virt(flag: &str) -> Option<String> {
    let out = Command::new("systemd-detect-virt")
        .arg(flag)
        .output()
        .ok()?;
    let word = String::from_utf8_lossy(&out.stdout).trim().to_string();
    (!word.is_empty()).then_some(word)
}

#[test]
fn live_root_agrees_with_systemd_detect_virt() {
    let report = scan_root(Path::new("/"), CpuidSource::Native);
    let v = report.virtualization.expect("virtualization section");
    let problems = consistency(&v);
    assert!(problems.is_empty(), "{problems:?}");

    let (Some(vm), Some(container)) = (
        systemd_detect_virt("--vm"),
        systemd_detect_virt("--container"),
    ) else {
        // Without the reference tool only the verdict's own consistency can be checked here.
        eprintln!("systemd-detect-virt not available: live verdict checked for consistency only");
        return;
    };
    let machine: Vec<&pb::VirtLayer> = v.layers.iter().filter(|l| l.kind != "container").collect();
    let containers: Vec<&pb::VirtLayer> =
        v.layers.iter().filter(|l| l.kind == "container").collect();
    let shown = format!(
        "systemd-detect-virt --vm {vm}, --container {container}; ours {:?}",
        v.layers
            .iter()
            .map(|l| format!("{} {} by {:?}", l.kind, l.technology, l.decided_by))
            .collect::<Vec<_>>()
    );

    if container == "wsl" {
        // systemd calls WSL a container; our vocabulary calls it the machine layer.
        assert_eq!(
            machine.last().map(|l| l.technology.as_str()),
            Some("wsl"),
            "{shown}"
        );
    } else if container == "none" {
        assert!(containers.is_empty(), "{shown}");
    } else {
        assert_eq!(containers.len(), 1, "{shown}");
        assert!(
            systemd_word_means(&container).contains(&containers[0].technology.as_str()),
            "{shown}"
        );
    }
    if vm == "none" {
        // systemd reports an s390 LPAR as no VM; a partition layer is all we may add.
        assert!(machine.iter().all(|l| l.kind == "partition"), "{shown}");
    } else if container != "wsl" {
        let innermost = machine.last().map(|l| l.technology.as_str()).unwrap_or("");
        assert!(systemd_word_means(&vm).contains(&innermost), "{shown}");
    }
    // Layers go from the machine outward: the container, if any, is the innermost one.
    if !containers.is_empty() {
        assert_eq!(
            v.layers.last().map(|l| l.kind.as_str()),
            Some("container"),
            "{shown}"
        );
    }
}
