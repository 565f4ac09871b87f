//! The thread-safe heap: the TLSF core behind a [`SpinLock`], growth on
//! demand, and Rust's `GlobalAlloc`.
//!
//! ```text
//!   malloc:  lock heap -> try -> unlock          (fast path)
//!            out of memory: lock growth -> grow -> unlock
//!                           lock heap -> add region -> try again -> unlock
//! ```
//!
//! The growth source is never called while the heap lock is held, so it may
//! take other locks (the VMM's, the PMM's) without any lock-order cycle.

use super::error::{BlockError, ReallocError};
use super::{AllocError, Heap, HeapGrowth, HeapStats, HeapWalk, IntegrityError, MIN_ALIGN};
use crate::sync::SpinLock;
use core::alloc::{GlobalAlloc, Layout};
use core::ptr::{self, NonNull};

/// The spec's initial heap: 16 KiB.
pub const INITIAL_HEAP_SIZE: usize = 16 * 1024;
/// Growth comes in chunks of at least this much.
pub const GROWTH_CHUNK: usize = 64 * 1024;
/// Growths one request may trigger before it gives up (a source that hands
/// out less than it was asked for cannot make a request spin forever).
const MAX_GROWS: usize = 4;

/// The heap and the record of refused pointers, under one lock.
struct Inner {
    heap: Heap,
    refused: usize,
    last_refused: Option<BlockError>,
}

/// A [`Heap`] behind a spinlock, growing through `G`.
pub struct LockedHeap<G> {
    inner: SpinLock<Inner>,
    growth: SpinLock<G>,
}

impl<G: HeapGrowth> LockedHeap<G> {
    /// An empty heap fed by `growth`; the first allocation (or [`init`])
    /// takes the 16 KiB initial heap from it.
    ///
    /// [`init`]: LockedHeap::init
    pub const fn new(growth: G) -> Self {
        Self {
            inner: SpinLock::new(Inner {
                heap: Heap::new(),
                refused: 0,
                last_refused: None,
            }),
            growth: SpinLock::new(growth),
        }
    }

    /// A locked heap over an existing core (for example one built with
    /// [`Heap::with_region`] over a fixed arena), growing through `growth`.
    pub const fn from_heap(heap: Heap, growth: G) -> Self {
        Self {
            inner: SpinLock::new(Inner {
                heap,
                refused: 0,
                last_refused: None,
            }),
            growth: SpinLock::new(growth),
        }
    }

    /// The spec's `heap_init`: takes the 16 KiB initial heap from the growth
    /// source (does nothing if the heap already has memory). `false` if the
    /// source had none.
    pub fn init(&self) -> bool {
        if self.inner.lock().heap.stats().total_bytes != 0 {
            return true;
        }
        self.grow(INITIAL_HEAP_SIZE)
    }

    /// Runs `f` on the locked core (statistics, checks, direct use).
    pub fn with_heap<R>(&self, f: impl FnOnce(&mut Heap) -> R) -> R {
        f(&mut self.inner.lock().heap)
    }

    /// Asks the growth source for `bytes` and adds them; `false` if it had
    /// none or the region was refused.
    fn grow(&self, bytes: usize) -> bool {
        // The heap lock is not held here: take only the growth lock.
        let region = self.growth.lock().grow(bytes);
        let Some((start, len)) = region else {
            return false;
        };
        // SAFETY: the growth contract: fresh, exclusive, never unmapped.
        unsafe { self.inner.lock().heap.add_region(start.as_ptr(), len) }.is_ok()
    }

    /// Growth size for a failed request: the initial heap if the heap is
    /// empty and it fits, else a chunk of at least [`GROWTH_CHUNK`].
    fn growth_for(size: usize, align: usize, heap_empty: bool) -> Option<usize> {
        let need = size.checked_add(align.max(MIN_ALIGN))?.checked_add(128)?;
        if heap_empty && need <= INITIAL_HEAP_SIZE {
            return Some(INITIAL_HEAP_SIZE);
        }
        need.max(GROWTH_CHUNK).checked_next_multiple_of(4096)
    }

