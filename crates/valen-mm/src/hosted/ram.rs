//! Simulated physical RAM backed by an anonymous mapping.

use crate::addr::PhysAddr;
use crate::arch::PhysMapper;
use core::fmt;
use core::ptr::NonNull;

/// Why simulated RAM could not be created.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostedRamError {
    /// Zero bytes, or more than the 2^52 a physical address can reach.
    BadSize(u64),
    /// `mmap` refused; the value is `errno`.
    Mmap(i32),
}

impl fmt::Display for HostedRamError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::BadSize(s) => write!(f, "cannot simulate {s:#x} bytes of RAM"),
            Self::Mmap(e) => write!(f, "mmap of simulated RAM failed (errno {e})"),
        }
    }
}

impl std::error::Error for HostedRamError {}

/// Physical memory `[0, size)` of a simulated machine.
///
/// Physical address `p` lives at `base + p`. Pages are zero until written and
/// cost host memory only once touched.
pub struct HostedRam {
    base: NonNull<u8>,
    size: u64,
}

// SAFETY: the mapping is plain memory owned by this value; sharing the pointer
// between threads is as safe as sharing a `&[u8]`-like region whose accesses
// the users synchronize themselves (every tier locks its own structures).
unsafe impl Send for HostedRam {}
// SAFETY: see `Send`; `&HostedRam` only hands out raw pointers.
unsafe impl Sync for HostedRam {}

impl HostedRam {
    /// Reserves `size` bytes (rounded up to 4 KiB) of simulated RAM.
    pub fn new(size: u64) -> Result<Self, HostedRamError> {
        if size == 0 || size > PhysAddr::LIMIT {
            return Err(HostedRamError::BadSize(size));
        }
        let len = size.div_ceil(4096) * 4096;
        let len_usize = usize::try_from(len).map_err(|_| HostedRamError::BadSize(size))?;
        // SAFETY: an anonymous private mapping at an address of the kernel's
        // choosing; no existing memory is affected.
        let ptr = unsafe {
            libc::mmap(
                core::ptr::null_mut(),
                len_usize,
                libc::PROT_READ | libc::PROT_WRITE,
                super::RESERVE_FLAGS,
                -1,
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(HostedRamError::Mmap(
                std::io::Error::last_os_error().raw_os_error().unwrap_or(0),
            ));
        }
        let base = NonNull::new(ptr.cast::<u8>()).ok_or(HostedRamError::Mmap(0))?;
        Ok(Self { base, size: len })
    }

    /// Bytes of simulated RAM (one past the highest physical address).
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The host address where physical address 0 lives: the offset of this
    /// machine's "direct map" (what the `x86_64` crate's `OffsetPageTable` needs).
    pub fn base(&self) -> *mut u8 {
        self.base.as_ptr()
    }

    /// Whether `[phys, phys + len)` lies inside the simulated RAM.
    pub fn contains(&self, phys: PhysAddr, len: u64) -> bool {
        phys.as_u64()
            .checked_add(len)
            .is_some_and(|end| end <= self.size)
    }

    /// Reads a `u64` at `phys` (8-byte aligned, inside RAM), or `None` outside.
    pub fn read_u64(&self, phys: PhysAddr) -> Option<u64> {
        if !self.contains(phys, 8) || !phys.is_aligned(8) {
            return None;
        }
        // SAFETY: checked inside the mapping and aligned; the mapping is
        // readable and every bit pattern is a valid u64.
        Some(unsafe { self.phys_to_ptr(phys).cast::<u64>().read_volatile() })
    }

    /// Writes a `u64` at `phys` (8-byte aligned, inside RAM); `false` outside.
    pub fn write_u64(&self, phys: PhysAddr, value: u64) -> bool {
        if !self.contains(phys, 8) || !phys.is_aligned(8) {
            return false;
        }
        // SAFETY: checked inside the mapping and aligned; the mapping is writable.
        unsafe { self.phys_to_ptr(phys).cast::<u64>().write_volatile(value) };
        true
    }
}

// SAFETY: the mapping is linear (`base + phys`) and lives as long as `self`;
// callers stay below `size()` (the memory map never reaches past it).
unsafe impl PhysMapper for HostedRam {
    fn phys_to_ptr(&self, phys: PhysAddr) -> *mut u8 {
        self.base.as_ptr().wrapping_add(phys.as_u64() as usize)
    }
}

impl Drop for HostedRam {
    fn drop(&mut self) {
        // SAFETY: `base`/`size` are exactly the mapping `new` created, and
        // nothing borrows from it any more (we have `&mut self`).
        unsafe { libc::munmap(self.base.as_ptr().cast(), self.size as usize) };
    }
}

impl fmt::Debug for HostedRam {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HostedRam({} MiB at {:p})", self.size >> 20, self.base)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sixteen_gib_costs_nothing_until_touched() {
        let ram = HostedRam::new(16 << 30).unwrap();
        let p = PhysAddr::new((16 << 30) - 8).unwrap();
        assert_eq!(ram.read_u64(p), Some(0));
        assert!(ram.write_u64(p, 0xdead_beef));
        assert_eq!(ram.read_u64(p), Some(0xdead_beef));
        assert_eq!(ram.read_u64(PhysAddr::new(16 << 30).unwrap()), None);
    }

    #[test]
    fn bad_sizes() {
        assert_eq!(HostedRam::new(0).unwrap_err(), HostedRamError::BadSize(0));
        assert!(HostedRam::new(1 << 53).is_err());
    }
}
