//! IBM Z `/proc/sysinfo`: the machine (STSI 1.1.1, 1.2.2), the LPAR (2.2.2) and the guest levels
//! under z/VM or KVM (3.2.2), one `Name:   value` line each, as the s390 kernel writes them:
//!
//! ```text
//! Type:                 8561
//! CPU Topology HW:      0 0 0 4 2 12
//! CPU Topology SW:      0 0 0 4 2 12
//! CPUs Total:           34
//! LPAR Number:          21
//! LPAR Characteristics: Shared
//! LPAR Name:            ZLPAR01
//! LPAR CPUs Total:      8
//! LPAR CPUs Dedicated:  0
//! LPAR CPUs Shared:     8
//! VM00 Name:            LINUX01
//! VM00 Control Program: z/VM    7.3.0
//! VM00 CPUs Total:      2
//! ```
//!
//! `VM00` is the level that runs this Linux; `VM01` and up are hypervisors further out.

use subcap_proto::v1 as pb;

/// What `/proc/sysinfo` says.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Sysinfo {
    pub s390: pb::S390,
    /// The six magnitudes of `CPU Topology SW:` (outermost first); lscpu reads the last four as
    /// drawers, books per drawer, sockets per book and cores per socket.
    pub sw_topology: Option<[u32; 6]>,
    /// The lines the values were taken from, `Name: value`, for evidence.
    pub sources: Vec<String>,
}

impl Sysinfo {
    /// Cores per socket as lscpu takes it from `CPU Topology SW:`.
    pub fn sw_cores_per_socket(&self) -> Option<u32> {
        self.sw_topology.map(|m| m[5])
    }
}

/// Parses `/proc/sysinfo`. Unknown lines are ignored; a number that does not parse leaves its
/// field unknown. `None` when no line of the format is present.
pub fn parse(text: &str) -> Option<Sysinfo> {
    let mut out = Sysinfo::default();
    let z = &mut out.s390;
    let mut seen = false;
    for line in text.lines() {
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        let (key, value) = (key.trim(), value.trim());
        let num = || value.parse::<u32>().ok();
        let used = match key {
            "Type" => set_str(&mut z.machine_type, value),
            "CPUs Total" => set_num(&mut z.cpus_total, num()),
            "CPUs Configured" => set_num(&mut z.cpus_configured, num()),
            "LPAR Name" => set_str(&mut z.lpar_name, value),
            "LPAR Number" => set_num(&mut z.lpar_number, num()),
            "LPAR Characteristics" => set_str(&mut z.lpar_characteristics, value),
            "LPAR CPUs Total" => set_num(&mut z.lpar_cpus_total, num()),
            "LPAR CPUs Dedicated" => set_num(&mut z.lpar_cpus_dedicated, num()),
            "LPAR CPUs Shared" => set_num(&mut z.lpar_cpus_shared, num()),
            "VM00 Name" => set_str(&mut z.guest_name, value),
            "VM00 Control Program" => set_str(&mut z.control_program, &squeeze(value)),
            "VM00 CPUs Total" => set_num(&mut z.guest_cpus_total, num()),
            // Not written by current kernels (STSI 3.2.2 has no such counts); read if present.
            "VM00 CPUs Dedicated" => set_num(&mut z.guest_cpus_dedicated, num()),
            "VM00 CPUs Shared" => set_num(&mut z.guest_cpus_shared, num()),
            "CPU Topology SW" => {
                let mags: Vec<u32> = value
                    .split_whitespace()
                    .map_while(|n| n.parse().ok())
                    .collect();
                match <[u32; 6]>::try_from(mags) {
                    Ok(m) => {
                        out.sw_topology = Some(m);
                        true
                    }
                    Err(_) => false,
                }
            }
            _ => false,
        };
        if used {
            seen = true;
            out.sources.push(format!("{key}: {value}"));
        }
    }
    seen.then_some(out)
}

fn set_str(field: &mut String, value: &str) -> bool {
    if field.is_empty() && !value.is_empty() {
        *field = value.to_string();
        return true;
    }
    false
}

fn set_num(field: &mut Option<u32>, value: Option<u32>) -> bool {
    if field.is_none() && value.is_some() {
        *field = value;
        return true;
    }
    false
}

