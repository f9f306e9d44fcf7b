//! Table tests of the classifier: one or more cases per vocabulary word and per result that
//! virt-what and systemd-detect-virt print, each built from the signals those tools look at.

use super::*;
use crate::collect::virt::signals::{
    CpuInfo, Cpuid, CpuidOrigin, Lparcfg, Sysinfo, LPARCFG, PID1_CGROUP, SELF_CGROUP,
};
use Technology as T;
use VirtKind as K;

/// A case's signals, built up field by field.
#[derive(Clone, Default)]
struct B(Signals);

impl B {
    fn new() -> B {
        B::default()
    }
    /// CPUID as `--cpuid-vendor` gives it ("" = no hypervisor bit).
    fn cpuid(mut self, sig: &str) -> B {
        self.0.cpuid = Some(Cpuid::from_override(sig));
        self
    }
    /// Native CPUID with the hypervisor bit and these leaves.
    fn native(mut self, leaves: &[(u32, &str)]) -> B {
        self.0.cpuid = Some(Cpuid {
            origin: CpuidOrigin::Native,
            hypervisor_bit: true,
            leaves: leaves.iter().map(|(l, s)| (*l, s.to_string())).collect(),
        });
        self
    }
    fn dmi(mut self, f: DmiField, v: &str) -> B {
        self.0.dmi.set(f, v);
        self
    }
    fn vm_bit(mut self, bit: bool) -> B {
        self.0.smbios_vm_bit = Some(bit);
        self.0.smbios_ext2 = Some(if bit { 0x1c } else { 0x0c });
        self
    }
    fn arch(mut self, a: Arch) -> B {
        self.0.arch = a;
        self
    }
    fn cpuinfo(mut self, text: &str) -> B {
        self.0.cpuinfo = CpuInfo::parse(text);
        self
    }
    fn proc_xen(mut self, capabilities: &str) -> B {
        self.0.hypervisor.proc_xen = true;
        self.0.hypervisor.xen_capabilities = Some(capabilities.to_string());
        self
    }
    fn hv_type(mut self, t: &str) -> B {
        self.0.hypervisor.hv_type = Some(t.to_string());
        self
    }
    fn guest_type(mut self, t: &str) -> B {
        self.0.hypervisor.guest_type = Some(t.to_string());
        self
    }
    fn features(mut self, f: &str) -> B {
        self.0.hypervisor.features = Some(f.to_string());
        self
    }
    fn xen_uuid(mut self, u: &str) -> B {
        self.0.hypervisor.uuid = Some(u.to_string());
        self
    }
    fn dt_hypervisor(mut self, c: &str) -> B {
        self.0.device_tree.hypervisor_compatible = Some(c.to_string());
        self
    }
    fn dt_compatible(mut self, c: &str) -> B {
        self.0.device_tree.compatible = Some(c.to_string());
        self
    }
    fn dt_partition(mut self, name: &str, hmc: bool) -> B {
        self.0.device_tree.partition_name = Some(name.to_string());
        self.0.device_tree.hmc_managed = hmc;
        self
    }
    fn fw_cfg(mut self) -> B {
        self.0.device_tree.fw_cfg = Some("fw-cfg@9020000".to_string());
        self
    }
    fn lparcfg(mut self, text: &str) -> B {
        self.0.lparcfg = Some(Lparcfg::parse(LPARCFG, text));
        self
    }
    fn sysinfo(mut self, text: &str) -> B {
        self.0.sysinfo = Some(Sysinfo::parse(text));
        self
    }
    fn osrelease(mut self, o: &str) -> B {
        self.0.osrelease = Some(o.to_string());
        self
    }
    fn ldoms(mut self, control: bool) -> B {
        self.0.arch = Arch::Sparc;
        self.0.ldoms.mdesc = true;
        self.0.ldoms.control = control;
        self
    }
    fn host_manager(mut self, v: &str) -> B {
        self.0.container.host_container_manager = Some(v.to_string());
        self
    }
    fn systemd_container(mut self, v: &str) -> B {
        self.0.container.systemd_container = Some(v.to_string());
        self
    }
    fn environ(mut self, v: &str) -> B {
        self.0.container.pid1_container = Some(v.to_string());
        self
    }
    fn containerenv(mut self) -> B {
        self.0.container.containerenv = true;
        self
    }
    fn dockerenv(mut self) -> B {
        self.0.container.dockerenv = true;
        self
    }
    fn vz(mut self, bc: bool) -> B {
        self.0.container.proc_vz = true;
        self.0.container.proc_bc = bc;
        self
    }
    fn cgroup(mut self, src: &'static str, path: &str) -> B {
        self.0.container.cgroups.push((src, path.to_string()));
        self
    }
    fn vxid(mut self, v: &str) -> B {
        self.0.container.vxid = Some(v.to_string());
        self
    }
    fn tracer(mut self, comm: &str) -> B {
        self.0.container.tracer = Some(("proc/4242/comm".to_string(), comm.to_string()));
        self
    }
    fn proc_version(mut self, v: &str) -> B {
        self.0.container.proc_version = Some(v.to_string());
        self
    }
    fn cgroupns(mut self) -> B {
        self.0.container.cgroup_namespace =
            Some(("sys/fs/cgroup/cgroup.events", "nested".to_string()));
        self
    }

