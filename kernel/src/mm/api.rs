//! The specification's C-style calls over the kernel's memory manager, so
//! the spec's examples read in the kernel as they do in C: each takes the
//! [`MM`] lock for the one operation (never while the heap may need it).
//! They are for use after bring-up: before it they panic, which fails the run.

use super::heap::HEAP;
use super::{Frames, KernelSpace, MM};
use core::ptr::NonNull;
use valen_mm::heap::BlockError;
use valen_mm::paging::PageFlags;
use valen_mm::pmm::PmmError;
use valen_mm::vmm::{Vmm, VmmError};
use valen_mm::{Frame, PhysAddr, VirtAddr};

/// Runs `f` on the memory manager's parts, under its lock.
fn with<R>(f: impl FnOnce(&mut Vmm, &mut KernelSpace, &mut Frames) -> R) -> R {
    let mut mm = MM.lock();
    let Some((vmm, space, pmm)) = mm.parts() else {
        panic!("the spec's calls are used before the memory manager is up");
    };
    f(vmm, space, pmm)
}

/// `pmm_alloc_page`: one free frame, or `None`.
pub fn pmm_alloc_page() -> Option<Frame> {
    with(|_, _, pmm| pmm.alloc_page())
}

/// `pmm_alloc_pages(count)`: `count` contiguous frames, or `None`.
pub fn pmm_alloc_pages(count: u64) -> Option<Frame> {
    with(|_, _, pmm| pmm.alloc_pages(count).ok().flatten())
}

/// `pmm_free_page`: frees one frame (the spec's meaning, also for the first
/// frame of a run).
pub fn pmm_free_page(addr: PhysAddr) -> Result<(), PmmError> {
    with(|_, _, pmm| pmm.free_page(addr))
}

/// `pmm_free_pages(addr, count)`: frees a run.
pub fn pmm_free_pages(addr: PhysAddr, count: u64) -> Result<(), PmmError> {
    with(|_, _, pmm| pmm.free_pages(addr, count))
}

/// `pmm_get_total_kb`, `pmm_get_used_kb`, `pmm_get_free_kb` at once.
pub fn pmm_stats_kb() -> (u64, u64, u64) {
    with(|_, _, pmm| (pmm.total_kb(), pmm.used_kb(), pmm.free_kb()))
}

/// `vmm_alloc(pages, flags)`.
pub fn vmm_alloc(pages: u64, flags: PageFlags) -> Result<VirtAddr, VmmError> {
    with(|vmm, space, pmm| vmm.alloc(space, pmm, pages, flags))
}

/// `vmm_free(virt)` (the spec has none): returns the pages freed.
pub fn vmm_free(virt: VirtAddr) -> Result<u64, VmmError> {
    with(|vmm, space, pmm| vmm.free(space, pmm, virt))
}

/// `vmm_get_phys(virt)`: `None` where the C returns 0.
pub fn vmm_get_phys(virt: VirtAddr) -> Option<PhysAddr> {
    with(|_, space, _| Vmm::get_phys(space, virt))
}

/// `malloc(size)`.
pub fn malloc(size: usize) -> Option<NonNull<u8>> {
    HEAP.malloc(size)
}

/// `free(ptr)`.
///
/// # Safety
/// If `ptr` is a live block of the kernel heap, nothing uses it any more.
pub unsafe fn free(ptr: *mut u8) -> Result<(), BlockError> {
    // SAFETY: forwarded to the caller.
    unsafe { HEAP.free(ptr) }
}
