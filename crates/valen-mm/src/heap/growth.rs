//! Where the heap's memory comes from when it runs out.
//!
//! [`LockedHeap`](super::LockedHeap) calls a [`HeapGrowth`] with its heap
//! lock released, adds the returned region and retries. In the kernel the
//! source is the VMM (pages in the heap window, each chunk right after the
//! previous one so regions merge); on the host it is [`ArenaGrowth`] (a fixed
//! block of memory carved front to back) or `MmapGrowth` (a reserved
//! `mmap` range, feature `hosted`).

use core::ptr::NonNull;

/// A source of fresh memory for the heap.
///
/// # Safety
/// Every region `grow` returns is valid for reads and writes, used by nothing
/// else, 16-byte aligned, and stays mapped for the life of the program (the
/// heap never gives memory back).
pub unsafe trait HeapGrowth {
    /// A new region of at least `min_bytes` bytes, as `(start, len)`, or
    /// `None` when the source is exhausted. Regions that follow the previous
    /// one directly are best: the heap merges them. Called without the heap
    /// lock held; it must not allocate from the heap it feeds.
    fn grow(&mut self, min_bytes: usize) -> Option<(NonNull<u8>, usize)>;
}

/// Growth from one fixed arena, handed out front to back in adjacent chunks.
pub struct ArenaGrowth {
    base: *mut u8,
    size: usize,
    used: usize,
}

// SAFETY: the arena is owned by this value alone (the constructor's contract).
unsafe impl Send for ArenaGrowth {}

impl ArenaGrowth {
    /// Growth from `[base, base + size)` (`base` 16-aligned).
    ///
    /// # Safety
    /// The memory is valid for reads and writes, unused by anything else, and
    /// outlives the heap it feeds.
    pub const unsafe fn new(base: *mut u8, size: usize) -> Self {
        Self {
            base,
            size,
            used: 0,
        }
    }

    /// Bytes not handed out yet.
    pub fn remaining(&self) -> usize {
        self.size - self.used
    }
}

// SAFETY: chunks are disjoint pieces of the arena, 16-aligned because `base`
// is and chunk sizes are multiples of 16.
unsafe impl HeapGrowth for ArenaGrowth {
    fn grow(&mut self, min_bytes: usize) -> Option<(NonNull<u8>, usize)> {
        let len = min_bytes.checked_next_multiple_of(16)?;
        if len == 0 || len > self.remaining() {
            return None;
        }
        let p = NonNull::new(self.base.wrapping_add(self.used))?;
        self.used += len;
        Some((p, len))
    }
}

#[cfg(feature = "hosted")]
pub use hosted::MmapGrowth;

#[cfg(feature = "hosted")]
mod hosted {
    use super::HeapGrowth;
    use core::ptr::NonNull;

    /// Growth from a large `MAP_NORESERVE` reservation, mapped on first use
    /// and handed out in adjacent chunks (so the heap stays one region).
    /// Untouched pages cost nothing.
    pub struct MmapGrowth {
        base: *mut u8,
        reserve: usize,
        used: usize,
    }

    // SAFETY: the mapping belongs to this value alone.
    unsafe impl Send for MmapGrowth {}

    impl MmapGrowth {
        /// Growth from a reservation of `reserve` bytes (made on first use).
        pub const fn new(reserve: usize) -> Self {
            Self {
                base: core::ptr::null_mut(),
                reserve,
                used: 0,
            }
        }
    }

    // SAFETY: the reservation is a private anonymous mapping never unmapped;
    // chunks are disjoint, page-aligned at the start and 16-byte multiples.
    unsafe impl HeapGrowth for MmapGrowth {
        fn grow(&mut self, min_bytes: usize) -> Option<(NonNull<u8>, usize)> {
            if self.base.is_null() {
                // SAFETY: a fresh anonymous mapping; no existing memory changes.
                let p = unsafe {
                    libc::mmap(
                        core::ptr::null_mut(),
                        self.reserve,
                        libc::PROT_READ | libc::PROT_WRITE,
                        crate::hosted::RESERVE_FLAGS,
                        -1,
                        0,
                    )
                };
                if p == libc::MAP_FAILED {
                    return None;
                }
                self.base = p.cast();
            }
            let len = min_bytes.checked_next_multiple_of(4096)?;
            if len == 0 || len > self.reserve - self.used {
                return None;
            }
            let p = NonNull::new(self.base.wrapping_add(self.used))?;
            self.used += len;
            Some((p, len))
        }
    }
}
