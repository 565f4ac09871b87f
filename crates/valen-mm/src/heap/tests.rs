//! Unit tests of the core over a local arena.

use super::*;

#[repr(align(4096))]
struct Arena([u8; 1 << 16]);

fn with_heap(f: impl FnOnce(&mut Heap)) {
    let mut arena = Box::new(Arena([0; 1 << 16]));
    // SAFETY: the arena outlives the heap, which lives only inside `f`.
    let mut heap = unsafe { Heap::with_region(arena.0.as_mut_ptr(), arena.0.len()) }.unwrap();
    f(&mut heap);
    drop(arena);
}

#[test]
fn malloc_free_coalesce() {
    with_heap(|h| {
        let total = h.stats().free_bytes;
        let a = h.malloc(100).unwrap();
        let b = h.malloc(200).unwrap();
        let c = h.malloc(0).unwrap();
        assert!(h.usable_size(a.as_ptr()).unwrap() >= 100);
        assert_eq!(a.as_ptr() as usize % 16, 0);
        h.check().unwrap();
        // SAFETY: blocks of this heap, not used afterwards.
        unsafe {
            h.free(b.as_ptr()).unwrap();
            h.free(a.as_ptr()).unwrap();
            h.free(c.as_ptr()).unwrap();
        }
        // Small blocks wait in the quick cache; a flush merges them.
        let w = h.check().unwrap();
        assert_eq!((w.cached_blocks, w.free_blocks), (3, 1));
        assert_eq!(h.stats().free_bytes, total);
        assert_eq!(h.flush_cache(), 3);
        let w = h.check().unwrap();
        assert_eq!((w.cached_blocks, w.free_blocks), (0, 1));
        assert_eq!(h.stats().free_bytes, total);
    });
}

#[test]
fn aligned_up_to_a_page() {
    with_heap(|h| {
        let mut v = Vec::new();
        for shift in 4..13 {
            let p = h.malloc_aligned(40, 1 << shift).unwrap();
            assert_eq!(p.as_ptr() as usize % (1 << shift), 0);
            h.check().unwrap();
            v.push(p);
        }
        for p in v {
            // SAFETY: blocks of this heap.
            unsafe { h.free(p.as_ptr()).unwrap() };
        }
        h.flush_cache();
        assert_eq!(h.check().unwrap().free_blocks, 1);
        assert_eq!(h.try_alloc(8, 24), Err(AllocError::BadAlign { align: 24 }));
    });
}

#[test]
fn realloc_in_place_and_moving() {
    with_heap(|h| {
        let a = h.malloc(64).unwrap();
        // SAFETY: `a` is ours; 64 bytes.
        unsafe { core::ptr::write_bytes(a.as_ptr(), 7, 64) };
        // SAFETY: `a` is a block of this heap.
        let a2 = unsafe { h.realloc(a.as_ptr(), 1000) }.unwrap();
        assert_eq!(a2, a, "next block free: grows in place");
        let b = h.malloc(16).unwrap();
        // SAFETY: `a2` is a block of this heap.
        let a3 = unsafe { h.realloc(a2.as_ptr(), 5000) }.unwrap();
        assert_ne!(a3, a2, "blocked by b: moves");
        // SAFETY: 64 bytes were copied.
        assert!(unsafe { core::slice::from_raw_parts(a3.as_ptr(), 64) }
            .iter()
            .all(|&x| x == 7));
        h.check().unwrap();
        // SAFETY: blocks of this heap.
        unsafe {
            h.free(b.as_ptr()).unwrap();
            let a4 = h.realloc(a3.as_ptr(), 10).unwrap();
            assert_eq!(a4, a3, "shrinks in place");
            h.free(a4.as_ptr()).unwrap();
        }
        h.flush_cache();
        assert_eq!(h.check().unwrap().free_blocks, 1);
    });
}

#[test]
fn overflowing_sizes_are_refused() {
    with_heap(|h| {
        assert!(h.malloc(usize::MAX).is_none());
        assert!(h.malloc(usize::MAX - 8).is_none());
        assert!(h.calloc(usize::MAX / 2, 3).is_none());
        assert!(h.malloc_aligned(usize::MAX - 100, 4096).is_none());
        assert!(h.malloc(1 << 20).is_none());
        h.check().unwrap();
    });
}

