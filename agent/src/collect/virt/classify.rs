//! Pure classification of virtualization [`Signals`] into layers (from the machine outward), a
//! cloud and doubts. No I/O: tested with plain values.
//!
//! Precedence of the machine layer (the order of systemd-detect-virt's `detect_vm()`, with the
//! products virt-what names as well):
//! 1. DMI that names a product even when CPUID says KVM: VirtualBox, Parallels, Nutanix AHV,
//!    oVirt/RHV, Hitachi Virtage.
//! 2. DMI of a cloud built on KVM (Amazon EC2, Google Compute Engine, Alibaba Cloud): a VM, unless
//!    CPUID has no hypervisor bit, the SMBIOS VM bit is clear or the product is `.metal` (bare metal).
//! 3. `/proc/cpuinfo` emulators (User Mode Linux, PowerVM Lx86).
//! 4. Xen (`proc/xen`, `sys/hypervisor/type`, Xen DMI): dom0 (feature bit 11 or `control_d`), else
//!    PV or HVM (`sys/hypervisor/guest_type`, CPUID, DMI). A dom0 nested in another hypervisor
//!    reports that hypervisor's layer first.
//! 5. CPUID: the signature of the highest hypervisor leaf, `Microsoft Hv` only when no other one
//!    (Xen, KVM and Nutanix put a Hyper-V compatible leaf at 0x40000000 and their own above it).
//! 6. DMI vendor strings (KVM, OpenStack, KubeVirt, QEMU, VMware, bhyve, Hyper-V, Bochs, Apple),
//!    then Microsoft's "Virtual Machine" (Hyper-V, or Virtual PC when CPUID shows no Hyper-V).
//! 7. A lone `Microsoft Hv` CPUID leaf; `sys/hypervisor/type`.
//! 8. Device tree and POWER: `hypervisor/compatible`, KVM pseries guests, PowerVM LPARs (shared or
//!    dedicated from `lparcfg`), QEMU `fw-cfg`, kvmtool.
//! 9. s390 `/proc/sysinfo`: a PR/SM LPAR layer, then z/VM or KVM on top of it.
//! 10. SPARC logical domains; an unknown CPUID signature, the bare hypervisor bit or the SMBIOS
//!     VM bit: `other`.
//!
//! WSL (`microsoft`/`WSL` in the kernel release) replaces a Hyper-V layer. The container layer
//! follows systemd's `detect_container()` (OpenVZ, proot, `run/host/container-manager`,
//! `run/systemd/container`, PID 1's `container=`, `run/.containerenv`, `.dockerenv`), then
//! virt-what's cgroup paths, Linux-VServer and a cgroup namespace. Every source that agrees with
//! the deciding one is listed in `decided_by`.

use subcap_proto::vocab::{Cloud, Technology, VirtKind};

use super::cpuid::HYPERVISOR_BASE;
use super::signals::{
    xen_features_dom0, Arch, DmiField, Signals, CONTAINERENV, CPUINFO, DOCKERENV, DOCKERINIT, DT,
    DT_COMPATIBLE, DT_HMC_MANAGED, DT_HYPERVISOR, DT_PARTITION_NAME, HOST_CONTAINER_MANAGER,
    HYPERVISOR_FEATURES, HYPERVISOR_GUEST_TYPE, HYPERVISOR_TYPE, MDESC, OSRELEASE, PID1_ENVIRON,
    PROC_VERSION, PROC_VZ, PROC_XEN, SELF_STATUS, SMBIOS_TYPE0, SYSINFO, SYSTEMD_CONTAINER,
    VLDS_CTRL, XEN_CAPABILITIES,
};
use DmiField::*;
use Technology as T;

/// Azure's fixed chassis asset tag (on-premises Hyper-V gives each VM another one).
pub const AZURE_ASSET_TAG: &str = "7783-7084-3265-9085-8269-3286-77";

/// One layer of virtualization.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layer {
    pub kind: VirtKind,
    pub technology: Technology,
    /// The name virt-what or systemd-detect-virt give it when the technology is `other`.
    pub recognised: Option<String>,
    /// Evidence sources that decided it.
    pub decided_by: Vec<String>,
}

/// Something the classifier had to assume; reported as a warning.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Doubt {
    pub source: String,
    pub message: String,
}

/// The verdict: layers from the machine outward (none on bare metal), the cloud, the doubts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    pub layers: Vec<Layer>,
    pub cloud: Cloud,
    pub doubts: Vec<Doubt>,
}

