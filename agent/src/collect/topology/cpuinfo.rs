//! `/proc/cpuinfo`: the processor's identity (vendor, model name, family/model/stepping) and the
//! per-processor ids used when sysfs has no topology. Each architecture writes its own fields:
//!
//! - x86: `vendor_id`, `cpu family`, `model`, `model name`, `stepping`, and per processor
//!   `physical id`, `core id`, `siblings`, `cpu cores`.
//! - arm64: `CPU implementer`, `CPU architecture`, `CPU variant`, `CPU part`, `CPU revision`;
//!   no model name (it comes from the part table in [`super::arm`]).
//! - POWER: `cpu` (the model name), `revision` per processor, then a global block with
//!   `platform`, `model` (the machine type-model, e.g. `IBM,9009-22A`) and `machine`.
//! - s390: a global block first (`vendor_id`, `max thread id`, `processor N: ... machine = 8561`),
//!   then `cpu number` blocks with `physical id`, `core id`, `book id`, `drawer id`, `machine`.
//!
//! As in lscpu, the first value of a field wins.

use super::arm;

/// The architecture family whose field layout a cpuinfo follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    X86,
    Arm,
    Power,
    S390,
    Unknown,
}

/// One blank-line-separated block of `key : value` lines.
pub type Block = Vec<(String, String)>;

/// A parsed `/proc/cpuinfo`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CpuInfo {
    pub blocks: Vec<Block>,
}

/// What the processor says it is, as lscpu would print it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Identity {
    pub vendor: String,
    pub model_name: String,
    pub family: String,
    pub model: String,
    pub stepping: String,
    /// s390 `max thread id` (threads per core minus one), which lscpu prefers to sibling counts.
    pub max_thread_id: Option<u32>,
    /// The `(field, value)` pairs the identity was taken from, for evidence.
    pub sources: Vec<(String, String)>,
}

/// Per-processor ids, from the blocks that describe one logical CPU.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Processor {
    pub cpu: Option<u32>,
    pub physical_id: Option<i64>,
    pub core_id: Option<i64>,
    pub book_id: Option<i64>,
    pub drawer_id: Option<i64>,
}

/// Splits cpuinfo into blocks of trimmed `(key, value)` pairs. Lines without a colon are skipped.
pub fn parse(text: &str) -> CpuInfo {
    let mut blocks = Vec::new();
    let mut current: Block = Vec::new();
    for line in text.lines() {
        if line.trim().is_empty() {
            if !current.is_empty() {
                blocks.push(std::mem::take(&mut current));
            }
            continue;
        }
        if let Some((k, v)) = line.split_once(':') {
            current.push((k.trim().to_string(), v.trim().to_string()));
        }
    }
    if !current.is_empty() {
        blocks.push(current);
    }
    CpuInfo { blocks }
}

impl CpuInfo {
    /// The first value of `key` in any block.
    pub fn first(&self, key: &str) -> Option<&str> {
        self.blocks
            .iter()
            .flat_map(|b| b.iter())
            .find(|(k, v)| k == key && !v.is_empty())
            .map(|(_, v)| v.as_str())
    }

    /// Which architecture's layout this is, from fields only that architecture writes.
    pub fn layout(&self) -> Layout {
        let vendor = self.first("vendor_id").unwrap_or("");
        if vendor.contains("S390") {
            Layout::S390
        } else if self.first("CPU implementer").is_some() {
            Layout::Arm
        } else if !vendor.is_empty() || self.first("cpu family").is_some() {
            Layout::X86
        } else if self.first("cpu").is_some_and(|c| c.contains("POWER"))
            || self.first("platform").is_some_and(|p| {
                p.starts_with("pSeries") || p.starts_with("PowerNV") || p.starts_with("Power")
            })
        {
            Layout::Power
        } else {
            Layout::Unknown
        }
    }

