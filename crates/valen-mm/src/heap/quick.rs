//! The quick cache: small blocks just freed, kept by exact size for the
//! next request of that size, before they coalesce.
//!
//! Most kernel allocations are small and short-lived, and a block freed is
//! soon asked for again at the same size. Giving it back to the TLSF lists
//! costs a class computation, list and bitmap updates and boundary-tag
//! writes in its neighbours, and the next request of that size pays the
//! same again to split it out. The cache skips both: a freed block of up to
//! [`QUICK_MAX`] bytes goes on a per-size stack (at most the cache depth of
//! each size, [`QUICK_DEPTH`] by default) and stays a used block to its
//! neighbours; a request of that exact size takes it back.
//!
//! ```text
//!   heads[size / 16] -> block -> block -> null     (links in the payload)
//!   tag of a cached block: HEAP_MAGIC | size | QUICK (| PREV_FREE)
//! ```
//!
//! Coalescing is deferred, not lost: [`Heap::flush_cache`] frees every
//! cached block for real (merging it with free neighbours), and an
//! allocation that finds no free block flushes the cache and tries again
//! before it fails (so before a locked heap grows): that one call then
//! frees up to `31 * depth` blocks (992 at the default depth), bounded but
//! not the handful of steps of every other call. The cache holds at most
//! `depth * (32 + 48 + ... + 512)` bytes (about 264 KiB at the default
//! depth); [`Heap::set_cache_depth`] with 0 turns it off, for callers that
//! want every free coalesced at once. Blocks larger than [`QUICK_MAX`]
//! always coalesce at once.
//!
//! A cached block is checked again when it leaves the cache: its header
//! must still say "cached, this size" (else an overflow from the block
//! before reached it), and the link to the next one must point into the
//! heap (else the block was written after it was freed). A damaged stack is
//! dropped, not followed: its blocks leak, counted in
//! [`HeapStats::lists_dropped`](super::HeapStats) and the walk.

use super::block::{Block, Tag, GRANULE, PREV_FREE, QUICK};
use super::tlsf::{holds, Heap};
use core::ptr::{self, NonNull};

/// Largest block size the cache holds (requests of up to 504 bytes).
pub const QUICK_MAX: usize = 512;
/// Blocks of each size the cache holds by default.
pub const QUICK_DEPTH: u32 = 32;
/// Stack slots, indexed by block size / 16 (a power of two, so masking an
/// index proves it in bounds).
pub(super) const QUICK_SLOTS: usize = 64;

const _: () = assert!(QUICK_MAX / GRANULE < QUICK_SLOTS);

/// The per-size stacks.
#[derive(Debug, Clone, Copy)]
pub(super) struct Quick {
    /// Top of the stack of each block size / 16 (null: empty).
    pub heads: [*mut u8; QUICK_SLOTS],
    /// Blocks on each stack.
    pub counts: [u32; QUICK_SLOTS],
    /// Most blocks a stack may hold (0: the cache is off).
    pub depth: u32,
    /// Blocks of stacks dropped as damaged (still tagged as cached).
    pub lost: usize,
}

impl Quick {
    /// An empty cache holding up to `depth` blocks of each size.
    pub const fn new(depth: u32) -> Self {
        Self {
            heads: [ptr::null_mut(); QUICK_SLOTS],
            counts: [0; QUICK_SLOTS],
            depth,
            lost: 0,
        }
    }

    /// Blocks and bytes in the cache.
    pub fn held(&self) -> (usize, usize) {
        self.counts
            .iter()
            .enumerate()
            .fold((0, 0), |(n, bytes), (i, &c)| {
                (n + c as usize, bytes + c as usize * i * GRANULE)
            })
    }
}

/// The top of a stack as the inline allocation path sees it.
pub(super) enum Top {
    /// The stack is empty.
    Empty,
    /// The top passed the quick check.
    Sound(Sound),
    /// The top failed the quick check: the full check (out of line) drops
    /// a damaged stack or accepts a link into another region.
    Suspect,
}

/// A stack top that passed the quick check, with what taking it needs.
pub(super) struct Sound {
    block: Block,
    tag: Tag,
    next: *mut u8,
}

/// The stack of blocks of `size` bytes (any size: the caller checks it
/// against [`QUICK_MAX`]).
#[inline(always)]
const fn slot(size: usize) -> usize {
    (size / GRANULE) & (QUICK_SLOTS - 1)
}

/// Whether `tag` is still a cached block's of `size` bytes: the magic, the
/// size, QUICK and no other flag but PREV_FREE (which a neighbour's merge
/// may have set). Anything else was written by an overflow from the block
/// before.
#[inline(always)]
fn cached_tag_ok(tag: Tag, size: usize) -> bool {
    tag.0 & !((PREV_FREE as u64) << 32) == Tag::new(size, QUICK).0
}

impl Heap {
    /// Puts the validated used block `b` (tag `tag`) in the cache if it is
    /// small enough and its stack has room; `false` leaves it untouched.
    ///
    /// # Safety
    /// `b` is a used block of this heap that passed the checks of
    /// [`Heap::validate`] but perhaps the one of a free predecessor (which
    /// caching does not touch; the flush checks it), and nobody uses it any
    /// more.
    #[inline(always)]
    pub(super) unsafe fn cache(&mut self, b: Block, tag: Tag) -> bool {
        let size = tag.size();
        let i = slot(size);
        let fits = (size <= QUICK_MAX) & (self.q.counts[i] < self.q.depth);
        if !fits {
            return false;
        }
        // SAFETY: `b` is a used block of at least a minimal block: its
        // header and first link word are ours to write.
        unsafe {
            b.set_tag(Tag(tag.0 | ((QUICK as u64) << 32)));
            b.set_next(self.q.heads[i]);
        }
        self.q.heads[i] = b.0;
        self.q.counts[i] += 1;
        self.c.used_bytes -= size;
        self.c.used_blocks -= 1;
        true
    }

