//! The fixed vocabularies of the contract: the words that string fields of `subcap.v1` may hold.
//!
//! Hand-written, not generated: the proto carries these as lower-case strings so that the JSON,
//! the CLI, the reports and the docs say the same word; this module is the one list of them, used
//! by the agent to write them and by the aggregator to reject anything else.

use std::fmt;
use std::str::FromStr;

/// A word outside a field's vocabulary.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {value:?} is not one of: {allowed}")]
pub struct UnknownWord {
    pub field: &'static str,
    pub value: String,
    pub allowed: String,
}

macro_rules! vocabulary {
    ($(#[$meta:meta])* $name:ident, $field:literal { $($variant:ident => $word:literal,)+ }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name { $($variant,)+ }

        impl $name {
            /// Every word of the vocabulary, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant,)+];

            /// The word on the wire.
            pub const fn as_str(self) -> &'static str {
                match self { $($name::$variant => $word,)+ }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = UnknownWord;
            fn from_str(s: &str) -> Result<Self, UnknownWord> {
                match s {
                    $($word => Ok($name::$variant),)+
                    _ => Err(UnknownWord {
                        field: $field,
                        value: s.to_string(),
                        allowed: [$($word,)+].join(", "),
                    }),
                }
            }
        }
    };
}

vocabulary! {
    /// Where a layer of the host runs (`Virtualization.kind`, `VirtLayer.kind`).
    VirtKind, "kind" {
        BareMetal => "bare_metal",
        VirtualMachine => "virtual_machine",
        Partition => "partition",
        Container => "container",
    }
}

vocabulary! {
    /// The virtualization technology of a layer (`Virtualization.technology`, `VirtLayer.technology`).
    Technology, "technology" {
        Vmware => "vmware",
        Hyperv => "hyperv",
        Kvm => "kvm",
        QemuTcg => "qemu_tcg",
        XenHvm => "xen_hvm",
        XenPv => "xen_pv",
        XenDom0 => "xen_dom0",
        Virtualbox => "virtualbox",
        Parallels => "parallels",
        Bhyve => "bhyve",
        NutanixAhv => "nutanix_ahv",
        Ovirt => "ovirt",
        PowervmLparShared => "powervm_lpar_shared",
        PowervmLparDedicated => "powervm_lpar_dedicated",
        PowerKvm => "power_kvm",
        Zvm => "zvm",
        ZLpar => "z_lpar",
        ZKvm => "z_kvm",
        Openvz => "openvz",
        Lxc => "lxc",
        Docker => "docker",
        Podman => "podman",
        SystemdNspawn => "systemd_nspawn",
        Wsl => "wsl",
        Other => "other",
    }
}

impl Technology {
    /// The kind of layer this technology makes.
    pub const fn kind(self) -> VirtKind {
        use Technology::*;
        match self {
            PowervmLparShared | PowervmLparDedicated | ZLpar => VirtKind::Partition,
            Openvz | Lxc | Docker | Podman | SystemdNspawn => VirtKind::Container,
            Vmware | Hyperv | Kvm | QemuTcg | XenHvm | XenPv | XenDom0 | Virtualbox | Parallels
            | Bhyve | NutanixAhv | Ovirt | PowerKvm | Zvm | ZKvm | Wsl | Other => {
                VirtKind::VirtualMachine
            }
        }
    }
}

vocabulary! {
    /// The public cloud a host runs in (`Virtualization.cloud`).
    Cloud, "cloud" {
        Aws => "aws",
        Azure => "azure",
        Gcp => "gcp",
        Oracle => "oracle",
        Alibaba => "alibaba",
        IbmCloud => "ibm_cloud",
        Openstack => "openstack",
        None => "none",
    }
}

vocabulary! {
    /// How an IBM installation was found (`IbmInstall.signature`).
    Signature, "signature" {
        SwidTag => "swid_tag",
        Slmtag => "slmtag",
        InstallationManager => "installation_manager",
        Db2GlobalReg => "db2_global_reg",
        MqMqinst => "mq_mqinst",
        Dpkg => "dpkg",
        Rpm => "rpm",
        InstallRoot => "install_root",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_word_round_trips() {
        for t in Technology::ALL {
            assert_eq!(t.as_str().parse::<Technology>(), Ok(*t));
        }
        for c in Cloud::ALL {
            assert_eq!(c.as_str().parse::<Cloud>(), Ok(*c));
        }
        for k in VirtKind::ALL {
            assert_eq!(k.as_str().parse::<VirtKind>(), Ok(*k));
        }
        for s in Signature::ALL {
            assert_eq!(s.as_str().parse::<Signature>(), Ok(*s));
        }
    }

    #[test]
    fn unknown_word_names_field_and_choices() {
        let e = "VMware".parse::<Technology>().unwrap_err();
        let msg = e.to_string();
        assert!(msg.starts_with("technology: \"VMware\""), "{msg}");
        assert!(msg.contains("vmware, hyperv"), "{msg}");
    }
}
