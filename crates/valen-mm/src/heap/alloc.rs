//! Allocation: `malloc`, aligned allocation, `calloc` and `realloc` on the
//! TLSF core. Each is O(1) apart from copying on a moving `realloc`.
//!
//! Aligned requests ask the size classes for `size + align + 16` bytes, then
//! cut the aligned block out of the middle of the fit and give the ends back:
//!
//! ```text
//!   | gap (free, >= 32 B) | aligned block | tail (free) |
//!                         ^ payload % align == 0
//! ```
//!
//! so an alignment of 4 KiB or 1 MiB costs the same as 16 (no slow path).

use super::block::{block_size, Block, Tag, FREE, GRANULE, HEADER, MIN_BLOCK, OVERHEAD, PREV_FREE};
use super::class::{class_of, Class};
use super::error::{AllocError, ReallocError};
use super::free::prefetch;
use super::quick::{Top, QUICK_MAX};
use super::tlsf::Heap;
use core::ptr::{self, NonNull};

/// Every block's payload is aligned to this.
pub const MIN_ALIGN: usize = GRANULE;

impl Heap {
    /// Allocates `size` bytes aligned to 16 (the spec's `malloc`).
    ///
    /// `malloc(0)` returns a unique minimal block (C allows a unique pointer
    /// or NULL; a unique pointer keeps `malloc(0) == NULL` meaning "out of
    /// memory"). Sizes past the largest block return `None`.
    #[inline]
    pub fn malloc(&mut self, size: usize) -> Option<NonNull<u8>> {
        self.alloc(size, MIN_ALIGN)
    }

    /// Allocates `size` bytes aligned to `align` (any power of two).
    #[inline]
    pub fn malloc_aligned(&mut self, size: usize, align: usize) -> Option<NonNull<u8>> {
        self.alloc(size, align)
    }

    /// Allocates `count * size` zeroed bytes; `None` if the product overflows.
    pub fn calloc(&mut self, count: usize, size: usize) -> Option<NonNull<u8>> {
        let bytes = count.checked_mul(size)?;
        let p = self.malloc(bytes)?;
        // SAFETY: the block holds at least `bytes` bytes and is ours.
        unsafe { ptr::write_bytes(p.as_ptr(), 0, bytes) };
        Some(p)
    }

    /// Allocates `size` bytes aligned to `align`, saying why on failure.
    #[inline]
    pub fn try_alloc(&mut self, size: usize, align: usize) -> Result<NonNull<u8>, AllocError> {
        self.alloc(size, align)
            .ok_or_else(|| alloc_error(size, align))
    }

    /// The allocation behind every entry point: `size` bytes aligned to
    /// `align`, or `None` (the reason: [`alloc_error`]).
    ///
    /// The common case (a 16-aligned request that the quick cache or the
    /// bitmaps serve) runs inline and calls nothing: every other case leaves
    /// it by a call in tail position, so the fast path needs no saved
    /// registers and the result stays in one register.
    #[inline(always)]
    pub(super) fn alloc(&mut self, size: usize, align: usize) -> Option<NonNull<u8>> {
        let need = block_size(size)?;
        self.alloc_block(need, align)
    }

    /// [`Heap::alloc`] of a block of `need` bytes (a [`block_size`]) aligned
    /// to `align` (any value: not a power of two gives `None`).
    #[inline(always)]
    fn alloc_block(&mut self, need: usize, align: usize) -> Option<NonNull<u8>> {
        if align > MIN_ALIGN || !align.is_power_of_two() {
            return self.alloc_aligned(need, align);
        }
        if need <= QUICK_MAX {
            match self.cached_top(need) {
                Top::Empty => {}
                Top::Sound(top) => return Some(self.take_top(top, need)),
                Top::Suspect => return self.alloc_slow(need),
            }
        }
        let Some((b, tag, class)) = self.find_fast(need) else {
            return self.alloc_slow(need);
        };
        // SAFETY: `find_fast` returns a free block of this heap heading the
        // list of `class`, at least `need` bytes.
        Some(unsafe { self.take_listed(b, tag.size(), class, need) })
    }

    /// [`Heap::alloc`] of a 16-aligned block of `need` bytes past its
    /// inline case: a cached block that failed its quick check (the full
    /// one drops a damaged stack or follows a link into another region), no
    /// fit in the bitmaps, a damaged list head.
    #[inline(never)]
    fn alloc_slow(&mut self, need: usize) -> Option<NonNull<u8>> {
        if let Some(p) = self.take_cached(need) {
            return Some(p);
        }
        let (b, tag, class) = self.find_flushing(need)?;
        // SAFETY: `find` returns a free block of this heap heading the list
        // of `class`, at least `need` bytes.
        Some(unsafe { self.take_listed(b, tag.size(), class, need) })
    }

