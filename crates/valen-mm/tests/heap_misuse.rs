//! Each misuse of the heap is caught, reported with the address and what was
//! found, and leaves the heap working.

use core::ptr::NonNull;
use valen_mm::heap::{BlockError, Heap, IntegrityError, ReallocError, HEAP_MAGIC};
use valen_mm::VirtAddr;

const ARENA: usize = 1 << 20;

/// A heap over a leaked, 16-aligned arena (tests may poke the arena freely).
fn heap() -> Heap {
    let arena: &'static mut [u128] = Vec::leak(vec![0u128; ARENA / 16]);
    // SAFETY: the leaked arena is ours forever.
    unsafe { Heap::with_region(arena.as_mut_ptr().cast(), ARENA) }.unwrap()
}

/// [`heap`] with the quick cache off: every free coalesces at once, so the
/// tests of damage to free blocks and their lists meet them there.
fn tlsf_heap() -> Heap {
    let mut h = heap();
    h.set_cache_depth(0);
    h
}

fn va(p: *mut u8) -> VirtAddr {
    VirtAddr::from_ptr(p)
}

/// The heap still allocates, frees and passes its walk.
fn still_works(h: &mut Heap) {
    let ps: Vec<NonNull<u8>> = (1..20).map(|i| h.malloc(i * 24).unwrap()).collect();
    for p in ps {
        // SAFETY: blocks of this heap.
        unsafe { h.free(p.as_ptr()).unwrap() };
    }
    h.check().unwrap();
}

/// The 64-bit tag word of the block at payload `p`.
fn tag_of(p: *mut u8) -> *mut u64 {
    p.wrapping_sub(8).cast()
}

#[test]
fn double_free_is_reported() {
    let mut h = heap();
    let a = h.malloc(100).unwrap().as_ptr();
    let b = h.malloc(100).unwrap().as_ptr();
    let _keep = h.malloc(100).unwrap();
    // SAFETY: blocks of this heap (the second frees are the misuse).
    unsafe {
        h.free(a).unwrap();
        assert_eq!(h.free(a), Err(BlockError::DoubleFree { addr: va(a) }));
        // `b` merges into the free `a`; its stale header still says free.
        h.free(b).unwrap();
        assert_eq!(h.free(b), Err(BlockError::DoubleFree { addr: va(b) }));
    }
    h.check().unwrap();
    still_works(&mut h);
}

#[test]
fn foreign_pointers_are_reported() {
    let mut h = heap();
    let a = h.malloc(64).unwrap().as_ptr();
    let mut local = [0u8; 64];
    let other = heap().malloc(64).unwrap().as_ptr();
    for p in [
        local.as_mut_ptr().wrapping_add(16),
        other,
        a.wrapping_add(1),
        16 as *mut u8,
    ] {
        // SAFETY: the heap checks the pointer before reading anything.
        let r = unsafe { h.free(p) };
        assert_eq!(r, Err(BlockError::ForeignPointer { addr: va(p) }));
        assert_eq!(
            h.usable_size(p),
            Err(BlockError::ForeignPointer { addr: va(p) })
        );
    }
    h.check().unwrap();
    still_works(&mut h);
}

#[test]
fn bad_magic_is_reported() {
    let mut h = heap();
    let a = h.malloc(256).unwrap().as_ptr();
    // SAFETY: `a` has 256 bytes; zero them so the inner pointer finds 0s.
    unsafe { a.write_bytes(0, 256) };
    let inner = a.wrapping_add(64);
    // SAFETY: the heap checks before trusting.
    let r = unsafe { h.free(inner) };
    assert_eq!(
        r,
        Err(BlockError::BadMagic {
            addr: va(inner),
            found: 0
        })
    );
    // A header scribbled over by a stray write.
    let b = h.malloc(32).unwrap().as_ptr();
    // SAFETY: the tag word of `b`, inside the arena.
    let saved = unsafe { tag_of(b).read() };
    // SAFETY: as above.
    unsafe { tag_of(b).write((saved & !0xffff_ffff) | 0xdead_beef) };
    // SAFETY: as above.
    let r = unsafe { h.free(b) };
    assert_eq!(
        r,
        Err(BlockError::BadMagic {
            addr: va(b),
            found: 0xdead_beef
        })
    );
    assert_eq!(
        h.stats().used_blocks,
        2,
        "the refused block stays allocated"
    );
    // SAFETY: restore the header; then both blocks free normally.
    unsafe {
        tag_of(b).write(saved);
        h.free(b).unwrap();
        h.free(a).unwrap();
    }
    still_works(&mut h);
}

