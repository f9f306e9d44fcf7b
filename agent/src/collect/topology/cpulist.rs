//! CPU lists ("0-3,8-11") and CPU masks ("00000000,0000000f") as the kernel writes them, parsed
//! into bounded sets: a corrupt or hostile file cannot make the agent allocate without limit.

use std::fmt;

/// Highest number of CPUs (and one past the highest CPU number) a list may name. Linux's own
/// `NR_CPUS` tops out at 8192 on the distributions we know; anything past this is corruption.
pub const MAX_CPUS: u32 = 65_536;

/// A set of logical CPU numbers, sorted and without duplicates.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CpuSet(Vec<u32>);

impl CpuSet {
    /// The set of the given CPU numbers (any order, duplicates dropped).
    pub fn from_cpus(cpus: impl IntoIterator<Item = u32>) -> Self {
        let mut v: Vec<u32> = cpus.into_iter().collect();
        v.sort_unstable();
        v.dedup();
        CpuSet(v)
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn contains(&self, cpu: u32) -> bool {
        self.0.binary_search(&cpu).is_ok()
    }

    pub fn iter(&self) -> impl Iterator<Item = u32> + '_ {
        self.0.iter().copied()
    }

    /// The number of CPUs as a `u32` (a set never holds more than [`MAX_CPUS`]).
    pub fn count(&self) -> u32 {
        u32::try_from(self.0.len()).unwrap_or(u32::MAX)
    }
}

/// The kernel's list format (`%*pbl`): every run of consecutive CPUs as `a-b`, others alone.
impl fmt::Display for CpuSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        let mut i = 0;
        while let Some(&start) = self.0.get(i) {
            let mut end = start;
            while self.0.get(i + 1) == Some(&(end + 1)) {
                end += 1;
                i += 1;
            }
            if !first {
                f.write_str(",")?;
            }
            first = false;
            if end == start {
                write!(f, "{start}")?;
            } else {
                write!(f, "{start}-{end}")?;
            }
            i += 1;
        }
        Ok(())
    }
}

/// Why a CPU list or mask could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CpuListError {
    #[error("{0:?} is not a CPU list (expected numbers and ranges such as \"0-3,8\")")]
    NotAList(String),
    #[error("{0:?} is not a CPU mask (expected hexadecimal words such as \"ff,00000000\")")]
    NotAMask(String),
    #[error("range {0}-{1} runs backwards")]
    Backwards(u32, u32),
    #[error("CPU {0} is beyond the limit of {MAX_CPUS} CPUs; the file looks corrupt")]
    TooLarge(u64),
    #[error("the list names more than {MAX_CPUS} CPUs; the file looks corrupt")]
    TooMany,
}

/// Parses a CPU list as in `sys/devices/system/cpu/online` or `*_list` files: comma-separated
/// numbers and inclusive ranges, surrounding whitespace ignored, empty meaning no CPU. Every
/// number must be below [`MAX_CPUS`] and the ranges together may not name more than that many
/// CPUs; nothing is allocated before both are checked.
pub fn parse_cpu_list(text: &str) -> Result<CpuSet, CpuListError> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(CpuSet::default());
    }
    let mut ranges = Vec::new();
    let mut total: u64 = 0;
    for part in text.split(',') {
        let part = part.trim();
        let (lo, hi) = match part.split_once('-') {
            Some((a, b)) => (number(a, text)?, number(b, text)?),
            None => {
                let n = number(part, text)?;
                (n, n)
            }
        };
        if hi < lo {
            return Err(CpuListError::Backwards(lo, hi));
        }
        total += u64::from(hi - lo) + 1;
        if total > u64::from(MAX_CPUS) {
            return Err(CpuListError::TooMany);
        }
        ranges.push((lo, hi));
    }
    Ok(CpuSet::from_cpus(
        ranges.into_iter().flat_map(|(lo, hi)| lo..=hi),
    ))
}

fn number(s: &str, whole: &str) -> Result<u32, CpuListError> {
    let s = s.trim();
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(CpuListError::NotAList(whole.to_string()));
    }
    let n: u64 = s.parse().map_err(|_| CpuListError::TooLarge(u64::MAX))?;
    if n >= u64::from(MAX_CPUS) {
        return Err(CpuListError::TooLarge(n));
    }
    u32::try_from(n).map_err(|_| CpuListError::TooLarge(n))
}

