//! Virtual addresses, always canonical.

use super::AddrError;
use core::fmt;

/// A canonical x86_64 virtual address (4-level paging: bits 63..48 copy bit 47).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
#[repr(transparent)]
pub struct VirtAddr(u64);

impl VirtAddr {
    /// Virtual address zero.
    pub const ZERO: Self = Self(0);

    /// Checks that `addr` is canonical.
    pub const fn new(addr: u64) -> Result<Self, AddrError> {
        if Self::new_truncate(addr).0 == addr {
            Ok(Self(addr))
        } else {
            Err(AddrError::NonCanonical(addr))
        }
    }

    /// Makes `addr` canonical by copying bit 47 into bits 63..48.
    pub const fn new_truncate(addr: u64) -> Self {
        Self((((addr << 16) as i64) >> 16) as u64)
    }

    /// The address of a pointer.
    pub fn from_ptr<T: ?Sized>(ptr: *const T) -> Self {
        Self::new_truncate(ptr as *const u8 as u64)
    }

    /// The address as a number.
    pub const fn as_u64(self) -> u64 {
        self.0
    }

    /// The address as a raw pointer.
    pub const fn as_mut_ptr<T>(self) -> *mut T {
        self.0 as *mut T
    }

    /// Rounds down to a multiple of `align` (a power of two). Stays canonical.
    pub const fn align_down(self, align: u64) -> Self {
        Self::new_truncate(self.0 & !(align - 1))
    }

    /// Whether the address is a multiple of `align` (a power of two).
    pub const fn is_aligned(self, align: u64) -> bool {
        self.0 & (align - 1) == 0
    }

    /// `self + bytes` if the result is canonical and does not wrap around.
    pub const fn checked_add(self, bytes: u64) -> Option<Self> {
        match self.0.checked_add(bytes) {
            Some(v) => match Self::new(v) {
                Ok(a) => Some(a),
                Err(_) => None,
            },
            None => None,
        }
    }

    /// `self - other` in bytes, or `None` when `other` is above `self`.
    pub const fn checked_sub_addr(self, other: Self) -> Option<u64> {
        self.0.checked_sub(other.0)
    }

    /// Index into the level-`level` table (4 = PML4, 1 = page table).
    pub const fn table_index(self, level: u32) -> usize {
        ((self.0 >> (12 + 9 * (level - 1))) & 0x1ff) as usize
    }

    /// Offset inside the 4 KiB page.
    pub const fn page_offset(self) -> u64 {
        self.0 & 0xfff
    }
}

impl fmt::Debug for VirtAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "VirtAddr({:#x})", self.0)
    }
}

impl fmt::Display for VirtAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#x}", self.0)
    }
}

impl fmt::LowerHex for VirtAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::LowerHex::fmt(&self.0, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical() {
        assert!(VirtAddr::new(0x0000_7fff_ffff_ffff).is_ok());
        assert!(VirtAddr::new(0xffff_8000_0000_0000).is_ok());
        assert_eq!(
            VirtAddr::new(0x0000_8000_0000_0000),
            Err(AddrError::NonCanonical(0x0000_8000_0000_0000))
        );
        assert_eq!(
            VirtAddr::new_truncate(0x0000_8000_0000_0000).as_u64(),
            0xffff_8000_0000_0000
        );
        assert_eq!(
            VirtAddr::new(0x0000_7fff_ffff_f000)
                .unwrap()
                .checked_add(0x1000),
            None
        );
    }

    #[test]
    fn indices() {
        // The spec's example: pml4 = (virt >> 39) & 0x1FF, and so on.
        let v = VirtAddr::new(0xffff_ffff_8020_3000).unwrap();
        assert_eq!(v.table_index(4), 511);
        assert_eq!(v.table_index(3), 510);
        assert_eq!(v.table_index(2), 1);
        assert_eq!(v.table_index(1), 3);
        assert_eq!(v.page_offset(), 0);
    }
}
