//! Property test: random malloc / calloc / realloc / aligned allocation /
//! free / cache flush against a model of the live blocks, with the quick
//! cache off, shallow or at its default depth. After every step: alignment,
//! no overlap, contents intact, the integrity walk passes and the statistics
//! agree with the model. At the end everything is freed, the cache flushed,
//! and each region is one free block again.

use proptest::prelude::*;
use std::collections::BTreeMap;
use valen_mm::heap::{Heap, OVERHEAD, QUICK_DEPTH};

const ARENA: usize = 8 << 20;

#[derive(Debug, Clone)]
enum Action {
    Malloc(usize),
    Calloc(usize, usize),
    Aligned(usize, u32),
    Realloc(usize, usize),
    Free(usize),
    Flush,
}

fn size() -> impl Strategy<Value = usize> {
    prop_oneof![0..64usize, 0..1024usize, 0..16384usize, 0..262_144usize]
}

fn action() -> impl Strategy<Value = Action> {
    prop_oneof![
        3 => size().prop_map(Action::Malloc),
        1 => (0..64usize, 0..512usize).prop_map(|(n, s)| Action::Calloc(n, s)),
        1 => (size(), 4..14u32).prop_map(|(s, a)| Action::Aligned(s, a)),
        2 => (any::<usize>(), size()).prop_map(|(i, s)| Action::Realloc(i, s)),
        3 => any::<usize>().prop_map(Action::Free),
        1 => Just(Action::Flush),
    ]
}

/// A live block: its requested size, alignment and fill byte.
#[derive(Debug, Clone, Copy)]
struct Live {
    size: usize,
    align: usize,
    fill: u8,
}

struct Model {
    heap: Heap,
    _arenas: Vec<Vec<u128>>,
    live: BTreeMap<usize, Live>,
    next_fill: u8,
}

impl Model {
    fn new(regions: usize, depth: u32) -> Self {
        let mut heap = Heap::new();
        heap.set_cache_depth(depth);
        let mut arenas = Vec::new();
        for _ in 0..regions {
            let mut arena = vec![0u128; ARENA / 16 / regions];
            // SAFETY: the arena lives in the model as long as the heap, and
            // its buffer never moves.
            unsafe { heap.add_region(arena.as_mut_ptr().cast(), ARENA / regions) }.unwrap();
            arenas.push(arena);
        }
        Self {
            heap,
            _arenas: arenas,
            live: BTreeMap::new(),
            next_fill: 1,
        }
    }

    fn nth(&self, i: usize) -> Option<(usize, Live)> {
        if self.live.is_empty() {
            return None;
        }
        self.live
            .iter()
            .nth(i % self.live.len())
            .map(|(&p, &l)| (p, l))
    }

    fn add(&mut self, p: *mut u8, size: usize, align: usize, zeroed: bool) {
        let a = p as usize;
        assert_eq!(a % align, 0, "alignment {align}");
        let usable = self.heap.usable_size(p).unwrap();
        assert!(usable >= size);
        if let Some((&q, _)) = self.live.range(..=a).next_back() {
            let qend = q + self.heap.usable_size(q as *mut u8).unwrap();
            assert!(qend <= a, "overlaps the block at {q:#x}");
        }
        if let Some((&q, _)) = self.live.range(a..).next() {
            assert!(a + usable <= q, "overlaps the block at {q:#x}");
        }
        // SAFETY: the block has `usable >= size` bytes.
        let bytes = unsafe { std::slice::from_raw_parts_mut(p, size) };
        if zeroed {
            assert!(bytes.iter().all(|&b| b == 0), "calloc not zeroed");
        }
        let fill = self.next_fill;
        self.next_fill = self.next_fill.wrapping_add(1).max(1);
        bytes.fill(fill);
        self.live.insert(a, Live { size, align, fill });
    }

