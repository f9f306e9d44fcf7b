//! The virtualization signals: plain values read through the scan root (CPUID, DMI, SMBIOS, device
//! tree, /proc and /sys files, container markers), the pure parsers that make them, and the
//! evidence list they give. Only [`read`] does I/O.

use super::cpuid::{self, CpuidReading, HYPERVISOR_BASE};
use super::CpuidSource;
use crate::collect::{identity, probe, Warnings};
use crate::root::{ReadError, Root};

/// Pseudo-source of every CPUID value given with `--cpuid-vendor`.
pub const CLI_CPUID: &str = "cli:--cpuid-vendor";
/// Pseudo-source of the native hypervisor bit.
pub const CPUID_BIT: &str = "cpuid:1.ecx.31";

pub const SMBIOS_TYPE0: &str = "sys/firmware/dmi/entries/0-0/raw";
pub const CPUINFO: &str = "proc/cpuinfo";
pub const OSRELEASE: &str = "proc/sys/kernel/osrelease";
pub const PROC_XEN: &str = "proc/xen";
pub const XEN_CAPABILITIES: &str = "proc/xen/capabilities";
pub const HYPERVISOR_TYPE: &str = "sys/hypervisor/type";
pub const HYPERVISOR_GUEST_TYPE: &str = "sys/hypervisor/guest_type";
pub const HYPERVISOR_FEATURES: &str = "sys/hypervisor/properties/features";
pub const HYPERVISOR_UUID: &str = "sys/hypervisor/uuid";
pub const DT: &str = "proc/device-tree";
pub const DT_HYPERVISOR: &str = "proc/device-tree/hypervisor/compatible";
pub const DT_COMPATIBLE: &str = "proc/device-tree/compatible";
pub const DT_MODEL: &str = "proc/device-tree/model";
pub const DT_PARTITION_NAME: &str = "proc/device-tree/ibm,partition-name";
pub const DT_HMC_MANAGED: &str = "proc/device-tree/hmc-managed?";
pub const DT_QEMU_GRAPHIC: &str = "proc/device-tree/chosen/qemu,graphic-width";
pub const LPARCFG: &str = "proc/powerpc/lparcfg";
pub const LPARCFG_OLD: &str = "proc/ppc64/lparcfg";
pub const SYSINFO: &str = "proc/sysinfo";
pub const MDESC: &str = "dev/mdesc";
pub const VLDS_CTRL: &str = "sys/class/vlds/ctrl";
pub const VLDS_SP: &str = "sys/class/vlds/sp";
pub const HOST_CONTAINER_MANAGER: &str = "run/host/container-manager";
pub const SYSTEMD_CONTAINER: &str = "run/systemd/container";
pub const PID1_ENVIRON: &str = "proc/1/environ";
pub const CONTAINERENV: &str = "run/.containerenv";
pub const DOCKERENV: &str = ".dockerenv";
pub const DOCKERINIT: &str = ".dockerinit";
pub const PROC_VZ: &str = "proc/vz";
pub const PROC_BC: &str = "proc/bc";
pub const PID1_CGROUP: &str = "proc/1/cgroup";
pub const SELF_CGROUP: &str = "proc/self/cgroup";
pub const SELF_STATUS: &str = "proc/self/status";
pub const PROC_VERSION: &str = "proc/version";

/// Largest environment of PID 1 read (it is small; this only bounds a hostile file).
const ENVIRON_LIMIT: u64 = 256 * 1024;
/// Largest SMBIOS structure read.
const SMBIOS_LIMIT: u64 = 64 * 1024;

/// The processor family, as far as the signals tell it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Arch {
    X86,
    Arm,
    Power,
    S390,
    Sparc,
    #[default]
    Unknown,
}

impl Arch {
    /// From a `uname -m` style name.
    pub fn from_name(name: &str) -> Arch {
        let n = name.to_ascii_lowercase();
        if n == "x86_64" || n == "x86" || n == "amd64" || (n.starts_with('i') && n.ends_with("86"))
        {
            Arch::X86
        } else if n.starts_with("aarch64") || n.starts_with("arm") {
            Arch::Arm
        } else if n.starts_with("ppc") || n.starts_with("powerpc") {
            Arch::Power
        } else if n.starts_with("s390") {
            Arch::S390
        } else if n.starts_with("sparc") {
            Arch::Sparc
        } else {
            Arch::Unknown
        }
    }
}

/// Whether CPUID came from the processor or from the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CpuidOrigin {
    Native,
    Override,
}

/// What CPUID said (absent from [`Signals`] when unknown: not x86, or not the live system).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cpuid {
    pub origin: CpuidOrigin,
    pub hypervisor_bit: bool,
    /// `(leaf, signature)` of the hypervisor leaves that hold one.
    pub leaves: Vec<(u32, String)>,
}

impl Cpuid {
    /// The evidence source of the hypervisor bit.
    pub fn bit_source(&self) -> String {
        match self.origin {
            CpuidOrigin::Native => CPUID_BIT.to_string(),
            CpuidOrigin::Override => CLI_CPUID.to_string(),
        }
    }