    /// [`Heap::find`], and if it finds nothing, again after the quick cache
    /// gave its blocks back (they may merge into a block that fits).
    fn find_flushing(&mut self, size: usize) -> Option<(Block, Tag, Class)> {
        if let Some(found) = self.find(size) {
            return Some(found);
        }
        if self.flush_cache() == 0 {
            return None;
        }
        self.find(size)
    }

    /// [`Heap::alloc`] for alignments above 16 (and `None` for one that is
    /// not a power of two).
    #[inline(never)]
    fn alloc_aligned(&mut self, need: usize, align: usize) -> Option<NonNull<u8>> {
        if !align.is_power_of_two() {
            return None;
        }
        let (b, tag, class) = self.find_flushing(need.checked_add(align + GRANULE)?)?;
        let bsize = tag.size();
        let payload = b.payload() as usize;
        let mut gap = payload.next_multiple_of(align) - payload;
        if gap != 0 && gap < MIN_BLOCK {
            gap += align;
        }
        // SAFETY: `b` is a listed free block; `gap + need <= bsize` by the
        // search size, and the gap is a whole block of at least MIN_BLOCK.
        unsafe {
            self.remove_from(b, class);
            if gap == 0 {
                return Some(self.take(b, bsize, need, 0));
            }
            Some(self.take_past_gap(b, bsize, gap, need))
        }
    }

    /// Lists the first `gap` bytes of the unlisted free block `b` (`size`
    /// bytes) as a free block of their own and makes a used block of `need`
    /// bytes right after them, giving back the rest as [`Heap::take`] does.
    ///
    /// # Safety
    /// `b` is an unlisted free block of this heap (its successor has
    /// PREV_FREE); `gap >= MIN_BLOCK`, `gap + need <= size`.
    #[inline(always)]
    unsafe fn take_past_gap(
        &mut self,
        b: Block,
        size: usize,
        gap: usize,
        need: usize,
    ) -> NonNull<u8> {
        let a = b.offset(gap);
        // SAFETY: the gap stays a free block (at least MIN_BLOCK) before
        // `a`, an unlisted free block of `size - gap` bytes whose successor
        // is `b`'s.
        unsafe {
            b.set_tag(Tag::new(gap, FREE));
            a.set_prev_size(gap);
            self.insert(b, gap);
            self.take(a, size - gap, need, PREV_FREE)
        }
    }

    /// Makes the free block `b` (`size` bytes, the head of the list of
    /// `class`) a used block of `need` bytes; the rest, if at least
    /// [`min_rest`], is listed free. When the rest belongs in the same list
    /// (cutting from a large block), it takes `b`'s place there: no bitmap
    /// or counter changes.
    ///
    /// # Safety
    /// `b` is a free block of this heap heading the list of `class`,
    /// `need <= size`.
    #[inline(always)]
    unsafe fn take_listed(
        &mut self,
        b: Block,
        size: usize,
        class: Class,
        need: usize,
    ) -> NonNull<u8> {
        let rsize = size - need;
        let after = b.offset(size);
        let kept = if rsize >= min_rest(need) {
            let rest = b.offset(need);
            // SAFETY: `rest` lies inside `b` past its links (`need >= 32`);
            // `after` is `b`'s successor and keeps PREV_FREE.
            unsafe {
                rest.set_tag(Tag::new(rsize, FREE));
                after.set_prev_size(rsize);
                let rclass = class_of(rsize);
                if rclass == class {
                    self.replace_head(b, rest, class);
                } else {
                    self.pop_head(b, class);
                    self.insert_in(rest, rclass);
                }
            }
            need
        } else {
            // SAFETY: `b` heads the list of `class`; `after` is its successor,
            // which now follows a used block.
            unsafe {
                self.pop_head(b, class);
                after.clear_prev_free();
            }
            size
        };
        // SAFETY: `b` is ours; a free block's predecessor is in use.
        unsafe { b.set_tag(Tag::new(kept, 0)) };
        self.count_alloc(kept);
        // SAFETY: a block's payload is never null (blocks start past 0).
        unsafe { NonNull::new_unchecked(b.payload()) }
    }

    /// Counts a new used block of `kept` bytes.
    #[inline(always)]
    pub(super) fn count_alloc(&mut self, kept: usize) {
        self.c.used_blocks += 1;
        self.count_growth(kept);
    }