    /// Allocates `size` bytes aligned to `align`, growing the heap if needed.
    #[inline]
    pub fn try_alloc(&self, size: usize, align: usize) -> Result<NonNull<u8>, AllocError> {
        // The common case: one attempt under the lock, the result in a
        // register; the reason for a failure and growth are out of line.
        if let Some(p) = self.inner.lock().heap.alloc(size, align) {
            return Ok(p);
        }
        self.try_alloc_growing(size, align)
    }

    /// [`LockedHeap::try_alloc`] after a first attempt failed: tries again
    /// (another CPU may have freed or grown meanwhile), growing as needed.
    #[inline(never)]
    fn try_alloc_growing(&self, size: usize, align: usize) -> Result<NonNull<u8>, AllocError> {
        for _ in 0..=MAX_GROWS {
            let empty = {
                let mut g = self.inner.lock();
                match g.heap.try_alloc(size, align) {
                    Err(AllocError::OutOfMemory { .. }) => g.heap.stats().total_bytes == 0,
                    other => return other,
                }
            };
            let grown = Self::growth_for(size, align, empty).is_some_and(|b| self.grow(b));
            if !grown {
                break;
            }
        }
        Err(AllocError::OutOfMemory { size, align })
    }

    /// `malloc`: 16-byte aligned, growing as needed (see [`Heap::malloc`]).
    pub fn malloc(&self, size: usize) -> Option<NonNull<u8>> {
        self.try_alloc(size, MIN_ALIGN).ok()
    }

    /// Aligned `malloc` for any power-of-two `align`.
    pub fn malloc_aligned(&self, size: usize, align: usize) -> Option<NonNull<u8>> {
        self.try_alloc(size, align).ok()
    }

    /// `calloc`: zeroed, `None` when `count * size` overflows.
    pub fn calloc(&self, count: usize, size: usize) -> Option<NonNull<u8>> {
        let bytes = count.checked_mul(size)?;
        let p = self.malloc(bytes)?;
        // SAFETY: a fresh block of at least `bytes` bytes.
        unsafe { ptr::write_bytes(p.as_ptr(), 0, bytes) };
        Some(p)
    }

    /// `free` (see [`Heap::free`]); refusals are also counted for
    /// [`LockedHeap::refused`].
    ///
    /// # Safety
    /// As for [`Heap::free`].
    pub unsafe fn free(&self, ptr: *mut u8) -> Result<(), BlockError> {
        let mut g = self.inner.lock();
        // SAFETY: forwarded.
        let r = unsafe { g.heap.free(ptr) };
        if let Err(e) = r {
            g.refused += 1;
            g.last_refused = Some(e);
        }
        r
    }

    /// `free` with the allocation size as a hint (see [`Heap::free_sized`]).
    ///
    /// # Safety
    /// As for [`Heap::free`].
    pub unsafe fn free_sized(&self, ptr: *mut u8, size: usize) -> Result<(), BlockError> {
        let mut g = self.inner.lock();
        // SAFETY: forwarded.
        let r = unsafe { g.heap.free_sized(ptr, size) };
        if let Err(e) = r {
            g.refused += 1;
            g.last_refused = Some(e);
        }
        r
    }

    /// `realloc` keeping `align`, growing the heap if needed (in place when
    /// the block is the last of its region and the new chunk follows it).
    ///
    /// # Safety
    /// As for [`Heap::realloc_aligned`].
    pub unsafe fn realloc_aligned(
        &self,
        ptr: *mut u8,
        new_size: usize,
        align: usize,
    ) -> Result<NonNull<u8>, ReallocError> {
        // SAFETY: forwarded.
        unsafe { self.realloc_hinted(ptr, None, new_size, align) }
    }

