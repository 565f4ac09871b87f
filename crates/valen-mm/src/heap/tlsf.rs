//! The TLSF core: segregated free lists indexed by a two-level bitmap, and
//! the regions the heap manages. It takes `&mut self` and knows no locks.
//!
//! ```text
//!   bits[w]      0 1 0 0 ... (64)      one bit per list: lists 64 w .. 64 w + 63
//!   heads[list] -> block <-> block <-> ...   doubly linked free blocks
//! ```
//!
//! Lists are numbered in size order (`fl * 16 + sl`, see `class.rs`), so a
//! fit is one `trailing_zeros` on the word of the request's list (every list
//! for blocks below 2 KiB shares the first word), or a look at the few later
//! words (there are eight) when that word has nothing; unlinking is O(1)
//! through the links stored in the free block itself. The words need no
//! summary bitmap of their own: keeping one cost every list that empties or
//! fills more than it saved the searches that reach a later word (3% of
//! them in the benchmark's H2 at N = 1,000, a quarter at N = 10,000; the
//! instructions fell at both).

use super::block::{Block, Tag, END, FREE, HEADER, MIN_BLOCK, PREV_FREE};
use super::class::{class_of, search_class, Class, LIST_SLOTS, MAX_BLOCK};
use super::error::RegionError;
use super::quick::{Quick, QUICK_DEPTH};
use crate::addr::VirtAddr;
use core::ptr;

/// Regions one heap can manage (adjacent regions merge and take one slot).
pub const MAX_REGIONS: usize = 64;
/// Largest region: its one free block must fit the 32-bit size field.
pub const MAX_REGION: usize = MAX_BLOCK + HEADER;
/// How many blocks of the request's own list are tried when the good-fit
/// search finds nothing (a bounded walk: malloc stays O(1)).
const FALLBACK_TRIES: usize = 8;
/// Words of the list bitmap (64 lists each).
pub(super) const WORDS: usize = LIST_SLOTS / 64;

/// The bitmap word and bit of list `c`.
#[inline(always)]
const fn word_bit(c: Class) -> (usize, u64) {
    let s = c.slot();
    (s >> 6, 1 << (s & 63))
}

/// A managed region `[start, end)`; its last 16 bytes are the END sentinel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Span {
    /// Pointer to `start`: every header of the region is reached through
    /// it (see [`Span::block_at`]), in walks and on every call.
    pub base: *mut u8,
    pub start: usize,
    pub end: usize,
    /// Granules (16 bytes) from `start` at which a minimal block still fits
    /// before the sentinel: `(end - start) / 16 - 2`, 0 for an empty slot.
    /// Kept so that the pointer check on `free` is one compare.
    pub room: usize,
}

impl Span {
    /// The block at address `block` of this region, reached through the
    /// region's own pointer. The heap never reads a header through a
    /// caller's pointer: that pointer's permission may cover only the
    /// payload (under Rust's aliasing rules, a `Box` being freed does not
    /// let anyone read the header in front of it through its pointer).
    #[inline(always)]
    pub fn block_at(&self, block: usize) -> Block {
        // `base` points at `start`: the same pointer moved to `block`.
        Block(self.base.with_addr(block))
    }

    /// The region `[start, end)` starting at `base`.
    pub const fn new(base: *mut u8, start: usize, end: usize) -> Self {
        let granules = (end - start) >> 4;
        let room = granules.saturating_sub(((MIN_BLOCK + HEADER) >> 4) - 1);
        Self {
            base,
            start,
            end,
            room,
        }
    }
}

/// Whether `span` holds a block at `block`: 16-aligned, at or past the
/// start, with a minimal block before the end sentinel. One compare: the
/// offset in granules, rotated so that a misaligned offset's low bits land
/// on top (too large), against the granules available (0 for an empty slot).
#[inline(always)]
pub(super) fn holds(span: &Span, block: usize) -> bool {
    block.wrapping_sub(span.start).rotate_right(4) < span.room
}

/// Running counters behind [`HeapStats`](super::HeapStats).
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Counters {
    pub total: usize,
    pub used_bytes: usize,
    pub peak_used: usize,
    pub used_blocks: usize,
    pub free_blocks: usize,
    pub regions_added: usize,
    pub lists_dropped: usize,
}