    /// A cached block of exactly `need` bytes (a block size), made a used
    /// block and counted, or `None` if its stack is empty (or was just found
    /// damaged and dropped).
    #[inline(always)]
    pub(super) fn take_cached(&mut self, need: usize) -> Option<NonNull<u8>> {
        if need > QUICK_MAX {
            return None;
        }
        let b = self.pop_cached(slot(need))?;
        self.count_alloc(need);
        // SAFETY: a block's payload is never null (blocks start past 0).
        Some(unsafe { NonNull::new_unchecked(b.payload()) })
    }

    /// The top of the stack of blocks of `need` bytes (at most
    /// [`QUICK_MAX`]), checked as [`Heap::take_cached`] checks it but with
    /// the link tested against the first region only: a test that either
    /// passes or sends the caller out of line, where nothing is assumed.
    #[inline(always)]
    pub(super) fn cached_top(&self, need: usize) -> Top {
        let p = self.q.heads[slot(need)];
        if p.is_null() {
            return Top::Empty;
        }
        let block = Block(p);
        // SAFETY: a stack top lies inside a region, with room for a minimal
        // block (see `pop_cached`); a cached block holds its link in its
        // first payload word.
        let (tag, next) = unsafe { (block.tag(), block.next_link()) };
        let tag_ok = cached_tag_ok(tag, need);
        let next_ok = next.is_null() | holds(&self.spans[0], next as usize);
        if tag_ok & next_ok {
            Top::Sound(Sound { block, tag, next })
        } else {
            Top::Suspect
        }
    }

    /// Takes the top that [`Heap::cached_top`] found sound off the stack
    /// of blocks of `need` bytes: a used block again, counted.
    #[inline(always)]
    pub(super) fn take_top(&mut self, top: Sound, need: usize) -> NonNull<u8> {
        let b = self.unstack(slot(need), top);
        self.count_alloc(need);
        // SAFETY: a block's payload is never null (blocks start past 0).
        unsafe { NonNull::new_unchecked(b.payload()) }
    }

    /// Takes `top` off stack `i`: its link becomes the top, and the block a
    /// used block again with its flags (not counted).
    #[inline(always)]
    fn unstack(&mut self, i: usize, top: Sound) -> Block {
        self.q.counts[i] -= 1;
        self.q.heads[i] = top.next;
        // SAFETY: the block is ours again: a used block with its flags.
        unsafe { top.block.set_tag(Tag(top.tag.0 & !((QUICK as u64) << 32))) };
        top.block
    }

    /// Takes the top block of stack `i` and makes it a used block again
    /// (not counted), checking it and its link first.
    #[inline(always)]
    fn pop_cached(&mut self, i: usize) -> Option<Block> {
        let p = self.q.heads[i];
        if p.is_null() {
            return None;
        }
        let b = Block(p);
        // SAFETY: a stack top lies inside a region, with room for a minimal
        // block: it was a validated block when pushed, and a link is checked
        // to point into a region before it becomes a top.
        let tag = unsafe { b.tag() };
        if !cached_tag_ok(tag, i * GRANULE) {
            self.drop_cached(i);
            return None;
        }
        // SAFETY: a cached block holds its link in its first payload word.
        let next = unsafe { b.next_link() };
        let top = Sound {
            block: b,
            tag,
            next,
        };
        let b = self.unstack(i, top);
        if !next.is_null() && self.span_of(next as usize).is_none() {
            // `b` is sound, the rest of its stack cannot be reached.
            self.drop_cached(i);
        }
        Some(b)
    }

    /// Drops stack `i` after a damaged block or link was found on it: its
    /// blocks stay tagged as cached and are never handed out again.
    #[cold]
    #[inline(never)]
    fn drop_cached(&mut self, i: usize) {
        self.q.lost += self.q.counts[i] as usize;
        self.q.counts[i] = 0;
        self.q.heads[i] = ptr::null_mut();
        self.c.lists_dropped += 1;
    }

    /// Frees every cached block for real, merging it with free neighbours;
    /// returns how many went back. Each passes every check of
    /// [`Heap::free`] first, the one of a free predecessor included (which
    /// `free` leaves to this point for a block it caches); one that fails
    /// them (a neighbour's header was overwritten) stays allocated, counted
    /// in [`HeapStats::lists_dropped`](super::HeapStats).
    ///
    /// Runs by itself when an allocation finds no free block; call it
    /// before reading the free-block statistics if they must show every
    /// merge.
    pub fn flush_cache(&mut self) -> usize {
        let mut freed = 0;
        for i in 0..QUICK_SLOTS {
            while let Some(b) = self.pop_cached(i) {
                let size = i * GRANULE;
                // Back to the counters as the used block it is again, then
                // freed as any block is.
                self.c.used_bytes += size;
                self.c.used_blocks += 1;
                match self.validate(b.payload()) {
                    Ok((b, tag, ntag)) => {
                        // SAFETY: validated: a used block with intact
                        // neighbours, unused (it was in the cache).
                        unsafe { self.release_with(b, tag, ntag) };
                        freed += 1;
                    }
                    Err(_) => self.c.lists_dropped += 1,
                }
            }
        }
        freed
    }

    /// Sets how many blocks of each size the cache may hold (0 turns it
    /// off: every free then coalesces at once). The cache is flushed first.
    pub fn set_cache_depth(&mut self, depth: u32) {
        self.flush_cache();
        self.q.depth = depth;
    }

    /// How many blocks of each size the cache may hold.
    pub fn cache_depth(&self) -> u32 {
        self.q.depth
    }
}