    // Whole machines, as their firmware describes them.
    fn dell(self) -> B {
        self.dmi(SysVendor, "Dell Inc.")
            .dmi(ProductName, "PowerEdge R740")
            .dmi(BiosVendor, "Dell Inc.")
            .dmi(BiosVersion, "2.19.1")
    }
    fn vmware(self) -> B {
        self.dmi(SysVendor, "VMware, Inc.")
            .dmi(ProductName, "VMware7,1")
            .dmi(BiosVendor, "VMware, Inc.")
            .dmi(BiosVersion, "VMW71.00V.21100432.B64.2301110304")
    }
    fn qemu(self) -> B {
        self.dmi(SysVendor, "QEMU")
            .dmi(ProductName, "Standard PC (Q35 + ICH9, 2009)")
            .dmi(BiosVendor, "SeaBIOS")
    }
    fn microsoft(self, version: &str) -> B {
        self.dmi(SysVendor, "Microsoft Corporation")
            .dmi(ProductName, "Virtual Machine")
            .dmi(ProductVersion, version)
            .dmi(BiosVendor, "Microsoft Corporation")
    }
    fn amazon(self, product: &str) -> B {
        self.dmi(SysVendor, "Amazon EC2")
            .dmi(ProductName, product)
            .dmi(BiosVendor, "Amazon EC2")
    }
}

/// One expected layer: kind, technology, recognised name (for `other`).
type L = (VirtKind, Technology, Option<&'static str>);

const fn vm(t: Technology) -> L {
    (K::VirtualMachine, t, None)
}
const fn part(t: Technology) -> L {
    (K::Partition, t, None)
}
const fn ct(t: Technology) -> L {
    (K::Container, t, None)
}
const fn vm_other(name: &'static str) -> L {
    (K::VirtualMachine, T::Other, Some(name))
}
const fn ct_other(name: &'static str) -> L {
    (K::Container, T::Other, Some(name))
}

struct Case {
    name: &'static str,
    signals: B,
    layers: Vec<L>,
    cloud: Cloud,
    /// Whether the classifier must report a doubt.
    doubt: bool,
    /// The virt-what facts and systemd-detect-virt words the same host gets from those tools.
    tools: &'static [&'static str],
}