/// The kernel heap's allocator core: TLSF over boundary-tagged blocks.
///
/// Use it directly through `&mut self` (one owner), or behind
/// [`LockedHeap`](super::LockedHeap) for `GlobalAlloc` and growth.
pub struct Heap {
    /// Bit `c % 64` of word `c / 64`: list `c` is non-empty.
    pub(super) bits: [u64; WORDS],
    /// First block of each list (null: empty).
    pub(super) heads: [*mut u8; LIST_SLOTS],
    /// A word nobody reads: where branch-free list updates write the link
    /// of a neighbour that does not exist (the `prev` link after a list's
    /// last block), instead of testing for it.
    sink: *mut u8,
    pub(super) spans: [Span; MAX_REGIONS],
    pub(super) span_count: usize,
    pub(super) c: Counters,
    /// Small blocks freed and waiting for a request of their size.
    pub(super) q: Quick,
}

// SAFETY: the heap owns the memory of its regions exclusively; the raw
// pointers are into that memory, so moving the heap to another thread moves
// that ownership with it.
unsafe impl Send for Heap {}

impl Default for Heap {
    fn default() -> Self {
        Self::new()
    }
}

impl Heap {
    /// An empty heap with no region: every allocation fails until
    /// [`Heap::add_region`].
    pub const fn new() -> Self {
        Self {
            bits: [0; WORDS],
            heads: [ptr::null_mut(); LIST_SLOTS],
            sink: ptr::null_mut(),
            spans: [Span::new(ptr::null_mut(), 0, 0); MAX_REGIONS],
            span_count: 0,
            c: Counters {
                total: 0,
                used_bytes: 0,
                peak_used: 0,
                used_blocks: 0,
                free_blocks: 0,
                regions_added: 0,
                lists_dropped: 0,
            },
            q: Quick::new(QUICK_DEPTH),
        }
    }

    /// A heap over one region (the spec's `heap_init` over a fixed arena).
    ///
    /// # Safety
    /// As for [`Heap::add_region`].
    pub unsafe fn with_region(start: *mut u8, size: usize) -> Result<Self, RegionError> {
        let mut heap = Self::new();
        // SAFETY: forwarded to the caller.
        unsafe { heap.add_region(start, size)? };
        Ok(heap)
    }

    /// Gives the heap `[start, start + size)`. The bounds are shrunk to 16-byte
    /// multiples. A region that starts where another ends (or ends where one
    /// starts) merges with it, so a heap grown by adjacent chunks stays one
    /// region and its blocks can coalesce across the old boundary.
    ///
    /// # Safety
    /// The memory is valid for reads and writes, unused by anything else, and
    /// stays so for as long as the heap (or any block from it) lives. Memory
    /// that touches a region the heap already has is part of the same
    /// allocation as that region (chunks of one reservation, or of a
    /// kernel's heap window, are): the merged region is reached through one
    /// pointer.
    pub unsafe fn add_region(&mut self, start: *mut u8, size: usize) -> Result<(), RegionError> {
        let raw = start as usize;
        let v = VirtAddr::new_truncate(raw as u64);
        let Some(raw_end) = raw.checked_add(size) else {
            return Err(RegionError::Wraps { start: v, size });
        };
        let s = raw.next_multiple_of(16);
        let e = raw_end & !15;
        if e <= s || e - s < HEADER + MIN_BLOCK {
            return Err(RegionError::TooSmall { start: v, size });
        }
        if e - s > MAX_REGION {
            return Err(RegionError::TooLarge { start: v, size });
        }
        let spans = &self.spans[..self.span_count];
        if let Some(o) = spans.iter().find(|o| s < o.end && o.start < e) {
            return Err(RegionError::Overlaps {
                start: v,
                existing: VirtAddr::new_truncate(o.start as u64),
            });
        }
        let len = e - s;
        let after = spans
            .iter()
            .position(|o| o.end == s && o.end - o.start + len <= MAX_REGION);
        let before = spans
            .iter()
            .position(|o| o.start == e && o.end - o.start + len <= MAX_REGION);
        if after.is_none() && before.is_none() && self.span_count == MAX_REGIONS {
            return Err(RegionError::TooManyRegions { max: MAX_REGIONS });
        }
        let base = start.wrapping_add(s - raw);
        let block = match (after, before) {
            (Some(i), _) => {
                // The old END sentinel becomes the header of the new block.
                let old_end = Block(base.wrapping_sub(HEADER));
                // SAFETY: the sentinel is ours, inside span i.
                let flags = unsafe { old_end.tag() }.flags() & PREV_FREE;
                let b = old_end;
                // SAFETY: `b` starts 16 bytes before the new memory, which the
                // caller gave us; the new sentinel is its last 16 bytes.
                unsafe {
                    b.set_tag(Tag::new(len, flags));
                    Block(base.wrapping_add(len - HEADER)).set_tag(Tag::new(0, END));
                }
                let o = self.spans[i];
                self.spans[i] = Span::new(o.base, o.start, e);
                b
            }
            (None, Some(i)) => {
                // A block that runs up to the old first block.
                let b = Block(base);
                // SAFETY: the new memory is ours by the caller's contract.
                unsafe { b.set_tag(Tag::new(len, 0)) };
                let o = self.spans[i];
                self.spans[i] = Span::new(base, s, o.end);
                b
            }
            (None, None) => {
                let b = Block(base);
                // SAFETY: the new memory is ours by the caller's contract.
                unsafe {
                    b.set_tag(Tag::new(len - HEADER, 0));
                    Block(base.wrapping_add(len - HEADER)).set_tag(Tag::new(0, END));
                }
                self.spans[self.span_count] = Span::new(base, s, e);
                self.span_count += 1;
                b
            }
        };
        self.c.total += len;
        self.c.regions_added += 1;
        // SAFETY: `b` is a well-formed used block now; releasing it merges it.
        let size = unsafe { block.tag() }.size();
        self.c.used_bytes += size;
        self.c.used_blocks += 1;
        // SAFETY: as above.
        unsafe { self.release(block, size) };
        Ok(())
    }