    /// Counts `by` more bytes in used blocks.
    #[inline(always)]
    fn count_growth(&mut self, by: usize) {
        self.c.used_bytes += by;
        // A new peak is rare once a heap is warm: a branch that skips the
        // store, not a `max` that writes the peak every time.
        if self.c.used_bytes > self.c.peak_used {
            self.c.peak_used = self.c.used_bytes;
        }
    }

    /// Makes the unlisted free block `b` (`size` bytes) a used block of
    /// `need` bytes, giving back the rest.
    ///
    /// # Safety
    /// `b` is an unlisted block of this heap, `need <= size`; `prev_flag` is
    /// `PREV_FREE` if the block before `b` is free, else 0.
    #[inline]
    unsafe fn take(&mut self, b: Block, size: usize, need: usize, prev_flag: u32) -> NonNull<u8> {
        // SAFETY: forwarded from the caller.
        let kept = unsafe { self.split_free(b, size, need) };
        // SAFETY: `b` is ours.
        unsafe { b.set_tag(Tag::new(kept, prev_flag)) };
        self.count_alloc(kept);
        // SAFETY: a block's payload is never null (blocks start past 0).
        unsafe { NonNull::new_unchecked(b.payload()) }
    }

    /// Resizes the block at `ptr` to `new_size` bytes, keeping its contents
    /// (up to the smaller size) and an alignment of `align`.
    ///
    /// In place when shrinking, when the next block is free and big enough,
    /// or (through [`LockedHeap`](super::LockedHeap)) when the block is the last of its region and the
    /// region grows next to it; otherwise allocate, copy, free. A null `ptr`
    /// is `malloc`; a `new_size` of 0 shrinks the block to the minimal one
    /// (it stays valid and must still be freed). On error the old block is
    /// untouched.
    ///
    /// A moving resize of a block above [`QUICK_MAX`] goes to the largest
    /// free block, and when that block is large enough, with a free block
    /// of its own size left after it (see `alloc_moved`), so that it can
    /// double in place next time.
    ///
    /// A block never moves down into a free block before it: that copies as
    /// much as a move does, and it uses up the free space the block in front
    /// could later grow into in place. Moving leaves that space to merge
    /// with the old block instead (with many blocks growing by turns, as in
    /// the benchmark's H4, moving down copied 9% more bytes).
    ///
    /// The pointer passes every check of `free` once, before anything
    /// changes (inline for the first region, out of line for the others and
    /// for refusals); a moving resize then allocates inline and frees the old
    /// block without checking it again.
    ///
    /// # Safety
    /// `ptr` is null or a block of this heap allocated with `align` that
    /// nobody uses any more except through the returned pointer.
    pub unsafe fn realloc_aligned(
        &mut self,
        ptr: *mut u8,
        new_size: usize,
        align: usize,
    ) -> Result<NonNull<u8>, ReallocError> {
        if ptr.is_null() {
            return self.try_alloc(new_size, align).map_err(ReallocError::Alloc);
        }
        let Some((b, tag, ntag)) = self.validate_first(ptr) else {
            // SAFETY: forwarded.
            return unsafe { self.realloc_checked(ptr, new_size, align) };
        };
        // SAFETY: `b` passed every check; `tag` and `ntag` are current.
        unsafe { self.realloc_valid(b, tag, ntag, new_size, align) }
    }

    /// [`Heap::realloc_aligned`] given the size the block was allocated (or
    /// last resized) with, as Rust's `GlobalAlloc::realloc` knows it. As for
    /// [`Heap::free_sized`], the size is only a hint: it lets the heap fetch
    /// the next block's header (which every resize checks, and in-place
    /// growth needs) while it reads this one, instead of one after the
    /// other. A wrong size costs nothing but that head start; every check
    /// still runs on the headers themselves, and the copy of a moving resize
    /// keeps the whole block as always.
    ///
    /// # Safety
    /// As for [`Heap::realloc_aligned`].
    #[inline]
    pub unsafe fn realloc_sized(
        &mut self,
        ptr: *mut u8,
        old_size: usize,
        new_size: usize,
        align: usize,
    ) -> Result<NonNull<u8>, ReallocError> {
        // The next header's tag lies within 16 bytes after `ptr + old_size`.
        prefetch(ptr.wrapping_add(old_size).wrapping_add(8));
        // SAFETY: forwarded.
        unsafe { self.realloc_aligned(ptr, new_size, align) }
    }

