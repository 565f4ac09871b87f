//! The kernel heap: valen-mm's heap tier as the kernel's `#[global_allocator]`,
//! growing through the VMM.
//!
//! ```text
//!  malloc ─► LockedHeap ─(out of memory)─► VmmGrowth::grow ─► vmm_alloc(pages)
//!                                                              in the heap window
//!  16 KiB first (the spec's initial heap), then chunks that double with the
//!  heap (at least 64 KiB, at most 16 MiB), each followed by the VMM's guard page
//! ```
//! Growth takes the memory manager's lock, so code holding [`MM`] must not
//! allocate from the heap: growth then fails (`try_lock`) instead of
//! deadlocking, and the allocation reports out of memory.

use super::{nx, MM};
use core::ptr::NonNull;
use core::sync::atomic::{AtomicU64, Ordering};
use valen_mm::heap::{HeapGrowth, LockedHeap};
use valen_mm::paging::PageFlags;
use valen_mm::PAGE_SIZE;

/// Largest single growth chunk.
const MAX_CHUNK_PAGES: u64 = (16 << 20) / PAGE_SIZE;

/// Chunks obtained so far (each one `vmm_alloc` allocation).
static CHUNKS: AtomicU64 = AtomicU64::new(0);
/// Pages obtained so far.
static PAGES: AtomicU64 = AtomicU64::new(0);

/// Heap growth through `vmm_alloc`.
pub struct VmmGrowth;

// SAFETY: each region is a fresh `vmm_alloc` allocation: mapped writable,
// zeroed, page-aligned (so 16-aligned), used by nothing else, and never freed.
unsafe impl HeapGrowth for VmmGrowth {
    fn grow(&mut self, min_bytes: usize) -> Option<(NonNull<u8>, usize)> {
        let min_pages = (min_bytes as u64).div_ceil(PAGE_SIZE);
        let so_far = PAGES.load(Ordering::SeqCst);
        let pages = min_pages.max(so_far.min(MAX_CHUNK_PAGES));
        let mut mm = MM.try_lock()?;
        let (vmm, space, frames) = mm.parts()?;
        let flags = PageFlags::PRESENT | PageFlags::WRITE | nx();
        let virt = vmm.alloc(space, frames, pages, flags).ok()?;
        CHUNKS.fetch_add(1, Ordering::SeqCst);
        PAGES.fetch_add(pages, Ordering::SeqCst);
        Some((
            NonNull::new(virt.as_mut_ptr())?,
            (pages * PAGE_SIZE) as usize,
        ))
    }
}

/// The kernel heap.
#[global_allocator]
pub static HEAP: LockedHeap<VmmGrowth> = LockedHeap::new(VmmGrowth);

/// The spec's `heap_init`: takes the 16 KiB initial heap.
pub fn init() -> bool {
    HEAP.init()
}

/// `vmm_alloc` chunks and pages the heap has taken (it never gives them back).
pub fn growth() -> (u64, u64) {
    (CHUNKS.load(Ordering::SeqCst), PAGES.load(Ordering::SeqCst))
}