    /// The region holding a 16-aligned block at `block` with at least a
    /// minimal block before its end sentinel.
    #[inline(always)]
    pub(super) fn span_of(&self, block: usize) -> Option<Span> {
        // Most heaps are one region (adjacent growth merges): test it first.
        let first = self.spans[0];
        if holds(&first, block) {
            return Some(first);
        }
        self.other_span_of(block)
    }

    /// [`Heap::span_of`] past the first region.
    #[cold]
    fn other_span_of(&self, block: usize) -> Option<Span> {
        self.spans[1..self.span_count.max(1)]
            .iter()
            .find(|o| holds(o, block))
            .copied()
    }

    /// Pushes the free block `b` of `size` bytes on its list.
    ///
    /// # Safety
    /// `b` is a free block of this heap, in no list yet.
    #[inline(always)]
    pub(super) unsafe fn insert(&mut self, b: Block, size: usize) {
        // SAFETY: forwarded.
        unsafe { self.insert_in(b, class_of(size)) }
    }

    /// Pushes the free block `b` on the list of `class` (its size's).
    ///
    /// # Safety
    /// `b` is a free block of this heap, in no list yet, whose size belongs
    /// to `class`.
    #[inline(always)]
    pub(super) unsafe fn insert_in(&mut self, b: Block, class: Class) {
        let slot = class.slot();
        let head = self.heads[slot];
        // SAFETY: `b` is a free block of this heap.
        unsafe {
            b.set_next(head);
            b.set_prev(ptr::null_mut());
        }
        // Whether the list was empty is a coin toss on random workloads:
        // set the bits either way and link through the sink, no branch.
        let (w, bit) = word_bit(class);
        self.bits[w] |= bit;
        // SAFETY: the `prev` link of `head`, a free block, or the sink.
        unsafe { self.prev_link(head).write(b.0) };
        self.heads[slot] = b.0;
        self.c.free_blocks += 1;
    }

    /// Where the `prev` link of the listed free block `p` lives, or the sink
    /// when `p` is null (chosen without a branch).
    #[inline(always)]
    fn prev_link(&mut self, p: *mut u8) -> *mut *mut u8 {
        let sink = ptr::addr_of_mut!(self.sink);
        let link = p.wrapping_add(HEADER + 8).cast::<*mut u8>();
        // Both values are ready: the compiler emits a conditional move.
        if p.is_null() {
            sink
        } else {
            link
        }
    }

    /// Unlinks the free block `b` of `size` bytes from its list. The list
    /// (a `log2` away) is computed only when `b` is its head.
    ///
    /// # Safety
    /// `b` is in the list of `class_of(size)`.
    #[inline(always)]
    pub(super) unsafe fn remove(&mut self, b: Block, size: usize) {
        // SAFETY: forwarded.
        unsafe { self.unlink(b, || class_of(size)) }
    }