#[test]
fn small_overflow_is_reported_and_repaired() {
    let mut h = heap();
    let a = h.malloc(40).unwrap().as_ptr();
    let b = h.malloc(40).unwrap().as_ptr();
    let n = h.usable_size(a).unwrap();
    // Four bytes past the end of `a`: the magic half of `b`'s tag.
    // SAFETY: the arena is ours; this is the simulated bug.
    unsafe { a.write_bytes(0xAB, n + 4) };
    // SAFETY: the heap checks before trusting.
    let r = unsafe { h.free(a) };
    let header = va(b.wrapping_sub(16));
    match r {
        Err(BlockError::Overflow {
            addr,
            header: hd,
            found,
            repaired,
        }) => {
            assert_eq!((addr, hd, repaired), (va(a), header, true));
            assert_eq!(found as u32, 0xABAB_ABAB);
        }
        other => panic!("expected an overflow report, got {other:?}"),
    }
    h.check().unwrap();
    assert_eq!(h.stats().used_blocks, 2);
    // SAFETY: repaired: both free normally now.
    unsafe {
        h.free(b).unwrap();
        h.free(a).unwrap();
    }
    assert_eq!(h.check().unwrap().free_blocks, 1);
    still_works(&mut h);
}

#[test]
fn large_overflow_is_reported_and_contained() {
    let mut h = heap();
    let a = h.malloc(40).unwrap().as_ptr();
    let b = h.malloc(40).unwrap().as_ptr();
    let c = h.malloc(40).unwrap().as_ptr();
    let n = h.usable_size(a).unwrap();
    // SAFETY: the simulated bug: `b`'s whole tag is overwritten.
    unsafe { a.write_bytes(0xFF, n + 8) };
    // SAFETY: the heap checks before trusting.
    let r = unsafe { h.free(a) };
    assert!(
        matches!(
            r,
            Err(BlockError::Overflow {
                repaired: false,
                found: u64::MAX,
                ..
            })
        ),
        "{r:?}"
    );
    // SAFETY: as above.
    let r = unsafe { h.free(b) };
    assert_eq!(
        r,
        Err(BlockError::BadMagic {
            addr: va(b),
            found: 0xFFFF_FFFF
        })
    );
    assert_eq!(
        h.check().unwrap_err(),
        IntegrityError::BadHeader {
            block: va(b.wrapping_sub(16)),
            found: u64::MAX
        }
    );
    // The damage does not spread: `c` and everything else still work.
    // SAFETY: `c` is a block of this heap.
    unsafe { h.free(c).unwrap() };
    for i in 1..50 {
        let p = h.malloc(i * 40).unwrap();
        // SAFETY: as above.
        unsafe { h.free(p.as_ptr()).unwrap() };
    }
}

#[test]
fn write_after_free_into_a_header_is_contained() {
    let mut h = tlsf_heap();
    let x = h.malloc(64).unwrap().as_ptr();
    let a = h.malloc(64).unwrap().as_ptr();
    let b = h.malloc(64).unwrap().as_ptr();
    let _y = h.malloc(64).unwrap();
    // SAFETY: `a` is ours.
    unsafe { h.free(a).unwrap() };
    // The simulated bug: `x` overflows into the header of the free `a`.
    // SAFETY: the tag word of `a`, inside the arena.
    unsafe { tag_of(a).write(0x4141_4141_4141_4141) };
    // SAFETY: the heap checks before trusting.
    let r = unsafe { h.free(b) };
    assert_eq!(
        r,
        Err(BlockError::FreeNeighbourDamaged {
            addr: va(b),
            neighbour: va(a.wrapping_sub(16)),
            found: 0x4141_4141_4141_4141,
        })
    );
    // Allocating from `a`'s list meets the damaged block and drops that list.
    let p = h.malloc(64).unwrap().as_ptr();
    assert_ne!(p, a);
    assert_eq!(h.stats().lists_dropped, 1);
    // SAFETY: blocks of this heap.
    unsafe {
        h.free(p).unwrap();
        // `x` is the block that overflowed: its successor's tag is damaged.
        let r = h.free(x);
        assert!(
            matches!(
                r,
                Err(BlockError::Overflow {
                    repaired: false,
                    ..
                })
            ),
            "{r:?}"
        );
    }
    for i in 1..50 {
        let p = h.malloc(i * 40).unwrap();
        // SAFETY: as above.
        unsafe { h.free(p.as_ptr()).unwrap() };
    }
    assert_eq!(HEAP_MAGIC, 0x1234_5678);
}