    /// The evidence source of one hypervisor leaf, e.g. `cpuid:0x40000100`.
    pub fn leaf_source(&self, leaf: u32) -> String {
        match self.origin {
            CpuidOrigin::Native => format!("cpuid:{leaf:#010x}"),
            CpuidOrigin::Override => CLI_CPUID.to_string(),
        }
    }

    /// CPUID as `--cpuid-vendor SIG` describes it: the base leaf holds `sig`, and the hypervisor bit
    /// is set iff `sig` is not empty.
    pub fn from_override(sig: &str) -> Cpuid {
        Cpuid {
            origin: CpuidOrigin::Override,
            hypervisor_bit: !sig.is_empty(),
            leaves: if sig.is_empty() {
                Vec::new()
            } else {
                vec![(HYPERVISOR_BASE, sig.to_string())]
            },
        }
    }

    pub fn from_native(r: CpuidReading) -> Cpuid {
        Cpuid {
            origin: CpuidOrigin::Native,
            hypervisor_bit: r.hypervisor_bit,
            leaves: r.leaves,
        }
    }
}

/// The DMI attributes read from `sys/class/dmi/id/`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DmiField {
    SysVendor,
    ProductName,
    ProductVersion,
    BiosVendor,
    BiosVersion,
    BoardVendor,
    BoardName,
    ChassisVendor,
    ChassisAssetTag,
}

impl DmiField {
    pub const ALL: [DmiField; 9] = [
        DmiField::SysVendor,
        DmiField::ProductName,
        DmiField::ProductVersion,
        DmiField::BiosVendor,
        DmiField::BiosVersion,
        DmiField::BoardVendor,
        DmiField::BoardName,
        DmiField::ChassisVendor,
        DmiField::ChassisAssetTag,
    ];

    /// The file's path relative to the root (its evidence source).
    pub const fn source(self) -> &'static str {
        match self {
            DmiField::SysVendor => "sys/class/dmi/id/sys_vendor",
            DmiField::ProductName => "sys/class/dmi/id/product_name",
            DmiField::ProductVersion => "sys/class/dmi/id/product_version",
            DmiField::BiosVendor => "sys/class/dmi/id/bios_vendor",
            DmiField::BiosVersion => "sys/class/dmi/id/bios_version",
            DmiField::BoardVendor => "sys/class/dmi/id/board_vendor",
            DmiField::BoardName => "sys/class/dmi/id/board_name",
            DmiField::ChassisVendor => "sys/class/dmi/id/chassis_vendor",
            DmiField::ChassisAssetTag => "sys/class/dmi/id/chassis_asset_tag",
        }
    }
}

/// DMI values that were readable and not empty.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Dmi {
    values: Vec<(DmiField, String)>,
}

impl Dmi {
    pub fn get(&self, field: DmiField) -> Option<&str> {
        self.values
            .iter()
            .find(|(f, _)| *f == field)
            .map(|(_, v)| v.as_str())
    }

    /// Sets `field` (an empty value removes it).
    pub fn set(&mut self, field: DmiField, value: &str) {
        self.values.retain(|(f, _)| *f != field);
        let v = value.trim();
        if !v.is_empty() {
            self.values.push((field, v.to_string()));
        }
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }
}

/// The fields of `/proc/cpuinfo` that tell something about virtualization (first CPU only).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CpuInfo {
    pub vendor_id: Option<String>,
    pub model_name: Option<String>,
    /// POWER: `platform` (pSeries, PowerNV) and `model` (`IBM pSeries (emulated by qemu)`).
    pub platform: Option<String>,
    pub model: Option<String>,
    /// POWER and SPARC: `cpu`; SPARC: `type` (sun4v).
    pub cpu: Option<String>,
    pub cpu_type: Option<String>,
}

impl CpuInfo {
    /// Parses the first value of each field.
    pub fn parse(text: &str) -> CpuInfo {
        let mut c = CpuInfo::default();
        for line in text.lines() {
            let Some((k, v)) = line.split_once(':') else {
                continue;
            };
            let v = v.trim();
            if v.is_empty() {
                continue;
            }
            let slot = match k.trim() {
                "vendor_id" => &mut c.vendor_id,
                "model name" => &mut c.model_name,
                "platform" => &mut c.platform,
                "model" => &mut c.model,
                "cpu" => &mut c.cpu,
                "type" => &mut c.cpu_type,
                _ => continue,
            };
            let numeric = v.chars().all(|ch| ch.is_ascii_digit());
            if slot.is_none() && !(k.trim() == "model" && numeric) {
                *slot = Some(v.to_string());
            }
        }
        c
    }

    fn summary(&self) -> String {
        let fields = [
            ("vendor_id", &self.vendor_id),
            ("model name", &self.model_name),
            ("platform", &self.platform),
            ("model", &self.model),
            ("cpu", &self.cpu),
            ("type", &self.cpu_type),
        ];
        fields
            .iter()
            .filter_map(|(k, v)| v.as_ref().map(|v| format!("{k}: {v}")))
            .collect::<Vec<_>>()
            .join("; ")
    }
}