    /// Unlinks the free block `b` from the list of `class`.
    ///
    /// # Safety
    /// `b` is in the list of `class`.
    #[inline(always)]
    pub(super) unsafe fn remove_from(&mut self, b: Block, class: Class) {
        // SAFETY: forwarded.
        unsafe { self.unlink(b, || class) }
    }

    /// Unlinks the free block `b`; `class` names its list (asked only when
    /// `b` heads it).
    ///
    /// # Safety
    /// `b` is in the list `class()` returns.
    #[inline(always)]
    unsafe fn unlink(&mut self, b: Block, class: impl FnOnce() -> Class) {
        // SAFETY: `b` is a listed free block; its neighbours too (the sink
        // stands for a missing successor).
        unsafe {
            let (next, prev) = b.links();
            self.prev_link(next).write(prev);
            if prev.is_null() {
                self.set_head(class(), next);
            } else {
                Block(prev).set_next(next);
            }
        }
        self.c.free_blocks -= 1;
    }

    /// Unlinks `b`, the head of the list of `class` (what [`Heap::find`]
    /// returns): no `prev` link to read or follow.
    ///
    /// # Safety
    /// `b` heads the list of `class`.
    #[inline(always)]
    pub(super) unsafe fn pop_head(&mut self, b: Block, class: Class) {
        // SAFETY: `b` is a listed free block.
        let next = unsafe { b.next_link() };
        self.set_head(class, next);
        // SAFETY: the `prev` link of `next`, a free block, or the sink.
        unsafe { self.prev_link(next).write(ptr::null_mut()) };
        self.c.free_blocks -= 1;
    }

    /// Makes `next` the head of the list of `class`, clearing the list's
    /// bitmap bits when that leaves it empty.
    #[inline(always)]
    fn set_head(&mut self, class: Class, next: *mut u8) {
        // `slot` and `word_bit` mask: the indices are in bounds (no panic path).
        self.heads[class.slot()] = next;
        // Whether the list empties is a coin toss: no branch on it.
        let (w, _) = word_bit(class);
        self.bits[w] &= !(u64::from(next.is_null()) << (class.slot() & 63));
    }

    /// Marks the list of `class` empty in the bitmaps.
    #[inline(always)]
    fn clear_bits(&mut self, class: Class) {
        let (w, bit) = word_bit(class);
        self.bits[w] &= !bit;
    }

    /// Puts the unlisted free block `new` in the place of `old`, the head of
    /// the list of `class` (both belong there): the split remainder of a
    /// block that stays in its list, without touching the bitmaps or the
    /// counters.
    ///
    /// # Safety
    /// `old` heads the list of `class`; `new` is a free block of this heap
    /// whose size belongs to `class`, in no list.
    #[inline(always)]
    pub(super) unsafe fn replace_head(&mut self, old: Block, new: Block, class: Class) {
        // SAFETY: `old`, its successor and `new` are free blocks.
        unsafe {
            let next = old.next_link();
            new.set_next(next);
            new.set_prev(ptr::null_mut());
            if !next.is_null() {
                Block(next).set_prev(new.0);
            }
        }
        self.heads[class.slot()] = new.0;
    }

    /// A free block of at least `size` bytes (still listed, at the head of
    /// its list, with its tag and list), or `None`.
    #[inline]
    pub(super) fn find(&mut self, size: usize) -> Option<(Block, Tag, Class)> {
        let Some(class) = self.first_list(search_class(size)?) else {
            return self.find_fallback(size);
        };
        if let Some(found) = self.sound_head(class) {
            return Some(found);
        }
        self.find_damaged(size, class)
    }

    /// [`Heap::find`] without its rare cases: `None` also when only the
    /// bounded walk could find a block or when the head found is damaged
    /// (the caller then asks [`Heap::find`]). Everything stays in registers.
    #[inline(always)]
    pub(super) fn find_fast(&self, size: usize) -> Option<(Block, Tag, Class)> {
        let class = self.first_list(search_class(size)?)?;
        // The block is most often a close fit: the header after it (which
        // the allocation writes) is then within a few bytes of `b + size`.
        // Fetch it now, beside `b`'s own header, not after it.
        super::free::prefetch(self.heads[class.slot()].wrapping_add(size + 8));
        self.sound_head(class)
    }

