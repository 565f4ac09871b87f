//! `free` and the checks every block pointer passes first.
//!
//! Before the heap trusts a pointer it checks, reading only its own regions:
//!
//! ```text
//!  1. in a region, 16-aligned          else ForeignPointer
//!  2. its tag has HEAP_MAGIC           else BadMagic
//!  3. not FREE or cached, not END,
//!     sane size                        else DoubleFree / BadSize
//!  4. the next block's tag is intact   else Overflow (repaired when provable)
//!  5. a free predecessor's tag matches else FreeNeighbourDamaged
//! ```
//!
//! Only then does it merge or list anything, so a bad pointer never reaches
//! the free lists. A block the quick cache takes needs steps 1-4 only: it
//! is not merged, so its predecessor is not touched, and `free` does not
//! read it (in the benchmark's H2, 40-70% of the small frees follow a free
//! block, and that read was a cache miss of its own: about 5% of H2's
//! time). Step 5 then runs when the block leaves the cache to be merged
//! ([`Heap::flush_cache`] keeps a block that fails it allocated and counts
//! it). The damage that step 5 finds, an overflow into a free block's
//! header, is reported anyway when the block that overflowed is freed: the
//! damaged header is its step 4.

use super::block::{Block, Tag, END, FREE, HEADER, MIN_BLOCK, PREV_FREE, QUICK};
use super::error::BlockError;
use super::tlsf::{holds, Heap};
use super::HEAP_MAGIC;
use crate::addr::VirtAddr;

/// The magic half of a tag plus the FREE, END and QUICK bits.
const MAGIC_FREE_END: u64 = (((FREE | END | QUICK) as u64) << 32) | 0xFFFF_FFFF;
/// The magic half of a tag plus the PREV_FREE bit.
const MAGIC_PREV_FREE: u64 = ((PREV_FREE as u64) << 32) | 0xFFFF_FFFF;
/// The magic number as the low half of a tag word.
const MAGIC: u64 = HEAP_MAGIC as u64;

fn va(p: usize) -> VirtAddr {
    VirtAddr::new_truncate(p as u64)
}

impl Heap {
    /// Returns the block at `ptr` to the heap (the spec's `free`).
    /// `free(null)` does nothing.
    ///
    /// A refused pointer is reported and changes nothing, except that an
    /// overflow into the next header is undone when the damaged tag can be
    /// proven (its size still matches the block after it); the overflowed
    /// block itself then stays allocated.
    ///
    /// The fast path runs the checks `free` makes (see the module) on a block of the
    /// first region, as tests that either pass or send the call out of line:
    /// other regions and every refusal to the full checks; a block the quick
    /// cache does not take and whose predecessor is free to the check of
    /// that predecessor and merging; a free successor to merging.
    ///
    /// # Safety
    /// If `ptr` is a live block of this heap, nothing uses it any more.
    #[inline]
    pub unsafe fn free(&mut self, ptr: *mut u8) -> Result<(), BlockError> {
        if ptr.is_null() {
            return Ok(());
        }
        let Some((b, tag, ntag)) = self.first_region_tags(ptr) else {
            // SAFETY: forwarded.
            return unsafe { self.free_checked(ptr) };
        };
        // SAFETY: steps 1-4 passed: a used block with an intact successor;
        // the caller no longer uses it.
        if unsafe { self.cache(b, tag) } {
            return Ok(());
        }
        if tag.has(PREV_FREE) {
            // SAFETY: checked as above, in the first region.
            return unsafe { self.free_after_free(b, tag, ntag) };
        }
        // SAFETY: validated: a used block, a used predecessor, an intact
        // successor; the caller no longer uses it.
        unsafe { self.release_with(b, tag, ntag) };
        Ok(())
    }

    /// Gives the validated used block `b` back: to the quick cache if it
    /// takes it, else to the free lists (merging).
    ///
    /// # Safety
    /// `b` passed every check of [`Heap::validate`]; `tag` and `ntag` are
    /// its and its successor's current tags; nobody uses it any more.
    #[inline(always)]
    pub(super) unsafe fn retire(&mut self, b: Block, tag: Tag, ntag: Tag) {
        // SAFETY: forwarded.
        unsafe {
            if !self.cache(b, tag) {
                self.release_with(b, tag, ntag);
            }
        }
    }

    /// [`Heap::free`] of a block of the first region after a free block,
    /// which the quick cache did not take: the free block's tag is checked,
    /// then the blocks merge.
    ///
    /// # Safety
    /// `b` is in the first region and passed every check of
    /// [`Heap::validate`] but the predecessor's; `tag` and `ntag` are its and
    /// its successor's tags.
    #[inline(never)]
    unsafe fn free_after_free(&mut self, b: Block, tag: Tag, ntag: Tag) -> Result<(), BlockError> {
        self.check_prev(b, self.spans[0].start)?;
        // SAFETY: validated: a used block with intact neighbours.
        unsafe {
            self.c.used_bytes -= tag.size();
            self.c.used_blocks -= 1;
            self.merge_and_list(b, tag, ntag);
        }
        Ok(())
    }

