//! The real hardware, for code running in a kernel on x86_64.

use super::{Mmu, PhysMapper};
use crate::addr::{PhysAddr, VirtAddr};

/// Reaches physical memory through a linear mapping at a fixed offset
/// (the kernel's direct map at [`DIRECT_MAP_BASE`](crate::layout::DIRECT_MAP_BASE),
/// or the identity map at offset 0 during early boot).
#[derive(Clone, Copy, Debug)]
pub struct OffsetMapper {
    offset: u64,
}

impl OffsetMapper {
    /// A mapper for a linear mapping at `offset`.
    ///
    /// # Safety
    /// Every physical address the caller will pass to `phys_to_ptr` must be
    /// mapped, writable, at `offset + phys` in the active page tables for as
    /// long as the mapper is used.
    pub const unsafe fn new(offset: u64) -> Self {
        Self { offset }
    }
}

// SAFETY: `new`'s caller promised the linear mapping exists.
unsafe impl PhysMapper for OffsetMapper {
    fn phys_to_ptr(&self, phys: PhysAddr) -> *mut u8 {
        self.offset.wrapping_add(phys.as_u64()) as *mut u8
    }
}

/// The CPU's own MMU: `invlpg`, CR3 and CPUID.
#[derive(Clone, Copy, Debug, Default)]
pub struct X86Mmu;

fn cpuid_ext1_edx() -> u32 {
    // CPUID exists on every x86_64 CPU and has no side effects.
    let max = core::arch::x86_64::__cpuid(0x8000_0000).eax;
    if max < 0x8000_0001 {
        return 0;
    }
    // Leaf 0x8000_0001 exists: checked against the highest leaf above.
    core::arch::x86_64::__cpuid(0x8000_0001).edx
}

impl Mmu for X86Mmu {
    fn flush_page(&self, addr: VirtAddr) {
        // SAFETY: `invlpg` only drops a TLB entry; it cannot break memory safety.
        unsafe {
            core::arch::asm!("invlpg [{}]", in(reg) addr.as_u64(), options(nostack, preserves_flags))
        };
    }

    fn flush_all(&self) {
        // SAFETY: writing CR3 with its current value only flushes the TLB.
        unsafe {
            core::arch::asm!(
                "mov {0}, cr3",
                "mov cr3, {0}",
                out(reg) _,
                options(nostack, preserves_flags)
            )
        };
    }

    fn root(&self) -> PhysAddr {
        let cr3: u64;
        // SAFETY: reading CR3 has no side effects.
        unsafe {
            core::arch::asm!("mov {}, cr3", out(reg) cr3, options(nomem, nostack, preserves_flags))
        };
        PhysAddr::new_truncate(cr3 & !0xfff)
    }

    unsafe fn set_root(&self, pml4: PhysAddr) {
        // SAFETY: the caller guarantees `pml4` maps everything in use.
        unsafe {
            core::arch::asm!("mov cr3, {}", in(reg) pml4.as_u64(), options(nostack, preserves_flags))
        };
    }

    fn has_1g_pages(&self) -> bool {
        cpuid_ext1_edx() & (1 << 26) != 0
    }

    fn has_nx(&self) -> bool {
        cpuid_ext1_edx() & (1 << 20) != 0
    }
}