/// Parses a CPU mask as in `thread_siblings` or `core_siblings`: hexadecimal, most significant
/// digit first, in 32-bit words separated by commas. Set bits must lie below [`MAX_CPUS`].
pub fn parse_cpu_mask(text: &str) -> Result<CpuSet, CpuListError> {
    let text = text.trim();
    let digits: Vec<u8> = text.bytes().filter(|&b| b != b',').collect();
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_hexdigit) {
        return Err(CpuListError::NotAMask(text.to_string()));
    }
    let mut cpus = Vec::new();
    for (pos, &d) in digits.iter().rev().enumerate() {
        let value = match d {
            b'0'..=b'9' => d - b'0',
            b'a'..=b'f' => d - b'a' + 10,
            _ => d - b'A' + 10,
        };
        if value == 0 {
            continue;
        }
        let base = (pos as u64) * 4;
        for bit in 0..4u64 {
            if value & (1 << bit) != 0 {
                let cpu = base + bit;
                if cpu >= u64::from(MAX_CPUS) {
                    return Err(CpuListError::TooLarge(cpu));
                }
                cpus.push(cpu as u32);
            }
        }
    }
    Ok(CpuSet::from_cpus(cpus))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(v: &[u32]) -> CpuSet {
        CpuSet::from_cpus(v.iter().copied())
    }

    #[test]
    fn lists() {
        let cases: &[(&str, Result<CpuSet, CpuListError>)] = &[
            ("0", Ok(set(&[0]))),
            ("", Ok(set(&[]))),
            ("\n", Ok(set(&[]))),
            ("0-3\n", Ok(set(&[0, 1, 2, 3]))),
            ("0-3,8-11", Ok(set(&[0, 1, 2, 3, 8, 9, 10, 11]))),
            ("0,40", Ok(set(&[0, 40]))),
            (" 5 , 1-2 ", Ok(set(&[1, 2, 5]))),
            ("1,1,1", Ok(set(&[1]))),
            ("65535", Ok(set(&[65535]))),
            ("0-65535", Ok(CpuSet::from_cpus(0..65536))),
            ("65536", Err(CpuListError::TooLarge(65536))),
            ("0-4294967295", Err(CpuListError::TooLarge(4_294_967_295))),
            (
                "0-99999999999999999999",
                Err(CpuListError::TooLarge(u64::MAX)),
            ),
            ("0-65535,0-1", Err(CpuListError::TooMany)),
            ("3-1", Err(CpuListError::Backwards(3, 1))),
            ("a-b", Err(CpuListError::NotAList("a-b".into()))),
            ("1,,2", Err(CpuListError::NotAList("1,,2".into()))),
            ("-1", Err(CpuListError::NotAList("-1".into()))),
            ("0x3", Err(CpuListError::NotAList("0x3".into()))),
        ];
        for (text, want) in cases {
            assert_eq!(&parse_cpu_list(text), want, "{text:?}");
        }
    }

    #[test]
    fn masks() {
        let cases: &[(&str, Result<CpuSet, CpuListError>)] = &[
            ("1", Ok(set(&[0]))),
            ("3\n", Ok(set(&[0, 1]))),
            ("00000000,00000003", Ok(set(&[0, 1]))),
            ("0000,00000100,00000001", Ok(set(&[0, 40]))),
            ("ff,00000000", Ok(set(&[32, 33, 34, 35, 36, 37, 38, 39]))),
            ("A", Ok(set(&[1, 3]))),
            ("0", Ok(set(&[]))),
            ("", Err(CpuListError::NotAMask(String::new()))),
            ("zz", Err(CpuListError::NotAMask("zz".into()))),
        ];
        for (text, want) in cases {
            assert_eq!(&parse_cpu_mask(text), want, "{text:?}");
        }
        // A one followed by 16384 zero digits is bit 65536: refused, not allocated.
        let huge = format!("1{}", "0".repeat(16384));
        assert_eq!(parse_cpu_mask(&huge), Err(CpuListError::TooLarge(65536)));
        // Leading zero words of any length cost nothing.
        let padded = format!("{}1", "0".repeat(20000));
        assert_eq!(parse_cpu_mask(&padded), Ok(set(&[0])));
    }

    #[test]
    fn display_is_the_kernel_list_format() {
        let cases: &[(&[u32], &str)] = &[
            (&[], ""),
            (&[0], "0"),
            (&[0, 1], "0-1"),
            (&[0, 1, 2, 3, 8, 9, 10, 11], "0-3,8-11"),
            (&[0, 40], "0,40"),
            (&[1, 3, 4, 5, 7], "1,3-5,7"),
        ];
        for (cpus, want) in cases {
            let s = set(cpus);
            assert_eq!(s.to_string(), *want);
            assert_eq!(parse_cpu_list(want), Ok(s));
        }
    }
}