#[test]
fn malloc_zero_is_unique_and_free_null_is_a_no_op() {
    let mut h = heap();
    let a = h.malloc(0).unwrap();
    let b = h.malloc(0).unwrap();
    assert_ne!(a, b);
    assert!(h.usable_size(a.as_ptr()).unwrap() >= 16);
    // SAFETY: null is accepted; a and b are ours.
    unsafe {
        h.free(core::ptr::null_mut()).unwrap();
        h.free(a.as_ptr()).unwrap();
        h.free(b.as_ptr()).unwrap();
    }
    assert!(h.malloc(usize::MAX).is_none());
    assert!(h.calloc(1 << 40, 1 << 40).is_none());
    still_works(&mut h);
}

#[test]
fn free_sized_checks_like_free() {
    let mut h = heap();
    let a = h.malloc(100).unwrap().as_ptr();
    let b = h.malloc(100).unwrap().as_ptr();
    // SAFETY: blocks of this heap; the size is only a hint, even when wrong.
    unsafe {
        h.free_sized(a, 100).unwrap();
        assert_eq!(
            h.free_sized(a, 100),
            Err(BlockError::DoubleFree { addr: va(a) })
        );
        h.free_sized(b, 1 << 40).unwrap();
    }
    assert_eq!(h.check().unwrap().free_blocks, 1);
}

/// `realloc(p, n)` for growing, same-size and shrinking `n`: each refused
/// with `e`, changing nothing.
fn realloc_refuses(h: &mut Heap, p: *mut u8, e: BlockError) {
    let before = h.stats();
    for n in [1usize, 100, 5000] {
        // SAFETY: the heap checks the pointer before trusting it.
        let r = unsafe { h.realloc(p, n) };
        assert_eq!(r, Err(ReallocError::Block(e)), "realloc({p:?}, {n})");
        assert_eq!(h.stats(), before);
    }
}

