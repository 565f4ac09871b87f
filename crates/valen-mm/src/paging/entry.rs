//! One page-table entry, page sizes, and where a table's entry count lives.
//!
//! Each table other than the PML4 keeps the number of its present entries
//! (0..=512, 10 bits) in bits 61..52 of the entry that points at it:
//!
//! ```text
//!  PD entry:  | NX | 62 | count (61..52) | PT frame (51..12) | ... | W | P |
//!                           |
//!                           +--> how many of the PT's 512 entries are present
//! ```
//!
//! Why there: the CPU ignores bits 62..52 of an entry that references a table
//! (protection keys apply to leaf entries only), every walk already holds that
//! entry in hand, and it costs no memory. So "is this table empty now?" is one
//! shift, and an empty table is freed in O(1) instead of scanning 512 entries.
//! Leaf entries never carry a count. The PML4's own count lives in the
//! address space.

use super::flags::{PageFlags, PAGE_HUGE, PAGE_PRESENT};
use crate::addr::PhysAddr;

/// Bits 51..12: the physical frame (or table) an entry points at.
pub(crate) const ADDR_MASK: u64 = 0x000f_ffff_ffff_f000;
const COUNT_SHIFT: u32 = 52;
const COUNT_MASK: u64 = 0x3ff << COUNT_SHIFT;

/// Number of entries in every table.
pub const ENTRIES: usize = 512;

/// The size of one mapping.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PageSize {
    /// 4 KiB, a page-table (level 1) entry.
    Size4K,
    /// 2 MiB, a huge page-directory (level 2) entry.
    Size2M,
    /// 1 GiB, a huge PDPT (level 3) entry; needs CPU support.
    Size1G,
}

impl PageSize {
    /// Bytes in a page of this size.
    pub const fn bytes(self) -> u64 {
        span(self.level())
    }

    /// The table level whose entries map pages of this size (1, 2 or 3).
    pub const fn level(self) -> u8 {
        match self {
            Self::Size4K => 1,
            Self::Size2M => 2,
            Self::Size1G => 3,
        }
    }

    /// The page size a leaf at `level` maps, if leaves may sit there.
    pub const fn at_level(level: u8) -> Option<Self> {
        match level {
            1 => Some(Self::Size4K),
            2 => Some(Self::Size2M),
            3 => Some(Self::Size1G),
            _ => None,
        }
    }
}

/// Bytes covered by one entry of a level-`level` table (1 = PT ... 4 = PML4).
pub(crate) const fn span(level: u8) -> u64 {
    1 << (12 + 9 * (level as u32 - 1))
}

/// Index of `virt` in a level-`level` table.
pub(crate) const fn index(virt: u64, level: u8) -> usize {
    ((virt >> (12 + 9 * (level as u32 - 1))) & 0x1ff) as usize
}

/// One 64-bit page-table entry.
#[derive(Clone, Copy, PartialEq, Eq)]
#[repr(transparent)]
pub struct Entry(u64);

impl Entry {
    /// A not-present entry.
    pub const EMPTY: Self = Self(0);

    /// The entry as the CPU sees it.
    pub const fn raw(self) -> u64 {
        self.0
    }

    /// The entry from its raw value.
    pub const fn from_raw(raw: u64) -> Self {
        Self(raw)
    }

    /// A leaf mapping `phys` with `flags` as a page of `size` (PS set for
    /// 2 MiB and 1 GiB, cleared for 4 KiB).
    pub(crate) const fn leaf(phys: u64, flags: PageFlags, size: PageSize) -> Self {
        let flags = flags.bits() & !PAGE_HUGE;
        let ps = if matches!(size, PageSize::Size4K) {
            0
        } else {
            PAGE_HUGE
        };
        Self((phys & ADDR_MASK) | flags | ps)
    }

