//! The kernel's own page tables, built with valen-mm's paging tier and
//! loaded into CR3 in place of the boot tables:
//!
//! ```text
//!  DIRECT_MAP_BASE + phys   every RAM region of the firmware map, RW + NX,
//!                           in the largest pages alignment allows
//!  KERNEL_VIRT_OFFSET + phys
//!    .text                  read + execute
//!    .rodata                read only, NX
//!    .data .bss             read + write, NX (the stack is in .bss, with an
//!                           unmapped guard page under it)
//!  everything else          unmapped: the identity map and the boot code
//!                           are gone, the heap and device windows are empty
//! ```

use crate::boot::BootInfo;
use valen_mm::arch::x86_64::{OffsetMapper, X86Mmu};
use valen_mm::arch::Mmu;
use valen_mm::layout::DIRECT_MAP_BASE;
use valen_mm::paging::{AddressSpace, PageFlags, PagingError};
use valen_mm::{FrameAllocator, PhysAddr, RegionKind, VirtAddr, KERNEL_VIRT_OFFSET, PAGE_SIZE};

/// The kernel's address space type.
pub type KernelSpace = AddressSpace<OffsetMapper, X86Mmu>;

/// `NO_EXECUTE` if the CPU has it, else nothing.
pub fn nx() -> PageFlags {
    if X86Mmu.has_nx() {
        PageFlags::NO_EXECUTE
    } else {
        PageFlags::EMPTY
    }
}

/// Whether the direct map covers a region of this kind (RAM of any use).
fn is_ram(kind: RegionKind) -> bool {
    !matches!(kind, RegionKind::Reserved | RegionKind::Bad)
}

/// Builds the kernel's tables with table frames from `frames`.
///
/// # Safety
/// The early tables must be active and map, at the direct-map base, every
/// frame `frames` hands out.
pub unsafe fn build<F: FrameAllocator>(
    boot: &BootInfo,
    frames: &mut F,
) -> Result<KernelSpace, PagingError> {
    // SAFETY: the caller promised the early direct map covers every table
    // frame; once these tables are active their own direct map covers all RAM.
    let phys = unsafe { OffsetMapper::new(DIRECT_MAP_BASE) };
    let mut space = AddressSpace::new(phys, X86Mmu, frames)?;
    let data = PageFlags::PRESENT | PageFlags::WRITE | nx();

    // The direct map: RAM regions, rounded out to pages, never twice.
    let mut mapped_to = 0u64;
    for r in boot
        .firmware_map
        .regions()
        .iter()
        .filter(|r| is_ram(r.kind))
    {
        let start = r.start.align_down(PAGE_SIZE).as_u64().max(mapped_to);
        let end = r
            .end
            .align_up(PAGE_SIZE)
            .map_or(r.end.as_u64(), PhysAddr::as_u64);
        if start >= end {
            continue;
        }
        let virt = VirtAddr::new_truncate(DIRECT_MAP_BASE + start);
        space.map_range(
            virt,
            PhysAddr::new_truncate(start),
            end - start,
            data,
            frames,
        )?;
        mapped_to = end;
    }

    // The kernel image, section by section.
    let img = boot.image;
    let sections = [
        (img.text, PageFlags::PRESENT),
        (img.rodata, PageFlags::PRESENT | nx()),
        (img.data, data),
    ];
    for ((start, end), flags) in sections {
        if start < end {
            space.map_range(
                VirtAddr::new_truncate(start),
                PhysAddr::new_truncate(start - KERNEL_VIRT_OFFSET),
                end - start,
                flags,
                frames,
            )?;
        }
    }
    // The guard page under the kernel stack.
    space.unmap(stack_guard(), frames)?;
    Ok(space)
}

extern "C" {
    static kernel_stack_guard: u8;
}

/// The unmapped page under the kernel stack (see `entry.s`).
pub fn stack_guard() -> VirtAddr {
    VirtAddr::new_truncate(&raw const kernel_stack_guard as u64)
}
