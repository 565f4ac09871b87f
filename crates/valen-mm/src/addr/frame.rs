//! 4 KiB physical frames and virtual pages.

use super::{AddrError, PhysAddr, VirtAddr, PAGE_SHIFT, PAGE_SIZE};
use core::fmt;

/// A 4 KiB physical frame: a page-aligned physical address.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Frame(PhysAddr);

impl Frame {
    /// The frame starting at `addr`, which must be 4 KiB aligned.
    pub const fn from_start(addr: PhysAddr) -> Result<Self, AddrError> {
        if addr.is_aligned(PAGE_SIZE) {
            Ok(Self(addr))
        } else {
            Err(AddrError::Unaligned(addr.as_u64()))
        }
    }

    /// The frame that contains `addr`.
    pub const fn containing(addr: PhysAddr) -> Self {
        Self(addr.align_down(PAGE_SIZE))
    }

    /// The frame with number `n` (its address divided by 4 KiB).
    pub const fn from_number(n: u64) -> Result<Self, AddrError> {
        match PhysAddr::new(n << PAGE_SHIFT) {
            Ok(a) if n < (PhysAddr::LIMIT >> PAGE_SHIFT) => Ok(Self(a)),
            _ => Err(AddrError::PhysTooHigh(n.saturating_mul(PAGE_SIZE))),
        }
    }

    /// First byte of the frame.
    pub const fn start(self) -> PhysAddr {
        self.0
    }

    /// The frame number (address / 4 KiB).
    pub const fn number(self) -> u64 {
        self.0.as_u64() >> PAGE_SHIFT
    }
}

impl fmt::Debug for Frame {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Frame({:#x})", self.0.as_u64())
    }
}

/// A 4 KiB virtual page: a page-aligned canonical virtual address.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Page(VirtAddr);

impl Page {
    /// The page starting at `addr`, which must be 4 KiB aligned.
    pub const fn from_start(addr: VirtAddr) -> Result<Self, AddrError> {
        if addr.is_aligned(PAGE_SIZE) {
            Ok(Self(addr))
        } else {
            Err(AddrError::Unaligned(addr.as_u64()))
        }
    }

    /// The page that contains `addr`.
    pub const fn containing(addr: VirtAddr) -> Self {
        Self(addr.align_down(PAGE_SIZE))
    }

    /// First byte of the page.
    pub const fn start(self) -> VirtAddr {
        self.0
    }
}

impl fmt::Debug for Page {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Page({:#x})", self.0.as_u64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames() {
        let a = PhysAddr::new(0x20_3456).unwrap();
        assert_eq!(Frame::from_start(a), Err(AddrError::Unaligned(0x20_3456)));
        let f = Frame::containing(a);
        assert_eq!(f.start().as_u64(), 0x20_3000);
        assert_eq!(f.number(), 0x203);
        assert_eq!(Frame::from_number(0x203).unwrap(), f);
        assert!(Frame::from_number(1 << 40).is_err());
    }

    #[test]
    fn pages() {
        let v = VirtAddr::new(0xffff_ffff_b000_0123).unwrap();
        assert!(Page::from_start(v).is_err());
        assert_eq!(Page::containing(v).start().as_u64(), 0xffff_ffff_b000_0000);
    }
}