impl Verdict {
    /// Kind of the innermost layer, `bare_metal` without layers.
    pub fn kind(&self) -> VirtKind {
        self.layers.last().map_or(VirtKind::BareMetal, |l| l.kind)
    }

    /// Technology of the innermost layer, none on bare metal.
    pub fn technology(&self) -> Option<Technology> {
        self.layers.last().map(|l| l.technology)
    }
}

/// What a signal names: a technology of the vocabulary, or `other` with the recognised name.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Found {
    tech: Technology,
    name: Option<String>,
}

impl Found {
    fn tech(tech: Technology) -> Found {
        Found { tech, name: None }
    }

    fn other(name: impl Into<String>) -> Found {
        Found {
            tech: T::Other,
            name: Some(name.into()),
        }
    }

    fn layer(self, kind_of_other: VirtKind, decided_by: Vec<String>) -> Layer {
        let kind = if self.tech == T::Other {
            kind_of_other
        } else {
            self.tech.kind()
        };
        Layer {
            kind,
            technology: self.tech,
            recognised: self.name,
            decided_by: dedup(decided_by),
        }
    }

    fn vm(self, decided_by: Vec<String>) -> Layer {
        self.layer(VirtKind::VirtualMachine, decided_by)
    }
}

/// CPUID hypervisor signatures, compared without NUL or space padding. `other` entries carry the
/// name virt-what or systemd-detect-virt print.
const SIGNATURES: &[(&str, Technology, &str)] = &[
    ("XenVMMXenVMM", T::XenHvm, ""),
    ("KVMKVMKVM", T::Kvm, ""),
    ("Linux KVM Hv", T::Kvm, ""),
    ("TCGTCGTCGTCG", T::QemuTcg, ""),
    ("VMwareVMware", T::Vmware, ""),
    ("Microsoft Hv", T::Hyperv, ""),
    ("bhyve bhyve", T::Bhyve, ""),
    ("VBoxVBoxVBox", T::Virtualbox, ""),
    ("prl hyperv", T::Parallels, ""),
    // Parallels with its words byte-swapped, as older versions report it.
    ("lrpepyh  vr", T::Parallels, ""),
    ("lrpepyh vr", T::Parallels, ""),
    ("QNXQVMBSQG", T::Other, "qnx"),
    ("ACRNACRNACRN", T::Other, "acrn"),
    ("SRESRESRESRE", T::Other, "sre"),
    ("Apple VZ", T::Other, "apple"),
    ("LKVMLKVMLKVM", T::Other, "lkvm"),
    ("OpenBSDVMM58", T::Other, "openbsd_vmm"),
    ("Jailhouse", T::Other, "jailhouse"),
];

/// The technology (and the name, for `other`) of a known CPUID hypervisor signature.
pub fn known_signature(sig: &str) -> Option<(Technology, Option<&'static str>)> {
    let s = sig.trim_matches(|c| c == '\0' || c == ' ');
    SIGNATURES
        .iter()
        .find(|(known, _, _)| *known == s)
        .map(|(_, t, name)| (*t, (!name.is_empty()).then_some(*name)))
}

fn found_of_signature(sig: &str) -> Option<Found> {
    known_signature(sig).map(|(tech, name)| Found {
        tech,
        name: name.map(str::to_string),
    })
}

/// What CPUID says, reduced.
#[derive(Debug, Default)]
struct CpuView {
    known: bool,
    bit: bool,
    bit_source: Option<String>,
    /// The highest-leaf known signature other than `Microsoft Hv`, with its sources.
    primary: Option<(Found, Vec<String>)>,
    /// Source of a `Microsoft Hv` leaf.
    hyperv: Option<String>,
    /// An unknown signature at the base leaf, with its source.
    unknown: Option<(String, String)>,
}