#[test]
fn free_null_is_a_no_op() {
    with_heap(|h| {
        let before = h.stats();
        // SAFETY: null is always accepted.
        unsafe { h.free(core::ptr::null_mut()).unwrap() };
        assert_eq!(h.stats(), before);
    });
}

#[test]
fn split_remainder_takes_the_blocks_place_in_its_list() {
    with_heap(|h| {
        // One free block of 64 KiB - 16 (list fl 8, sl 15: number 143); cutting 32 bytes
        // leaves a remainder in the same list: the bitmaps stay as they were.
        let maps = h.bits;
        let free_blocks = h.stats().free_blocks;
        let a = h.malloc(24).unwrap();
        assert_eq!(h.bits, maps);
        assert_eq!(h.stats().free_blocks, free_blocks);
        let w = h.check().unwrap();
        assert_eq!((w.used_blocks, w.free_blocks), (1, 1));
        // A cut that moves the remainder to a smaller list changes them.
        let b = h.malloc(50_000).unwrap();
        assert_ne!(h.bits, maps);
        assert_eq!(h.check().unwrap().free_blocks, 1);
        // An exact fit leaves no remainder and clears the successor's
        // PREV_FREE (the walk checks it).
        let rest = h.check().unwrap().largest_free;
        let c = h.malloc(rest - 8).unwrap();
        let w = h.check().unwrap();
        assert_eq!((w.used_blocks, w.free_blocks), (3, 0));
        // SAFETY: blocks of this heap, not used afterwards.
        unsafe {
            h.free(b.as_ptr()).unwrap();
            h.free(a.as_ptr()).unwrap();
            h.free(c.as_ptr()).unwrap();
        }
        assert_eq!(h.check().unwrap().free_blocks, 1);
    });
}

#[test]
fn a_close_fit_keeps_a_rest_below_an_eighth_of_the_request() {
    with_heap(|h| {
        h.set_cache_depth(0);
        let usable = |h: &Heap, p: core::ptr::NonNull<u8>| h.usable_size(p.as_ptr()).unwrap();
        // A free block of 4,096 bytes between used blocks.
        let a = h.malloc(4096 - 8).unwrap();
        let guard = h.malloc(16).unwrap();
        // SAFETY: a block of this heap, not used afterwards.
        unsafe { h.free(a.as_ptr()).unwrap() };
        // 3,700 bytes (a block of 3,712) leave 384, less than an eighth of
        // the request: the block keeps them, and no free block is left there.
        let b = h.malloc(3700).unwrap();
        assert_eq!(b, a);
        assert_eq!(usable(h, b), 4096 - 8);
        let w = h.check().unwrap();
        assert_eq!((w.used_blocks, w.free_blocks), (2, 1));
        // SAFETY: as above.
        unsafe { h.free(b.as_ptr()).unwrap() };
        // 3,000 bytes (3,008) leave 1,088, more than an eighth: split.
        let c = h.malloc(3000).unwrap();
        assert_eq!((c, usable(h, c)), (a, 3000));
        assert_eq!(h.check().unwrap().free_blocks, 2);
        // SAFETY: as above.
        unsafe { h.free(c.as_ptr()).unwrap() };
        // Small blocks keep their exact size: 400 bytes from a 448-byte
        // hole leave 32, a block, so it is split off.
        let d = h.malloc(448 - 8).unwrap();
        let guard2 = h.malloc(16).unwrap();
        // SAFETY: as above.
        unsafe { h.free(d.as_ptr()).unwrap() };
        let e = h.malloc(400).unwrap();
        assert_eq!((e, usable(h, e)), (d, 416 - 8));
        // SAFETY: blocks of this heap, not used afterwards.
        unsafe {
            for p in [e, guard, guard2] {
                h.free(p.as_ptr()).unwrap();
            }
        }
        let w = h.check().unwrap();
        assert_eq!((w.used_blocks, w.free_blocks), (0, 1));
    });
}