/// `/proc/xen` and `/sys/hypervisor`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Hypervisor {
    pub proc_xen: bool,
    pub xen_capabilities: Option<String>,
    pub hv_type: Option<String>,
    pub guest_type: Option<String>,
    pub features: Option<String>,
    pub uuid: Option<String>,
}

/// Xen feature bit of the hardware domain (dom0), `XENFEAT_dom0` in Xen's public headers.
pub const XENFEAT_DOM0: u32 = 11;

/// Whether the hex feature word of `sys/hypervisor/properties/features` has the dom0 bit, or `None`
/// when it is not hex.
pub fn xen_features_dom0(text: &str) -> Option<bool> {
    let t = text.trim();
    let t = t.strip_prefix("0x").unwrap_or(t);
    u64::from_str_radix(t, 16)
        .ok()
        .map(|v| v & (1 << XENFEAT_DOM0) != 0)
}

/// The device tree (ARM, POWER, RISC-V).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeviceTree {
    pub hypervisor_compatible: Option<String>,
    pub compatible: Option<String>,
    pub model: Option<String>,
    pub partition_name: Option<String>,
    pub hmc_managed: bool,
    pub qemu_graphic_width: bool,
    /// Name of a top-level node with `fw-cfg` in it (QEMU's firmware configuration device).
    pub fw_cfg: Option<String>,
}

/// A device-tree string property: NUL-separated strings, shown joined with `,`.
pub fn dt_strings(raw: &str) -> String {
    raw.split('\0')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(",")
}

/// POWER `lparcfg` fields that matter here.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Lparcfg {
    /// Which of the two paths it was read from.
    pub source: &'static str,
    pub shared_processor_mode: Option<bool>,
    pub system_type: Option<String>,
}

impl Lparcfg {
    pub fn parse(source: &'static str, text: &str) -> Lparcfg {
        let mut l = Lparcfg {
            source,
            ..Lparcfg::default()
        };
        for line in text.lines() {
            let Some((k, v)) = line.split_once('=') else {
                continue;
            };
            match k.trim() {
                "shared_processor_mode" => match v.trim() {
                    "1" => l.shared_processor_mode = Some(true),
                    "0" => l.shared_processor_mode = Some(false),
                    _ => {}
                },
                "system_type" => l.system_type = Some(v.trim().to_string()),
                _ => {}
            }
        }
        l
    }

    fn summary(&self) -> String {
        let mut parts = Vec::new();
        if let Some(t) = &self.system_type {
            parts.push(format!("system_type={t}"));
        }
        match self.shared_processor_mode {
            Some(true) => parts.push("shared_processor_mode=1".to_string()),
            Some(false) => parts.push("shared_processor_mode=0".to_string()),
            None => parts.push("shared_processor_mode absent".to_string()),
        }
        parts.join("; ")
    }
}

/// s390 `/proc/sysinfo` fields that matter here.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sysinfo {
    /// `LPAR ...` lines (name, number, characteristics), whitespace collapsed.
    pub lpar: Vec<String>,
    /// `VM00 Control Program:` value, whitespace collapsed (`z/VM 7.3.0`, `KVM/Linux`).
    pub control_program: Option<String>,
}

impl Sysinfo {
    pub fn parse(text: &str) -> Sysinfo {
        let mut s = Sysinfo::default();
        for line in text.lines() {
            let collapsed = line.split_whitespace().collect::<Vec<_>>().join(" ");
            if line.starts_with("LPAR") {
                s.lpar.push(collapsed);
            } else if let Some(v) = collapsed.strip_prefix("VM00 Control Program:") {
                if s.control_program.is_none() {
                    s.control_program = Some(v.trim().to_string());
                }
            }
        }
        s
    }

    fn summary(&self) -> String {
        let mut parts: Vec<String> = self
            .lpar
            .iter()
            .filter(|l| l.starts_with("LPAR Name") || l.starts_with("LPAR Number"))
            .cloned()
            .collect();
        if let Some(cp) = &self.control_program {
            parts.push(format!("VM00 Control Program: {cp}"));
        }
        if parts.is_empty() {
            "no LPAR or VM lines".to_string()
        } else {
            parts.join("; ")
        }
    }
}

/// SPARC logical domains.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ldoms {
    pub mdesc: bool,
    pub control: bool,
}

