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
        let w = h.check().unwrap();
        assert_eq!(w.free_blocks, 1);
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
