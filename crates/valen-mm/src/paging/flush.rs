//! TLB shootdown batching: one `invlpg` per changed page up to a threshold,
//! one full flush past it.
//!
//! Mapping a page that was not present needs no flush (the TLB never caches
//! not-present entries). Unmapping, changing flags and splitting a huge page
//! do. An `invlpg` also drops the paging-structure caches, so flushing every
//! unmapped page covers the tables freed under it too.

use crate::addr::VirtAddr;
use crate::arch::Mmu;

/// Past this many changed pages, one full flush is cheaper than `invlpg`s.
pub const FLUSH_ALL_THRESHOLD: usize = 32;

/// The pages an operation changed, flushed once it is done.
pub(crate) struct FlushBatch {
    pages: [u64; FLUSH_ALL_THRESHOLD],
    len: usize,
    all: bool,
}

impl FlushBatch {
    pub(crate) const fn new() -> Self {
        Self {
            pages: [0; FLUSH_ALL_THRESHOLD],
            len: 0,
            all: false,
        }
    }

    /// Notes that the translation of the page at `virt` changed.
    #[inline]
    pub(crate) fn add(&mut self, virt: u64) {
        if self.all {
            return;
        }
        match self.pages.get_mut(self.len) {
            Some(slot) => {
                *slot = virt;
                self.len += 1;
            }
            None => self.all = true,
        }
    }

    /// Issues the flushes and empties the batch.
    pub(crate) fn finish<M: Mmu>(&mut self, mmu: &M) {
        if self.all {
            mmu.flush_all();
        } else {
            for &p in &self.pages[..self.len] {
                mmu.flush_page(VirtAddr::new_truncate(p));
            }
        }
        *self = Self::new();
    }
}