/// Container markers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContainerSignals {
    pub host_container_manager: Option<String>,
    pub systemd_container: Option<String>,
    /// `container=` of PID 1's environment, when set and readable.
    pub pid1_container: Option<String>,
    pub containerenv: bool,
    pub dockerenv: bool,
    pub dockerinit: bool,
    pub proc_vz: bool,
    pub proc_bc: bool,
    /// `(source, cgroup path)`: the distinct paths of `proc/1/cgroup` and `proc/self/cgroup`.
    pub cgroups: Vec<(&'static str, String)>,
    /// Linux-VServer context id of this process (`VxID:` of `proc/self/status`).
    pub vxid: Option<String>,
    /// `(source, comm)` of the process tracing this one, when one does.
    pub tracer: Option<(String, String)>,
    /// `proc/version`, read only for an illumos LX zone (`container=zone`).
    pub proc_version: Option<String>,
    /// `(source, what)` when the scan's cgroup root is a nested cgroup (a cgroup namespace).
    pub cgroup_namespace: Option<(&'static str, String)>,
}

/// The value of `container=` in a NUL-separated environment block.
pub fn environ_container(raw: &[u8]) -> Option<String> {
    raw.split(|b| *b == 0).find_map(|var| {
        let v = var.strip_prefix(b"container=")?;
        Some(String::from_utf8_lossy(v).trim().to_string())
    })
}

/// The distinct cgroup paths of a `/proc/PID/cgroup` file, in order.
pub fn cgroup_paths(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for p in text
        .lines()
        .filter_map(|l| l.splitn(3, ':').nth(2))
        .map(str::trim)
        .filter(|p| !p.is_empty())
    {
        if !out.iter().any(|o| o == p) {
            out.push(p.to_string());
        }
    }
    out
}

/// A field of a `/proc/PID/status` file.
pub fn status_field(text: &str, name: &str) -> Option<String> {
    text.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        (k.trim() == name).then(|| v.trim().to_string())
    })
}

/// Every virtualization signal of one host.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Signals {
    pub arch: Arch,
    /// `(source, value)` the architecture was read from, when it was.
    pub arch_source: Option<(String, String)>,
    pub cpuid: Option<Cpuid>,
    pub dmi: Dmi,
    /// SMBIOS "is a virtual machine" bit: `None` when the structure is absent, unreadable or short.
    pub smbios_vm_bit: Option<bool>,
    /// The extension byte that holds it, for the evidence.
    pub smbios_ext2: Option<u8>,
    pub cpuinfo: CpuInfo,
    pub hypervisor: Hypervisor,
    pub device_tree: DeviceTree,
    pub lparcfg: Option<Lparcfg>,
    pub sysinfo: Option<Sysinfo>,
    pub osrelease: Option<String>,
    pub ldoms: Ldoms,
    pub container: ContainerSignals,
}

/// SMBIOS type 0 (BIOS Information) byte 0x13, "BIOS characteristics extension byte 2" (SMBIOS 2.4+):
/// bit 4 says the table describes a virtual machine. The structure's length byte must reach it.
pub fn smbios_vm_bit(raw: &[u8]) -> Option<(bool, u8)> {
    const EXT2: usize = 0x13;
    let kind = *raw.first()?;
    let len = usize::from(*raw.get(1)?);
    if kind != 0 || len <= EXT2 {
        return None;
    }
    let ext2 = *raw.get(EXT2)?;
    Some((ext2 & 0x10 != 0, ext2))
}

/// Whether a hypervisor leaf above the base is worth keeping (a known signature, not the data a
/// processor answers for a leaf past the hypervisor's last one).
pub fn keep_high_leaf(sig: &str) -> bool {
    super::classify::known_signature(sig).is_some()
}

