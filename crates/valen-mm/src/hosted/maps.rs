//! Memory maps as QEMU 7.2 hands them to a kernel, and synthetic ones.
//!
//! QEMU splits guest RAM at a "low memory" limit below 4 GiB and puts the
//! rest above 4 GiB:
//!
//! | machine | low memory when RAM >= threshold | threshold |
//! | --- | --- | --- |
//! | `pc`  | 3 GiB (0xc000_0000) | 3.5 GiB (0xe000_0000) |
//! | `q35` | 2 GiB (0x8000_0000) | 2.75 GiB (0xb000_0000) |
//!
//! Below the threshold all RAM is low memory. The top of low memory is not
//! reported as RAM (128 KiB on `pc`, 132 KiB on `q35`, used by firmware
//! tables). Every map also has RAM `[0, 0x9fc00)` and the reserved ranges
//! `[0x9fc00, 0xa0000)`, `[0xf0000, 0x100000)` and `[0xfffc0000, 4 GiB)`; `q35`
//! adds its PCIe MMCONFIG window `[0xb000_0000, 0xc000_0000)` and the chipset's
//! `[0xfed1_c000, 0xfed2_0000)`. With an AMD CPU model QEMU also reserves
//! `[0xfd_0000_0000, 0x100_0000_0000)` (the HyperTransport hole near 1 TiB).

use crate::memmap::{MemoryMap, RegionKind};

const GIB: u64 = 1 << 30;
const MIB: u64 = 1 << 20;
const FOUR_GIB: u64 = 4 * GIB;

/// The QEMU machine type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QemuMachine {
    /// i440FX, QEMU's default.
    Pc,
    /// Q35 with PCIe.
    Q35,
}

/// The memory map QEMU gives a `machine` guest with `ram` bytes, normalized.
/// `amd` adds the reserved range near 1 TiB that AMD CPU models report.
pub fn qemu_map(machine: QemuMachine, ram: u64, amd: bool) -> MemoryMap {
    let (split, threshold, top_reserved) = match machine {
        QemuMachine::Pc => (3 * GIB, 0xe000_0000, 0x2_0000),
        QemuMachine::Q35 => (2 * GIB, 0xb000_0000, 0x2_1000),
    };
    let low = if ram >= threshold { split } else { ram };
    let high = ram - low;

    let mut m = MemoryMap::new();
    let mut add = |s: u64, e: u64, k: RegionKind| {
        // Fixed, valid ranges well below MAX_REGIONS: cannot fail.
        let _ = m.push(s, e, k);
    };
    add(0, 0x9fc00, RegionKind::Usable);
    add(0x9fc00, 0xa0000, RegionKind::Reserved);
    add(0xf0000, 0x10_0000, RegionKind::Reserved);
    add(
        MIB,
        low.saturating_sub(top_reserved).max(MIB),
        RegionKind::Usable,
    );
    if machine == QemuMachine::Q35 {
        add(0xb000_0000, 0xc000_0000, RegionKind::Reserved);
        add(0xfed1_c000, 0xfed2_0000, RegionKind::Reserved);
    }
    add(0xfffc_0000, FOUR_GIB, RegionKind::Reserved);
    if high > 0 {
        add(FOUR_GIB, FOUR_GIB + high, RegionKind::Usable);
    }
    if amd {
        add(0xfd_0000_0000, 0x100_0000_0000, RegionKind::Reserved);
    }
    let _ = m.normalize();
    m
}

/// The machines the test matrix boots, by name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Preset {
    /// `pc`, 10 MiB: the smallest size the spec supports.
    Pc10M,
    /// `pc`, 32 MiB.
    Pc32M,
    /// `pc`, 128 MiB: the demo's default.
    Pc128M,
    /// `pc`, 1 GiB.
    Pc1G,
    /// `pc`, 3.5 GiB: the first size that splits around the PCI hole.
    Pc3584M,
    /// `pc`, 4 GiB.
    Pc4G,
    /// `pc`, 8 GiB.
    Pc8G,
    /// `pc`, 16 GiB.
    Pc16G,
    /// `q35`, 10 MiB.
    Q35_10M,
    /// `q35`, 128 MiB.
    Q35_128M,
    /// `q35`, 4 GiB.
    Q35_4G,
    /// `q35`, 16 GiB.
    Q35_16G,
    /// `pc`, 16 GiB with an AMD CPU model (reserved range near 1 TiB).
    Pc16GAmd,
}

impl Preset {
    /// Every preset.
    pub const ALL: [Preset; 13] = [
        Self::Pc10M,
        Self::Pc32M,
        Self::Pc128M,
        Self::Pc1G,
        Self::Pc3584M,
        Self::Pc4G,
        Self::Pc8G,
        Self::Pc16G,
        Self::Q35_10M,
        Self::Q35_128M,
        Self::Q35_4G,
        Self::Q35_16G,
        Self::Pc16GAmd,
    ];

    /// Machine type, RAM bytes and whether the CPU model is AMD.
    pub const fn params(self) -> (QemuMachine, u64, bool) {
        use QemuMachine::*;
        match self {
            Self::Pc10M => (Pc, 10 * MIB, false),
            Self::Pc32M => (Pc, 32 * MIB, false),
            Self::Pc128M => (Pc, 128 * MIB, false),
            Self::Pc1G => (Pc, GIB, false),
            Self::Pc3584M => (Pc, 3584 * MIB, false),
            Self::Pc4G => (Pc, 4 * GIB, false),
            Self::Pc8G => (Pc, 8 * GIB, false),
            Self::Pc16G => (Pc, 16 * GIB, false),
            Self::Q35_10M => (Q35, 10 * MIB, false),
            Self::Q35_128M => (Q35, 128 * MIB, false),
            Self::Q35_4G => (Q35, 4 * GIB, false),
            Self::Q35_16G => (Q35, 16 * GIB, false),
            Self::Pc16GAmd => (Pc, 16 * GIB, true),
        }
    }

