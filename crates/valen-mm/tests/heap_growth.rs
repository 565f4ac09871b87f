//! The locked heap grows through its growth source: the 16 KiB initial heap,
//! chunks of at least 64 KiB, adjacent chunks merged into one region, and the
//! source never called while the heap lock is held.

use std::sync::atomic::{AtomicUsize, Ordering};
use valen_mm::heap::{ArenaGrowth, HeapGrowth, LockedHeap, GROWTH_CHUNK, INITIAL_HEAP_SIZE};

fn arena(bytes: usize) -> ArenaGrowth {
    let mem: &'static mut [u128] = Vec::leak(vec![0u128; bytes / 16]);
    // SAFETY: leaked: ours forever.
    unsafe { ArenaGrowth::new(mem.as_mut_ptr().cast(), bytes) }
}

#[test]
fn initial_heap_then_adjacent_chunks() {
    let heap = LockedHeap::new(arena(4 << 20));
    assert!(heap.init());
    let st = heap.stats();
    assert_eq!(
        (st.total_bytes, st.growth_events, st.regions),
        (INITIAL_HEAP_SIZE, 1, 1)
    );
    let mut v = Vec::new();
    for _ in 0..100 {
        v.push(heap.malloc(1000).unwrap());
    }
    let st = heap.stats();
    assert!(st.growth_events >= 2);
    assert_eq!(st.regions, 1, "adjacent chunks merge");
    assert!(st.total_bytes >= INITIAL_HEAP_SIZE + GROWTH_CHUNK);
    // A big request grows by what it needs.
    let big = heap.malloc(1 << 20).unwrap();
    v.push(big);
    heap.check().unwrap();
    for p in v {
        // SAFETY: blocks of this heap.
        unsafe { heap.free(p.as_ptr()).unwrap() };
    }
    assert_eq!(heap.check().unwrap().free_blocks, 1);
    // Exhausted source: allocation fails cleanly.
    assert!(heap.malloc(8 << 20).is_none());
    heap.check().unwrap();
}

#[test]
fn realloc_of_the_last_block_grows_in_place() {
    let heap = LockedHeap::new(arena(4 << 20));
    assert!(heap.init());
    // Fill the initial heap exactly: the last block then ends at the region's end.
    let mut fillers = vec![heap.malloc(8000).unwrap()];
    while heap.stats().free_bytes > 0 {
        fillers.push(heap.malloc(16).unwrap());
    }
    assert_eq!(heap.stats().growth_events, 1);
    let last = *fillers.last().unwrap();
    // SAFETY: blocks of this heap.
    unsafe {
        let grown = heap.realloc_aligned(last.as_ptr(), 100_000, 16).unwrap();
        assert_eq!(grown, last, "the last block grows into the adjacent chunk");
        assert_eq!(heap.stats().growth_events, 2);
        for f in fillers {
            heap.free(f.as_ptr()).unwrap();
        }
    }
    heap.flush_cache();
    assert_eq!(heap.check().unwrap().free_blocks, 1);
}

/// A growth source that records whether the heap lock was free when called.
struct Probe {
    inner: ArenaGrowth,
}

static CALLS: AtomicUsize = AtomicUsize::new(0);
static LOCKED_CALLS: AtomicUsize = AtomicUsize::new(0);
static PROBED: std::sync::OnceLock<LockedHeap<Probe>> = std::sync::OnceLock::new();

// SAFETY: forwards to `ArenaGrowth`.
unsafe impl HeapGrowth for Probe {
    fn grow(&mut self, min_bytes: usize) -> Option<(core::ptr::NonNull<u8>, usize)> {
        CALLS.fetch_add(1, Ordering::SeqCst);
        let heap = PROBED.get().unwrap();
        // `try_with_heap` fails if the heap lock is held (by anyone: this
        // test is the heap's only user).
        if heap.try_stats().is_none() {
            LOCKED_CALLS.fetch_add(1, Ordering::SeqCst);
        }
        self.inner.grow(min_bytes)
    }
}

#[test]
fn growth_runs_without_the_heap_lock() {
    let heap = PROBED.get_or_init(|| {
        LockedHeap::new(Probe {
            inner: arena(2 << 20),
        })
    });
    let mut v = Vec::new();
    for i in 0..200 {
        v.push(heap.malloc(100 + i * 50).unwrap());
    }
    assert!(CALLS.load(Ordering::SeqCst) >= 3);
    assert_eq!(LOCKED_CALLS.load(Ordering::SeqCst), 0);
    for p in v {
        // SAFETY: blocks of this heap.
        unsafe { heap.free(p.as_ptr()).unwrap() };
    }
}

#[test]
fn the_cache_is_flushed_before_the_heap_grows() {
    let heap = LockedHeap::new(arena(4 << 20));
    assert!(heap.init());
    // 48 small blocks side by side, then the rest of the initial heap.
    let small: Vec<_> = (0..48)
        .map(|i| heap.malloc([248, 232, 216][i % 3]).unwrap())
        .collect();
    let rest = heap.check().unwrap().largest_free;
    let fill = heap.malloc(rest - 8).unwrap();
    assert_eq!(heap.stats().free_bytes, 0);
    for p in &small {
        // SAFETY: blocks of this heap.
        unsafe { heap.free(p.as_ptr()).unwrap() };
    }
    assert_eq!(heap.stats().cached_blocks, 48);
    // 8000 bytes fit only once the cached blocks merge: no growth.
    let p = heap.malloc(8000).unwrap();
    let st = heap.stats();
    assert_eq!((st.growth_events, st.cached_blocks), (1, 0));
    // SAFETY: blocks of this heap.
    unsafe {
        heap.free(p.as_ptr()).unwrap();
        heap.free(fill.as_ptr()).unwrap();
    }
    heap.flush_cache();
    assert_eq!(heap.check().unwrap().free_blocks, 1);
}
