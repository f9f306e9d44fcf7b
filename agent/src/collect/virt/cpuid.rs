//! Native CPUID: the hypervisor bit (leaf 1, ECX bit 31) and the hypervisor vendor signatures of
//! leaves 0x40000000..0x4000FF00, read from the processor on x86 only.
//!
//! Each CPUID in a guest is a VM exit (microseconds), so the scan is as short as the layouts allow:
//! the base leaf always; the higher ones only when the base holds the Hyper-V compatible signature
//! that Xen, KVM and Nutanix put under their own, and then only up to the first leaf holding a
//! signature of another hypervisor (genuine Hyper-V, with nothing above, gets the whole range).
//!
//! `__cpuid` is a safe function since Rust 1.94 (CPUID exists on every x86-64 processor and on every
//! 32-bit x86 one Rust targets), so this module, like the rest of the crate, has no `unsafe`. Older
//! compilers reject the calls below.

/// First hypervisor leaf (the vendor signature every hypervisor that sets the bit answers).
pub const HYPERVISOR_BASE: u32 = 0x4000_0000;
/// Last hypervisor leaf scanned: Xen (under Viridian) and Nutanix put their own signature one or more
/// 0x100 steps above a Hyper-V compatible one at the base.
pub const HYPERVISOR_LAST: u32 = 0x4000_FF00;
/// Distance between two hypervisor signature leaves.
pub const HYPERVISOR_STEP: u32 = 0x100;
/// The signature a hypervisor offering Hyper-V enlightenments puts at the base leaf.
pub const HYPERV_COMPATIBLE: &str = "Microsoft Hv";

/// What CPUID said: the hypervisor bit and every hypervisor leaf that holds a signature.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CpuidReading {
    pub hypervisor_bit: bool,
    /// `(leaf, signature)`; the base leaf whenever it holds anything, the higher leaves only when
    /// they hold a signature `keep_leaf` accepts (past a hypervisor's last leaf the processor answers
    /// with unrelated data).
    pub leaves: Vec<(u32, String)>,
}

/// The 12 signature bytes of a hypervisor leaf (EBX, ECX, EDX, little-endian) as text: trailing NULs
/// dropped, anything that is not printable ASCII shown as `\xNN`.
pub fn signature_text(ebx: u32, ecx: u32, edx: u32) -> String {
    let mut bytes = Vec::with_capacity(12);
    for reg in [ebx, ecx, edx] {
        bytes.extend_from_slice(&reg.to_le_bytes());
    }
    while bytes.last() == Some(&0) {
        bytes.pop();
    }
    let mut out = String::new();
    for b in bytes {
        if b.is_ascii_graphic() || b == b' ' {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("\\x{b:02x}"));
        }
    }
    out
}

/// Reads the processor, or `None` on an architecture without CPUID.
#[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
pub fn read_native(keep_leaf: impl Fn(&str) -> bool) -> Option<CpuidReading> {
    #[cfg(target_arch = "x86")]
    use core::arch::x86::__cpuid;
    #[cfg(target_arch = "x86_64")]
    use core::arch::x86_64::__cpuid;

    let leaf1 = __cpuid(1);
    let hypervisor_bit = leaf1.ecx & (1 << 31) != 0;
    let mut leaves = Vec::new();
    if hypervisor_bit {
        let r = __cpuid(HYPERVISOR_BASE);
        let base = signature_text(r.ebx, r.ecx, r.edx);
        let scan_higher = base == HYPERV_COMPATIBLE;
        if !base.is_empty() {
            leaves.push((HYPERVISOR_BASE, base));
        }
        let mut leaf = HYPERVISOR_BASE + HYPERVISOR_STEP;
        while scan_higher && leaf <= HYPERVISOR_LAST {
            let r = __cpuid(leaf);
            let sig = signature_text(r.ebx, r.ecx, r.edx);
            if sig != HYPERV_COMPATIBLE && keep_leaf(&sig) {
                leaves.push((leaf, sig));
                break;
            }
            leaf += HYPERVISOR_STEP;
        }
    }
    Some(CpuidReading {
        hypervisor_bit,
        leaves,
    })
}

/// Reads the processor, or `None` on an architecture without CPUID.
#[cfg(not(any(target_arch = "x86", target_arch = "x86_64")))]
pub fn read_native(_keep_leaf: impl Fn(&str) -> bool) -> Option<CpuidReading> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn regs(s: &[u8; 12]) -> (u32, u32, u32) {
        let w = |i: usize| u32::from_le_bytes([s[i], s[i + 1], s[i + 2], s[i + 3]]);
        (w(0), w(4), w(8))
    }

    #[test]
    fn signature_bytes_become_text() {
        let cases: [(&[u8; 12], &str); 4] = [
            (b"VMwareVMware", "VMwareVMware"),
            (b"KVMKVMKVM\0\0\0", "KVMKVMKVM"),
            (b"bhyve bhyve ", "bhyve bhyve "),
            (b"\x01\x02AB\0\0\0\0\0\0\0\0", "\\x01\\x02AB"),
        ];
        for (bytes, want) in cases {
            let (b, c, d) = regs(bytes);
            assert_eq!(signature_text(b, c, d), want);
        }
        assert_eq!(signature_text(0, 0, 0), "");
    }

    #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
    #[test]
    fn native_read_is_consistent_with_the_hypervisor_bit() {
        let r = read_native(|_| false).expect("x86 has CPUID");
        if !r.hypervisor_bit {
            assert!(r.leaves.is_empty(), "{r:?}");
        }
        assert!(r.leaves.iter().all(|(leaf, _)| *leaf == HYPERVISOR_BASE));
    }
}