#[test]
fn realloc_checks_like_free() {
    let mut h = tlsf_heap();
    let x = h.malloc(64).unwrap().as_ptr();
    let a = h.malloc(64).unwrap().as_ptr();
    let b = h.malloc(64).unwrap().as_ptr();
    let c = h.malloc(64).unwrap().as_ptr();
    let _keep = h.malloc(64).unwrap();
    // Foreign and misaligned pointers.
    let mut local = [0u8; 64];
    for p in [local.as_mut_ptr().wrapping_add(16), a.wrapping_add(1)] {
        realloc_refuses(&mut h, p, BlockError::ForeignPointer { addr: va(p) });
    }
    // A freed block, and a stale header inside a merged free block.
    // SAFETY: blocks of this heap.
    unsafe {
        h.free(c).unwrap();
        h.free(b).unwrap();
    }
    realloc_refuses(&mut h, b, BlockError::DoubleFree { addr: va(b) });
    realloc_refuses(&mut h, c, BlockError::DoubleFree { addr: va(c) });
    h.check().unwrap();
    // A header without the magic number.
    // SAFETY: the tag word of `a`, inside the arena.
    let saved = unsafe { tag_of(a).read() };
    // SAFETY: as above.
    unsafe { tag_of(a).write((saved & !0xffff_ffff) | 0xdead_beef) };
    let found = 0xdead_beef;
    realloc_refuses(&mut h, a, BlockError::BadMagic { addr: va(a), found });
    // SAFETY: as above.
    unsafe { tag_of(a).write(saved) };
    // An overflow from `x` into `a`'s header: reported, not repaired.
    let n = h.usable_size(x).unwrap();
    // SAFETY: the simulated bug: four bytes past `x`, into `a`'s magic.
    unsafe { x.write_bytes(0xAB, n + 4) };
    let damaged = (saved & !0xffff_ffff) | 0xABAB_ABAB;
    let e = BlockError::Overflow {
        addr: va(x),
        header: va(a.wrapping_sub(16)),
        found: damaged,
        repaired: false,
    };
    realloc_refuses(&mut h, x, e);
    // SAFETY: as above, restored.
    unsafe { tag_of(a).write(saved) };
    // A free block before `a` with a damaged tag (`a` is followed by the
    // free `b` and `c`, merged: growing could stay in place, shrinking too;
    // both are refused first).
    // SAFETY: `x` is ours.
    unsafe { h.free(x).unwrap() };
    // SAFETY: the tag word of the free block at `x`.
    let free_tag = unsafe { tag_of(x).read() };
    // SAFETY: as above.
    unsafe { tag_of(x).write(0x4141_4141_4141_4141) };
    let e = BlockError::FreeNeighbourDamaged {
        addr: va(a),
        neighbour: va(x.wrapping_sub(16)),
        found: 0x4141_4141_4141_4141,
    };
    realloc_refuses(&mut h, a, e);
    // SAFETY: as above, restored.
    unsafe { tag_of(x).write(free_tag) };
    h.check().unwrap();
    // The block still resizes and frees normally.
    // SAFETY: a live block of this heap.
    unsafe {
        let a2 = h.realloc(a, 1000).unwrap().as_ptr();
        let a3 = h.realloc(a2, 10).unwrap().as_ptr();
        h.free(a3).unwrap();
    }
    h.check().unwrap();
    still_works(&mut h);
}

#[test]
fn realloc_in_a_second_region() {
    let mut h = heap();
    let first = h.malloc(ARENA - 4096).unwrap().as_ptr();
    let arena: &'static mut [u128] = Vec::leak(vec![0u128; ARENA / 16]);
    // SAFETY: the leaked arena is ours forever, apart from the first one.
    unsafe { h.add_region(arena.as_mut_ptr().cast(), ARENA) }.unwrap();
    let p = h.malloc(4096).unwrap().as_ptr();
    assert!(arena.as_ptr_range().contains(&(p as *const u128)));
    // SAFETY: `p` holds 4096 bytes.
    unsafe { p.write_bytes(0x3C, 4096) };
    // SAFETY: blocks of this heap; the growth moves or stays in place.
    unsafe {
        let q = h.realloc(p, 20_000).unwrap().as_ptr();
        assert!((0..4096).all(|i| *q.add(i) == 0x3C));
        let q = h.realloc(q, 100).unwrap().as_ptr();
        assert!((0..100).all(|i| *q.add(i) == 0x3C));
        // A freed block of the second region is refused like in the first.
        h.free(q).unwrap();
        realloc_refuses(&mut h, q, BlockError::DoubleFree { addr: va(q) });
        h.free(first).unwrap();
    }
    assert_eq!(h.check().unwrap().used_blocks, 0);
}

