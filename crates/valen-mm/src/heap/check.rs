//! Statistics and the integrity walk.
//!
//! The counters are kept by every operation (O(1)); [`Heap::check`] walks
//! every block of every region, every free list and every stack of the
//! quick cache and proves they agree: tags carry the magic, boundary tags
//! match, no two free blocks touch, each free block is in the list of its
//! class exactly once, each cached block on the stack of its size, the
//! bitmaps match the lists, and the counters match the walk. Tests run it
//! after every step.

use super::block::{Block, END, FREE, GRANULE, HEADER, MIN_BLOCK, PREV_FREE, QUICK};
use super::class::{class_of, Class, LISTS, LIST_SLOTS};
use super::error::IntegrityError;
use super::quick::QUICK_SLOTS;
use super::tlsf::Heap;
use crate::addr::VirtAddr;

/// A snapshot of the heap's counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct HeapStats {
    /// Bytes of all regions.
    pub total_bytes: usize,
    /// Bytes of used blocks, headers included.
    pub used_bytes: usize,
    /// Bytes usable by callers in used blocks (`used_bytes` minus headers).
    pub payload_bytes: usize,
    /// Bytes not in use: free blocks and blocks in the quick cache, headers
    /// included.
    pub free_bytes: usize,
    /// The highest `used_bytes` so far.
    pub peak_used_bytes: usize,
    /// Used blocks.
    pub used_blocks: usize,
    /// Free blocks (in the free lists).
    pub free_blocks: usize,
    /// Blocks freed into the quick cache and not yet coalesced.
    pub cached_blocks: usize,
    /// Their bytes, headers included (part of `free_bytes`).
    pub cached_bytes: usize,
    /// Separate regions (adjacent growth merges into one).
    pub regions: usize,
    /// Times memory was added (the initial region plus each growth).
    pub growth_events: usize,
    /// Free lists and cache stacks abandoned because a listed block's header
    /// or link was overwritten, and cached blocks whose neighbour was
    /// overwritten while they waited (left allocated).
    pub lists_dropped: usize,
}

/// What the integrity walk counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct HeapWalk {
    /// Used blocks.
    pub used_blocks: usize,
    /// Bytes in used blocks.
    pub used_bytes: usize,
    /// Free blocks.
    pub free_blocks: usize,
    /// Bytes in free blocks.
    pub free_bytes: usize,
    /// The largest free block.
    pub largest_free: usize,
    /// Blocks tagged as cached (on a stack, or on one dropped as damaged).
    pub cached_blocks: usize,
    /// Bytes in those blocks.
    pub cached_bytes: usize,
}

fn va(b: Block) -> VirtAddr {
    VirtAddr::new_truncate(b.addr() as u64)
}

impl Heap {
    /// The counters.
    pub fn stats(&self) -> HeapStats {
        let c = &self.c;
        let (cached_blocks, cached_bytes) = self.q.held();
        HeapStats {
            total_bytes: c.total,
            used_bytes: c.used_bytes,
            payload_bytes: c.used_bytes - c.used_blocks * super::block::OVERHEAD,
            free_bytes: self.free_bytes(),
            peak_used_bytes: c.peak_used,
            used_blocks: c.used_blocks,
            free_blocks: c.free_blocks,
            cached_blocks,
            cached_bytes,
            regions: self.span_count,
            growth_events: c.regions_added,
            lists_dropped: c.lists_dropped,
        }
    }

    /// Bytes not in use: everything but used blocks and end sentinels.
    fn free_bytes(&self) -> usize {
        self.c.total - self.c.used_bytes - self.span_count * HEADER
    }

    /// Walks every block and every free list; the first broken invariant is
    /// returned. O(blocks): for tests and debugging, not for hot paths.
    pub fn check(&self) -> Result<HeapWalk, IntegrityError> {
        let mut w = HeapWalk::default();
        for span in &self.spans[..self.span_count] {
            self.walk_region(span.base, span.end, &mut w)?;
        }
        let in_lists = self.walk_lists(w.free_blocks)?;
        if in_lists != w.free_blocks || self.c.free_blocks != w.free_blocks {
            return Err(IntegrityError::FreeCountMismatch {
                in_regions: w.free_blocks,
                in_lists,
            });
        }
        let stacked = self.walk_cache()?;
        if w.cached_blocks != stacked + self.q.lost {
            return Err(IntegrityError::CacheCountMismatch {
                in_regions: w.cached_blocks,
                in_stacks: stacked,
            });
        }
        if w.used_bytes != self.c.used_bytes
            || w.used_blocks != self.c.used_blocks
            || w.free_bytes + w.cached_bytes != self.free_bytes()
        {
            return Err(IntegrityError::StatsMismatch {
                used_bytes: w.used_bytes,
                counted: self.c.used_bytes,
            });
        }
        Ok(w)
    }

