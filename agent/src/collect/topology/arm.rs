//! Names of Arm processors: `/proc/cpuinfo` on arm64 gives only the MIDR implementer and part
//! numbers ("CPU implementer : 0x41", "CPU part : 0xd0c"); the names are published by Arm and the
//! vendors (and tabulated in the Linux `cputype.h` headers). The names are spelled as util-linux
//! `lscpu` prints them, so the two agree. Server parts first; an unknown part leaves the model
//! name unknown rather than guessed.

/// The implementer's name for an MIDR implementer code.
pub fn implementer_name(implementer: u32) -> Option<&'static str> {
    Some(match implementer {
        0x41 => "ARM",
        0x42 => "Broadcom",
        0x43 => "Cavium",
        0x46 => "FUJITSU",
        0x48 => "HiSilicon",
        0x4e => "NVIDIA",
        0x50 => "APM",
        0x51 => "Qualcomm",
        0x53 => "Samsung",
        0x56 => "Marvell",
        0x61 => "Apple",
        0x6d => "Microsoft",
        0x70 => "Phytium",
        0xc0 => "Ampere",
        _ => return None,
    })
}

/// The core's name for an implementer and part code.
pub fn part_name(implementer: u32, part: u32) -> Option<&'static str> {
    Some(match (implementer, part) {
        (0x41, 0xd03) => "Cortex-A53",
        (0x41, 0xd04) => "Cortex-A35",
        (0x41, 0xd05) => "Cortex-A55",
        (0x41, 0xd07) => "Cortex-A57",
        (0x41, 0xd08) => "Cortex-A72",
        (0x41, 0xd09) => "Cortex-A73",
        (0x41, 0xd0a) => "Cortex-A75",
        (0x41, 0xd0b) => "Cortex-A76",
        (0x41, 0xd0c) => "Neoverse-N1",
        (0x41, 0xd0d) => "Cortex-A77",
        (0x41, 0xd40) => "Neoverse-V1",
        (0x41, 0xd41) => "Cortex-A78",
        (0x41, 0xd49) => "Neoverse-N2",
        (0x41, 0xd4a) => "Neoverse-E1",
        (0x41, 0xd4f) => "Neoverse-V2",
        (0x41, 0xd83) => "Neoverse-V3AE",
        (0x41, 0xd84) => "Neoverse-V3",
        (0x41, 0xd8e) => "Neoverse-N3",
        (0x42, 0x516) => "ThunderX2",
        (0x43, 0x0a1) => "ThunderX-88XX",
        (0x43, 0x0af) => "ThunderX2-99xx",
        (0x46, 0x001) => "A64FX",
        (0x48, 0xd01) => "Kunpeng-920",
        (0x50, 0x000) => "X-Gene",
        (0x51, 0xc00) => "Falkor",
        (0xc0, 0xac3) => "Ampere-1",
        (0xc0, 0xac4) => "Ampere-1a",
        _ => return None,
    })
}

/// A `0x`-prefixed hexadecimal field of arm64 `/proc/cpuinfo` ("0x41", "0xd0c").
pub fn parse_hex_id(text: &str) -> Option<u32> {
    let digits = text.trim().strip_prefix("0x")?;
    u32::from_str_radix(digits, 16).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        let cases = [
            ("0x41", "0xd0c", Some("ARM"), Some("Neoverse-N1")),
            ("0x41", "0xd40", Some("ARM"), Some("Neoverse-V1")),
            ("0x41", "0xd08", Some("ARM"), Some("Cortex-A72")),
            ("0xc0", "0xac3", Some("Ampere"), Some("Ampere-1")),
            ("0x48", "0xd01", Some("HiSilicon"), Some("Kunpeng-920")),
            // Known implementer, unknown part: the vendor is named, the model stays unknown.
            ("0x41", "0xfff", Some("ARM"), None),
            ("0x99", "0xd0c", None, None),
        ];
        for (imp, part, vendor, model) in cases {
            let i = parse_hex_id(imp).unwrap();
            let p = parse_hex_id(part).unwrap();
            assert_eq!(implementer_name(i), vendor, "{imp}");
            assert_eq!(part_name(i, p), model, "{imp} {part}");
        }
    }

    #[test]
    fn hex_ids() {
        assert_eq!(parse_hex_id("0x41"), Some(0x41));
        assert_eq!(parse_hex_id(" 0xd0c\n"), Some(0xd0c));
        assert_eq!(parse_hex_id("65"), None);
        assert_eq!(parse_hex_id("0xzz"), None);
    }
}