impl Signals {
    /// Every signal read, as `(source, value)`: the evidence of the report.
    pub fn evidence(&self) -> Vec<(String, String)> {
        let mut ev: Vec<(String, String)> = Vec::new();
        let mut push = |s: &str, v: String| {
            if !v.is_empty() {
                ev.push((s.to_string(), v));
            }
        };
        if let Some(c) = &self.cpuid {
            match c.origin {
                CpuidOrigin::Override => {
                    let sig = c.leaves.first().map(|(_, s)| s.as_str()).unwrap_or("none");
                    push(CLI_CPUID, sig.to_string());
                }
                CpuidOrigin::Native => {
                    push(CPUID_BIT, if c.hypervisor_bit { "1" } else { "0" }.into());
                    for (leaf, sig) in &c.leaves {
                        push(&c.leaf_source(*leaf), sig.clone());
                    }
                }
            }
        }
        for f in DmiField::ALL {
            if let Some(v) = self.dmi.get(f) {
                push(f.source(), v.to_string());
            }
        }
        if let (Some(bit), Some(ext2)) = (self.smbios_vm_bit, self.smbios_ext2) {
            let what = if bit {
                "virtual machine bit set"
            } else {
                "virtual machine bit clear"
            };
            push(SMBIOS_TYPE0, format!("byte 0x13 = {ext2:#04x}: {what}"));
        }
        push(CPUINFO, self.cpuinfo.summary());
        let h = &self.hypervisor;
        if h.proc_xen {
            push(PROC_XEN, "exists".into());
        }
        if let Some(c) = &h.xen_capabilities {
            push(
                XEN_CAPABILITIES,
                if c.is_empty() {
                    "(empty)".into()
                } else {
                    c.clone()
                },
            );
        }
        for (src, v) in [
            (HYPERVISOR_TYPE, &h.hv_type),
            (HYPERVISOR_GUEST_TYPE, &h.guest_type),
            (HYPERVISOR_FEATURES, &h.features),
            (HYPERVISOR_UUID, &h.uuid),
        ] {
            if let Some(v) = v {
                push(src, v.clone());
            }
        }
        let dt = &self.device_tree;
        for (src, v) in [
            (DT_HYPERVISOR, &dt.hypervisor_compatible),
            (DT_COMPATIBLE, &dt.compatible),
            (DT_MODEL, &dt.model),
            (DT_PARTITION_NAME, &dt.partition_name),
        ] {
            if let Some(v) = v {
                push(src, v.clone());
            }
        }
        if dt.hmc_managed {
            push(DT_HMC_MANAGED, "exists".into());
        }
        if dt.qemu_graphic_width {
            push(DT_QEMU_GRAPHIC, "exists".into());
        }
        if let Some(n) = &dt.fw_cfg {
            push(DT, format!("node {n}"));
        }
        if let Some(l) = &self.lparcfg {
            push(l.source, l.summary());
        }
        if let Some(s) = &self.sysinfo {
            push(SYSINFO, s.summary());
        }
        if let Some(o) = &self.osrelease {
            push(OSRELEASE, o.clone());
        }
        if self.ldoms.mdesc {
            push(MDESC, "exists".into());
        }
        if self.ldoms.control {
            push(VLDS_CTRL, "exists (with sys/class/vlds/sp)".into());
        }
        let c = &self.container;
        if let Some(v) = &c.host_container_manager {
            push(HOST_CONTAINER_MANAGER, v.clone());
        }
        if let Some(v) = &c.systemd_container {
            push(SYSTEMD_CONTAINER, v.clone());
        }
        if let Some(v) = &c.pid1_container {
            push(PID1_ENVIRON, format!("container={v}"));
        }
        for (flag, src) in [
            (c.containerenv, CONTAINERENV),
            (c.dockerenv, DOCKERENV),
            (c.dockerinit, DOCKERINIT),
            (c.proc_vz, PROC_VZ),
            (c.proc_vz && c.proc_bc, PROC_BC),
        ] {
            if flag {
                push(src, "exists".into());
            }
        }
        if c.proc_vz && !c.proc_bc {
            push(PROC_BC, "absent".into());
        }
        for src in [PID1_CGROUP, SELF_CGROUP] {
            let paths: Vec<&str> = c
                .cgroups
                .iter()
                .filter(|(s, _)| *s == src)
                .map(|(_, p)| p.as_str())
                .collect();
            push(src, paths.join(" "));
        }
        if let Some(v) = &c.vxid {
            push(SELF_STATUS, format!("VxID: {v}"));
        }
        if let Some((src, comm)) = &c.tracer {
            push(src, comm.clone());
        }
        if let Some(v) = &c.proc_version {
            push(PROC_VERSION, v.clone());
        }
        if let Some((src, what)) = &c.cgroup_namespace {
            push(src, what.clone());
        }
        if let Some((src, value)) = &self.arch_source {
            if !ev.iter().any(|(s, _)| s == src) {
                ev.push((src.clone(), value.clone()));
            }
        }
        ev
    }
}

fn first_line(text: &str) -> Option<String> {
    let l = text.lines().next().unwrap_or("").trim();
    (!l.is_empty()).then(|| l.to_string())
}

fn probe_line(root: &Root, rel: &str, w: &mut Warnings) -> Option<String> {
    probe(root, rel, w).and_then(|t| first_line(&t))
}

fn probe_dt(root: &Root, rel: &str, w: &mut Warnings) -> Option<String> {
    probe(root, rel, w)
        .map(|t| dt_strings(&t))
        .filter(|s| !s.is_empty())
}