impl CpuView {
    fn of(s: &Signals) -> CpuView {
        let Some(c) = &s.cpuid else {
            return CpuView::default();
        };
        let mut v = CpuView {
            known: true,
            bit: c.hypervisor_bit,
            bit_source: Some(c.bit_source()),
            ..CpuView::default()
        };
        if !c.hypervisor_bit {
            return v;
        }
        let mut leaves: Vec<&(u32, String)> = c.leaves.iter().collect();
        leaves.sort_by_key(|l| std::cmp::Reverse(l.0));
        for (leaf, sig) in leaves {
            let src = c.leaf_source(*leaf);
            match found_of_signature(sig) {
                Some(f) if f.tech == T::Hyperv => {
                    if v.hyperv.is_none() {
                        v.hyperv = Some(src);
                    }
                }
                Some(f) => {
                    if v.primary.is_none() {
                        v.primary = Some((f, vec![c.bit_source(), src]));
                    }
                }
                None => {
                    if *leaf == HYPERVISOR_BASE && !sig.is_empty() {
                        v.unknown = Some((sig.clone(), src));
                    }
                }
            }
        }
        v
    }

    /// Sources of the bit plus `src`.
    fn with_bit(&self, src: &str) -> Vec<String> {
        let mut out: Vec<String> = self.bit_source.iter().cloned().collect();
        out.push(src.to_string());
        out
    }

    fn primary_is(&self, tech: Technology) -> bool {
        self.primary.as_ref().is_some_and(|(f, _)| f.tech == tech)
    }
}

/// DMI fields searched for vendor strings, in systemd's order (product name first, so that KVM
/// is found before QEMU), then the version fields where Hyper-V and VMware name themselves.
const VENDOR_FIELDS: [DmiField; 6] = [
    ProductName,
    SysVendor,
    BoardVendor,
    BiosVendor,
    ProductVersion,
    BiosVersion,
];

/// The sources of the DMI `fields` whose value satisfies `pred`.
fn dmi_where(s: &Signals, fields: &[DmiField], pred: impl Fn(&str) -> bool) -> Vec<String> {
    fields
        .iter()
        .filter(|f| s.dmi.get(**f).is_some_and(&pred))
        .map(|f| f.source().to_string())
        .collect()
}

/// What a DMI vendor string names, when it names a hypervisor by itself.
fn dmi_vendor_found(value: &str) -> Option<Found> {
    const TABLE: &[(&str, Technology, &str)] = &[
        ("KVM", T::Kvm, ""),
        ("OpenStack", T::Kvm, ""),
        ("KubeVirt", T::Kvm, ""),
        ("Red Hat", T::Kvm, ""),
        ("QEMU", T::QemuTcg, ""),
        ("VMware", T::Vmware, ""),
        ("VMW", T::Vmware, ""),
        ("BHYVE", T::Bhyve, ""),
        ("Hyper-V", T::Hyperv, ""),
        ("Bochs", T::Other, "bochs"),
        ("Apple Virtualization", T::Other, "apple"),
    ];
    TABLE
        .iter()
        .find(|(prefix, _, _)| value.starts_with(prefix))
        .map(|(_, tech, name)| Found {
            tech: *tech,
            name: (!name.is_empty()).then(|| name.to_string()),
        })
}

/// Microsoft's "Virtual Machine" product (Hyper-V, Azure, Virtual PC).
fn microsoft_vm(s: &Signals) -> Option<Vec<String>> {
    let vendor = s.dmi.get(SysVendor)?;
    let product = s.dmi.get(ProductName)?;
    (vendor.starts_with("Microsoft Corporation") && product.starts_with("Virtual Machine")).then(
        || {
            vec![
                SysVendor.source().to_string(),
                ProductName.source().to_string(),
            ]
        },
    )
}

/// Every signal that names a technology on its own, for listing the agreeing sources.
fn indications(s: &Signals, cpu: &CpuView) -> Vec<(Technology, String)> {
    let mut v = Vec::new();
    if let Some((f, srcs)) = &cpu.primary {
        if f.tech != T::Other {
            v.extend(srcs.iter().map(|src| (f.tech, src.clone())));
        }
    }
    if let Some(src) = &cpu.hyperv {
        v.extend(cpu.with_bit(src).into_iter().map(|src| (T::Hyperv, src)));
    }
    for f in VENDOR_FIELDS {
        if let Some(found) = s.dmi.get(f).and_then(dmi_vendor_found) {
            if found.tech != T::Other {
                v.push((found.tech, f.source().to_string()));
            }
        }
    }
    if let Some(srcs) = microsoft_vm(s) {
        v.extend(srcs.into_iter().map(|src| (T::Hyperv, src)));
    }
    v
}

fn corroborate(mut layer: Layer, inds: &[(Technology, String)]) -> Layer {
    for (tech, src) in inds {
        if *tech == layer.technology && !layer.decided_by.contains(src) {
            layer.decided_by.push(src.clone());
        }
    }
    layer
}