#[test]
fn realloc_sized_checks_like_realloc() {
    let mut h = heap();
    let a = h.malloc(100).unwrap().as_ptr();
    let _keep = h.malloc(100).unwrap();
    // SAFETY: `a` holds 100 bytes.
    unsafe { a.write_bytes(0x77, 100) };
    // SAFETY: blocks of this heap; the size is only a hint, even when wrong:
    // the contents move with the block all the same.
    unsafe {
        let b = h.realloc_sized(a, 1, 3000, 16).unwrap().as_ptr();
        assert_ne!(a, b, "the block after `a` is in use: it moves");
        assert!((0..100).all(|i| *b.add(i) == 0x77));
        assert_eq!(
            h.realloc_sized(a, 100, 200, 16),
            Err(ReallocError::Block(BlockError::DoubleFree { addr: va(a) }))
        );
        let c = h.realloc_sized(b, 1 << 40, 50, 16).unwrap().as_ptr();
        assert!((0..50).all(|i| *c.add(i) == 0x77));
        h.free(c).unwrap();
    }
    h.check().unwrap();
    still_works(&mut h);
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

    /// Any pointer into the heap that is not a live block is refused, and the
    /// heap stays intact (the walk passes) and keeps working.
    #[test]
    fn wild_pointers_never_corrupt(
        sizes in proptest::collection::vec(0usize..3000, 1..40),
        frees in proptest::collection::vec(proptest::bool::ANY, 40),
        offsets in proptest::collection::vec(0usize..(ARENA / 16 + 64), 1..64),
    ) {
        let mut h = heap();
        let mut live = Vec::new();
        let mut start = 0usize;
        for (i, &s) in sizes.iter().enumerate() {
            let p = h.malloc(s).unwrap().as_ptr();
            if i == 0 {
                // The first block starts the region.
                start = p as usize - 16;
            }
            // SAFETY: `p` holds `s` bytes.
            unsafe { p.write_bytes(0x5A, s) };
            if frees[i] {
                // SAFETY: a block of this heap.
                unsafe { h.free(p).unwrap() };
            } else {
                live.push(p);
            }
        }
        let base = h.malloc(16).unwrap().as_ptr();
        live.push(base);
        let before = h.stats();
        for &o in &offsets {
            // Any 16-aligned address of the region, and a little past it.
            let p = base.wrapping_add((start + o * 16).wrapping_sub(base as usize));
            if live.contains(&p) {
                continue;
            }
            // SAFETY: the heap checks the pointer before trusting it.
            let r = unsafe { h.realloc(p, 64) };
            proptest::prop_assert!(r.is_err(), "realloc({p:?}) was accepted");
            proptest::prop_assert_eq!(h.stats(), before);
            // SAFETY: as above.
            let r = unsafe { h.free(p) };
            proptest::prop_assert!(r.is_err(), "{p:?} was accepted");
            proptest::prop_assert_eq!(h.stats(), before);
        }
        h.check().unwrap();
        for p in live {
            // SAFETY: live blocks of this heap.
            unsafe { h.free(p).unwrap() };
        }
        h.flush_cache();
        proptest::prop_assert_eq!(h.check().unwrap().free_blocks, 1);
    }
}

#[test]
fn double_free_of_a_cached_block_is_reported() {
    let mut h = heap();
    let a = h.malloc(40).unwrap().as_ptr();
    // SAFETY: `a` is a block of this heap; the second free is refused.
    unsafe {
        h.free(a).unwrap();
        assert_eq!(h.stats().cached_blocks, 1);
        let before = h.stats();
        assert_eq!(h.free(a), Err(BlockError::DoubleFree { addr: va(a) }));
        assert_eq!(
            h.realloc(a, 100),
            Err(ReallocError::Block(BlockError::DoubleFree { addr: va(a) }))
        );
        assert_eq!(h.stats(), before);
    }
    assert!(h.usable_size(a).is_err());
    // Cached once, handed out once.
    let b = h.malloc(40).unwrap().as_ptr();
    let c = h.malloc(40).unwrap().as_ptr();
    assert_eq!(b, a);
    assert_ne!(c, a);
    h.check().unwrap();
}

#[test]
fn overflow_into_a_cached_header_drops_its_stack() {
    let mut h = heap();
    let x = h.malloc(40).unwrap().as_ptr();
    let a = h.malloc(40).unwrap().as_ptr();
    let b = h.malloc(40).unwrap().as_ptr();
    // SAFETY: blocks of this heap.
    unsafe {
        h.free(b).unwrap();
        h.free(a).unwrap();
    }
    // The simulated bug: `x` overflows into the header of the cached `a`.
    // SAFETY: the tag word of `a`, inside the arena.
    unsafe { tag_of(a).write(0x4141_4141_4141_4141) };
    // The request of that size finds the damage, drops the stack (`a` and
    // `b` behind it leak) and takes other memory.
    let p = h.malloc(40).unwrap().as_ptr();
    assert!(p != a && p != b);
    let st = h.stats();
    assert_eq!((st.lists_dropped, st.cached_blocks), (1, 0));
    // `x` is the block that overflowed: its successor's tag is damaged.
    // SAFETY: blocks of this heap.
    let r = unsafe { h.free(x) };
    assert!(matches!(r, Err(BlockError::Overflow { .. })), "{r:?}");
    // SAFETY: as above.
    unsafe { h.free(p).unwrap() };
    // The walk names the damaged header; everything else keeps working.
    let damaged = va(a.wrapping_sub(16));
    assert!(
        matches!(h.check(), Err(IntegrityError::BadHeader { block, .. }) if block == damaged),
        "{:?}",
        h.check()
    );
    for i in 1..50 {
        let q = h.malloc(i * 24).unwrap();
        // SAFETY: a block of this heap.
        unsafe { h.free(q.as_ptr()).unwrap() };
    }
}