#[test]
fn fallback_takes_a_fitting_block_behind_the_head() {
    with_heap(|h| {
        // Blocks of 528 and 512 bytes share a list (fl 2, sl 0: number 32); the good-fit
        // search for 528 looks one list up, finds nothing, and the bounded
        // walk of the own list finds the 528 behind the 512 at the head.
        // (The 512-byte block would wait in the quick cache: it is off.)
        h.set_cache_depth(0);
        let a = h.malloc(520).unwrap();
        let s1 = h.malloc(16).unwrap();
        let c = h.malloc(504).unwrap();
        let s2 = h.malloc(16).unwrap();
        let rest = h.check().unwrap().largest_free;
        let fill = h.malloc(rest - 8).unwrap();
        assert_eq!(h.check().unwrap().free_blocks, 0);
        // SAFETY: blocks of this heap, not used afterwards.
        unsafe {
            h.free(a.as_ptr()).unwrap();
            h.free(c.as_ptr()).unwrap();
        }
        assert_eq!(h.heads[32], c.as_ptr().wrapping_sub(16));
        let p = h.malloc(520).unwrap();
        assert_eq!(p, a, "the fitting block behind the head");
        assert_eq!(h.heads[32], c.as_ptr().wrapping_sub(16));
        let w = h.check().unwrap();
        assert_eq!((w.used_blocks, w.free_blocks), (4, 1));
        assert!(h.malloc(520).is_none(), "only the 512 is left");
        // SAFETY: blocks of this heap, not used afterwards.
        unsafe {
            for q in [p, s1, s2, fill] {
                h.free(q.as_ptr()).unwrap();
            }
        }
        assert_eq!(h.check().unwrap().free_blocks, 1);
    });
}

#[test]
fn cache_hands_back_the_block_freed_last() {
    with_heap(|h| {
        let a = h.malloc(40).unwrap();
        let b = h.malloc(40).unwrap();
        let used = h.stats().used_bytes;
        // SAFETY: blocks of this heap, not used afterwards.
        unsafe {
            h.free(a.as_ptr()).unwrap();
            h.free(b.as_ptr()).unwrap();
        }
        let st = h.stats();
        assert_eq!((st.cached_blocks, st.cached_bytes), (2, 96));
        assert_eq!(st.used_bytes, used - 96);
        h.check().unwrap();
        // Same block size (48): last in, first out; another size misses.
        assert_eq!(h.malloc(33).unwrap(), b);
        assert_eq!(h.malloc(40).unwrap(), a);
        let c = h.malloc(41).unwrap();
        assert!(c != a && c != b);
        assert_eq!(h.stats().used_bytes, used + 64);
        h.check().unwrap();
    });
}

#[test]
fn cache_holds_its_depth_of_each_size() {
    with_heap(|h| {
        h.set_cache_depth(3);
        let v: Vec<_> = (0..5).map(|_| h.malloc(100).unwrap()).collect();
        let _guard = h.malloc(16).unwrap();
        for p in &v {
            // SAFETY: blocks of this heap, not used afterwards.
            unsafe { h.free(p.as_ptr()).unwrap() };
        }
        let w = h.check().unwrap();
        // Three wait in the cache; the other two coalesced into one block.
        assert_eq!((w.cached_blocks, w.free_blocks), (3, 2));
        assert_eq!(h.flush_cache(), 3);
        assert_eq!(h.check().unwrap().free_blocks, 2);
        // Off: every free coalesces at once.
        h.set_cache_depth(0);
        let p = h.malloc(100).unwrap();
        // SAFETY: as above.
        unsafe { h.free(p.as_ptr()).unwrap() };
        assert_eq!(h.stats().cached_blocks, 0);
    });
}

#[test]
fn larger_blocks_coalesce_at_once() {
    with_heap(|h| {
        // 1000 bytes is past the cache: the spec's coalescing as it says.
        let a = h.malloc(1000).unwrap();
        let b = h.malloc(1000).unwrap();
        // SAFETY: blocks of this heap, not used afterwards.
        unsafe {
            h.free(a.as_ptr()).unwrap();
            h.free(b.as_ptr()).unwrap();
        }
        let w = h.check().unwrap();
        assert_eq!((w.cached_blocks, w.free_blocks), (0, 1));
        assert_eq!(h.malloc(2000).unwrap(), a);
    });
}