    /// `realloc` with the size the block was allocated (or last resized)
    /// with as a hint (see [`Heap::realloc_sized`]).
    ///
    /// # Safety
    /// As for [`Heap::realloc_aligned`].
    pub unsafe fn realloc_sized(
        &self,
        ptr: *mut u8,
        old_size: usize,
        new_size: usize,
        align: usize,
    ) -> Result<NonNull<u8>, ReallocError> {
        // SAFETY: forwarded.
        unsafe { self.realloc_hinted(ptr, Some(old_size), new_size, align) }
    }

    /// [`LockedHeap::realloc_aligned`], with the old size as a hint if known.
    ///
    /// # Safety
    /// As for [`Heap::realloc_aligned`].
    unsafe fn realloc_hinted(
        &self,
        ptr: *mut u8,
        old_size: Option<usize>,
        new_size: usize,
        align: usize,
    ) -> Result<NonNull<u8>, ReallocError> {
        for _ in 0..=MAX_GROWS {
            let empty = {
                let mut g = self.inner.lock();
                // SAFETY: forwarded.
                let r = unsafe {
                    match old_size {
                        Some(old) => g.heap.realloc_sized(ptr, old, new_size, align),
                        None => g.heap.realloc_aligned(ptr, new_size, align),
                    }
                };
                match r {
                    Err(ReallocError::Alloc(AllocError::OutOfMemory { .. })) => {
                        g.heap.stats().total_bytes == 0
                    }
                    Err(ReallocError::Block(e)) => {
                        g.refused += 1;
                        g.last_refused = Some(e);
                        return Err(ReallocError::Block(e));
                    }
                    other => return other,
                }
            };
            let grown = Self::growth_for(new_size, align, empty).is_some_and(|b| self.grow(b));
            if !grown {
                break;
            }
        }
        Err(ReallocError::Alloc(AllocError::OutOfMemory {
            size: new_size,
            align,
        }))
    }

    /// Bytes usable at `ptr`.
    pub fn usable_size(&self, ptr: *mut u8) -> Result<usize, BlockError> {
        self.inner.lock().heap.usable_size(ptr)
    }

    /// Frees every block waiting in the quick cache for real, merging it
    /// with its free neighbours (see [`Heap::flush_cache`]); returns how
    /// many went back.
    pub fn flush_cache(&self) -> usize {
        self.inner.lock().heap.flush_cache()
    }

    /// The counters.
    pub fn stats(&self) -> HeapStats {
        self.inner.lock().heap.stats()
    }

    /// The counters, or `None` if the heap lock is held right now.
    pub fn try_stats(&self) -> Option<HeapStats> {
        self.inner.try_lock().map(|g| g.heap.stats())
    }

    /// The integrity walk (see [`Heap::check`]).
    pub fn check(&self) -> Result<HeapWalk, IntegrityError> {
        self.inner.lock().heap.check()
    }

    /// How many pointers were refused, and the last refusal.
    pub fn refused(&self) -> (usize, Option<BlockError>) {
        let g = self.inner.lock();
        (g.refused, g.last_refused)
    }
}

// SAFETY: blocks come from the heap with at least `layout.size()` bytes at
// `layout.align()`; a pointer is released once, by `dealloc`/`realloc`.
unsafe impl<G: HeapGrowth + Send> GlobalAlloc for LockedHeap<G> {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        self.try_alloc(layout.size(), layout.align())
            .map_or(ptr::null_mut(), NonNull::as_ptr)
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        match self.try_alloc(layout.size(), layout.align()) {
            Ok(p) => {
                // SAFETY: a fresh block of at least `layout.size()` bytes.
                unsafe { ptr::write_bytes(p.as_ptr(), 0, layout.size()) };
                p.as_ptr()
            }
            Err(_) => ptr::null_mut(),
        }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // A refused pointer is recorded (see `refused`), never spread.
        // SAFETY: the GlobalAlloc contract: `ptr` came from this allocator.
        let _ = unsafe { self.free_sized(ptr, layout.size()) };
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: the GlobalAlloc contract (`layout` is the block's).
        unsafe { self.realloc_sized(ptr, layout.size(), new_size, layout.align()) }
            .map_or(ptr::null_mut(), NonNull::as_ptr)
    }
}
