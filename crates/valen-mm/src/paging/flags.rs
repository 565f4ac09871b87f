//! Page-table entry flags: the spec's `PAGE_*` constants and a typed set.
//!
//! ```text
//!  63   62..52     51..12          11..9   8   7    6   5   4   3   2   1   0
//! +----+---------+----------------+-------+---+----+---+---+---+---+---+---+---+
//! | NX | (avail) | physical frame | avail | G | PS | D | A |PCD|PWT| U | W | P |
//! +----+---------+----------------+-------+---+----+---+---+---+---+---+---+---+
//! ```
//!
//! `PS` is the spec's `PAGE_HUGE`: in a PDPT or PD entry it makes the entry a
//! 1 GiB or 2 MiB page. Bits 62..52 of entries that point at tables hold the
//! table's entry count (see [`entry`](super::entry)).

use core::fmt;
use core::ops::{BitOr, BitOrAssign};

/// The page is present (the spec's `PAGE_PRESENT`).
pub const PAGE_PRESENT: u64 = 1 << 0;
/// The page is writable (the spec's `PAGE_WRITE`).
pub const PAGE_WRITE: u64 = 1 << 1;
/// The page is reachable from user mode (the spec's `PAGE_USER`).
pub const PAGE_USER: u64 = 1 << 2;
/// Write-through caching (the spec's `PAGE_PWT`).
pub const PAGE_PWT: u64 = 1 << 3;
/// Caching disabled, for MMIO (the spec's `PAGE_PCD`).
pub const PAGE_PCD: u64 = 1 << 4;
/// Set by the CPU when the page is accessed.
pub const PAGE_ACCESSED: u64 = 1 << 5;
/// Set by the CPU when the page is written.
pub const PAGE_DIRTY: u64 = 1 << 6;
/// A 2 MiB or 1 GiB page (the spec's `PAGE_HUGE`).
pub const PAGE_HUGE: u64 = 1 << 7;
/// The TLB entry survives CR3 reloads.
pub const PAGE_GLOBAL: u64 = 1 << 8;
/// Instruction fetches fault (needs EFER.NXE).
pub const PAGE_NO_EXECUTE: u64 = 1 << 63;

/// A set of page-table entry flags; only the bits named here can be set.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
#[repr(transparent)]
pub struct PageFlags(u64);

impl PageFlags {
    /// No flag.
    pub const EMPTY: Self = Self(0);
    /// [`PAGE_PRESENT`].
    pub const PRESENT: Self = Self(PAGE_PRESENT);
    /// [`PAGE_WRITE`].
    pub const WRITE: Self = Self(PAGE_WRITE);
    /// [`PAGE_USER`].
    pub const USER: Self = Self(PAGE_USER);
    /// [`PAGE_PWT`].
    pub const PWT: Self = Self(PAGE_PWT);
    /// [`PAGE_PCD`].
    pub const PCD: Self = Self(PAGE_PCD);
    /// [`PAGE_ACCESSED`].
    pub const ACCESSED: Self = Self(PAGE_ACCESSED);
    /// [`PAGE_DIRTY`].
    pub const DIRTY: Self = Self(PAGE_DIRTY);
    /// [`PAGE_HUGE`].
    pub const HUGE: Self = Self(PAGE_HUGE);
    /// [`PAGE_GLOBAL`].
    pub const GLOBAL: Self = Self(PAGE_GLOBAL);
    /// [`PAGE_NO_EXECUTE`].
    pub const NO_EXECUTE: Self = Self(PAGE_NO_EXECUTE);
    /// Every flag this type knows.
    pub const ALL: Self = Self(
        PAGE_PRESENT
            | PAGE_WRITE
            | PAGE_USER
            | PAGE_PWT
            | PAGE_PCD
            | PAGE_ACCESSED
            | PAGE_DIRTY
            | PAGE_HUGE
            | PAGE_GLOBAL
            | PAGE_NO_EXECUTE,
    );