#[test]
fn a_failing_allocation_flushes_the_cache_first() {
    with_heap(|h| {
        // Sixteen 512-byte blocks side by side, then everything else taken.
        let small: Vec<_> = (0..16).map(|_| h.malloc(500).unwrap()).collect();
        let rest = h.check().unwrap().largest_free;
        let fill = h.malloc(rest - 8).unwrap();
        assert_eq!(h.check().unwrap().free_blocks, 0);
        let peak = h.stats().peak_used_bytes;
        for p in &small {
            // SAFETY: blocks of this heap, not used afterwards.
            unsafe { h.free(p.as_ptr()).unwrap() };
        }
        assert_eq!(h.stats().cached_blocks, 16);
        // Only the sixteen merged make room for 8000 bytes.
        let big = h.malloc(8000).unwrap();
        assert_eq!(big, small[0]);
        let st = h.stats();
        assert_eq!(st.cached_blocks, 0);
        assert_eq!(st.peak_used_bytes, peak, "a flush is not an allocation");
        h.check().unwrap();
        // Aligned requests flush too: 7130 bytes aligned to 1 KiB are
        // searched as 8192 bytes, all of the sixteen's room.
        // SAFETY: blocks of this heap, not used afterwards.
        unsafe { h.free(big.as_ptr()).unwrap() };
        let p = h.malloc(40).unwrap();
        // SAFETY: as above.
        unsafe { h.free(p.as_ptr()).unwrap() };
        assert_eq!(h.stats().cached_blocks, 1);
        let q = h.malloc_aligned(7130, 1024).unwrap();
        assert_eq!(q.as_ptr() as usize % 1024, 0);
        assert_eq!(h.stats().cached_blocks, 0);
        // SAFETY: as above.
        unsafe {
            h.free(q.as_ptr()).unwrap();
            h.free(fill.as_ptr()).unwrap();
        }
        h.flush_cache();
        assert_eq!(h.check().unwrap().free_blocks, 1);
    });
}

#[test]
fn a_moving_realloc_caches_the_old_block() {
    with_heap(|h| {
        let a = h.malloc(100).unwrap();
        let _guard = h.malloc(16).unwrap();
        // SAFETY: `a` is a block of this heap.
        let b = unsafe { h.realloc(a.as_ptr(), 3000) }.unwrap();
        assert_ne!(a, b);
        assert_eq!(h.stats().cached_blocks, 1);
        // The next request of that size takes it.
        assert_eq!(h.malloc(100).unwrap(), a);
        h.check().unwrap();
    });
}

#[test]
fn a_moving_resize_takes_the_largest_free_block() {
    with_heap(|h| {
        h.set_cache_depth(0);
        // A gap of 4 KiB, then the block to grow, then the rest of the heap
        // (about 52 KiB free at the end).
        let gap = h.malloc(4096).unwrap();
        let a = h.malloc(1000).unwrap();
        let _guard = h.malloc(1000).unwrap();
        let tail = h.malloc(600).unwrap();
        // SAFETY: blocks of this heap, not used afterwards.
        unsafe {
            h.free(gap.as_ptr()).unwrap();
            h.free(tail.as_ptr()).unwrap();
            core::ptr::write_bytes(a.as_ptr(), 0xA5, 1000);
        }
        // The gap fits 2000 bytes (a block of 2,016) closely; the move goes
        // to the free end instead, cut from its end with 2,016 bytes left
        // free behind it, contents intact.
        // SAFETY: `a` is a block of this heap.
        let a2 = unsafe { h.realloc(a.as_ptr(), 2000) }.unwrap();
        let sentinel = h.spans[0].end - 16;
        assert_eq!(a2.as_ptr() as usize - 16 + 2 * 2016, sentinel);
        // SAFETY: 1000 bytes were kept.
        assert!(unsafe { core::slice::from_raw_parts(a2.as_ptr(), 1000) }
            .iter()
            .all(|&x| x == 0xA5));
        let w = h.check().unwrap();
        // The gap (merged with `a`'s old block), the front of the free end,
        // and the room.
        assert_eq!(w.free_blocks, 3);
        // So it doubles in place into its room, and the gap is still there
        // for a request of its size.
        // SAFETY: `a2` is a block of this heap.
        assert_eq!(unsafe { h.realloc(a2.as_ptr(), 4000) }.unwrap(), a2);
        assert_eq!(h.check().unwrap().free_blocks, 2);
        assert_eq!(h.malloc(4096).unwrap(), gap);
        h.check().unwrap();
        // A free block under eight times the request gives its front: the
        // largest is now the front of the free end (about 43 KiB), less
        // than eight times 30,000 bytes.
        let front = h.check().unwrap().largest_free;
        assert!((30_016..2 * 30_016 + 32).contains(&front));
        // SAFETY: `a2` is a block of this heap.
        let a3 = unsafe { h.realloc(a2.as_ptr(), 30_000) }.unwrap();
        assert_eq!(a3, tail);
        h.check().unwrap();
    });
}