    /// The processor identity, per architecture.
    pub fn identity(&self) -> Identity {
        let mut id = Identity::default();
        let take = |id: &mut Identity, key: &str| -> String {
            match self.first(key) {
                Some(v) => {
                    id.sources.push((key.to_string(), v.to_string()));
                    v.to_string()
                }
                None => String::new(),
            }
        };
        match self.layout() {
            Layout::X86 | Layout::Unknown => {
                id.vendor = take(&mut id, "vendor_id");
                id.model_name = take(&mut id, "model name");
                id.family = take(&mut id, "cpu family");
                id.model = take(&mut id, "model");
                id.stepping = take(&mut id, "stepping");
            }
            Layout::Arm => {
                let implementer = take(&mut id, "CPU implementer");
                let part = take(&mut id, "CPU part");
                let variant = take(&mut id, "CPU variant");
                let revision = take(&mut id, "CPU revision");
                id.family = take(&mut id, "CPU architecture");
                let imp = arm::parse_hex_id(&implementer);
                id.vendor = imp
                    .and_then(arm::implementer_name)
                    .map(str::to_string)
                    .unwrap_or(implementer);
                let named = match (imp, arm::parse_hex_id(&part)) {
                    (Some(i), Some(p)) => arm::part_name(i, p),
                    _ => None,
                };
                id.model_name = match named {
                    Some(n) => n.to_string(),
                    // 32-bit kernels write a "model name" of their own; arm64 ones do not.
                    None => take(&mut id, "model name"),
                };
                id.model = part;
                // lscpu's "rXpY": the variant is the major revision, the revision the minor.
                if let (Some(v), Ok(r)) = (arm::parse_hex_id(&variant), revision.parse::<u32>()) {
                    id.stepping = format!("r{v}p{r}");
                }
            }
            Layout::Power => {
                id.model_name = take(&mut id, "cpu");
                id.model = take(&mut id, "revision");
                id.vendor = "IBM".to_string();
                // The machine type-model ("IBM,9009-22A") is evidence, not the CPU model.
                take(&mut id, "model");
                take(&mut id, "platform");
            }
            Layout::S390 => {
                id.vendor = take(&mut id, "vendor_id");
                id.max_thread_id = take(&mut id, "max thread id").parse().ok();
                let machine = self.s390_machine();
                if let Some(m) = &machine {
                    id.sources.push(("machine".to_string(), m.clone()));
                    id.model_name = s390_model_name(m).unwrap_or_default().to_string();
                }
                id.model = machine.unwrap_or_default();
            }
        }
        id
    }

    /// The s390 machine type: a `machine` field, or `machine = 8561` in the summary lines.
    fn s390_machine(&self) -> Option<String> {
        if let Some(m) = self.first("machine") {
            return Some(m.to_string());
        }
        self.blocks
            .iter()
            .flat_map(|b| b.iter())
            .find_map(|(k, v)| {
                if !k.starts_with("processor ") {
                    return None;
                }
                v.split(',').find_map(|part| {
                    let (name, value) = part.split_once('=')?;
                    (name.trim() == "machine").then(|| value.trim().to_string())
                })
            })
    }

    /// The blocks that describe one logical CPU (`processor : N` or s390's `cpu number : N`),
    /// with the ids they carry.
    pub fn processors(&self) -> Vec<Processor> {
        let int = |b: &Block, key: &str| -> Option<i64> {
            b.iter()
                .find(|(k, _)| k == key)
                .and_then(|(_, v)| v.parse().ok())
        };
        self.blocks
            .iter()
            .filter_map(|b| {
                let cpu = int(b, "processor").or_else(|| int(b, "cpu number"))?;
                Some(Processor {
                    cpu: u32::try_from(cpu).ok(),
                    physical_id: int(b, "physical id"),
                    core_id: int(b, "core id"),
                    book_id: int(b, "book id"),
                    drawer_id: int(b, "drawer id"),
                })
            })
            .collect()
    }
}