    /// [`Heap::realloc_aligned`] with the full checks of [`Heap::validate`],
    /// out of line: blocks outside the first region, and refusals.
    ///
    /// # Safety
    /// As for [`Heap::realloc_aligned`], `ptr` non-null.
    #[inline(never)]
    unsafe fn realloc_checked(
        &mut self,
        ptr: *mut u8,
        new_size: usize,
        align: usize,
    ) -> Result<NonNull<u8>, ReallocError> {
        let (b, tag, ntag) = self.validate(ptr).map_err(ReallocError::Block)?;
        // SAFETY: validated; the tags are current.
        unsafe { self.realloc_valid(b, tag, ntag, new_size, align) }
    }

    /// [`Heap::realloc_aligned`] of the validated used block `b`.
    ///
    /// # Safety
    /// `b` passed every check of [`Heap::validate`]; `tag` and `ntag` are its
    /// and its successor's current tags; the caller's contract as for
    /// [`Heap::realloc_aligned`].
    #[inline(always)]
    unsafe fn realloc_valid(
        &mut self,
        b: Block,
        tag: Tag,
        ntag: Tag,
        new_size: usize,
        align: usize,
    ) -> Result<NonNull<u8>, ReallocError> {
        let ptr = b.payload();
        let Some(need) = block_size(new_size) else {
            return Err(ReallocError::Alloc(AllocError::TooLarge { size: new_size }));
        };
        let size = tag.size();
        let prev_flag = tag.flags() & PREV_FREE;
        if need <= size {
            // SAFETY: `b` is a validated used block, not listed.
            let kept = unsafe { self.trim(b, size, need) };
            // SAFETY: as above.
            unsafe { b.set_tag(Tag::new(kept, prev_flag)) };
            self.c.used_bytes -= size - kept;
            // SAFETY: a block's payload is never null.
            return Ok(unsafe { NonNull::new_unchecked(ptr) });
        }
        let next = b.offset(size);
        if ntag.has(FREE) && size + ntag.size() >= need {
            let total = size + ntag.size();
            // SAFETY: the free neighbour is listed; `b + total` is its
            // successor, a used block (free blocks never touch) with
            // PREV_FREE: `b..b + total` is an unlisted free block as
            // `split_free` expects, whose successor need not be read.
            let kept = unsafe {
                self.remove(next, ntag.size());
                let kept = self.split_free(b, total, need);
                b.set_tag(Tag::new(kept, prev_flag));
                kept
            };
            self.count_growth(kept - size);
            // SAFETY: a block's payload is never null.
            return Ok(unsafe { NonNull::new_unchecked(ptr) });
        }
        let Some(new) = self.alloc_moved(need, align) else {
            return Err(ReallocError::Alloc(alloc_error(new_size, align)));
        };
        let keep = (size - OVERHEAD).min(new_size);
        // SAFETY: two distinct blocks of this heap, each at least `keep`
        // bytes. `b` is still a valid used block: the allocation took a free
        // or cached block, which may have been `b`'s predecessor (then `b`'s
        // tag changed, so it is read again), never its successor (too small,
        // or the resize would have stayed in place). A flush on the way may
        // have merged free blocks around `b`, which changes only its
        // PREV_FREE bit and the successor's tag.
        unsafe {
            ptr::copy_nonoverlapping(ptr, new.as_ptr(), keep);
            self.retire(b, b.tag(), b.offset(size).tag());
        }
        Ok(new)
    }

    /// The new block of a moving resize: `need` bytes (a [`block_size`])
    /// aligned to `align` (not a power of two gives `None`).
    ///
    /// Above the quick cache's sizes it goes to the largest free block, not
    /// the closest fit: a block that grew once tends to grow again (a
    /// doubling vector), and a close fit leaves it no room, so its next
    /// resize moves it again. When that block holds at least eight times
    /// `need`, the new block is cut from its end with `need` bytes left free
    /// behind it: room to double in place. (Cut from the front, the room
    /// would touch the rest of the free block and merge with it, so the next
    /// block moved would take it.) The room is an ordinary free block that
    /// any request may use; the front left free is still at least six times
    /// `need`, so the largest free block shrinks by at most a seventh more
    /// than a cut from the front would shrink it. In the benchmark's H4
    /// (1,000 blocks doubling by turns) every other doubling then stays in
    /// place: the copies fell from 9.8 MB to 6.0 MB and the row ran about a
    /// fifth faster. A smaller free block gives its front, as before.
    #[inline(always)]
    fn alloc_moved(&mut self, need: usize, align: usize) -> Option<NonNull<u8>> {
        if align <= MIN_ALIGN && align.is_power_of_two() && need > QUICK_MAX {
            if let Some((b, tag, class)) = self.find_largest(need) {
                let size = tag.size();
                if size / 8 >= need {
                    // SAFETY: `find_largest` returns a free block of this
                    // heap heading the list of `class`; it holds eight times
                    // `need`, which is above QUICK_MAX.
                    return Some(unsafe { self.take_with_room(b, size, class, need) });
                }
                // SAFETY: `find_largest` returns a free block of this heap
                // heading the list of `class`, at least `need` bytes.
                return Some(unsafe { self.take_listed(b, size, class, need) });
            }
        }
        self.alloc_block(need, align)
    }