    /// The head of the last non-empty list (the largest blocks), if it is a
    /// sound free block of at least `size` bytes. A damaged head is left for
    /// [`Heap::find`] to deal with.
    #[inline(always)]
    pub(super) fn find_largest(&self, size: usize) -> Option<(Block, Tag, Class)> {
        let w = self.bits.iter().rposition(|&word| word != 0)?;
        let class = Class((w << 6) | self.bits[w].checked_ilog2()? as usize);
        self.sound_head(class)
            .filter(|(_, tag, _)| tag.size() >= size)
    }

    /// The head of the non-empty list of `class` with its tag, if the tag
    /// is a free block's (`None`: overwritten while free).
    #[inline(always)]
    fn sound_head(&self, class: Class) -> Option<(Block, Tag, Class)> {
        let b = Block(self.heads[class.slot()]);
        // SAFETY: a list head is a free block of this heap.
        let tag = unsafe { b.tag() };
        (tag.magic_ok() && tag.has(FREE)).then_some((b, tag, class))
    }

    /// The first non-empty list at or after `from`, or `None`.
    #[inline(always)]
    fn first_list(&self, from: Class) -> Option<Class> {
        let (w, _) = word_bit(from);
        let here = self.bits[w] & (!0u64 << (from.slot() & 63));
        if here != 0 {
            return Some(Class((w << 6) | here.trailing_zeros() as usize));
        }
        // Later words: at most WORDS - 1 of them, so still O(1). Rare: the
        // first word alone holds every list below 2 KiB.
        let w = w + 1 + self.bits.get(w + 1..)?.iter().position(|&word| word != 0)?;
        let word = *self.bits.get(w)?;
        Some(Class((w << 6) | word.trailing_zeros() as usize))
    }

    /// [`Heap::find`] after the head of `class` was found overwritten while
    /// free: the whole list is dropped (rather than following links we
    /// cannot trust; its blocks leak, nothing else is touched) and the search
    /// runs again.
    #[cold]
    #[inline(never)]
    fn find_damaged(&mut self, size: usize, mut class: Class) -> Option<(Block, Tag, Class)> {
        loop {
            self.drop_list(class);
            let Some(c) = self.first_list(search_class(size)?) else {
                return self.find_fallback(size);
            };
            class = c;
            if let Some(found) = self.sound_head(class) {
                return Some(found);
            }
        }
    }

    /// Walks a few blocks of the request's own list for one that fits.
    #[cold]
    fn find_fallback(&mut self, size: usize) -> Option<(Block, Tag, Class)> {
        if size > MAX_BLOCK {
            return None;
        }
        let class = class_of(size);
        let mut p = self.heads[class.slot()];
        for _ in 0..FALLBACK_TRIES {
            if p.is_null() {
                return None;
            }
            let b = Block(p);
            // SAFETY: listed blocks are free blocks of this heap.
            let tag = unsafe { b.tag() };
            if !tag.magic_ok() || !tag.has(FREE) {
                self.drop_list(class);
                return None;
            }
            if tag.size() >= size {
                // Move it to the head: callers take list heads.
                // SAFETY: `b` is listed in `class`, a free block of this heap.
                unsafe {
                    self.remove_from(b, class);
                    self.insert_in(b, class);
                }
                return Some((b, tag, class));
            }
            // SAFETY: as above.
            p = unsafe { b.next_link() };
        }
        None
    }

    fn drop_list(&mut self, class: Class) {
        self.heads[class.slot()] = ptr::null_mut();
        self.clear_bits(class);
        self.c.lists_dropped += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_compare_region_check() {
        let span = Span::new(ptr::null_mut(), 0x1000, 0x2000);
        // Room for a minimal block before the 16-byte sentinel.
        let last = 0x2000 - HEADER - MIN_BLOCK;
        for (block, ok) in [
            (0x1000, true),
            (0x1010, true),
            (last, true),
            (last + 16, false),
            (0x1008, false),
            (0x1001, false),
            (last + 8, false),
            (0x0ff0, false),
            (0, false),
            (usize::MAX - 15, false),
            (0x2000, false),
        ] {
            assert_eq!(holds(&span, block), ok, "block {block:#x}");
        }
        let empty = Span::new(ptr::null_mut(), 0, 0);
        assert!(!holds(&empty, 0) && !holds(&empty, 16));
    }
}