    /// [`Heap::free`] with every check of [`Heap::validate`], out of line:
    /// blocks outside the first region, and refusals.
    ///
    /// # Safety
    /// As for [`Heap::free`].
    #[inline(never)]
    unsafe fn free_checked(&mut self, ptr: *mut u8) -> Result<(), BlockError> {
        let (b, tag, ntag) = match self.validate(ptr) {
            Ok(v) => v,
            Err(e) => return Err(self.refuse(e)),
        };
        // SAFETY: validated: a used block with intact neighbours.
        unsafe { self.retire(b, tag, ntag) };
        Ok(())
    }

    /// The refusal `e` of a `free`: an overflow into the next header
    /// is repaired when provable. Out of line, so the fast path stays small.
    #[cold]
    #[inline(never)]
    fn refuse(&mut self, e: BlockError) -> BlockError {
        let BlockError::Overflow {
            addr,
            header,
            found,
            ..
        } = e
        else {
            return e;
        };
        let repaired = self.repair(header.as_u64() as usize, found);
        BlockError::Overflow {
            addr,
            header,
            found,
            repaired,
        }
    }

    /// `free` with the size the block was allocated with (C23's
    /// `free_sized`; Rust's `dealloc` knows it too). The size is only a hint:
    /// it lets the heap fetch the next block's header while it reads this
    /// one, instead of one after the other. A wrong size costs nothing but
    /// that head start; every check still runs on the headers themselves.
    ///
    /// # Safety
    /// As for [`Heap::free`].
    #[inline]
    pub unsafe fn free_sized(&mut self, ptr: *mut u8, size: usize) -> Result<(), BlockError> {
        // The next header's tag lies within 16 bytes after `ptr + size`.
        prefetch(ptr.wrapping_add(size).wrapping_add(8));
        // SAFETY: forwarded.
        unsafe { self.free(ptr) }
    }

    /// Checks that `ptr` is a used block of this heap (steps 1-5 above).
    #[inline]
    pub(super) fn validate(&self, ptr: *mut u8) -> Result<(Block, Tag, Tag), BlockError> {
        let addr = ptr as usize;
        let at = addr.wrapping_sub(HEADER);
        // One range check: 16-aligned, inside a region (see `span_of`).
        let Some(span) = self.span_of(at) else {
            return Err(BlockError::ForeignPointer { addr: va(addr) });
        };
        let b = span.block_at(at);
        // SAFETY: `b` lies inside `span`, a minimal block before its end.
        let tag = unsafe { b.tag() };
        let size = tag.size();
        // At least a minimal block: `span_of` checked that much room.
        let room = span.end - 16 - b.addr();
        if !tag_fine(tag, room) {
            return Err(tag_error(addr, tag, room));
        }
        let next = b.offset(size);
        // SAFETY: `next <= sentinel`, inside the span.
        let ntag = unsafe { next.tag() };
        if !next_fine(ntag) {
            return Err(next_error(addr, next, ntag));
        }
        if tag.has(PREV_FREE) {
            self.check_prev(b, span.start)?;
        }
        Ok((b, tag, ntag))
    }

    /// [`Heap::validate`] for a block of the first region, inline: the same
    /// checks as tests that either pass or give `None`. `None` says only
    /// "not shown valid here" (another region, or a refusal): the caller
    /// then runs [`Heap::validate`], which finds the region or the reason.
    #[inline(always)]
    pub(super) fn validate_first(&self, ptr: *mut u8) -> Option<(Block, Tag, Tag)> {
        let (b, tag, ntag) = self.first_region_tags(ptr)?;
        if tag.has(PREV_FREE) && self.check_prev(b, self.spans[0].start).is_err() {
            return None;
        }
        Some((b, tag, ntag))
    }

    /// Steps 1-4 of [`Heap::validate`] for a block of the first region, as
    /// tests that either pass or give `None` (another region, or a refusal):
    /// the block, its tag and its successor's tag. The predecessor is left
    /// to the caller, which checks it inline or out of line.
    #[inline(always)]
    fn first_region_tags(&self, ptr: *mut u8) -> Option<(Block, Tag, Tag)> {
        let at = (ptr as usize).wrapping_sub(HEADER);
        let span = &self.spans[0];
        if !holds(span, at) {
            return None;
        }
        let b = span.block_at(at);
        // SAFETY: `b` lies inside `span`, a minimal block before its end.
        let tag = unsafe { b.tag() };
        let room = span.end - 16 - b.addr();
        if !tag_fine(tag, room) {
            return None;
        }
        // SAFETY: `size <= room`: the next header is inside the span.
        let ntag = unsafe { b.offset(tag.size()).tag() };
        if !next_fine(ntag) {
            return None;
        }
        Some((b, tag, ntag))
    }