    /// Cuts a used block of `need` bytes from the end of the free block `b`
    /// (`size` bytes, the head of the list of `class`), `need` free bytes
    /// before that end:
    ///
    /// ```text
    ///   [ front, free ......... ][ new block ][ room, free ][ used ]
    ///                             need         need
    /// ```
    ///
    /// Out of line: inlined into the resize, it added instructions to every
    /// resize, and H4 measured 0.85x instead of 0.82x the faster peer (eight
    /// interleaved runs).
    ///
    /// # Safety
    /// `b` is a free block of this heap heading the list of `class`;
    /// `size >= 8 * need`, `need >= MIN_BLOCK` (so the front is a block and
    /// the room is listed).
    #[inline(never)]
    unsafe fn take_with_room(
        &mut self,
        b: Block,
        size: usize,
        class: Class,
        need: usize,
    ) -> NonNull<u8> {
        // SAFETY: `b` heads its list; once off it, `size - 2 * need` bytes
        // in front are at least MIN_BLOCK, and `need` fits after them.
        unsafe {
            self.remove_from(b, class);
            self.take_past_gap(b, size, size - 2 * need, need)
        }
    }

    /// `realloc` with the default alignment (the C function).
    ///
    /// # Safety
    /// As for [`Heap::realloc_aligned`].
    pub unsafe fn realloc(
        &mut self,
        ptr: *mut u8,
        new_size: usize,
    ) -> Result<NonNull<u8>, ReallocError> {
        // SAFETY: forwarded.
        unsafe { self.realloc_aligned(ptr, new_size, MIN_ALIGN) }
    }

    /// Bytes usable at `ptr` (at least what was asked for).
    pub fn usable_size(&self, ptr: *mut u8) -> Result<usize, super::BlockError> {
        self.validate(ptr).map(|(_, t, _)| t.size() - OVERHEAD)
    }
}

/// The smallest rest that a fit for a block of `need` bytes gives back as a
/// free block; a smaller rest stays in the allocated block. It applies where
/// a 16-aligned block is taken from a list (`take_listed`: `malloc` and
/// moving reallocs); an aligned request and in-place growth keep every rest
/// that is a block.
///
/// Up to [`QUICK_MAX`] that is any block: small blocks keep their exact
/// sizes, so that the quick cache recycles them by size. Above it, a rest
/// below an eighth of the request stays. Splitting off a small rest costs as
/// much as a large one: a header written in the middle of the block (a
/// cache line of its own), a list update, and a merge when the block is
/// freed (in the benchmark's H2, three in five large frees merged with the
/// rest their own split had left). A block then holds at most 12.5% more
/// than asked, as under a size-class allocator with eight classes per
/// doubling, and only when a free block fits that closely; the free gives it
/// all back. (In H2 this took a tenth of the instructions and made it 10-25%
/// faster; H3 went from 98.7% to 98.4%.)
#[inline(always)]
const fn min_rest(need: usize) -> usize {
    if need > QUICK_MAX {
        need >> 3
    } else {
        MIN_BLOCK
    }
}

/// Why [`Heap::alloc`] returned `None` for `size` and `align`: a pure
/// function of the request, so the allocation itself carries no reason
/// around and it is worked out only on failure (a bad alignment is named
/// first).
#[cold]
#[inline(never)]
fn alloc_error(size: usize, align: usize) -> AllocError {
    if !align.is_power_of_two() {
        return AllocError::BadAlign { align };
    }
    match block_size(size) {
        Some(need) if align <= MIN_ALIGN || need.checked_add(align + GRANULE).is_some() => {
            AllocError::OutOfMemory { size, align }
        }
        _ => AllocError::TooLarge { size },
    }
}

const _: () = assert!(HEADER == MIN_ALIGN);