    /// An entry pointing at the table in `frame` with `count` present entries.
    pub(crate) const fn table(frame: u64, flags: PageFlags, count: u16) -> Self {
        Self((frame & ADDR_MASK) | (flags.bits() & !PAGE_HUGE) | ((count as u64) << COUNT_SHIFT))
    }

    /// Whether the present bit is set.
    pub const fn is_present(self) -> bool {
        self.0 & PAGE_PRESENT != 0
    }

    /// Whether this present entry of a level-`level` table maps a page
    /// (rather than pointing at a table).
    pub const fn is_leaf(self, level: u8) -> bool {
        self.is_present() && (level == 1 || (level <= 3 && self.0 & PAGE_HUGE != 0))
    }

    /// The physical address bits (a frame or a table), PAT and count excluded
    /// for a leaf of `size`.
    pub const fn addr(self) -> u64 {
        self.0 & ADDR_MASK
    }

    /// The start of the page a leaf of `size` maps.
    pub(crate) const fn leaf_addr(self, size: PageSize) -> u64 {
        self.0 & ADDR_MASK & !(size.bytes() - 1)
    }

    /// The flags (the count bits are not flags and are left out).
    pub const fn flags(self) -> PageFlags {
        PageFlags::from_bits_truncate(self.0)
    }

    /// The physical address as a typed address.
    pub const fn phys(self) -> PhysAddr {
        PhysAddr::new_truncate(self.addr())
    }

    /// Present entries of the table this entry points at.
    pub(crate) const fn count(self) -> u16 {
        ((self.0 & COUNT_MASK) >> COUNT_SHIFT) as u16
    }

    /// The same entry with the table count set to `count`.
    pub(crate) const fn with_count(self, count: u16) -> Self {
        Self((self.0 & !COUNT_MASK) | ((count as u64) << COUNT_SHIFT))
    }

    /// The same entry with `flags` added.
    pub(crate) const fn with_flags(self, flags: PageFlags) -> Self {
        Self(self.0 | flags.bits())
    }
}

impl core::fmt::Debug for Entry {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "Entry({:#x}, {:?})", self.addr(), self.flags())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_indices() {
        assert_eq!(PageSize::Size4K.bytes(), 4096);
        assert_eq!(PageSize::Size2M.bytes(), 2 << 20);
        assert_eq!(PageSize::Size1G.bytes(), 1 << 30);
        assert_eq!(span(4), 512 << 30);
        assert_eq!(PageSize::at_level(4), None);
        assert_eq!(index(0xffff_ffff_8020_3000, 4), 511);
        assert_eq!(index(0xffff_ffff_8020_3000, 1), 3);
    }

    #[test]
    fn count_bits_do_not_touch_address_or_flags() {
        let e = Entry::table(
            0x000f_ffff_ffff_f000,
            PageFlags::PRESENT | PageFlags::WRITE,
            0,
        );
        let e = e.with_count(512);
        assert_eq!(e.count(), 512);
        assert_eq!(e.addr(), 0x000f_ffff_ffff_f000);
        assert_eq!(e.flags(), PageFlags::PRESENT | PageFlags::WRITE);
        assert_eq!(e.with_count(0).count(), 0);
        assert!(!e.is_leaf(2));
    }

    #[test]
    fn leaves() {
        let f = PageFlags::PRESENT | PageFlags::NO_EXECUTE;
        let e = Entry::leaf(0x4000_0000, f, PageSize::Size1G);
        assert!(e.is_leaf(3));
        assert_eq!(e.flags(), f | PageFlags::HUGE);
        assert_eq!(e.count(), 0);
        let small = Entry::leaf(0x5000, f | PageFlags::HUGE, PageSize::Size4K);
        assert_eq!(small.flags(), f);
        assert!(small.is_leaf(1));
        assert!(!Entry::EMPTY.is_leaf(1));
        // PAT bit 12 of a huge entry is not part of the page address.
        assert_eq!(
            Entry::from_raw(0x20_1000 | 0x81).leaf_addr(PageSize::Size2M),
            0x20_0000
        );
    }
}