/// Reads every signal under `root`. Files that may be absent are probed silently; a file that is
/// present but unreadable is a warning.
pub fn read(root: &Root, cpuid_source: &CpuidSource, w: &mut Warnings) -> Signals {
    let mut s = Signals::default();

    let cpuinfo_text = probe(root, CPUINFO, w);
    if let Some(t) = &cpuinfo_text {
        s.cpuinfo = CpuInfo::parse(t);
    }
    let (arch, arch_source) = architecture(root, cpuinfo_text.as_deref(), &s.cpuinfo, w);
    s.arch = arch;
    s.arch_source = arch_source;

    s.cpuid = match cpuid_source {
        CpuidSource::Override(sig) => Some(Cpuid::from_override(sig)),
        CpuidSource::Native if root.is_live() => {
            cpuid::read_native(keep_high_leaf).map(Cpuid::from_native)
        }
        CpuidSource::Native => {
            if s.arch == Arch::X86 {
                w.warn(
                    "cpuid:0x40000000",
                    "CPUID not read: the scan root is not the running system; pass \
                     --cpuid-vendor SIG (or none) to say what the host's CPUID reports",
                );
            }
            None
        }
    };

    for f in DmiField::ALL {
        if let Some(v) = probe_line(root, f.source(), w) {
            s.dmi.set(f, &v);
        }
    }
    match root.read_bytes(SMBIOS_TYPE0, SMBIOS_LIMIT) {
        Ok(raw) => {
            if let Some((bit, ext2)) = smbios_vm_bit(&raw) {
                s.smbios_vm_bit = Some(bit);
                s.smbios_ext2 = Some(ext2);
            }
        }
        Err(e) if e.is_not_found() => {}
        Err(e) => w.read_failed(&e),
    }

    let h = &mut s.hypervisor;
    h.proc_xen = root.is_dir(PROC_XEN);
    if h.proc_xen {
        h.xen_capabilities = probe(root, XEN_CAPABILITIES, w).map(|t| t.trim().to_string());
    }
    h.hv_type = probe_line(root, HYPERVISOR_TYPE, w);
    h.guest_type = probe_line(root, HYPERVISOR_GUEST_TYPE, w);
    h.features = probe_line(root, HYPERVISOR_FEATURES, w);
    h.uuid = probe_line(root, HYPERVISOR_UUID, w);

    if root.is_dir(DT) {
        let dt = &mut s.device_tree;
        dt.hypervisor_compatible = probe_dt(root, DT_HYPERVISOR, w);
        dt.compatible = probe_dt(root, DT_COMPATIBLE, w);
        dt.model = probe_dt(root, DT_MODEL, w);
        dt.partition_name = probe_dt(root, DT_PARTITION_NAME, w);
        dt.hmc_managed = root.exists(DT_HMC_MANAGED);
        dt.qemu_graphic_width = root.exists(DT_QEMU_GRAPHIC);
        match root.read_dir(DT) {
            Ok(names) => dt.fw_cfg = names.into_iter().find(|n| n.contains("fw-cfg")),
            Err(e) => w.read_failed(&e),
        }
    }
    s.lparcfg = probe(root, LPARCFG, w)
        .map(|t| Lparcfg::parse(LPARCFG, &t))
        .or_else(|| probe(root, LPARCFG_OLD, w).map(|t| Lparcfg::parse(LPARCFG_OLD, &t)));
    s.sysinfo = probe(root, SYSINFO, w).map(|t| Sysinfo::parse(&t));
    s.osrelease = probe_line(root, OSRELEASE, w);
    if s.arch == Arch::Sparc {
        s.ldoms.mdesc = root.exists(MDESC);
        s.ldoms.control = root.is_dir(VLDS_CTRL) && root.is_dir(VLDS_SP);
    }

    s.container = read_containers(root, w);
    s
}

fn architecture(
    root: &Root,
    cpuinfo_text: Option<&str>,
    cpuinfo: &CpuInfo,
    w: &mut Warnings,
) -> (Arch, Option<(String, String)>) {
    if let Some(a) = probe_line(root, "proc/sys/kernel/arch", w) {
        return (
            Arch::from_name(&a),
            Some(("proc/sys/kernel/arch".into(), a)),
        );
    }
    if let Some(t) = cpuinfo_text {
        if let Some(a) = identity::arch_from_cpuinfo(t) {
            return (Arch::from_name(a), None);
        }
        let sparc = cpuinfo.cpu_type.as_deref() == Some("sun4v")
            || cpuinfo
                .cpu
                .as_deref()
                .is_some_and(|c| c.to_ascii_lowercase().contains("sparc"));
        if sparc {
            return (Arch::Sparc, None);
        }
    }
    if root.is_live() {
        let a = std::env::consts::ARCH;
        return (
            Arch::from_name(a),
            Some(("agent build".into(), a.to_string())),
        );
    }
    (Arch::Unknown, None)
}

fn read_containers(root: &Root, w: &mut Warnings) -> ContainerSignals {
    let mut c = ContainerSignals {
        host_container_manager: probe_line(root, HOST_CONTAINER_MANAGER, w),
        systemd_container: probe_line(root, SYSTEMD_CONTAINER, w),
        containerenv: root.exists(CONTAINERENV),
        dockerenv: root.exists(DOCKERENV),
        dockerinit: root.exists(DOCKERINIT),
        proc_vz: root.is_dir(PROC_VZ),
        proc_bc: root.exists(PROC_BC),
        ..ContainerSignals::default()
    };
    match root.read_bytes(PID1_ENVIRON, ENVIRON_LIMIT) {
        Ok(raw) => c.pid1_container = environ_container(&raw).filter(|v| !v.is_empty()),
        Err(e) if e.is_not_found() => {}
        Err(ReadError::PermissionDenied { .. }) => w.warn(
            PID1_ENVIRON,
            "permission denied (reading another process's environment needs CAP_SYS_PTRACE, \
             even as root): PID 1's container= variable is unknown; the other container markers \
             still apply",
        ),
        Err(e) => w.read_failed(&e),
    }
    for src in [PID1_CGROUP, SELF_CGROUP] {
        if let Some(t) = probe(root, src, w) {
            for p in cgroup_paths(&t) {
                c.cgroups.push((src, p));
            }
        }
    }
    if let Some(status) = probe(root, SELF_STATUS, w) {
        c.vxid = status_field(&status, "VxID");
        if let Some(pid) = status_field(&status, "TracerPid").filter(|p| p != "0") {
            if pid.chars().all(|ch| ch.is_ascii_digit()) {
                let src = format!("proc/{pid}/comm");
                if let Some(comm) = probe_line(root, &src, w) {
                    c.tracer = Some((src, comm));
                }
            }
        }
    }
    if c.pid1_container.as_deref() == Some("zone") {
        c.proc_version = probe_line(root, PROC_VERSION, w);
    }
    c.cgroup_namespace = cgroup_namespace(root);
    c
}