    fn verify(&self, p: usize, l: Live, upto: usize) {
        // SAFETY: a live block with at least `l.size` bytes.
        let bytes = unsafe { std::slice::from_raw_parts(p as *const u8, upto.min(l.size)) };
        assert!(
            bytes.iter().all(|&b| b == l.fill),
            "contents of {p:#x} changed"
        );
    }

    fn step(&mut self, a: &Action) {
        match *a {
            Action::Malloc(s) => {
                if let Some(p) = self.heap.malloc(s) {
                    self.add(p.as_ptr(), s, 16, false);
                }
            }
            Action::Calloc(n, s) => {
                if let Some(p) = self.heap.calloc(n, s) {
                    self.add(p.as_ptr(), n * s, 16, true);
                }
            }
            Action::Aligned(s, shift) => {
                if let Some(p) = self.heap.malloc_aligned(s, 1 << shift) {
                    self.add(p.as_ptr(), s, 1 << shift, false);
                }
            }
            Action::Realloc(i, s) => {
                let Some((p, l)) = self.nth(i) else { return };
                self.verify(p, l, l.size);
                // SAFETY: a live block of this heap, allocated with `l.align`.
                match unsafe { self.heap.realloc_aligned(p as *mut u8, s, l.align) } {
                    Ok(q) => {
                        self.live.remove(&p);
                        let q = q.as_ptr() as usize;
                        assert_eq!(q % l.align, 0);
                        self.verify(q, l, s);
                        let mut nl = l;
                        nl.size = s.min(l.size);
                        self.live.insert(q, nl);
                    }
                    Err(_) => self.verify(p, l, l.size),
                }
            }
            Action::Free(i) => {
                let Some((p, l)) = self.nth(i) else { return };
                self.verify(p, l, l.size);
                // SAFETY: a live block of this heap.
                unsafe { self.heap.free(p as *mut u8) }.unwrap();
                self.live.remove(&p);
            }
            Action::Flush => {
                let cached = self.heap.stats().cached_blocks;
                assert_eq!(self.heap.flush_cache(), cached);
                assert_eq!(self.heap.stats().cached_blocks, 0);
            }
        }
        self.agree();
    }

    fn agree(&self) {
        let walk = self.heap.check().unwrap();
        let st = self.heap.stats();
        assert_eq!(
            (walk.cached_blocks, walk.cached_bytes),
            (st.cached_blocks, st.cached_bytes)
        );
        assert!(st.cached_blocks <= self.heap.cache_depth() as usize * 32);
        assert_eq!(walk.used_blocks, self.live.len());
        assert_eq!(st.used_blocks, self.live.len());
        let used: usize = self
            .live
            .keys()
            .map(|&p| self.heap.usable_size(p as *mut u8).unwrap() + OVERHEAD)
            .sum();
        assert_eq!(st.used_bytes, used);
        assert_eq!(
            st.used_bytes + st.free_bytes + 16 * st.regions,
            st.total_bytes
        );
        assert!(st.peak_used_bytes >= st.used_bytes);
    }

    fn free_all(&mut self) {
        for (&p, &l) in &self.live {
            self.verify(p, l, l.size);
            // SAFETY: a live block of this heap.
            unsafe { self.heap.free(p as *mut u8) }.unwrap();
        }
        self.live.clear();
        self.heap.flush_cache();
        let walk = self.heap.check().unwrap();
        assert_eq!(walk.cached_blocks, 0);
        assert_eq!(walk.used_blocks, 0);
        assert_eq!(walk.free_blocks, self.heap.stats().regions);
    }
}

fn cases() -> u32 {
    if cfg!(debug_assertions) {
        256
    } else {
        1024
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    #[test]
    fn heap_matches_model(
        actions in prop::collection::vec(action(), 1..160),
        regions in 1..4usize,
        depth in prop_oneof![Just(0u32), 1..4u32, Just(QUICK_DEPTH)],
    ) {
        let mut m = Model::new(regions, depth);
        for a in &actions {
            m.step(a);
        }
        m.free_all();
    }
}