    /// Checks the boundary tag of the free block before `b` (a block under
    /// `PREV_FREE` in the region starting at `start`).
    #[inline(always)]
    fn check_prev(&self, b: Block, start: usize) -> Result<(), BlockError> {
        // SAFETY: `b` is inside the span; its first word is readable.
        let psize = unsafe { b.prev_size() };
        // 16-aligned and not past the region's start, in one compare: a
        // misaligned size's low bits rotate to the top (too large).
        let inside = psize.rotate_right(4) <= (b.addr() - start) >> 4;
        // SAFETY: checked just before to lie inside the span, aligned.
        let ptag = inside.then(|| unsafe { b.back(psize).tag() });
        // A free block's predecessor is in use, so its tag is exactly this.
        if ptag != Some(Tag::new(psize, FREE)) {
            return Err(BlockError::FreeNeighbourDamaged {
                addr: va(b.payload() as usize),
                neighbour: va(b.addr().wrapping_sub(psize)),
                found: ptag.map_or(0, |t| t.0),
            });
        }
        Ok(())
    }

    /// Restores the tag of the block at address `at` (found as `found`)
    /// after an overflow from the used block before it, if its size is
    /// provably intact.
    fn repair(&mut self, at: usize, found: u64) -> bool {
        let t = Tag(found);
        let Some(span) = self.span_of(at).or_else(|| {
            // The sentinel itself lies past `span_of`'s reach.
            self.spans[..self.span_count]
                .iter()
                .find(|o| at == o.end - 16)
                .copied()
        }) else {
            return false;
        };
        let next = span.block_at(at);
        let sentinel = span.end - 16;
        let size = t.size();
        let fixed = if next.addr() == sentinel {
            (size == 0).then(|| Tag::new(0, END))
        } else if size >= MIN_BLOCK && size <= sentinel - next.addr() && !t.has(END) {
            let after = next.offset(size);
            // SAFETY: `after <= sentinel`, inside the span.
            let atag = unsafe { after.tag() };
            // SAFETY: as above.
            let psize_ok = !t.has(FREE) || unsafe { after.prev_size() } == size;
            let ok = atag.magic_ok() && atag.has(PREV_FREE) == t.has(FREE) && psize_ok;
            ok.then(|| Tag::new(size, t.flags() & (FREE | QUICK)))
        } else {
            None
        };
        match fixed {
            Some(tag) => {
                // SAFETY: `next` is a block header of this heap.
                unsafe { next.set_tag(tag) };
                true
            }
            None => false,
        }
    }
}

/// Whether a used block's tag is sound: the magic with FREE and END clear,
/// and a size from a minimal block up to `room` (the bytes from the block to
/// its region's end sentinel, at least a minimal block). One test, without
/// short-circuit branches.
#[inline(always)]
fn tag_fine(tag: Tag, room: usize) -> bool {
    (tag.0 & MAGIC_FREE_END == MAGIC) & (tag.size().wrapping_sub(MIN_BLOCK) <= room - MIN_BLOCK)
}

/// Whether the tag after a used block is sound: the magic, and PREV_FREE
/// clear (the block before it is in use).
#[inline(always)]
fn next_fine(ntag: Tag) -> bool {
    ntag.0 & MAGIC_PREV_FREE == MAGIC
}

/// Starts loading the cache line at `p` (any address: a prefetch never
/// faults and changes nothing).
#[inline(always)]
pub(super) fn prefetch(p: *const u8) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: `prefetcht0` only hints the cache; it is valid for any address
    // and every x86_64 CPU implements it (SSE is part of the architecture,
    // even where the kernel compiles without SSE registers).
    unsafe {
        core::arch::x86_64::_mm_prefetch::<{ core::arch::x86_64::_MM_HINT_T0 }>(p.cast());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

/// Why the tag of the block at payload `addr` was refused.
#[cold]
fn tag_error(addr: usize, tag: Tag, room: usize) -> BlockError {
    if !tag.magic_ok() {
        BlockError::BadMagic {
            addr: va(addr),
            found: tag.magic(),
        }
    } else if tag.has(FREE) || tag.has(QUICK) {
        BlockError::DoubleFree { addr: va(addr) }
    } else {
        // END, or a size below a block or past the region (`room`).
        let _ = room;
        BlockError::BadSize {
            addr: va(addr),
            found: tag.size(),
        }
    }
}

/// Why the header after the block at payload `addr` was refused.
#[cold]
fn next_error(addr: usize, next: Block, ntag: Tag) -> BlockError {
    if ntag.magic_ok() {
        // The next block says this memory is free: `addr` is a stale header
        // inside a free block (freed and merged before).
        BlockError::DoubleFree { addr: va(addr) }
    } else {
        BlockError::Overflow {
            addr: va(addr),
            header: va(next.addr()),
            found: ntag.0,
            repaired: false,
        }
    }
}