    const NAMES: [(u64, &'static str); 10] = [
        (PAGE_PRESENT, "PRESENT"),
        (PAGE_WRITE, "WRITE"),
        (PAGE_USER, "USER"),
        (PAGE_PWT, "PWT"),
        (PAGE_PCD, "PCD"),
        (PAGE_ACCESSED, "ACCESSED"),
        (PAGE_DIRTY, "DIRTY"),
        (PAGE_HUGE, "HUGE"),
        (PAGE_GLOBAL, "GLOBAL"),
        (PAGE_NO_EXECUTE, "NO_EXECUTE"),
    ];

    /// The flags in `bits`, or `None` if `bits` holds anything else (such
    /// as address bits), so a C caller's mistake is caught, not masked.
    pub const fn from_bits(bits: u64) -> Option<Self> {
        if bits & !Self::ALL.0 == 0 {
            Some(Self(bits))
        } else {
            None
        }
    }

    /// The known flags in `bits`; every other bit is dropped.
    pub const fn from_bits_truncate(bits: u64) -> Self {
        Self(bits & Self::ALL.0)
    }

    /// The flags as a number.
    pub const fn bits(self) -> u64 {
        self.0
    }

    /// Whether every flag of `other` is set in `self`.
    pub const fn contains(self, other: Self) -> bool {
        self.0 & other.0 == other.0
    }

    /// Whether any flag of `other` is set in `self`.
    pub const fn intersects(self, other: Self) -> bool {
        self.0 & other.0 != 0
    }

    /// `self` plus the flags of `other`.
    pub const fn union(self, other: Self) -> Self {
        Self(self.0 | other.0)
    }

    /// `self` without the flags of `other`.
    pub const fn difference(self, other: Self) -> Self {
        Self(self.0 & !other.0)
    }
}

impl BitOr for PageFlags {
    type Output = Self;
    fn bitor(self, rhs: Self) -> Self {
        self.union(rhs)
    }
}

impl BitOrAssign for PageFlags {
    fn bitor_assign(&mut self, rhs: Self) {
        *self = self.union(rhs);
    }
}

impl fmt::Debug for PageFlags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0 == 0 {
            return f.write_str("PageFlags(EMPTY)");
        }
        f.write_str("PageFlags(")?;
        let mut first = true;
        for (bit, name) in Self::NAMES {
            if self.0 & bit != 0 {
                if !first {
                    f.write_str(" | ")?;
                }
                f.write_str(name)?;
                first = false;
            }
        }
        f.write_str(")")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_values() {
        assert_eq!(PAGE_PRESENT, 1);
        assert_eq!(PAGE_WRITE, 2);
        assert_eq!(PAGE_USER, 4);
        assert_eq!(PAGE_PWT, 8);
        assert_eq!(PAGE_PCD, 16);
        assert_eq!(PAGE_HUGE, 128);
        assert_eq!(PAGE_NO_EXECUTE, 1 << 63);
        assert_eq!(
            (PageFlags::PRESENT | PageFlags::WRITE).bits(),
            PAGE_PRESENT | PAGE_WRITE
        );
    }

    #[test]
    fn from_bits_rejects_unknown() {
        assert_eq!(PageFlags::from_bits(0x3), Some(PageFlags(3)));
        assert_eq!(PageFlags::from_bits(0x1003), None);
        assert_eq!(PageFlags::from_bits_truncate(0x1003).bits(), 3);
        let f = PageFlags::PRESENT | PageFlags::NO_EXECUTE;
        assert!(f.contains(PageFlags::PRESENT));
        assert!(!f.contains(PageFlags::WRITE));
        assert_eq!(f.difference(PageFlags::PRESENT), PageFlags::NO_EXECUTE);
        assert_eq!(format!("{f:?}"), "PageFlags(PRESENT | NO_EXECUTE)");
    }
}