#[test]
fn write_after_free_into_a_cached_link_is_contained() {
    let mut h = heap();
    let a = h.malloc(100).unwrap().as_ptr();
    let b = h.malloc(100).unwrap().as_ptr();
    let c = h.malloc(100).unwrap().as_ptr();
    // SAFETY: blocks of this heap.
    unsafe {
        h.free(c).unwrap();
        h.free(b).unwrap();
        h.free(a).unwrap();
    }
    // The simulated bug: `a` is written after it was freed; its first word
    // is the cache's link to `b`.
    // SAFETY: `a`'s payload, inside the arena.
    unsafe { a.cast::<u64>().write(0x4242_4242_4242_4242) };
    // `a` itself is sound and comes back; the link is not followed: `b` and
    // `c` behind it leak, the walk accounts for them.
    assert_eq!(h.malloc(100).unwrap().as_ptr(), a);
    let st = h.stats();
    assert_eq!((st.lists_dropped, st.cached_blocks), (1, 0));
    let w = h.check().unwrap();
    assert_eq!(w.cached_blocks, 2);
    // A request of that size now takes fresh memory.
    let d = h.malloc(100).unwrap().as_ptr();
    assert!(d != b && d != c);
    // SAFETY: blocks of this heap.
    unsafe {
        h.free(d).unwrap();
        h.free(a).unwrap();
    }
    still_works(&mut h);
}

#[test]
fn a_damaged_free_block_before_a_cached_block_is_reported_by_the_overflower() {
    let mut h = heap();
    let x = h.malloc(64).unwrap().as_ptr();
    let a = h.malloc(1000).unwrap().as_ptr();
    let b = h.malloc(64).unwrap().as_ptr();
    let _y = h.malloc(64).unwrap();
    // SAFETY: blocks of this heap; `a` is too large for the quick cache, so
    // it is a free block (listed) before `b`.
    unsafe { h.free(a).unwrap() };
    // The simulated bug: `x` overflows into the header of the free `a`.
    // SAFETY: the tag word of `a`, inside the arena.
    let saved = unsafe { tag_of(a).read() };
    // SAFETY: as above.
    unsafe { tag_of(a).write(0x4141_4141_4141_4141) };
    // `b` goes to the quick cache: it is not merged, so the block before it
    // is not read (it is checked when `b` leaves the cache for real).
    // SAFETY: `b` is a live block of this heap.
    unsafe { h.free(b).unwrap() };
    assert_eq!(h.stats().cached_blocks, 1);
    // The overflow is reported where it happened: freeing `x`.
    // SAFETY: `x` is a live block; the heap checks before trusting.
    let r = unsafe { h.free(x) };
    assert_eq!(
        r,
        Err(BlockError::Overflow {
            addr: va(x),
            header: va(a.wrapping_sub(16)),
            found: 0x4141_4141_4141_4141,
            repaired: false,
        })
    );
    // The flush finds the damaged neighbour too: `b` stays allocated (it
    // would merge into `a`), counted, and nothing is merged into `a`.
    assert_eq!(h.flush_cache(), 0);
    assert_eq!(h.stats().cached_blocks, 0);
    assert_eq!(h.stats().lists_dropped, 1);
    // With the header put back the heap is whole again, `b` a used block.
    // SAFETY: as above, restored.
    unsafe { tag_of(a).write(saved) };
    h.check().unwrap();
    // SAFETY: `x` and `b` are used blocks of this heap.
    unsafe {
        h.free(x).unwrap();
        h.free(b).unwrap();
    }
    still_works(&mut h);
}