/// IBM Z machine types and their names (the kernel's `elf_platform` table names the same ones).
pub fn s390_model_name(machine_type: &str) -> Option<&'static str> {
    Some(match machine_type.trim() {
        "2817" | "2818" => "IBM z196",
        "2827" | "2828" => "IBM zEC12",
        "2964" | "2965" => "IBM z13",
        "3906" | "3907" => "IBM z14",
        "8561" | "8562" => "IBM z15",
        "3931" | "3932" => "IBM z16",
        "9175" | "9176" => "IBM z17",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const X86: &str = "processor\t: 0\nvendor_id\t: GenuineIntel\ncpu family\t: 6\nmodel\t\t: 85\n\
        model name\t: Intel(R) Xeon(R) Gold 6248 CPU @ 2.50GHz\nstepping\t: 7\nmicrocode\t: 0x5003604\n\
        cpu MHz\t\t: 2500.000\nphysical id\t: 0\nsiblings\t: 40\ncore id\t\t: 0\ncpu cores\t: 20\n\
        flags\t\t: fpu vme de pse lm\n\nprocessor\t: 1\nvendor_id\t: GenuineIntel\ncpu family\t: 6\n\
        model\t\t: 85\nmodel name\t: Intel(R) Xeon(R) Gold 6248 CPU @ 2.50GHz\nstepping\t: 7\n\
        physical id\t: 1\nsiblings\t: 40\ncore id\t\t: 0\ncpu cores\t: 20\n\n";

    const ARM: &str = "processor\t: 0\nBogoMIPS\t: 243.75\nFeatures\t: fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics\n\
        CPU implementer\t: 0x41\nCPU architecture: 8\nCPU variant\t: 0x3\nCPU part\t: 0xd0c\nCPU revision\t: 1\n\n";

    const POWER: &str = "processor\t: 0\ncpu\t\t: POWER9 (architected), altivec supported\n\
        clock\t\t: 2750.000000MHz\nrevision\t: 2.2 (pvr 004e 1202)\n\nprocessor\t: 1\n\
        cpu\t\t: POWER9 (architected), altivec supported\nclock\t\t: 2750.000000MHz\n\
        revision\t: 2.2 (pvr 004e 1202)\n\ntimebase\t: 512000000\nplatform\t: pSeries\n\
        model\t\t: IBM,9009-22A\nmachine\t\t: CHRP IBM,9009-22A\nMMU\t\t: Radix\n";

    const S390: &str = "vendor_id       : IBM/S390\n# processors    : 2\nbogomips per cpu: 3241.00\n\
        max thread id   : 1\nfeatures\t: esan3 zarch stfle msa ldisp eimm dfp edat etf3eh highgprs te vx\n\
        processor 0: version = 00,  identification = 0A1B28,  machine = 3931\n\
        processor 1: version = 00,  identification = 0A1B28,  machine = 3931\n\n\
        cpu number      : 0\nphysical id     : 1\ncore id         : 0\nbook id         : 2\n\
        drawer id       : 1\ndedicated       : 1\naddress         : 0\nsiblings        : 8\n\
        cpu cores       : 4\nversion         : 00\nidentification  : 0A1B28\nmachine         : 3931\n\n";

    #[test]
    fn identity_per_architecture() {
        let cases = [
            (
                X86,
                Layout::X86,
                (
                    "GenuineIntel",
                    "Intel(R) Xeon(R) Gold 6248 CPU @ 2.50GHz",
                    "6",
                    "85",
                    "7",
                ),
                None,
            ),
            (
                ARM,
                Layout::Arm,
                ("ARM", "Neoverse-N1", "8", "0xd0c", "r3p1"),
                None,
            ),
            (
                POWER,
                Layout::Power,
                (
                    "IBM",
                    "POWER9 (architected), altivec supported",
                    "",
                    "2.2 (pvr 004e 1202)",
                    "",
                ),
                None,
            ),
            (
                S390,
                Layout::S390,
                ("IBM/S390", "IBM z16", "", "3931", ""),
                Some(1),
            ),
            ("", Layout::Unknown, ("", "", "", "", ""), None),
        ];
        for (text, layout, (vendor, name, family, model, stepping), mtid) in cases {
            let info = parse(text);
            assert_eq!(info.layout(), layout);
            let id = info.identity();
            assert_eq!(
                (
                    id.vendor.as_str(),
                    id.model_name.as_str(),
                    id.family.as_str(),
                    id.model.as_str(),
                    id.stepping.as_str()
                ),
                (vendor, name, family, model, stepping),
                "{layout:?}"
            );
            assert_eq!(id.max_thread_id, mtid);
        }
    }

    #[test]
    fn power_machine_model_is_evidence() {
        let id = parse(POWER).identity();
        assert!(id
            .sources
            .contains(&("model".to_string(), "IBM,9009-22A".to_string())));
    }

    #[test]
    fn s390_machine_from_summary_when_no_cpu_blocks() {
        let text = "vendor_id       : IBM/S390\n# processors    : 1\nmax thread id   : 0\n\
            processor 0: version = FF,  identification = 0133E8,  machine = 8561\n";
        let id = parse(text).identity();
        assert_eq!(
            (id.model.as_str(), id.model_name.as_str()),
            ("8561", "IBM z15")
        );
        assert_eq!(id.max_thread_id, Some(0));
    }

    #[test]
    fn arm_unknown_part_leaves_model_name_unknown() {
        let text = ARM.replace("0xd0c", "0xabc");
        let id = parse(&text).identity();
        assert_eq!(id.vendor, "ARM");
        assert_eq!(id.model_name, "");
        assert_eq!(id.model, "0xabc");
    }

    #[test]
    fn first_value_wins() {
        let text = "processor : 0\nmodel name : First\n\nprocessor : 1\nmodel name : Second\n";
        assert_eq!(parse(text).first("model name"), Some("First"));
    }

    #[test]
    fn processors_carry_their_ids() {
        let x = parse(X86).processors();
        assert_eq!(x.len(), 2);
        assert_eq!(
            x[1],
            Processor {
                cpu: Some(1),
                physical_id: Some(1),
                core_id: Some(0),
                book_id: None,
                drawer_id: None
            }
        );
        let z = parse(S390).processors();
        assert_eq!(z.len(), 1);
        assert_eq!(z[0].cpu, Some(0));
        assert_eq!((z[0].book_id, z[0].drawer_id), (Some(2), Some(1)));
        // POWER writes no ids: the processors are there, the ids unknown.
        let p = parse(POWER).processors();
        assert_eq!(p.len(), 2);
        assert!(p
            .iter()
            .all(|p| p.physical_id.is_none() && p.core_id.is_none()));
    }
}