/// Whether the cgroup tree seen at `sys/fs/cgroup` is a nested cgroup, which means a cgroup
/// namespace (a container whose manager left no other marker). Only where the kernel has cgroup
/// namespaces (`proc/self/ns/cgroup`).
fn cgroup_namespace(root: &Root) -> Option<(&'static str, String)> {
    if !root.exists("proc/self/ns/cgroup") {
        return None;
    }
    if root.exists("sys/fs/cgroup/cgroup.controllers") {
        // cgroup v2: only a nested cgroup has cgroup.events; the root never has cgroup.type.
        let nested = root.exists("sys/fs/cgroup/cgroup.events")
            && (root.exists("sys/fs/cgroup/cgroup.type")
                || !root.exists("sys/kernel/cgroup/features"));
        nested.then(|| {
            (
                "sys/fs/cgroup/cgroup.events",
                "exists: the cgroup root seen here is a nested cgroup".to_string(),
            )
        })
    } else if root.is_dir("sys/fs/cgroup/systemd") {
        // cgroup v1: release_agent exists only in the root of a hierarchy.
        (!root.exists("sys/fs/cgroup/systemd/release_agent")).then(|| {
            (
                "sys/fs/cgroup/systemd",
                "no release_agent: the cgroup root seen here is a nested cgroup".to_string(),
            )
        })
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smbios_vm_bit_reads_extension_byte_2() {
        // type 0, length 0x1a, handle 0, strings 1 2, segment f000, date 3, rom size, 8 bytes of
        // characteristics, extension bytes 1 and 2, release numbers, extended ROM size.
        let mut raw = vec![
            0x00, 0x1a, 0x00, 0x00, 0x01, 0x02, 0x00, 0xf0, 0x03, 0xff, 0x80, 0x98, 0x8b, 0x3f,
            0x01, 0x00, 0x00, 0x00, 0x03, 0x1c, 0x01, 0x00, 0xff, 0xff, 0x00, 0x00,
        ];
        raw.extend_from_slice(b"Amazon EC2\x001.0\x0010/16/2017\x00\x00");
        assert_eq!(smbios_vm_bit(&raw), Some((true, 0x1c)));
        raw[0x13] = 0x0c;
        assert_eq!(smbios_vm_bit(&raw), Some((false, 0x0c)));
        // A structure too short to hold extension byte 2, another type, a truncated file.
        let mut short = raw.clone();
        short[1] = 0x12;
        assert_eq!(smbios_vm_bit(&short), None);
        let mut other = raw.clone();
        other[0] = 1;
        assert_eq!(smbios_vm_bit(&other), None);
        assert_eq!(smbios_vm_bit(&raw[..0x13]), None);
        assert_eq!(smbios_vm_bit(&[]), None);
    }

    #[test]
    fn environ_finds_container_variable() {
        let cases: [(&[u8], Option<&str>); 4] = [
            (b"PATH=/usr/bin\0container=lxc\0HOME=/\0", Some("lxc")),
            (b"container=podman\0", Some("podman")),
            (b"PATH=/bin\0TERM=xterm\0", None),
            (b"notcontainer=docker\0", None),
        ];
        for (raw, want) in cases {
            assert_eq!(environ_container(raw).as_deref(), want);
        }
    }

    #[test]
    fn cgroup_paths_are_distinct() {
        let text = "12:memory:/docker/3f1a\n3:cpu:/docker/3f1a\n0::/\n1:name=systemd:/system.slice/docker-ab12.scope\n";
        assert_eq!(
            cgroup_paths(text),
            vec!["/docker/3f1a", "/", "/system.slice/docker-ab12.scope"]
        );
        assert_eq!(cgroup_paths("0::/\n"), vec!["/"]);
        assert!(cgroup_paths("").is_empty());
    }

    #[test]
    fn lparcfg_and_sysinfo_parse() {
        let l = Lparcfg::parse(
            LPARCFG,
            "lparcfg 1.9\nserial_number=IBM,0278A1234\nsystem_type=IBM,9080-M9S\nshared_processor_mode=1\n",
        );
        assert_eq!(l.shared_processor_mode, Some(true));
        assert_eq!(l.system_type.as_deref(), Some("IBM,9080-M9S"));
        let l = Lparcfg::parse(LPARCFG, "lparcfg 1.9\nshared_processor_mode=0\n");
        assert_eq!(l.shared_processor_mode, Some(false));
        assert_eq!(
            Lparcfg::parse(LPARCFG, "lparcfg 1.9\n").shared_processor_mode,
            None
        );

        let s = Sysinfo::parse(
            "Manufacturer:         IBM\nType:                 8561\nLPAR Number:          21\n\
             LPAR Name:            ZLPAR01\nVM00 Name:            LINUX01\n\
             VM00 Control Program: z/VM    7.3.0\n",
        );
        assert_eq!(s.lpar, vec!["LPAR Number: 21", "LPAR Name: ZLPAR01"]);
        assert_eq!(s.control_program.as_deref(), Some("z/VM 7.3.0"));
        let s = Sysinfo::parse("Type:                 3931\n");
        assert!(s.lpar.is_empty() && s.control_program.is_none());
    }

    #[test]
    fn xen_feature_word() {
        assert_eq!(xen_features_dom0("00000801"), Some(true));
        assert_eq!(xen_features_dom0("000029f1"), Some(true));
        assert_eq!(xen_features_dom0("000021f1"), Some(false));
        assert_eq!(xen_features_dom0("zz"), None);
    }

    #[test]
    fn device_tree_strings_join() {
        assert_eq!(dt_strings("linux,kvm\0"), "linux,kvm");
        assert_eq!(
            dt_strings("IBM,9080-M9S\0IBM,POWER9\0"),
            "IBM,9080-M9S,IBM,POWER9"
        );
        assert_eq!(dt_strings("\0"), "");
    }

    #[test]
    fn cpuinfo_first_values() {
        let c = CpuInfo::parse(
            "processor\t: 0\ncpu\t\t: POWER9 (architected), altivec supported\nplatform\t: pSeries\n\
             model\t\t: IBM pSeries (emulated by qemu)\nprocessor\t: 1\ncpu\t\t: POWER10\n",
        );
        assert_eq!(c.platform.as_deref(), Some("pSeries"));
        assert_eq!(c.model.as_deref(), Some("IBM pSeries (emulated by qemu)"));
        assert_eq!(
            c.cpu.as_deref(),
            Some("POWER9 (architected), altivec supported")
        );
    }

    #[test]
    fn override_sets_bit_iff_signature() {
        let c = Cpuid::from_override("VMwareVMware");
        assert!(c.hypervisor_bit);
        assert_eq!(
            c.leaves,
            vec![(HYPERVISOR_BASE, "VMwareVMware".to_string())]
        );
        assert_eq!(c.leaf_source(HYPERVISOR_BASE), CLI_CPUID);
        let c = Cpuid::from_override("");
        assert!(!c.hypervisor_bit && c.leaves.is_empty());
        let n = Cpuid::from_native(CpuidReading {
            hypervisor_bit: true,
            leaves: vec![(0x4000_0100, "XenVMMXenVMM".into())],
        });
        assert_eq!(n.leaf_source(0x4000_0100), "cpuid:0x40000100");
        assert_eq!(n.bit_source(), CPUID_BIT);
    }

    #[test]
    fn reads_a_tree_and_warns_only_for_unreadable_files() {
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path();
        let write = |rel: &str, data: &[u8]| {
            let p = base.join(rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, data).unwrap();
        };
        write("sys/class/dmi/id/sys_vendor", b"VMware, Inc.\n");
        write("sys/class/dmi/id/product_name", b"VMware7,1\n");
        write("sys/class/dmi/id/chassis_asset_tag", b"No Asset Tag\n");
        write("proc/1/environ", b"container=docker\0PATH=/bin\0");
        write(".dockerenv", b"");
        write("proc/self/cgroup", b"0::/\n");
        write(
            "proc/cpuinfo",
            b"processor\t: 0\nvendor_id\t: GenuineIntel\n",
        );
        let root = Root::new(base);
        let mut w = Warnings::new("virtualization");
        let s = read(&root, &CpuidSource::Override("VMwareVMware".into()), &mut w);
        assert!(w.is_empty(), "{:?}", w.into_vec());
        assert_eq!(s.arch, Arch::X86);
        assert_eq!(s.dmi.get(DmiField::SysVendor), Some("VMware, Inc."));
        assert_eq!(s.container.pid1_container.as_deref(), Some("docker"));
        assert!(s.container.dockerenv && !s.container.containerenv);
        assert_eq!(s.container.cgroups, vec![(SELF_CGROUP, "/".to_string())]);
        let ev = s.evidence();
        assert!(ev.contains(&(CLI_CPUID.into(), "VMwareVMware".into())));
        assert!(ev.contains(&(DOCKERENV.into(), "exists".into())));

        // Not live and no override on x86: CPUID is unknown, and said so.
        let mut w = Warnings::new("virtualization");
        let s = read(&root, &CpuidSource::Native, &mut w);
        assert!(s.cpuid.is_none());
        let warnings = w.into_vec();
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert_eq!(warnings[0].source, "cpuid:0x40000000");
    }
}