fn dedup(list: Vec<String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(list.len());
    for s in list {
        if !out.contains(&s) {
            out.push(s);
        }
    }
    out
}

fn strs(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

/// Classifies the signals of one host.
pub fn classify(s: &Signals) -> Verdict {
    let cpu = CpuView::of(s);
    let inds = indications(s, &cpu);
    let mut doubts = Vec::new();
    let mut layers: Vec<Layer> = machine(s, &cpu, &mut doubts)
        .into_iter()
        .map(|l| corroborate(l, &inds))
        .collect();
    wsl(s, &cpu, &mut layers);
    if let Some(c) = container(s) {
        layers.push(c);
    }
    Verdict {
        layers,
        cloud: cloud(s),
        doubts,
    }
}

fn machine(s: &Signals, cpu: &CpuView, doubts: &mut Vec<Doubt>) -> Vec<Layer> {
    if let Some(l) = dmi_product(s, cpu) {
        return vec![l];
    }
    if let Some(vm) = cloud_hosted(s, cpu) {
        return vm.into_iter().collect();
    }
    if let Some(l) = cpuinfo_emulator(s) {
        return vec![l];
    }
    if let Some(ls) = xen(s, cpu) {
        return ls;
    }
    if let Some((f, by)) = &cpu.primary {
        return vec![f.clone().vm(by.clone())];
    }
    if let Some(l) = dmi_vendor(s, cpu, doubts) {
        return vec![l];
    }
    if let Some(src) = &cpu.hyperv {
        return vec![Found::tech(T::Hyperv).vm(cpu.with_bit(src))];
    }
    if let Some(t) = &s.hypervisor.hv_type {
        return vec![Found::other(t.clone()).vm(strs(&[HYPERVISOR_TYPE]))];
    }
    if let Some(ls) = device_tree(s, doubts) {
        return ls;
    }
    if let Some(ls) = s390(s) {
        return ls;
    }
    if s.ldoms.mdesc {
        let (name, by) = if s.ldoms.control {
            ("ldoms-control", strs(&[MDESC, VLDS_CTRL]))
        } else {
            ("ldoms", strs(&[MDESC]))
        };
        return vec![Found::other(name).vm(by)];
    }
    if let Some((sig, src)) = &cpu.unknown {
        return vec![Found::other(sig.clone()).vm(cpu.with_bit(src))];
    }
    if cpu.bit {
        return vec![Found::other("vm-other").vm(cpu.bit_source.iter().cloned().collect())];
    }
    if s.smbios_vm_bit == Some(true) {
        return vec![Found::other("vm-other").vm(strs(&[SMBIOS_TYPE0]))];
    }
    Vec::new()
}

/// Products whose firmware names them even when CPUID says KVM.
fn dmi_product(s: &Signals, cpu: &CpuView) -> Option<Layer> {
    let mut vbox = dmi_where(s, &[SysVendor, BiosVendor], |v| {
        v.starts_with("innotek GmbH")
    });
    vbox.extend(dmi_where(s, &[ProductName, BoardName, BiosVersion], |v| {
        v.starts_with("VirtualBox")
    }));
    if vbox.is_empty() && (cpu.bit || s.smbios_vm_bit == Some(true)) {
        // Oracle's own servers say "Oracle Corporation" too: only a VM's firmware counts.
        vbox = dmi_where(s, &[SysVendor, BoardVendor], |v| {
            v.starts_with("Oracle Corporation")
        });
    }
    if !vbox.is_empty() {
        return Some(Found::tech(T::Virtualbox).vm(vbox));
    }
    let prl = dmi_where(s, &[SysVendor, ProductName, BiosVendor, BoardVendor], |v| {
        v.starts_with("Parallels")
    });
    if !prl.is_empty() {
        return Some(Found::tech(T::Parallels).vm(prl));
    }
    let vendor = s.dmi.get(SysVendor).unwrap_or("");
    let product = s.dmi.get(ProductName).unwrap_or("");
    if vendor.starts_with("Nutanix") && product.starts_with("AHV") {
        return Some(
            Found::tech(T::NutanixAhv).vm(strs(&[SysVendor.source(), ProductName.source()])),
        );
    }
    let ovirt = dmi_where(s, &[SysVendor, ProductName], |v| {
        v.starts_with("oVirt") || v.starts_with("RHEV Hypervisor")
    });
    if !ovirt.is_empty() {
        return Some(Found::tech(T::Ovirt).vm(ovirt));
    }
    if vendor.to_ascii_uppercase().contains("HITACHI") && product.contains("LPAR") {
        return Some(Found::other("virtage").layer(
            VirtKind::Partition,
            strs(&[SysVendor.source(), ProductName.source()]),
        ));
    }
    None
}

fn is_metal_product(product: &str) -> bool {
    product.ends_with(".metal") || product.contains(".metal-")
}

fn xen_present(s: &Signals) -> bool {
    s.hypervisor.proc_xen || s.hypervisor.hv_type.as_deref() == Some("xen")
}

/// A cloud built on KVM whose DMI names it: `Some(Some(vm))`, `Some(None)` for a bare-metal
/// instance, `None` when the DMI names no such cloud (or the instance runs on Xen).
fn cloud_hosted(s: &Signals, cpu: &CpuView) -> Option<Option<Layer>> {
    let mut by = dmi_where(s, &[SysVendor, BoardVendor, BiosVendor, ProductName], |v| {
        v.starts_with("Amazon EC2")
            || v.starts_with("Alibaba Cloud")
            || v == "Google"
            || v.starts_with("Google Compute Engine")
    });
    if by.is_empty() || xen_present(s) || cpu.primary_is(T::XenHvm) {
        return None;
    }
    if cpu.known {
        if !cpu.bit {
            return Some(None);
        }
        let (found, cpu_by) = match &cpu.primary {
            Some((f, srcs)) => (f.clone(), srcs.clone()),
            None => (
                Found::tech(T::Kvm),
                cpu.bit_source.iter().cloned().collect(),
            ),
        };
        let mut all = cpu_by;
        all.append(&mut by);
        return Some(Some(found.vm(all)));
    }
    match s.smbios_vm_bit {
        Some(true) => {
            by.push(SMBIOS_TYPE0.to_string());
            Some(Some(Found::tech(T::Kvm).vm(by)))
        }
        Some(false) => Some(None),
        None if s.dmi.get(ProductName).is_some_and(is_metal_product) => Some(None),
        None => Some(Some(Found::tech(T::Kvm).vm(by))),
    }
}

fn cpuinfo_emulator(s: &Signals) -> Option<Layer> {
    let vendor = s.cpuinfo.vendor_id.as_deref()?;
    if vendor.starts_with("User Mode Linux") {
        return Some(Found::other("uml").vm(strs(&[CPUINFO])));
    }
    if vendor.contains("PowerVM Lx86") {
        return Some(Found::other("powervm_lx86").vm(strs(&[CPUINFO])));
    }
    None
}

fn xen(s: &Signals, cpu: &CpuView) -> Option<Vec<Layer>> {
    let h = &s.hypervisor;
    let mut present: Vec<String> = Vec::new();
    if h.proc_xen {
        present.push(PROC_XEN.into());
    }
    if h.hv_type.as_deref() == Some("xen") {
        present.push(HYPERVISOR_TYPE.into());
    }
    let dt_xen = s
        .device_tree
        .hypervisor_compatible
        .as_deref()
        .is_some_and(|c| c.contains("xen"));
    if dt_xen {
        present.push(DT_HYPERVISOR.into());
    }
    let dmi_xen = dmi_where(s, &[SysVendor, BiosVendor, ProductName, BoardVendor], |v| {
        v.starts_with("Xen")
    });
    if present.is_empty() && dmi_xen.is_empty() {
        return None;
    }

    let mut dom0_by = Vec::new();
    if h.features.as_deref().and_then(xen_features_dom0) == Some(true) {
        dom0_by.push(HYPERVISOR_FEATURES.to_string());
    }
    let control_d = h
        .xen_capabilities
        .as_deref()
        .is_some_and(|c| c.split(',').any(|w| w.trim() == "control_d"));
    if control_d {
        dom0_by.push(XEN_CAPABILITIES.to_string());
    }
    if !dom0_by.is_empty() {
        let mut layers = Vec::new();
        if let Some((f, by)) = &cpu.primary {
            if f.tech != T::XenHvm {
                layers.push(f.clone().vm(by.clone()));
            }
        }
        dom0_by.extend(present);
        layers.push(Found::tech(T::XenDom0).vm(dom0_by));
        return Some(layers);
    }

    let cpu_xen: Vec<String> = match &cpu.primary {
        Some((f, by)) if f.tech == T::XenHvm => by.clone(),
        _ => Vec::new(),
    };
    let mut by = present;
    let tech = match h.guest_type.as_deref() {
        Some("PV") => {
            by.push(HYPERVISOR_GUEST_TYPE.into());
            T::XenPv
        }
        Some("HVM") | Some("PVH") => {
            by.push(HYPERVISOR_GUEST_TYPE.into());
            by.extend(cpu_xen);
            by.extend(dmi_xen);
            T::XenHvm
        }
        _ if !cpu_xen.is_empty() || !dmi_xen.is_empty() || dt_xen => {
            by.extend(cpu_xen);
            by.extend(dmi_xen);
            T::XenHvm
        }
        // A PV guest has no firmware (no DMI) and does not trap CPUID.
        _ => T::XenPv,
    };
    Some(vec![Found::tech(tech).vm(by)])
}

fn dmi_vendor(s: &Signals, cpu: &CpuView, doubts: &mut Vec<Doubt>) -> Option<Layer> {
    for f in VENDOR_FIELDS {
        let Some(found) = s.dmi.get(f).and_then(dmi_vendor_found) else {
            continue;
        };
        if found.tech == T::QemuTcg && !cpu.known {
            doubts.push(Doubt {
                source: f.source().to_string(),
                message: "QEMU machine with CPUID unknown: KVM acceleration cannot be told from \
                          TCG emulation, reported as qemu_tcg (pass --cpuid-vendor to decide)"
                    .to_string(),
            });
        }
        return Some(found.vm(vec![f.source().to_string()]));
    }
    if let Some(by) = microsoft_vm(s) {
        if cpu.known && cpu.hyperv.is_none() {
            return Some(Found::other("virtualpc").vm(by));
        }
        return Some(Found::tech(T::Hyperv).vm(by));
    }
    let qemu_cpu = s
        .cpuinfo
        .model_name
        .as_deref()
        .is_some_and(|m| m.contains("QEMU"));
    if qemu_cpu {
        return Some(Found::tech(T::QemuTcg).vm(strs(&[CPUINFO])));
    }
    None
}

fn device_tree(s: &Signals, doubts: &mut Vec<Doubt>) -> Option<Vec<Layer>> {
    let dt = &s.device_tree;
    let power = s.arch == Arch::Power
        || s.lparcfg.is_some()
        || dt.partition_name.is_some()
        || s.cpuinfo.platform.is_some();
    if let Some(c) = &dt.hypervisor_compatible {
        let found = if c.contains("linux,kvm") {
            Found::tech(if power { T::PowerKvm } else { T::Kvm })
        } else if c.contains("vmware") {
            Found::tech(T::Vmware)
        } else {
            Found::other(c.clone())
        };
        return Some(vec![found.vm(strs(&[DT_HYPERVISOR]))]);
    }

    let mut kvm_by: Vec<String> = Vec::new();
    if dt
        .compatible
        .as_deref()
        .is_some_and(|c| c.contains("qemu,pseries"))
    {
        kvm_by.push(DT_COMPATIBLE.into());
    }
    if let Some(l) = &s.lparcfg {
        if l.system_type
            .as_deref()
            .is_some_and(|t| t.contains("emulated by qemu"))
        {
            kvm_by.push(l.source.into());
        }
    }
    if s.cpuinfo
        .model
        .as_deref()
        .is_some_and(|m| m.contains("emulated by qemu"))
    {
        kvm_by.push(CPUINFO.into());
    }
    if !kvm_by.is_empty() {
        return Some(vec![Found::tech(T::PowerKvm).vm(kvm_by)]);
    }

    let hmc_partition = dt.partition_name.is_some() && dt.hmc_managed && !dt.qemu_graphic_width;
    let pseries = s
        .cpuinfo
        .platform
        .as_deref()
        .is_some_and(|p| p.starts_with("pSeries"));
    if s.lparcfg.is_some() || hmc_partition || pseries {
        let mut by: Vec<String> = Vec::new();
        if let Some(l) = &s.lparcfg {
            by.push(l.source.into());
        }
        if dt.partition_name.is_some() {
            by.push(DT_PARTITION_NAME.into());
        }
        if dt.hmc_managed {
            by.push(DT_HMC_MANAGED.into());
        }
        if pseries {
            by.push(CPUINFO.into());
        }
        let mode = s.lparcfg.as_ref().and_then(|l| l.shared_processor_mode);
        let tech = match mode {
            Some(false) => T::PowervmLparDedicated,
            Some(true) => T::PowervmLparShared,
            None => {
                doubts.push(Doubt {
                    source: s
                        .lparcfg
                        .as_ref()
                        .map_or(super::signals::LPARCFG, |l| l.source)
                        .into(),
                    message: "PowerVM LPAR whose shared_processor_mode is unknown: reported as \
                              shared (read lparcfg as root to decide)"
                        .to_string(),
                });
                T::PowervmLparShared
            }
        };
        return Some(vec![Found::tech(tech).vm(by)]);
    }

    if dt.fw_cfg.is_some() {
        doubts.push(Doubt {
            source: DT.to_string(),
            message: "QEMU fw-cfg device without CPUID: KVM acceleration cannot be told from TCG \
                      emulation, reported as qemu_tcg"
                .to_string(),
        });
        return Some(vec![Found::tech(T::QemuTcg).vm(strs(&[DT]))]);
    }
    if dt
        .compatible
        .as_deref()
        .is_some_and(|c| c.contains("linux,dummy-virt"))
    {
        return Some(vec![Found::other("lkvm").vm(strs(&[DT_COMPATIBLE]))]);
    }
    None
}

fn s390(s: &Signals) -> Option<Vec<Layer>> {
    let si = s.sysinfo.as_ref()?;
    let mut layers = Vec::new();
    if !si.lpar.is_empty() {
        layers.push(Found::tech(T::ZLpar).vm(strs(&[SYSINFO])));
    }
    if let Some(cp) = &si.control_program {
        // z/VM, or KVM/Linux (the only other control program Linux reports).
        let tech = if cp.contains("z/VM") { T::Zvm } else { T::ZKvm };
        layers.push(Found::tech(tech).vm(strs(&[SYSINFO])));
    }
    (!layers.is_empty()).then_some(layers)
}

fn is_wsl(osrelease: &str) -> bool {
    osrelease.to_ascii_lowercase().contains("microsoft") || osrelease.contains("WSL")
}

/// WSL runs in a Hyper-V utility VM: its layer replaces the Hyper-V one.
fn wsl(s: &Signals, cpu: &CpuView, layers: &mut Vec<Layer>) {
    if !s.osrelease.as_deref().is_some_and(is_wsl) {
        return;
    }
    let mut by = strs(&[OSRELEASE]);
    if let Some(src) = &cpu.hyperv {
        by.extend(cpu.with_bit(src));
    }
    let replace = layers
        .last()
        .is_some_and(|l| l.technology == T::Hyperv || l.recognised.as_deref() == Some("vm-other"));
    if replace {
        if let Some(last) = layers.pop() {
            by.extend(last.decided_by);
        }
    }
    layers.push(Found::tech(T::Wsl).vm(by));
}

/// What a container manager's name (`container=`, `run/host/container-manager`) means.
fn container_name(name: &str, s: &Signals) -> Found {
    let c = &s.container;
    match name.to_ascii_lowercase().as_str() {
        "lxc" | "lxc-libvirt" => Found::tech(T::Lxc),
        "docker" => Found::tech(T::Docker),
        "podman" => Found::tech(T::Podman),
        "systemd-nspawn" => Found::tech(T::SystemdNspawn),
        "openvz" => Found::tech(T::Openvz),
        // Some images hard-code container=oci: the files say which manager it is.
        "oci" if c.containerenv => Found::tech(T::Podman),
        "oci" if c.dockerenv || c.dockerinit => Found::tech(T::Docker),
        "zone"
            if c.proc_version
                .as_deref()
                .is_some_and(|v| v.contains("BrandZ virtual linux")) =>
        {
            Found::other("illumos-lx")
        }
        other => Found::other(other),
    }
}

/// The container runtime a cgroup path names.
fn cgroup_runtime(path: &str) -> Option<Found> {
    if path.contains("/docker/") || (path.contains("/docker-") && path.contains(".scope")) {
        Some(Found::tech(T::Docker))
    } else if path.contains("/libpod-") || path.contains("/libpod_parent") {
        Some(Found::tech(T::Podman))
    } else if path.contains("/lxc/") || path.contains("/lxc.payload") {
        Some(Found::tech(T::Lxc))
    } else if path.contains("/machine.slice/machine-") && !path.contains("qemu") {
        Some(Found::tech(if path.contains("lxc") {
            T::Lxc
        } else {
            T::SystemdNspawn
        }))
    } else if path.contains("/kubepods") {
        Some(if path.contains("crio-") {
            Found::other("crio")
        } else if path.contains("cri-containerd-") {
            Found::other("containerd")
        } else {
            Found::other("kubernetes")
        })
    } else {
        None
    }
}

fn container(s: &Signals) -> Option<Layer> {
    let c = &s.container;
    let mut found: Vec<(Found, String)> = Vec::new();
    if c.proc_vz && !c.proc_bc {
        found.push((Found::tech(T::Openvz), PROC_VZ.into()));
    }
    if let Some((src, comm)) = &c.tracer {
        if comm.starts_with("proot") {
            found.push((Found::other("proot"), src.clone()));
        }
    }
    for (src, value) in [
        (HOST_CONTAINER_MANAGER, &c.host_container_manager),
        (SYSTEMD_CONTAINER, &c.systemd_container),
        (PID1_ENVIRON, &c.pid1_container),
    ] {
        if let Some(name) = value {
            let f = container_name(name, s);
            if f.name.as_deref() == Some("illumos-lx") {
                found.push((f.clone(), PROC_VERSION.into()));
            }
            found.push((f, src.into()));
        }
    }
    for (flag, tech, src) in [
        (c.containerenv, T::Podman, CONTAINERENV),
        (c.dockerenv, T::Docker, DOCKERENV),
        (c.dockerinit, T::Docker, DOCKERINIT),
    ] {
        if flag {
            found.push((Found::tech(tech), src.into()));
        }
    }
    for (src, path) in &c.cgroups {
        if let Some(f) = cgroup_runtime(path) {
            found.push((f, (*src).into()));
        }
    }
    if c.vxid.as_deref().is_some_and(|v| v != "0") {
        found.push((Found::other("linux-vserver"), SELF_STATUS.into()));
    }
    if let Some((src, _)) = &c.cgroup_namespace {
        found.push((Found::other("container-other"), (*src).into()));
    }
    let (first, _) = found.first()?;
    let by = found
        .iter()
        .filter(|(f, _)| f == first)
        .map(|(_, src)| src.clone())
        .collect();
    Some(first.clone().layer(VirtKind::Container, by))
}

fn amazon_bios_version(v: &str) -> bool {
    // Xen-based EC2 instances: "4.11.amazon".
    v.strip_suffix(".amazon").is_some_and(|head| {
        let parts: Vec<&str> = head.split('.').collect();
        parts.len() >= 2
            && parts
                .iter()
                .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()))
    })
}