    /// A name like `pc 128M`.
    pub fn name(self) -> String {
        let (m, ram, amd) = self.params();
        let size = if ram % GIB == 0 {
            format!("{}G", ram / GIB)
        } else {
            format!("{}M", ram / MIB)
        };
        let machine = match m {
            QemuMachine::Pc => "pc",
            QemuMachine::Q35 => "q35",
        };
        format!("{machine} {size}{}", if amd { " amd" } else { "" })
    }

    /// The normalized memory map.
    pub fn map(self) -> MemoryMap {
        let (m, ram, amd) = self.params();
        qemu_map(m, ram, amd)
    }
}

/// A synthetic map: usable RAM from 1 MiB up to `top`, cut by `holes`
/// reserved ranges of random size and place (from a fixed `seed`), plus the
/// legacy ranges below 1 MiB. Deterministic for a given seed.
pub fn synthetic_map(seed: u64, top: u64, holes: usize) -> MemoryMap {
    let mut rng = SplitMix64(seed);
    let mut m = MemoryMap::new();
    let _ = m.push(0, 0x9fc00, RegionKind::Usable);
    let _ = m.push(0x9fc00, 0x10_0000, RegionKind::Reserved);
    let _ = m.push(MIB, top.max(2 * MIB), RegionKind::Usable);
    let kinds = [
        RegionKind::Reserved,
        RegionKind::AcpiNvs,
        RegionKind::AcpiReclaimable,
        RegionKind::Bad,
    ];
    let span = top.saturating_sub(2 * MIB).max(1);
    for _ in 0..holes.min(crate::memmap::MAX_REGIONS / 2 - 4) {
        let start = 2 * MIB + rng.next() % span;
        // Sizes from 1 byte to 4 GiB, log-uniform, often unaligned.
        let len = 1 + rng.next() % (1u64 << (rng.next() % 32 + 1));
        let kind = kinds[(rng.next() % kinds.len() as u64) as usize];
        let _ = m.push(start, (start + len).min(top), kind);
    }
    let _ = m.normalize();
    m
}

/// A small deterministic PRNG (SplitMix64), enough for synthetic maps.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usable(m: &MemoryMap) -> Vec<(u64, u64)> {
        m.of_kind(RegionKind::Usable)
            .map(|r| (r.start.as_u64(), r.end.as_u64()))
            .collect()
    }

    #[test]
    fn presets_match_what_qemu_reports() {
        // The table of the foundation issue (RAM from 1 MiB up to ..., RAM above 4 GiB).
        type Case = (Preset, u64, Option<(u64, u64)>);
        let cases: [Case; 7] = [
            (Preset::Pc10M, 0x9e0000, None),
            (Preset::Pc128M, 0x7fe0000, None),
            (
                Preset::Pc4G,
                0xbffe0000,
                Some((0x1_0000_0000, 0x1_4000_0000)),
            ),
            (
                Preset::Pc16G,
                0xbffe0000,
                Some((0x1_0000_0000, 0x4_4000_0000)),
            ),
            (Preset::Q35_10M, 0x9df000, None),
            (
                Preset::Q35_4G,
                0x7ffdf000,
                Some((0x1_0000_0000, 0x1_8000_0000)),
            ),
            (
                Preset::Q35_16G,
                0x7ffdf000,
                Some((0x1_0000_0000, 0x4_8000_0000)),
            ),
        ];
        for (p, low_end, high) in cases {
            let m = p.map();
            let mut want = vec![(0, 0x9f000), (0x10_0000, low_end)];
            want.extend(high);
            assert_eq!(usable(&m), want, "{}", p.name());
            let reserved: Vec<_> = m
                .of_kind(RegionKind::Reserved)
                .map(|r| (r.start.as_u64(), r.end.as_u64()))
                .collect();
            assert!(reserved.contains(&(0x9fc00, 0xa0000)));
            assert!(reserved.contains(&(0xf0000, 0x100000)));
            assert!(reserved.contains(&(0xfffc0000, 0x1_0000_0000)));
            if p.params().0 == QemuMachine::Q35 {
                assert!(reserved.contains(&(0xb0000000, 0xc0000000)));
                assert!(reserved.contains(&(0xfed1c000, 0xfed20000)));
            }
        }
    }

    #[test]
    fn amd_hole_does_not_grow_the_machine() {
        let m = Preset::Pc16GAmd.map();
        assert_eq!(m.highest_usable_end().as_u64(), 0x4_4000_0000);
        assert_eq!(
            m.kind_at(crate::addr::PhysAddr::new(0xfd_0000_0000).unwrap()),
            Some(RegionKind::Reserved)
        );
    }

    #[test]
    fn synthetic_maps_are_deterministic_and_sane() {
        let a = synthetic_map(7, 1 << 40, 100);
        let b = synthetic_map(7, 1 << 40, 100);
        assert_eq!(a.regions(), b.regions());
        assert!(a.regions().len() > 50);
        assert!(a.highest_usable_end().as_u64() <= 1 << 40);
        for w in a.regions().windows(2) {
            assert!(w[0].end <= w[1].start, "sorted and disjoint");
        }
        for r in a.of_kind(RegionKind::Usable) {
            assert!(r.start.is_aligned(4096) && r.end.is_aligned(4096));
        }
    }
}
