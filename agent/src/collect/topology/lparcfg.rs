//! POWER `/proc/powerpc/lparcfg` (older kernels: `/proc/ppc64/lparcfg`): the partition's
//! configuration as the pseries kernel writes it, a `lparcfg 1.9` header then `key=value` lines:
//!
//! ```text
//! lparcfg 1.9
//! partition_id=12
//! partition_entitled_capacity=50
//! system_active_processors=20
//! pool=0
//! pool_capacity=1600
//! capped=0
//! partition_active_processors=2
//! shared_processor_mode=1
//! ```
//!
//! Capacities are in hundredths of a processor. `pool` and `pool_capacity` are written only for
//! shared-processor partitions. The partition name is a `partition_name=` line on recent kernels,
//! else the device tree's `ibm,partition-name` (a NUL-terminated string).

use subcap_proto::v1 as pb;

/// Vocabulary of `PowerLpar.sharing`.
pub const SHARED: &str = "shared";
pub const DEDICATED: &str = "dedicated";

/// What lparcfg says, with the `key=value` lines it was taken from.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Lparcfg {
    pub lpar: pb::PowerLpar,
    pub sources: Vec<String>,
}

/// Parses lparcfg. `None` when no known key is present (not an lparcfg file).
pub fn parse(text: &str) -> Option<Lparcfg> {
    let mut out = Lparcfg::default();
    let l = &mut out.lpar;
    for line in text.lines() {
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        let (key, value) = (key.trim(), value.trim());
        let num = || value.parse::<u32>().ok();
        let used = match key {
            "partition_entitled_capacity" => set(&mut l.entitled_capacity_centi, num()),
            "partition_active_processors" => set(&mut l.virtual_processors, num()),
            "system_active_processors" => set(&mut l.system_active_processors, num()),
            "pool" => set(&mut l.pool_id, num()),
            "pool_capacity" => set(&mut l.pool_capacity_centi, num()),
            "partition_id" => set(&mut l.partition_id, num()),
            "capped" => set(&mut l.capped, flag(value)),
            "shared_processor_mode" if l.sharing.is_empty() => match flag(value) {
                Some(true) => {
                    l.sharing = SHARED.to_string();
                    true
                }
                Some(false) => {
                    l.sharing = DEDICATED.to_string();
                    true
                }
                None => false,
            },
            "partition_name" if l.partition_name.is_empty() && !value.is_empty() => {
                l.partition_name = value.to_string();
                true
            }
            _ => false,
        };
        if used {
            out.sources.push(format!("{key}={value}"));
        }
    }
    (!out.sources.is_empty()).then_some(out)
}

fn set<T>(field: &mut Option<T>, value: Option<T>) -> bool {
    if field.is_none() && value.is_some() {
        *field = value;
        return true;
    }
    false
}

fn flag(value: &str) -> Option<bool> {
    match value {
        "0" => Some(false),
        "1" => Some(true),
        _ => None,
    }
}

/// The device tree's `ibm,partition-name`: bytes up to the first NUL, trimmed; `None` if empty.
pub fn partition_name(bytes: &[u8]) -> Option<String> {
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    let name = String::from_utf8_lossy(bytes.get(..end).unwrap_or_default());
    let name = name.trim();
    (!name.is_empty()).then(|| name.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHARED_LPAR: &str =
        "lparcfg 1.9\nserial_number=IBM,0278ABCDE\nsystem_type=IBM,9009-22A\n\
        partition_id=12\nBoundThrds=1\nCapInc=1\nDisWheRotPer=5120000\nMinEntCap=10\n\
        partition_max_entitled_capacity=400\nsystem_potential_processors=20\nDesEntCap=50\n\
        partition_entitled_capacity=50\ngroup=32780\nsystem_active_processors=20\npool=0\n\
        pool_capacity=1600\npool_idle_time=0\npool_num_procs=0\nunallocated_capacity_weight=0\n\
        capacity_weight=128\ncapped=0\nunallocated_capacity=0\npartition_active_processors=2\n\
        partition_potential_processors=4\nshared_processor_mode=1\n";

    const DEDICATED_LPAR: &str =
        "lparcfg 1.9\nserial_number=IBM,0278F1E2D\nsystem_type=IBM,9105-42A\n\
        partition_id=3\npartition_name=lnxdb02\npartition_entitled_capacity=400\ngroup=32771\n\
        system_active_processors=40\nunallocated_capacity_weight=0\ncapacity_weight=0\ncapped=1\n\
        unallocated_capacity=0\npartition_active_processors=4\npartition_potential_processors=4\n\
        shared_processor_mode=0\n";

    #[test]
    fn table() {
        // (text, entitled, vps, sharing, capped, pool, pool capacity, system procs, id, name)
        type Want = (
            Option<u32>,
            Option<u32>,
            &'static str,
            Option<bool>,
            Option<u32>,
            Option<u32>,
            Option<u32>,
            Option<u32>,
            &'static str,
        );
        let cases: [(&str, Want); 3] = [
            (
                SHARED_LPAR,
                (Some(50), Some(2), SHARED, Some(false), Some(0), Some(1600), Some(20), Some(12), ""),
            ),
            (
                DEDICATED_LPAR,
                (Some(400), Some(4), DEDICATED, Some(true), None, None, Some(40), Some(3), "lnxdb02"),
            ),
            (
                "lparcfg 1.9\ncapped=yes\nshared_processor_mode=2\npartition_entitled_capacity=-5\npartition_id=7\n",
                (None, None, "", None, None, None, None, Some(7), ""),
            ),
        ];
        for (text, want) in cases {
            let l = parse(text).unwrap().lpar;
            let got = (
                l.entitled_capacity_centi,
                l.virtual_processors,
                l.sharing.as_str(),
                l.capped,
                l.pool_id,
                l.pool_capacity_centi,
                l.system_active_processors,
                l.partition_id,
                l.partition_name.as_str(),
            );
            assert_eq!(got, want, "{text}");
        }
    }

    #[test]
    fn not_lparcfg() {
        assert_eq!(parse(""), None);
        assert_eq!(parse("lparcfg 1.9\n"), None);
        assert_eq!(parse("NAME=\"Ubuntu\"\n"), None);
    }

    #[test]
    fn sources_name_the_lines_used() {
        let s = parse(SHARED_LPAR).unwrap().sources;
        assert!(s.contains(&"partition_entitled_capacity=50".to_string()));
        assert!(s.contains(&"shared_processor_mode=1".to_string()));
        assert!(!s.iter().any(|l| l.starts_with("DesEntCap")));
    }

    #[test]
    fn device_tree_name() {
        assert_eq!(partition_name(b"lnxprd01\0"), Some("lnxprd01".into()));
        assert_eq!(partition_name(b"lnxprd01"), Some("lnxprd01".into()));
        assert_eq!(partition_name(b"a b\0junk"), Some("a b".into()));
        assert_eq!(partition_name(b"\0"), None);
        assert_eq!(partition_name(b""), None);
    }
}