/// The public cloud the DMI (or Xen's uuid) names; clouds have no network-free signal otherwise.
fn cloud(s: &Signals) -> Cloud {
    let d = &s.dmi;
    let has = |fields: &[DmiField], pred: &dyn Fn(&str) -> bool| {
        fields.iter().any(|f| d.get(*f).is_some_and(pred))
    };
    let aws = has(
        &[
            SysVendor,
            BiosVendor,
            BoardVendor,
            ChassisVendor,
            ChassisAssetTag,
        ],
        &|v| v.starts_with("Amazon EC2"),
    ) || d.get(BiosVersion).is_some_and(amazon_bios_version)
        || s.hypervisor
            .uuid
            .as_deref()
            .is_some_and(|u| u.to_ascii_lowercase().starts_with("ec2"));
    if aws {
        return Cloud::Aws;
    }
    if d.get(ChassisAssetTag) == Some(AZURE_ASSET_TAG) {
        return Cloud::Azure;
    }
    if d.get(ProductName)
        .is_some_and(|v| v.starts_with("Google Compute Engine"))
        || d.get(SysVendor) == Some("Google")
    {
        return Cloud::Gcp;
    }
    if d.get(ChassisAssetTag) == Some("OracleCloud.com") {
        return Cloud::Oracle;
    }
    if d.get(SysVendor).is_some_and(|v| v.starts_with("Alibaba")) {
        return Cloud::Alibaba;
    }
    if has(&[ChassisVendor, ChassisAssetTag], &|v| {
        v.contains("IBM:Cloud") || v.to_ascii_lowercase().contains("ibmcloud")
    }) {
        return Cloud::IbmCloud;
    }
    if has(&[ProductName, SysVendor], &|v| v.starts_with("OpenStack")) {
        return Cloud::Openstack;
    }
    Cloud::None
}

#[cfg(test)]
mod tests;