/// "z/VM    7.3.0" as "z/VM 7.3.0": the field is two blank-padded words.
fn squeeze(value: &str) -> String {
    value.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    const ZVM: &str = "Manufacturer:         IBM             \nType:                 8561\n\
        Model:                708              T01             \nSequence Code:        00000000000C2E57\n\
        Plant:                02\nModel Capacity:       708              00001430\n\n\
        CPUs Total:           34\nCPUs Configured:      34\nCPUs Standby:         0\nCPUs Reserved:        0\n\
        Capability:           1430\nAdjustment 02-way:    62750\n\n\
        LPAR Number:          21\nLPAR Characteristics: Shared \nLPAR Name:            ZLPAR01 \n\
        LPAR Adjustment:      247\nLPAR CPUs Total:      8\nLPAR CPUs Configured: 8\n\
        LPAR CPUs Standby:    0\nLPAR CPUs Reserved:   0\nLPAR CPUs Dedicated:  0\nLPAR CPUs Shared:     8\n\n\
        VM00 Name:            LINUX01 \nVM00 Control Program: z/VM    7.3.0   \nVM00 Adjustment:      62\n\
        VM00 CPUs Total:      2\nVM00 CPUs Configured: 2\nVM00 CPUs Standby:    0\nVM00 CPUs Reserved:   0\n";

    const LPAR: &str = "Manufacturer:         IBM             \nType:                 3931\n\n\
        CPU Topology HW:      0 0 4 4 2 8\nCPU Topology SW:      0 0 4 4 2 8\n\
        CPUs Total:           85\nCPUs Configured:      80\n\n\
        LPAR Number:          3\nLPAR Characteristics: Dedicated \nLPAR Name:            LNXIFL1 \n\
        LPAR CPUs Total:      6\nLPAR CPUs Configured: 6\nLPAR CPUs Dedicated:  6\nLPAR CPUs Shared:     0\n\
        LPAR CPUs G-MTID:     1\nLPAR CPUs S-MTID:     1\nLPAR CPUs PS-MTID:    1\n";

    #[test]
    fn zvm_guest() {
        let s = parse(ZVM).unwrap();
        let z = &s.s390;
        assert_eq!(z.machine_type, "8561");
        assert_eq!((z.cpus_total, z.cpus_configured), (Some(34), Some(34)));
        assert_eq!((z.lpar_name.as_str(), z.lpar_number), ("ZLPAR01", Some(21)));
        assert_eq!(z.lpar_characteristics, "Shared");
        assert_eq!(
            (z.lpar_cpus_total, z.lpar_cpus_dedicated, z.lpar_cpus_shared),
            (Some(8), Some(0), Some(8))
        );
        assert_eq!(z.guest_name, "LINUX01");
        assert_eq!(z.control_program, "z/VM 7.3.0");
        assert_eq!(z.guest_cpus_total, Some(2));
        assert_eq!((z.guest_cpus_dedicated, z.guest_cpus_shared), (None, None));
        assert_eq!(s.sw_topology, None);
        assert!(s.sources.contains(&"LPAR CPUs Shared: 8".to_string()));
    }

    #[test]
    fn lpar_with_topology() {
        let s = parse(LPAR).unwrap();
        assert_eq!(s.sw_topology, Some([0, 0, 4, 4, 2, 8]));
        assert_eq!(s.sw_cores_per_socket(), Some(8));
        let z = &s.s390;
        assert_eq!(z.lpar_characteristics, "Dedicated");
        assert_eq!(
            (z.lpar_cpus_dedicated, z.lpar_cpus_shared),
            (Some(6), Some(0))
        );
        assert_eq!(z.guest_name, "");
        assert_eq!(z.control_program, "");
    }

    #[test]
    fn malformed_and_foreign() {
        assert_eq!(parse(""), None);
        assert_eq!(parse("MemTotal:       16318480 kB\n"), None);
        let s = parse("LPAR CPUs Total:      many\nCPU Topology SW:      0 0 1\nLPAR Name: X\n")
            .unwrap();
        assert_eq!(s.s390.lpar_cpus_total, None);
        assert_eq!(s.sw_topology, None);
        assert_eq!(s.s390.lpar_name, "X");
    }

    #[test]
    fn kvm_guest_control_program() {
        let s = parse("VM00 Name:            zkvm01  \nVM00 Control Program: KVM/Linux       \n")
            .unwrap();
        assert_eq!(s.s390.control_program, "KVM/Linux");
        assert_eq!(s.s390.guest_name, "zkvm01");
    }
}
