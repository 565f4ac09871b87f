//! Splitting and merging blocks: freeing with coalescing (both neighbours,
//! through the boundary tags), cutting an allocation from a free block, and
//! trimming a used block.
//!
//! ```text
//!   free:   [ prev free ][ block ][ next free ]  ->  [ one free block      ]
//!   split:  [ free block                     ]  ->  [ used ][ rest, free ]
//! ```

use super::block::{Block, Tag, FREE, MIN_BLOCK, PREV_FREE};
use super::tlsf::Heap;

impl Heap {
    /// Marks the used block `b` of `size` bytes free, merging it with free
    /// neighbours, and lists the result.
    ///
    /// # Safety
    /// `b` is a used block of this heap with a valid tag and neighbours.
    #[inline]
    pub(super) unsafe fn release(&mut self, b: Block, size: usize) {
        // SAFETY: forwarded: `b` and its successor are valid blocks.
        unsafe {
            let tag = b.tag();
            let ntag = b.offset(size).tag();
            self.release_with(b, tag, ntag);
        }
    }

    /// [`Heap::release`] with `b`'s tag and its successor's tag already read.
    ///
    /// Without a free neighbour (the common case) it writes three words and
    /// lists the block; merging is out of line.
    ///
    /// # Safety
    /// As for [`Heap::release`]; `tag` and `ntag` are the current tags.
    #[inline(always)]
    pub(super) unsafe fn release_with(&mut self, b: Block, tag: Tag, ntag: Tag) {
        let size = tag.size();
        self.c.used_bytes -= size;
        self.c.used_blocks -= 1;
        if tag.has(PREV_FREE) {
            // SAFETY: forwarded.
            return unsafe { self.release_merging(b, tag, ntag) };
        }
        if ntag.has(FREE) {
            // SAFETY: forwarded; the block before `b` is in use.
            return unsafe { self.release_into_next(b, size, ntag) };
        }
        let after = b.offset(size);
        // SAFETY: `b` is a used block; `after` its successor, whose tag is
        // `ntag`: it now follows a free block.
        unsafe {
            b.set_tag(Tag::new(size, FREE));
            after.set_prev_size(size);
            after.set_tag(Tag(ntag.0 | ((PREV_FREE as u64) << 32)));
            self.insert(b, size);
        }
    }

    /// [`Heap::release_with`] when a neighbour is free (counters done).
    ///
    /// # Safety
    /// As for [`Heap::release_with`].
    #[inline(never)]
    unsafe fn release_merging(&mut self, b: Block, tag: Tag, ntag: Tag) {
        // SAFETY: forwarded.
        unsafe { self.merge_and_list(b, tag, ntag) }
    }

    /// [`Heap::release_with`] when only the next block is free (counters
    /// done): the most common merge, with nothing to learn about the block
    /// before.
    ///
    /// # Safety
    /// As for [`Heap::release_with`]; the block before `b` is in use and
    /// `ntag` (the successor's tag) is a free block's.
    #[inline(never)]
    unsafe fn release_into_next(&mut self, b: Block, size: usize, ntag: Tag) {
        let total = size + ntag.size();
        // SAFETY: the free successor is listed under its size; `b..b +
        // total` is then one free block, whose successor already has
        // PREV_FREE (it followed the free successor).
        unsafe {
            self.remove(b.offset(size), ntag.size());
            b.set_tag(Tag::new(total, FREE));
            b.offset(total).set_prev_size(total);
            self.insert(b, total);
        }
    }

    /// Merges the used block `b` with its free neighbours and lists the
    /// result (counters done).
    ///
    /// # Safety
    /// As for [`Heap::release_with`].
    #[inline(always)]
    pub(super) unsafe fn merge_and_list(&mut self, mut b: Block, tag: Tag, ntag: Tag) {
        let mut size = tag.size();
        let next = b.offset(size);
        if ntag.has(FREE) {
            // SAFETY: a free neighbour is listed under its size.
            unsafe { self.remove(next, ntag.size()) };
            size += ntag.size();
        }
        if tag.has(PREV_FREE) {
            // SAFETY: PREV_FREE makes `prev_size` valid; the previous block
            // is free and listed. `b`'s own header is marked free first: it
            // stays behind inside the merged block, where it tells a later
            // double free what happened.
            unsafe {
                b.set_tag(Tag::new(size, FREE));
                let psize = b.prev_size();
                b = b.back(psize);
                self.remove(b, psize);
                size += psize;
            }
        }
        let after = b.offset(size);
        // SAFETY: `b..after` is now one free block; `after` is its successor.
        unsafe {
            b.set_tag(Tag::new(size, FREE));
            after.set_prev_size(size);
            if !ntag.has(FREE) {
                // `after` is the old successor, whose tag we hold; when the
                // successor merged, `after` already had PREV_FREE.
                after.set_tag(Tag::new(ntag.size(), ntag.flags() | PREV_FREE));
            }
            self.insert(b, size);
        }
    }

    /// Cuts a used block of `need` bytes from the front of the unlisted free
    /// block `b` of `size` bytes; the rest (if a block) is listed free.
    /// Returns the size `b` keeps.
    ///
    /// # Safety
    /// `b` was a free block of this heap (so its successor is used and has
    /// PREV_FREE), now unlisted; `need <= size`.
    #[inline]
    pub(super) unsafe fn split_free(&mut self, b: Block, size: usize, need: usize) -> usize {
        let after = b.offset(size);
        if size - need >= MIN_BLOCK {
            let rest = b.offset(need);
            let rsize = size - need;
            // SAFETY: `rest` lies inside `b`; `after` keeps PREV_FREE.
            unsafe {
                rest.set_tag(Tag::new(rsize, FREE));
                after.set_prev_size(rsize);
                self.insert(rest, rsize);
            }
            need
        } else {
            // SAFETY: `after` is `b`'s successor and `b` is now used.
            unsafe { after.clear_prev_free() };
            size
        }
    }

    /// Splits `size - need` bytes off the end of block `b` (if big enough
    /// for a block) and frees them. `b` must not be listed. Returns the size
    /// `b` keeps. `b`'s successor must have a valid tag.
    ///
    /// # Safety
    /// `b` is a block of this heap of `size` bytes, not in a list, and
    /// `need <= size`.
    #[inline]
    pub(super) unsafe fn trim(&mut self, b: Block, size: usize, need: usize) -> usize {
        let after = b.offset(size);
        if size - need >= MIN_BLOCK {
            let rest = b.offset(need);
            let mut rsize = size - need;
            // SAFETY: `rest` lies inside `b`; `after` is the next block.
            unsafe {
                let atag = after.tag();
                let after = if atag.has(FREE) {
                    self.remove(after, atag.size());
                    rsize += atag.size();
                    rest.offset(rsize)
                } else {
                    after
                };
                rest.set_tag(Tag::new(rsize, FREE));
                after.set_prev_size(rsize);
                after.set_prev_free(true);
                self.insert(rest, rsize);
            }
            need
        } else {
            // SAFETY: `after` is `b`'s successor and `b` is now used.
            unsafe { after.set_prev_free(false) };
            size
        }
    }
}