    fn walk_region(
        &self,
        base: *mut u8,
        end: usize,
        w: &mut HeapWalk,
    ) -> Result<(), IntegrityError> {
        let sentinel = end - HEADER;
        let mut b = Block(base);
        let (mut prev_free, mut prev_size) = (false, 0);
        loop {
            // SAFETY: `b` is inside the region (checked at the end of the loop).
            let tag = unsafe { b.tag() };
            if !tag.magic_ok() {
                return Err(IntegrityError::BadHeader {
                    block: va(b),
                    found: tag.0,
                });
            }
            if tag.has(PREV_FREE) != prev_free {
                return Err(IntegrityError::BadBoundaryTag { block: va(b) });
            }
            // SAFETY: as above.
            if prev_free && unsafe { b.prev_size() } != prev_size {
                return Err(IntegrityError::BadBoundaryTag { block: va(b) });
            }
            if tag.has(END) {
                if b.addr() != sentinel {
                    return Err(IntegrityError::BadHeader {
                        block: va(b),
                        found: tag.0,
                    });
                }
                return Ok(());
            }
            let size = tag.size();
            if size < MIN_BLOCK || size > sentinel - b.addr() {
                return Err(IntegrityError::BadHeader {
                    block: va(b),
                    found: tag.0,
                });
            }
            if tag.has(FREE) {
                if prev_free || tag.has(QUICK) {
                    return Err(IntegrityError::UncoalescedFree { block: va(b) });
                }
                w.free_blocks += 1;
                w.free_bytes += size;
                w.largest_free = w.largest_free.max(size);
            } else if tag.has(QUICK) {
                w.cached_blocks += 1;
                w.cached_bytes += size;
            } else {
                w.used_blocks += 1;
                w.used_bytes += size;
            }
            prev_free = tag.has(FREE);
            prev_size = size;
            b = b.offset(size);
        }
    }

    /// Walks every stack of the quick cache: each block lies in a region,
    /// is tagged as cached with its stack's size, and each stack holds its
    /// count. Returns the blocks on the stacks.
    fn walk_cache(&self) -> Result<usize, IntegrityError> {
        let mut total = 0;
        for i in 0..QUICK_SLOTS {
            let size = i * GRANULE;
            let mut count = 0;
            let mut p = self.q.heads[i];
            while !p.is_null() {
                let b = Block(p);
                let bad = IntegrityError::BadCacheStack { size, block: va(b) };
                if count >= self.q.counts[i] as usize || self.span_of(b.addr()).is_none() {
                    return Err(bad);
                }
                // SAFETY: `b` lies inside a region, a minimal block before
                // its end.
                let tag = unsafe { b.tag() };
                if !tag.magic_ok() || tag.flags() & !PREV_FREE != QUICK || tag.size() != size {
                    return Err(bad);
                }
                count += 1;
                // SAFETY: as above; a cached block's first payload word is
                // its link.
                p = unsafe { b.next_link() };
            }
            if count != self.q.counts[i] as usize {
                return Err(IntegrityError::CacheCountMismatch {
                    in_regions: count,
                    in_stacks: self.q.counts[i] as usize,
                });
            }
            total += count;
        }
        Ok(total)
    }

    fn walk_lists(&self, limit: usize) -> Result<usize, IntegrityError> {
        let mut count = 0;
        for c in (0..LIST_SLOTS).map(Class) {
            let (fl, sl) = (c.fl(), c.sl());
            let head = self.heads[c.0];
            let bit = (self.bits[c.0 >> 6] >> (c.0 & 63)) & 1 != 0;
            // Lists past the last class never hold a block.
            if bit == head.is_null() || (c.0 >= LISTS && bit) {
                return Err(IntegrityError::BadBitmap { fl, sl });
            }
            let mut prev = core::ptr::null_mut();
            let mut p = head;
            while !p.is_null() {
                let b = Block(p);
                let bad = IntegrityError::BadFreeList {
                    fl,
                    sl,
                    block: va(b),
                };
                if count > limit || self.span_of(b.addr()).is_none() {
                    return Err(bad);
                }
                // SAFETY: `b` lies inside a region.
                let tag = unsafe { b.tag() };
                // SAFETY: as above; free blocks hold links.
                let (next, back) = unsafe { b.links() };
                if !tag.magic_ok() || !tag.has(FREE) || class_of(tag.size()) != c || back != prev {
                    return Err(bad);
                }
                count += 1;
                prev = p;
                p = next;
            }
        }
        Ok(count)
    }
}
