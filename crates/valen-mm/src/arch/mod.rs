//! The hardware behind small traits, so the same allocator and page-table code
//! runs in a kernel and on the host.
//!
//! - [`PhysMapper`]: reach physical memory (the direct map in a kernel, an
//!   `mmap` standing in for RAM on the host).
//! - [`Mmu`]: TLB invalidation, CR3, and what the CPU supports (`invlpg` and
//!   CPUID in a kernel, a recording fake on the host).
//! - [`interrupts`]: disable and restore interrupts around a spinlock.

pub mod interrupts;
#[cfg(all(target_arch = "x86_64", target_os = "none"))]
pub mod x86_64;

use crate::addr::{PhysAddr, VirtAddr};

/// Reaches physical memory through a linear mapping.
///
/// # Safety
/// An implementation promises that for every physical address `p` the
/// memory it manages covers, `phys_to_ptr(p)` is a valid, writable pointer to
/// that byte for as long as the mapper lives, and that `phys_to_ptr(p + n)` is
/// `phys_to_ptr(p) + n` inside that memory (the mapping is linear).
pub unsafe trait PhysMapper {
    /// A pointer through which the byte at `phys` is read and written.
    fn phys_to_ptr(&self, phys: PhysAddr) -> *mut u8;
}

// SAFETY: forwards to an implementation that upholds the contract.
unsafe impl<M: PhysMapper + ?Sized> PhysMapper for &M {
    fn phys_to_ptr(&self, phys: PhysAddr) -> *mut u8 {
        (**self).phys_to_ptr(phys)
    }
}

/// The memory-management unit: TLB, root table register and CPU features.
pub trait Mmu {
    /// Invalidates the TLB entry for the page holding `addr` (`invlpg`).
    fn flush_page(&self, addr: VirtAddr);
    /// Invalidates every non-global TLB entry (reloads CR3).
    fn flush_all(&self);
    /// The physical address of the active PML4 (CR3 without flags).
    fn root(&self) -> PhysAddr;
    /// Makes `pml4` the active root table (writes CR3).
    ///
    /// # Safety
    /// `pml4` must be a valid PML4 that maps the running code, its stack and
    /// every address in use, or the CPU faults on the next access.
    unsafe fn set_root(&self, pml4: PhysAddr);
    /// Whether the CPU supports 1 GiB pages (CPUID 0x8000_0001 EDX bit 26).
    fn has_1g_pages(&self) -> bool;
    /// Whether the CPU supports the no-execute bit (CPUID 0x8000_0001 EDX bit 20).
    fn has_nx(&self) -> bool;
}

impl<M: Mmu + ?Sized> Mmu for &M {
    fn flush_page(&self, addr: VirtAddr) {
        (**self).flush_page(addr)
    }
    fn flush_all(&self) {
        (**self).flush_all()
    }
    fn root(&self) -> PhysAddr {
        (**self).root()
    }
    unsafe fn set_root(&self, pml4: PhysAddr) {
        // SAFETY: the caller upholds `set_root`'s contract; we forward it.
        unsafe { (**self).set_root(pml4) }
    }
    fn has_1g_pages(&self) -> bool {
        (**self).has_1g_pages()
    }
    fn has_nx(&self) -> bool {
        (**self).has_nx()
    }
}