fn case(name: &'static str, signals: B, layers: &[L], tools: &'static [&'static str]) -> Case {
    Case {
        name,
        signals,
        layers: layers.to_vec(),
        cloud: Cloud::None,
        doubt: false,
        tools,
    }
}

impl Case {
    fn cloud(mut self, c: Cloud) -> Case {
        self.cloud = c;
        self
    }
    fn doubt(mut self) -> Case {
        self.doubt = true;
        self
    }
}

const BASE: u32 = 0x4000_0000;
const NEXT: u32 = 0x4000_0100;

fn cases() -> Vec<Case> {
    vec![
        // Bare metal.
        case("bare metal x86", B::new().dell().cpuid("").vm_bit(false), &[], &["systemd:none"]),
        case(
            "oracle server is not virtualbox",
            B::new()
                .dmi(SysVendor, "Oracle Corporation")
                .dmi(ProductName, "ORACLE SERVER X8-2")
                .dmi(BoardVendor, "Oracle Corporation")
                .cpuid(""),
            &[],
            &[],
        ),
        case("nothing at all", B::new(), &[], &[]),
        // VMware.
        case(
            "vmware",
            B::new().vmware().cpuid("VMwareVMware"),
            &[vm(T::Vmware)],
            &["systemd:vmware", "virt-what:vmware"],
        ),
        case("vmware dmi only", B::new().vmware(), &[vm(T::Vmware)], &[]),
        case(
            "vmware arm device tree",
            B::new().arch(Arch::Arm).dt_hypervisor("vmware"),
            &[vm(T::Vmware)],
            &[],
        ),
        // Hyper-V, Azure, Virtual PC.
        case(
            "hyperv on premises",
            B::new()
                .microsoft("Hyper-V UEFI Release v4.1")
                .dmi(ChassisAssetTag, "1546-3917-0893-5765-3208-2487-03")
                .cpuid("Microsoft Hv"),
            &[vm(T::Hyperv)],
            &["systemd:microsoft", "virt-what:hyperv"],
        ),
        case(
            "hyperv arm dmi only",
            B::new()
                .arch(Arch::Arm)
                .microsoft("Hyper-V UEFI Release v4.1"),
            &[vm(T::Hyperv)],
            &[],
        ),
        case(
            "azure gen1",
            B::new()
                .microsoft("7.0")
                .dmi(ChassisAssetTag, AZURE_ASSET_TAG)
                .cpuid("Microsoft Hv"),
            &[vm(T::Hyperv)],
            &["systemd:microsoft", "virt-what:hyperv"],
        )
        .cloud(Cloud::Azure),
        case(
            "azure without cpuid is still hyperv",
            B::new().microsoft("7.0").dmi(ChassisAssetTag, AZURE_ASSET_TAG),
            &[vm(T::Hyperv)],
            &[],
        )
        .cloud(Cloud::Azure),
        case(
            "virtual pc",
            B::new().microsoft("VS2005R2").cpuid(""),
            &[vm_other("virtualpc")],
            &["virt-what:virtualpc"],
        ),
        // KVM and QEMU.
        case(
            "kvm",
            B::new().qemu().cpuid("KVMKVMKVM"),
            &[vm(T::Kvm)],
            &["systemd:kvm", "virt-what:kvm"],
        ),
        case(
            "kvm with hyper-v enlightenments",
            B::new()
                .qemu()
                .native(&[(BASE, "Microsoft Hv"), (NEXT, "KVMKVMKVM")]),
            &[vm(T::Kvm)],
            &[],
        ),
        case(
            "kvm hv signature",
            B::new().native(&[(BASE, "Linux KVM Hv")]),
            &[vm(T::Kvm)],
            &[],
        ),
        case(
            "kvm arm dmi",
            B::new()
                .arch(Arch::Arm)
                .dmi(SysVendor, "QEMU")
                .dmi(ProductName, "KVM Virtual Machine"),
            &[vm(T::Kvm)],
            &[],
        ),
        case(
            "rhel kvm",
            B::new().dmi(SysVendor, "Red Hat").dmi(ProductName, "KVM"),
            &[vm(T::Kvm)],
            &["virt-what:redhat"],
        ),
        case(
            "kubevirt arm",
            B::new()
                .arch(Arch::Arm)
                .dmi(SysVendor, "KubeVirt")
                .dmi(ProductName, "None"),
            &[vm(T::Kvm)],
            &[],
        ),
        case(
            "upcloud",
            B::new()
                .dmi(SysVendor, "UpCloud")
                .dmi(ProductName, "Cloud Server")
                .cpuid("KVMKVMKVM"),
            &[vm(T::Kvm)],
            &["virt-what:upcloud"],
        ),
        case(
            "qemu tcg",
            B::new().qemu().cpuid("TCGTCGTCGTCG"),
            &[vm(T::QemuTcg)],
            &["systemd:qemu", "virt-what:qemu"],
        ),
        case(
            "qemu dmi without cpuid",
            B::new().qemu(),
            &[vm(T::QemuTcg)],
            &[],
        )
        .doubt(),
        case(
            "qemu arm fw-cfg",
            B::new()
                .arch(Arch::Arm)
                .fw_cfg()
                .dt_compatible("linux,dummy-virt"),
            &[vm(T::QemuTcg)],
            &["systemd:qemu"],
        )
        .doubt(),
        case(
            "old qemu cpu model",
            B::new().cpuinfo("vendor_id\t: AuthenticAMD\nmodel name\t: QEMU Virtual CPU version 2.5+\n"),
            &[vm(T::QemuTcg)],
            &["virt-what:qemu"],
        ),
        case(
            "kvmtool cpuid",
            B::new().cpuid("LKVMLKVMLKVM"),
            &[vm_other("lkvm")],
            &["virt-what:lkvm"],
        ),
        case(
            "kvmtool arm",
            B::new().arch(Arch::Arm).dt_compatible("linux,dummy-virt"),
            &[vm_other("lkvm")],
            &["virt-what:lkvm"],
        ),
        // Xen.
        case(
            "xen hvm",
            B::new()
                .dmi(SysVendor, "Xen")
                .dmi(ProductName, "HVM domU")
                .cpuid("XenVMMXenVMM")
                .proc_xen("")
                .hv_type("xen")
                .guest_type("HVM"),
            &[vm(T::XenHvm)],
            &["systemd:xen", "virt-what:xen", "virt-what:xen-hvm"],
        ),
        case(
            "xen hvm with viridian",
            B::new().native(&[(BASE, "Microsoft Hv"), (NEXT, "XenVMMXenVMM")]),
            &[vm(T::XenHvm)],
            &["virt-what:xen-hvm"],
        ),
        case(
            "xen hvm dmi and proc/xen, cpuid unknown",
            B::new()
                .dmi(SysVendor, "Xen")
                .dmi(ProductName, "HVM domU")
                .proc_xen(""),
            &[vm(T::XenHvm)],
            &[],
        ),
        case(
            "xen pv",
            B::new().cpuid("").proc_xen("").hv_type("xen"),
            &[vm(T::XenPv)],
            &["systemd:xen", "virt-what:xen", "virt-what:xen-domU"],
        ),
        case(
            "xen pv guest type",
            B::new().hv_type("xen").guest_type("PV"),
            &[vm(T::XenPv)],
            &[],
        ),
        case(
            "xen dom0 capabilities",
            B::new().dell().cpuid("").proc_xen("control_d").hv_type("xen"),
            &[vm(T::XenDom0)],
            &["virt-what:xen-dom0"],
        ),
        case(
            "xen dom0 features",
            B::new().hv_type("xen").features("000029f1"),
            &[vm(T::XenDom0)],
            &[],
        ),
        case(
            "xen dom0 nested in kvm",
            B::new().qemu().cpuid("KVMKVMKVM").proc_xen("control_d"),
            &[vm(T::Kvm), vm(T::XenDom0)],
            &["systemd:kvm"],
        ),
        case(
            "xen arm guest",
            B::new()
                .arch(Arch::Arm)
                .dt_hypervisor("xen,xen-4.16,xen,xen")
                .proc_xen(""),
            &[vm(T::XenHvm)],
            &["virt-what:xen"],
        ),
        case(
            "aws on xen",
            B::new()
                .dmi(SysVendor, "Xen")
                .dmi(ProductName, "HVM domU")
                .dmi(BiosVersion, "4.11.amazon")
                .cpuid("XenVMMXenVMM")
                .xen_uuid("ec2e1916-9099-7caf-fd21-012345abcdef"),
            &[vm(T::XenHvm)],
            &["virt-what:aws", "virt-what:xen-hvm"],
        )
        .cloud(Cloud::Aws),
        // Clouds on KVM, and their bare-metal instances.
        case(
            "aws nitro",
            B::new().amazon("m5.xlarge").cpuid("KVMKVMKVM").vm_bit(true),
            &[vm(T::Kvm)],
            &["systemd:amazon", "virt-what:aws", "virt-what:kvm"],
        )
        .cloud(Cloud::Aws),
        case(
            "aws metal",
            B::new().amazon("m5.metal").cpuid("").vm_bit(false),
            &[],
            &["systemd:none", "virt-what:aws"],
        )
        .cloud(Cloud::Aws),
        case(
            "aws metal from the smbios bit",
            B::new().amazon("m5.metal").vm_bit(false),
            &[],
            &[],
        )
        .cloud(Cloud::Aws),
        case(
            "aws metal from the product name",
            B::new().amazon("m7i.metal-24xl"),
            &[],
            &[],
        )
        .cloud(Cloud::Aws),
        case(
            "aws graviton",
            B::new().arch(Arch::Arm).amazon("m6g.xlarge").vm_bit(true),
            &[vm(T::Kvm)],
            &["systemd:amazon", "virt-what:kvm", "virt-what:aws"],
        )
        .cloud(Cloud::Aws),
        case(
            "gcp",
            B::new()
                .dmi(SysVendor, "Google")
                .dmi(ProductName, "Google Compute Engine")
                .cpuid("KVMKVMKVM"),
            &[vm(T::Kvm)],
            &["systemd:google", "virt-what:google_cloud", "virt-what:kvm"],
        )
        .cloud(Cloud::Gcp),
        case(
            "alibaba",
            B::new()
                .dmi(SysVendor, "Alibaba Cloud")
                .dmi(ProductName, "Alibaba Cloud ECS")
                .cpuid("KVMKVMKVM"),
            &[vm(T::Kvm)],
            &["virt-what:alibaba_cloud", "virt-what:kvm"],
        )
        .cloud(Cloud::Alibaba),
        case(
            "alibaba arm",
            B::new()
                .arch(Arch::Arm)
                .dmi(SysVendor, "Alibaba Cloud")
                .dmi(ProductName, "Alibaba Cloud ECS")
                .vm_bit(true),
            &[vm(T::Kvm)],
            &["virt-what:alibaba_cloud"],
        )
        .cloud(Cloud::Alibaba),
        case(
            "alibaba ebm",
            B::new()
                .dmi(SysVendor, "Alibaba Cloud")
                .dmi(ProductName, "Alibaba Cloud ECS")
                .cpuid(""),
            &[],
            &["virt-what:alibaba_cloud-ebm"],
        )
        .cloud(Cloud::Alibaba),
        case(
            "openstack",
            B::new()
                .dmi(SysVendor, "OpenStack Foundation")
                .dmi(ProductName, "OpenStack Nova")
                .cpuid("KVMKVMKVM"),
            &[vm(T::Kvm)],
            &["systemd:kvm", "virt-what:kvm"],
        )
        .cloud(Cloud::Openstack),
        case(
            "openstack arm",
            B::new()
                .arch(Arch::Arm)
                .dmi(SysVendor, "RDO")
                .dmi(ProductName, "OpenStack Compute"),
            &[vm(T::Kvm)],
            &["systemd:kvm"],
        )
        .cloud(Cloud::Openstack),
        case(
            "oracle cloud",
            B::new()
                .qemu()
                .dmi(ChassisAssetTag, "OracleCloud.com")
                .cpuid("KVMKVMKVM"),
            &[vm(T::Kvm)],
            &[],
        )
        .cloud(Cloud::Oracle),
        case(
            "ibm cloud vpc",
            B::new()
                .qemu()
                .dmi(ChassisVendor, "IBM:Cloud Compute Server 1.0:bx2-2x8")
                .dmi(ChassisAssetTag, "ibmcloud")
                .cpuid("KVMKVMKVM"),
            &[vm(T::Kvm)],
            &[],
        )
        .cloud(Cloud::IbmCloud),
        // Products on KVM that name themselves in DMI.
        case(
            "virtualbox with kvm paravirtualization",
            B::new()
                .dmi(SysVendor, "innotek GmbH")
                .dmi(ProductName, "VirtualBox")
                .dmi(BoardVendor, "Oracle Corporation")
                .cpuid("KVMKVMKVM"),
            &[vm(T::Virtualbox)],
            &["systemd:oracle", "virt-what:virtualbox"],
        ),
        case(
            "virtualbox signature",
            B::new().cpuid("VBoxVBoxVBox"),
            &[vm(T::Virtualbox)],
            &[],
        ),
        case(
            "virtualbox oracle board in a vm",
            B::new().dmi(BoardVendor, "Oracle Corporation").cpuid("KVMKVMKVM"),
            &[vm(T::Virtualbox)],
            &["systemd:oracle"],
        ),
        case(
            "parallels dmi over kvm",
            B::new()
                .dmi(SysVendor, "Parallels Software International Inc.")
                .dmi(ProductName, "Parallels Virtual Platform")
                .cpuid("KVMKVMKVM"),
            &[vm(T::Parallels)],
            &["systemd:parallels", "virt-what:parallels"],
        ),
        case(
            "parallels swapped signature",
            B::new().cpuid(" lrpepyh  vr"),
            &[vm(T::Parallels)],
            &[],
        ),
        case(
            "parallels signature",
            B::new().cpuid("prl hyperv  "),
            &[vm(T::Parallels)],
            &[],
        ),
        case(
            "bhyve",
            B::new()
                .dmi(SysVendor, "FreeBSD")
                .dmi(ProductName, "BHYVE")
                .dmi(BiosVendor, "BHYVE")
                .cpuid("bhyve bhyve "),
            &[vm(T::Bhyve)],
            &["systemd:bhyve", "virt-what:bhyve"],
        ),
        case(
            "bhyve dmi only",
            B::new().dmi(BiosVendor, "BHYVE"),
            &[vm(T::Bhyve)],
            &["virt-what:bhyve"],
        ),
        case(
            "nutanix ahv",
            B::new()
                .dmi(SysVendor, "Nutanix")
                .dmi(ProductName, "AHV")
                .native(&[(BASE, "Microsoft Hv"), (NEXT, "KVMKVMKVM")]),
            &[vm(T::NutanixAhv)],
            &["virt-what:nutanix_ahv"],
        ),
        case(
            "ovirt",
            B::new()
                .dmi(SysVendor, "oVirt")
                .dmi(ProductName, "oVirt Node")
                .cpuid("KVMKVMKVM"),
            &[vm(T::Ovirt)],
            &["virt-what:ovirt"],
        ),
        case(
            "rhev",
            B::new()
                .dmi(SysVendor, "Red Hat")
                .dmi(ProductName, "RHEV Hypervisor")
                .cpuid("KVMKVMKVM"),
            &[vm(T::Ovirt)],
            &["virt-what:rhev", "virt-what:redhat"],
        ),
        // POWER.
        case(
            "powervm shared",
            B::new()
                .arch(Arch::Power)
                .dt_partition("lpar01", true)
                .lparcfg("lparcfg 1.9\nshared_processor_mode=1\n"),
            &[part(T::PowervmLparShared)],
            &["systemd:powervm", "virt-what:ibm_power-lpar_shared"],
        ),
        case(
            "powervm dedicated",
            B::new()
                .arch(Arch::Power)
                .cpuinfo("cpu\t\t: POWER10 (architected)\nplatform\t: pSeries\n")
                .lparcfg("lparcfg 1.9\nshared_processor_mode=0\n"),
            &[part(T::PowervmLparDedicated)],
            &["systemd:powervm", "virt-what:ibm_power-lpar_dedicated"],
        ),
        case(
            "powervm mode unknown",
            B::new().dt_partition("lpar02", true),
            &[part(T::PowervmLparShared)],
            &["systemd:powervm"],
        )
        .doubt(),
        case(
            "power kvm device tree",
            B::new().arch(Arch::Power).dt_hypervisor("linux,kvm"),
            &[vm(T::PowerKvm)],
            &["systemd:kvm"],
        ),
        case(
            "power kvm pseries emulated by qemu",
            B::new()
                .cpuinfo("cpu\t\t: POWER9 (architected)\nplatform\t: pSeries\nmodel\t\t: IBM pSeries (emulated by qemu)\n")
                .lparcfg("lparcfg 1.9\nsystem_type=IBM pSeries (emulated by qemu)\nshared_processor_mode=1\n"),
            &[vm(T::PowerKvm)],
            &["virt-what:ibm_power-kvm"],
        ),
        case(
            "power kvm qemu pseries",
            B::new().arch(Arch::Power).dt_compatible("qemu,pseries"),
            &[vm(T::PowerKvm)],
            &["systemd:qemu"],
        ),
        case(
            "kvm arm device tree",
            B::new().arch(Arch::Arm).dt_hypervisor("linux,kvm"),
            &[vm(T::Kvm)],
            &["systemd:kvm"],
        ),
        case(
            "unknown device tree hypervisor",
            B::new().arch(Arch::Arm).dt_hypervisor("acme,hv"),
            &[vm_other("acme,hv")],
            &["systemd:vm-other"],
        ),
        // IBM Z.
        case(
            "zvm guest",
            B::new().sysinfo("LPAR Number:          21\nLPAR Name:            ZLPAR01\nVM00 Name:            LINUX01\nVM00 Control Program: z/VM    7.3.0\n"),
            &[part(T::ZLpar), vm(T::Zvm)],
            &["systemd:zvm", "virt-what:ibm_systemz", "virt-what:ibm_systemz-zvm"],
        ),
        case(
            "z lpar",
            B::new().sysinfo("Type:                 8561\nLPAR Number:          3\nLPAR Name:            ZLPAR03\n"),
            &[part(T::ZLpar)],
            &["systemd:none", "virt-what:ibm_systemz", "virt-what:ibm_systemz-lpar"],
        ),
        case(
            "kvm on z",
            B::new().sysinfo("LPAR Number:          4\nLPAR Name:            KVMHOST\nVM00 Name:            guest1\nVM00 Control Program: KVM/Linux\n"),
            &[part(T::ZLpar), vm(T::ZKvm)],
            &["systemd:kvm", "virt-what:ibm_systemz", "virt-what:ibm_systemz-kvm"],
        ),
        case(
            "z without lpar lines",
            B::new().sysinfo("Manufacturer:         IBM\nType:                 8561\n"),
            &[],
            &["virt-what:ibm_systemz-direct"],
        ),
        // Other hypervisors: recognised, outside the vocabulary.
        case(
            "uml",
            B::new().cpuinfo("processor\t: 0\nvendor_id\t: User Mode Linux\nmodel name\t: UML\n"),
            &[vm_other("uml")],
            &["systemd:uml", "virt-what:uml"],
        ),
        case(
            "powervm lx86",
            B::new().cpuinfo("vendor_id\t: PowerVM Lx86\n"),
            &[vm_other("powervm_lx86")],
            &["virt-what:powervm_lx86"],
        ),
        case(
            "hitachi virtage",
            B::new()
                .dmi(SysVendor, "HITACHI")
                .dmi(ProductName, "Compute Blade 520XB1 LPAR")
                .cpuid(""),
            &[(K::Partition, T::Other, Some("virtage"))],
            &["virt-what:virtage"],
        ),
        case(
            "bochs",
            B::new().dmi(SysVendor, "Bochs").dmi(ProductName, "Bochs"),
            &[vm_other("bochs")],
            &["systemd:bochs"],
        ),
        case("qnx", B::new().cpuid("QNXQVMBSQG"), &[vm_other("qnx")], &["systemd:qnx"]),
        case(
            "acrn",
            B::new().cpuid("ACRNACRNACRN"),
            &[vm_other("acrn")],
            &["systemd:acrn"],
        ),
        case("sre", B::new().cpuid("SRESRESRESRE"), &[vm_other("sre")], &["systemd:sre"]),
        case("apple cpuid", B::new().cpuid("Apple VZ"), &[vm_other("apple")], &["systemd:apple"]),
        case(
            "apple dmi",
            B::new()
                .arch(Arch::Arm)
                .dmi(SysVendor, "Apple Inc.")
                .dmi(ProductName, "Apple Virtualization Generic Platform"),
            &[vm_other("apple")],
            &["systemd:apple"],
        ),
        case(
            "openbsd vmm",
            B::new().cpuid("OpenBSDVMM58"),
            &[vm_other("openbsd_vmm")],
            &["virt-what:vmm"],
        ),
        case(
            "unknown cpuid signature",
            B::new().cpuid("FooBarHyprv"),
            &[vm_other("FooBarHyprv")],
            &["systemd:vm-other"],
        ),
        case(
            "hypervisor bit without signature",
            B::new().native(&[]),
            &[vm_other("vm-other")],
            &["systemd:vm-other"],
        ),
        case(
            "smbios vm bit only",
            B::new().dmi(SysVendor, "Acme Clouds").vm_bit(true),
            &[vm_other("vm-other")],
            &["systemd:vm-other"],
        ),
        case(
            "other sys/hypervisor type",
            B::new().hv_type("acme"),
            &[vm_other("acme")],
            &["systemd:vm-other"],
        ),
        case(
            "ldoms guest",
            B::new().ldoms(false),
            &[vm_other("ldoms")],
            &["virt-what:ldoms", "virt-what:ldoms-guest"],
        ),
        case(
            "ldoms control domain",
            B::new().ldoms(true),
            &[vm_other("ldoms-control")],
            &["virt-what:ldoms", "virt-what:ldoms-control"],
        ),
        // Containers.
        case(
            "openvz container",
            B::new().dell().cpuid("").vz(false),
            &[ct(T::Openvz)],
            &["systemd:openvz", "virt-what:openvz"],
        ),
        case("openvz host", B::new().dell().cpuid("").vz(true), &[], &[]),
        case(
            "lxc on bare metal",
            B::new().dell().cpuid("").environ("lxc").systemd_container("lxc"),
            &[ct(T::Lxc)],
            &["systemd:lxc", "virt-what:lxc"],
        ),
        case(
            "libvirt lxc",
            B::new().host_manager("lxc-libvirt"),
            &[ct(T::Lxc)],
            &["systemd:lxc-libvirt"],
        ),
        case(
            "lxc from cgroup",
            B::new().cgroup(SELF_CGROUP, "/lxc.payload.web01/init.scope"),
            &[ct(T::Lxc)],
            &[],
        ),
        case(
            "docker in vmware",
            B::new().vmware().cpuid("VMwareVMware").dockerenv(),
            &[vm(T::Vmware), ct(T::Docker)],
            &["systemd:docker", "virt-what:docker", "virt-what:vmware"],
        ),
        case(
            "docker from cgroup v1",
            B::new().cgroup(PID1_CGROUP, "/docker/3f1ae0c2b4d5"),
            &[ct(T::Docker)],
            &["virt-what:docker"],
        ),
        case(
            "podman on kvm",
            B::new()
                .qemu()
                .cpuid("KVMKVMKVM")
                .environ("podman")
                .containerenv(),
            &[vm(T::Kvm), ct(T::Podman)],
            &["systemd:podman", "virt-what:podman", "virt-what:kvm"],
        ),
        case(
            "podman from cgroup",
            B::new().cgroup(SELF_CGROUP, "/machine.slice/libpod-4b1f2e.scope/container"),
            &[ct(T::Podman)],
            &["virt-what:podman"],
        ),
        case(
            "oci with docker files",
            B::new().environ("oci").dockerenv(),
            &[ct(T::Docker)],
            &["virt-what:oci"],
        ),
        case(
            "oci alone",
            B::new().environ("oci"),
            &[ct_other("oci")],
            &["virt-what:oci", "systemd:container-other"],
        ),
        case("crio", B::new().environ("crio"), &[ct_other("crio")], &["virt-what:crio"]),
        case(
            "systemd-nspawn",
            B::new()
                .systemd_container("systemd-nspawn")
                .host_manager("systemd-nspawn"),
            &[ct(T::SystemdNspawn)],
            &["systemd:systemd-nspawn", "virt-what:systemd_nspawn"],
        ),
        case("rkt", B::new().host_manager("rkt"), &[ct_other("rkt")], &["systemd:rkt"]),
        case("pouch", B::new().environ("pouch"), &[ct_other("pouch")], &["systemd:pouch"]),
        case("proot", B::new().tracer("proot"), &[ct_other("proot")], &["systemd:proot"]),
        case("traced by a debugger", B::new().tracer("gdb"), &[], &[]),
        case(
            "linux-vserver guest",
            B::new().vxid("49152"),
            &[ct_other("linux-vserver")],
            &["virt-what:linux_vserver", "virt-what:linux_vserver-guest"],
        ),
        case(
            "linux-vserver host",
            B::new().vxid("0"),
            &[],
            &["virt-what:linux_vserver-host"],
        ),
        case(
            "illumos lx",
            B::new()
                .environ("zone")
                .proc_version("Linux version 4.4 (BrandZ virtual linux)"),
            &[ct_other("illumos-lx")],
            &["virt-what:illumos-lx"],
        ),
        case(
            "kubernetes containerd",
            B::new().cgroup(
                SELF_CGROUP,
                "/kubepods/besteffort/pod1f2e/cri-containerd-9a8b7c.scope",
            ),
            &[ct_other("containerd")],
            &[],
        ),
        case(
            "cgroup namespace",
            B::new().cgroupns(),
            &[ct_other("container-other")],
            &["systemd:container-other"],
        ),
        // WSL.
        case(
            "wsl2",
            B::new()
                .cpuid("Microsoft Hv")
                .osrelease("5.15.167.4-microsoft-standard-WSL2"),
            &[vm(T::Wsl)],
            &["systemd:wsl"],
        ),
        case(
            "wsl1",
            B::new().cpuid("").osrelease("4.4.0-19041-Microsoft"),
            &[vm(T::Wsl)],
            &["systemd:wsl"],
        ),
        case(
            "docker in wsl2",
            B::new()
                .cpuid("Microsoft Hv")
                .osrelease("5.15.167.4-microsoft-standard-WSL2")
                .dockerenv(),
            &[vm(T::Wsl), ct(T::Docker)],
            &["systemd:docker"],
        ),
        case(
            "azure kernel is not wsl",
            B::new()
                .microsoft("7.0")
                .dmi(ChassisAssetTag, AZURE_ASSET_TAG)
                .cpuid("Microsoft Hv")
                .osrelease("6.8.0-1021-azure"),
            &[vm(T::Hyperv)],
            &[],
        )
        .cloud(Cloud::Azure),
    ]
}

/// Every fact virt-what prints (virt-what.in, 2024) and every word systemd-detect-virt prints
/// (src/basic/virt.c), so that each has a case above.
const VIRT_WHAT: &[&str] = &[
    "alibaba_cloud",
    "alibaba_cloud-ebm",
    "aws",
    "bhyve",
    "crio",
    "docker",
    "google_cloud",
    "hyperv",
    "ibm_power-kvm",
    "ibm_power-lpar_dedicated",
    "ibm_power-lpar_shared",
    "ibm_systemz",
    "ibm_systemz-direct",
    "ibm_systemz-kvm",
    "ibm_systemz-lpar",
    "ibm_systemz-zvm",
    "illumos-lx",
    "kvm",
    "ldoms",
    "ldoms-control",
    "ldoms-guest",
    "linux_vserver",
    "linux_vserver-guest",
    "linux_vserver-host",
    "lkvm",
    "lxc",
    "nutanix_ahv",
    "oci",
    "openvz",
    "ovirt",
    "parallels",
    "podman",
    "powervm_lx86",
    "qemu",
    "redhat",
    "rhev",
    "systemd_nspawn",
    "uml",
    "upcloud",
    "virtage",
    "virtualbox",
    "virtualpc",
    "vmm",
    "vmware",
    "xen",
    "xen-dom0",
    "xen-domU",
    "xen-hvm",
];
/// virt-what facts this classifier cannot reach: `ldoms-root`/`ldoms-io` need virt-what to run
/// Oracle's `mdprop.py` (such domains are reported as `ldoms`); `virt` is an IA-64 timing guess
/// (IA-64 left Linux in 6.7).
const VIRT_WHAT_UNREACHABLE: &[&str] = &["ldoms-root", "ldoms-io", "virt"];
const SYSTEMD: &[&str] = &[
    "none",
    "kvm",
    "amazon",
    "qemu",
    "bochs",
    "xen",
    "uml",
    "vmware",
    "oracle",
    "microsoft",
    "zvm",
    "parallels",
    "bhyve",
    "qnx",
    "acrn",
    "powervm",
    "apple",
    "sre",
    "google",
    "vm-other",
    "systemd-nspawn",
    "lxc-libvirt",
    "lxc",
    "openvz",
    "docker",
    "podman",
    "rkt",
    "wsl",
    "proot",
    "pouch",
    "container-other",
];

#[test]
fn classifier_table() {
    let mut failures = Vec::new();
    for c in cases() {
        let v = classify(&c.signals.0);
        let got: Vec<(VirtKind, Technology, Option<String>)> = v
            .layers
            .iter()
            .map(|l| (l.kind, l.technology, l.recognised.clone()))
            .collect();
        let want: Vec<(VirtKind, Technology, Option<String>)> = c
            .layers
            .iter()
            .map(|(k, t, n)| (*k, *t, n.map(str::to_string)))
            .collect();
        if got != want || v.cloud != c.cloud {
            failures.push(format!(
                "{}: want {want:?} cloud {:?}, got {got:?} cloud {:?}",
                c.name, c.cloud, v.cloud
            ));
        }
        if c.doubt == v.doubts.is_empty() {
            failures.push(format!(
                "{}: doubt expected {}, got {:?}",
                c.name, c.doubt, v.doubts
            ));
        }
        let evidence: Vec<String> = c.signals.0.evidence().into_iter().map(|(s, _)| s).collect();
        for l in &v.layers {
            if l.decided_by.is_empty() {
                failures.push(format!(
                    "{}: layer {:?} decided by nothing",
                    c.name, l.technology
                ));
            }
            for src in &l.decided_by {
                if !evidence.contains(src) {
                    failures.push(format!(
                        "{}: decided_by {src} is not in the evidence {evidence:?}",
                        c.name
                    ));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn table_covers_every_word_and_every_tool_result() {
    let cases = cases();
    let mut techs: Vec<Technology> = Vec::new();
    let mut clouds: Vec<Cloud> = Vec::new();
    let mut kinds: Vec<VirtKind> = Vec::new();
    let mut tools: Vec<&str> = Vec::new();
    for c in &cases {
        techs.extend(c.layers.iter().map(|l| l.1));
        kinds.extend(c.layers.iter().map(|l| l.0));
        if c.layers.is_empty() {
            kinds.push(K::BareMetal);
        }
        clouds.push(c.cloud);
        tools.extend(c.tools.iter().copied());
    }
    let missing_t: Vec<_> = T::ALL.iter().filter(|t| !techs.contains(t)).collect();
    let missing_c: Vec<_> = Cloud::ALL.iter().filter(|c| !clouds.contains(c)).collect();
    let missing_k: Vec<_> = K::ALL.iter().filter(|k| !kinds.contains(k)).collect();
    assert!(
        missing_t.is_empty(),
        "technologies without a case: {missing_t:?}"
    );
    assert!(missing_c.is_empty(), "clouds without a case: {missing_c:?}");
    assert!(missing_k.is_empty(), "kinds without a case: {missing_k:?}");
    let missing_vw: Vec<_> = VIRT_WHAT
        .iter()
        .filter(|f| !tools.contains(&format!("virt-what:{f}").as_str()))
        .collect();
    let missing_sd: Vec<_> = SYSTEMD
        .iter()
        .filter(|f| !tools.contains(&format!("systemd:{f}").as_str()))
        .collect();
    assert!(
        missing_vw.is_empty(),
        "virt-what facts without a case: {missing_vw:?}"
    );
    assert!(
        missing_sd.is_empty(),
        "systemd-detect-virt words without a case: {missing_sd:?}"
    );
    // Every tool name a case claims is one of the lists (no typo hides a missing case).
    for t in tools {
        let ok = match t.split_once(':') {
            Some(("virt-what", f)) => VIRT_WHAT.contains(&f) && !VIRT_WHAT_UNREACHABLE.contains(&f),
            Some(("systemd", f)) => SYSTEMD.contains(&f),
            _ => false,
        };
        assert!(ok, "unknown tool result {t:?}");
    }
    let mut names: Vec<&str> = cases.iter().map(|c| c.name).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), cases.len(), "case names must be unique");
}

#[test]
fn decided_by_names_the_deciding_sources() {
    // The live shape of a Firecracker-style KVM guest running Docker: no DMI, native CPUID.
    let v = classify(&B::new().native(&[(BASE, "KVMKVMKVM")]).dockerenv().0);
    assert_eq!(v.layers.len(), 2);
    assert_eq!(
        v.layers[0].decided_by,
        vec!["cpuid:1.ecx.31", "cpuid:0x40000000"]
    );
    assert_eq!(v.layers[1].decided_by, vec![".dockerenv"]);
    assert_eq!(v.kind(), K::Container);
    assert_eq!(v.technology(), Some(T::Docker));

    // DMI and CPUID agreeing are both listed; the Hyper-V leaf below Xen's is not Xen's evidence.
    let v = classify(&B::new().vmware().cpuid("VMwareVMware").0);
    assert_eq!(
        v.layers[0].decided_by,
        vec![
            "cli:--cpuid-vendor",
            "sys/class/dmi/id/product_name",
            "sys/class/dmi/id/sys_vendor",
            "sys/class/dmi/id/bios_vendor",
            "sys/class/dmi/id/bios_version",
        ]
    );
    let v = classify(
        &B::new()
            .native(&[(BASE, "Microsoft Hv"), (NEXT, "XenVMMXenVMM")])
            .0,
    );
    assert_eq!(
        v.layers[0].decided_by,
        vec!["cpuid:1.ecx.31", "cpuid:0x40000100"]
    );

    // Podman: PID 1's environment and the podman file agree.
    let v = classify(&B::new().environ("podman").containerenv().0);
    assert_eq!(
        v.layers[0].decided_by,
        vec!["proc/1/environ", "run/.containerenv"]
    );

    // AWS metal: no layer at all, whatever the cloud.
    let v = classify(&B::new().amazon("m5.metal").cpuid("").0);
    assert!(v.layers.is_empty());
    assert_eq!(v.kind(), K::BareMetal);
    assert_eq!(v.technology(), None);
}

#[test]
fn known_signatures_ignore_padding() {
    assert_eq!(known_signature("KVMKVMKVM\0\0\0"), Some((T::Kvm, None)));
    assert_eq!(known_signature("bhyve bhyve "), Some((T::Bhyve, None)));
    assert_eq!(known_signature(" lrpepyh  vr"), Some((T::Parallels, None)));
    assert_eq!(
        known_signature("ACRNACRNACRN"),
        Some((T::Other, Some("acrn")))
    );
    assert_eq!(known_signature("GenuineIntel"), None);
    assert_eq!(known_signature(""), None);
}
