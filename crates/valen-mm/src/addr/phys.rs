//! Physical addresses.

use super::AddrError;
use core::fmt;

/// A physical address: a number below 2^52 (the x86_64 architectural limit).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
#[repr(transparent)]
pub struct PhysAddr(u64);

impl PhysAddr {
    /// One past the highest physical address x86_64 can express (2^52).
    pub const LIMIT: u64 = 1 << 52;
    /// Physical address zero.
    pub const ZERO: Self = Self(0);

    /// Checks that `addr` is below 2^52.
    pub const fn new(addr: u64) -> Result<Self, AddrError> {
        if addr < Self::LIMIT {
            Ok(Self(addr))
        } else {
            Err(AddrError::PhysTooHigh(addr))
        }
    }

    /// Keeps only the low 52 bits of `addr` (what a page-table entry stores).
    pub const fn new_truncate(addr: u64) -> Self {
        Self(addr & (Self::LIMIT - 1))
    }

    /// The address as a number.
    pub const fn as_u64(self) -> u64 {
        self.0
    }

    /// Rounds down to a multiple of `align` (a power of two).
    pub const fn align_down(self, align: u64) -> Self {
        Self(self.0 & !(align - 1))
    }

    /// Rounds up to a multiple of `align` (a power of two), or `None` past the limit.
    pub const fn align_up(self, align: u64) -> Option<Self> {
        match self.0.checked_add(align - 1) {
            Some(v) if (v & !(align - 1)) < Self::LIMIT => Some(Self(v & !(align - 1))),
            _ => None,
        }
    }

    /// Whether the address is a multiple of `align` (a power of two).
    pub const fn is_aligned(self, align: u64) -> bool {
        self.0 & (align - 1) == 0
    }

    /// `self + bytes`, or `None` when that leaves the physical address space.
    pub const fn checked_add(self, bytes: u64) -> Option<Self> {
        match self.0.checked_add(bytes) {
            Some(v) if v <= Self::LIMIT => Some(Self(v)),
            _ => None,
        }
    }

    /// `self - other` in bytes, or `None` when `other` is above `self`.
    pub const fn checked_sub_addr(self, other: Self) -> Option<u64> {
        self.0.checked_sub(other.0)
    }
}

impl fmt::Debug for PhysAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PhysAddr({:#x})", self.0)
    }
}

impl fmt::Display for PhysAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#x}", self.0)
    }
}

impl fmt::LowerHex for PhysAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::LowerHex::fmt(&self.0, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits() {
        assert_eq!(
            PhysAddr::new(PhysAddr::LIMIT - 1).unwrap().as_u64(),
            (1 << 52) - 1
        );
        assert_eq!(
            PhysAddr::new(PhysAddr::LIMIT),
            Err(AddrError::PhysTooHigh(1 << 52))
        );
        assert_eq!(PhysAddr::new_truncate(u64::MAX).as_u64(), (1 << 52) - 1);
    }

    #[test]
    fn alignment() {
        let a = PhysAddr::new(0x1234).unwrap();
        assert_eq!(a.align_down(0x1000).as_u64(), 0x1000);
        assert_eq!(a.align_up(0x1000).unwrap().as_u64(), 0x2000);
        assert!(!a.is_aligned(0x1000));
        assert_eq!(
            PhysAddr::new(PhysAddr::LIMIT - 1).unwrap().align_up(0x1000),
            None
        );
        assert_eq!(a.checked_add(u64::MAX), None);
        assert_eq!(
            a.checked_sub_addr(PhysAddr::new(0x1000).unwrap()),
            Some(0x234)
        );
    }
}
