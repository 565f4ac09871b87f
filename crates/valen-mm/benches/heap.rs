//! Kernel heap benchmark: our TLSF heap (through its `&mut` core and through
//! the locked `GlobalAlloc` wrapper) against talc 5, rlsf 0.2,
//! buddy_system_allocator 0.13 (`Heap<32>`), linked_list_allocator 0.10 and
//! the system allocator (hosted reference). Each arena allocator gets a
//! fresh allocator over the same pre-touched arena; traces come from fixed
//! seeds and are generated before timing.
//!
//! - H1: at most N live blocks (N = 1,000 / 10,000), sizes 8..=512, align 8
//!   or 16; each step allocates, or frees a random live block, with p = 1/2.
//! - H2: as H1, sizes log-uniform 16 B..64 KiB; 1 allocation in 32 asks a
//!   power-of-two alignment from 32 to 4096.
//! - H3: efficiency in a 16 MiB arena: sizes log-uniform 16 B..8 KiB, after
//!   each allocation free a random live block with p = 0.3, until the first
//!   failure; live payload as % of the arena.
//! - H4: 1,000 blocks of 16 B grown by doubling to 16 KiB, a random order
//!   each round (10,000 reallocs); the memory table also gives the bytes its
//!   moving reallocs copy, which do not vary from run to run.

mod common;

use common::{median_ns_per_op, print_table, Rng, Row};
use core::alloc::{GlobalAlloc, Layout};
use core::ptr::{self, NonNull};
use valen_mm::heap::{ArenaGrowth, Heap, LockedHeap};

const ARENA: usize = 512 << 20;

/// One allocator under test, over `[base, base + size)`.
trait Bench {
    const NAME: &'static str;
    /// A fresh allocator over the arena.
    fn new(base: *mut u8, size: usize) -> Self;
    /// Allocates; null on failure.
    fn alloc(&mut self, l: Layout) -> *mut u8;
    /// Frees a live block of layout `l`.
    fn free(&mut self, p: *mut u8, l: Layout);
    /// Resizes a live block; null on failure (the old block stays).
    #[inline(never)]
    fn realloc(&mut self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        let q = self.alloc(Layout::from_size_align(new, l.align()).unwrap());
        if !q.is_null() {
            // SAFETY: both blocks are live and hold min(old, new) bytes.
            unsafe { ptr::copy_nonoverlapping(p, q, l.size().min(new)) };
            self.free(p, l);
        }
        q
    }
    /// Frees what is left (only allocators without an arena need it).
    fn release_all(&mut self, _live: &[(*mut u8, Layout)]) {}
    /// Whether it allocates from the arena (efficiency applies).
    const ARENA: bool = true;
}

struct Ours(Heap);
impl Bench for Ours {
    const NAME: &'static str = "valen";
    fn new(base: *mut u8, size: usize) -> Self {
        // SAFETY: the arena is exclusively this allocator's for the run.
        Self(unsafe { Heap::with_region(base, size) }.unwrap())
    }
    #[inline(never)]
    fn alloc(&mut self, l: Layout) -> *mut u8 {
        self.0
            .malloc_aligned(l.size(), l.align())
            .map_or(ptr::null_mut(), NonNull::as_ptr)
    }
    #[inline(never)]
    fn free(&mut self, p: *mut u8, l: Layout) {
        // SAFETY: `p` is a live block of this heap.
        let r = unsafe { self.0.free_sized(p, l.size()) };
        debug_assert!(r.is_ok());
    }
    #[inline(never)]
    fn realloc(&mut self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        // SAFETY: `p` is a live block of this heap with alignment `l.align()`.
        unsafe { self.0.realloc_sized(p, l.size(), new, l.align()) }
            .map_or(ptr::null_mut(), NonNull::as_ptr)
    }
}

struct OursLocked(LockedHeap<ArenaGrowth>);
impl Bench for OursLocked {
    const NAME: &'static str = "valen locked";
    fn new(base: *mut u8, size: usize) -> Self {
        // SAFETY: the arena is exclusively this allocator's; the growth
        // source is empty.
        let heap = unsafe { Heap::with_region(base, size) }.unwrap();
        // SAFETY: an empty arena hands out nothing.
        let none = unsafe { ArenaGrowth::new(ptr::null_mut(), 0) };
        Self(LockedHeap::from_heap(heap, none))
    }
    #[inline(never)]
    fn alloc(&mut self, l: Layout) -> *mut u8 {
        // SAFETY: a non-zero layout.
        unsafe { self.0.alloc(l) }
    }
    #[inline(never)]
    fn free(&mut self, p: *mut u8, l: Layout) {
        // SAFETY: a live block of this heap.
        unsafe { self.0.dealloc(p, l) }
    }
    #[inline(never)]
    fn realloc(&mut self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        // SAFETY: a live block of this heap.
        unsafe { GlobalAlloc::realloc(&self.0, p, l, new) }
    }
}

struct Talc(talc::base::Talc<talc::source::Manual, talc::DefaultBinning>);
impl Bench for Talc {
    const NAME: &'static str = "talc";
    fn new(base: *mut u8, size: usize) -> Self {
        let mut t = talc::base::Talc::new(talc::source::Manual);
        // SAFETY: the arena is exclusively this allocator's.
        unsafe { t.claim(base, size) }.unwrap();
        Self(t)
    }
    #[inline(never)]
    fn alloc(&mut self, l: Layout) -> *mut u8 {
        // SAFETY: a non-zero layout.
        unsafe { self.0.allocate(l) }.map_or(ptr::null_mut(), NonNull::as_ptr)
    }
    #[inline(never)]
    fn free(&mut self, p: *mut u8, l: Layout) {
        // SAFETY: a live block with layout `l`.
        unsafe { self.0.deallocate(p, l) }
    }
    #[inline(never)]
    fn realloc(&mut self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        // SAFETY: a live block with layout `l`.
        if unsafe { self.0.try_realloc_in_place(p, l, new) } {
            return p;
        }
        let q = self.alloc(Layout::from_size_align(new, l.align()).unwrap());
        if !q.is_null() {
            // SAFETY: both live, `min` bytes each.
            unsafe { ptr::copy_nonoverlapping(p, q, l.size().min(new)) };
            self.free(p, l);
        }
        q
    }
}

struct Rlsf(rlsf::Tlsf<'static, u32, u32, 28, 16>);
impl Bench for Rlsf {
    const NAME: &'static str = "rlsf";
    fn new(base: *mut u8, size: usize) -> Self {
        let mut t = rlsf::Tlsf::new();
        let block = NonNull::slice_from_raw_parts(NonNull::new(base).unwrap(), size);
        // SAFETY: the arena is exclusively this allocator's.
        unsafe { t.insert_free_block_ptr(block) }.unwrap();
        Self(t)
    }
    #[inline(never)]
    fn alloc(&mut self, l: Layout) -> *mut u8 {
        self.0.allocate(l).map_or(ptr::null_mut(), NonNull::as_ptr)
    }
    #[inline(never)]
    fn free(&mut self, p: *mut u8, l: Layout) {
        // SAFETY: a live block allocated with `l.align()`.
        unsafe { self.0.deallocate(NonNull::new_unchecked(p), l.align()) }
    }
    #[inline(never)]
    fn realloc(&mut self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        let nl = Layout::from_size_align(new, l.align()).unwrap();
        // SAFETY: a live block allocated with `l.align()`.
        unsafe { self.0.reallocate(NonNull::new_unchecked(p), nl) }
            .map_or(ptr::null_mut(), NonNull::as_ptr)
    }
}

struct Buddy(buddy_system_allocator::Heap<32>);
impl Bench for Buddy {
    const NAME: &'static str = "buddy";
    fn new(base: *mut u8, size: usize) -> Self {
        let mut h = buddy_system_allocator::Heap::<32>::empty();
        // SAFETY: the arena is exclusively this allocator's.
        unsafe { h.init(base as usize, size) };
        Self(h)
    }
    #[inline(never)]
    fn alloc(&mut self, l: Layout) -> *mut u8 {
        self.0.alloc(l).map_or(ptr::null_mut(), NonNull::as_ptr)
    }
    #[inline(never)]
    fn free(&mut self, p: *mut u8, l: Layout) {
        // SAFETY: a live block with layout `l`.
        unsafe { self.0.dealloc(NonNull::new_unchecked(p), l) }
    }
}

struct LinkedList(linked_list_allocator::Heap);
impl Bench for LinkedList {
    const NAME: &'static str = "linked_list";
    fn new(base: *mut u8, size: usize) -> Self {
        // SAFETY: the arena is exclusively this allocator's.
        Self(unsafe { linked_list_allocator::Heap::new(base, size) })
    }
    #[inline(never)]
    fn alloc(&mut self, l: Layout) -> *mut u8 {
        self.0
            .allocate_first_fit(l)
            .map_or(ptr::null_mut(), NonNull::as_ptr)
    }
    #[inline(never)]
    fn free(&mut self, p: *mut u8, l: Layout) {
        // SAFETY: a live block with layout `l`.
        unsafe { self.0.deallocate(NonNull::new_unchecked(p), l) }
    }
}

struct System;
impl Bench for System {
    const NAME: &'static str = "system";
    const ARENA: bool = false;
    fn new(_: *mut u8, _: usize) -> Self {
        Self
    }
    #[inline(never)]
    fn alloc(&mut self, l: Layout) -> *mut u8 {
        // SAFETY: a non-zero layout.
        unsafe { std::alloc::System.alloc(l) }
    }
    #[inline(never)]
    fn free(&mut self, p: *mut u8, l: Layout) {
        // SAFETY: a live block with layout `l`.
        unsafe { std::alloc::System.dealloc(p, l) }
    }
    #[inline(never)]
    fn realloc(&mut self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        // SAFETY: a live block with layout `l`.
        unsafe { std::alloc::System.realloc(p, l, new) }
    }
    fn release_all(&mut self, live: &[(*mut u8, Layout)]) {
        for &(p, l) in live {
            if !p.is_null() {
                self.free(p, l);
            }
        }
    }
}

/// One step of a trace.
#[derive(Clone, Copy)]
enum Op {
    /// Allocate into slot `slot`.
    Alloc { slot: u32, layout: Layout },
    /// Free the block in slot `slot`.
    Free { slot: u32 },
}

/// A trace: a prefix run untimed (to reach a steady state) and timed steps.
struct Trace {
    warm: Vec<Op>,
    ops: Vec<Op>,
    slots: usize,
}

/// H1/H2 traces: fill to N/2 live blocks, then alloc/free with p = 1/2
/// within `[0, N]`.
fn churn_trace(
    seed: u64,
    n: usize,
    steps: usize,
    mut layout: impl FnMut(&mut Rng) -> Layout,
) -> Trace {
    let mut rng = Rng::new(seed);
    let mut live: Vec<u32> = Vec::new();
    let mut free_slots: Vec<u32> = (0..n as u32).rev().collect();
    let mut step = |rng: &mut Rng, alloc: bool, live: &mut Vec<u32>| {
        if alloc {
            let slot = free_slots.pop().unwrap();
            live.push(slot);
            Op::Alloc {
                slot,
                layout: layout(rng),
            }
        } else {
            let i = rng.below(live.len() as u64) as usize;
            let slot = live.swap_remove(i);
            free_slots.push(slot);
            Op::Free { slot }
        }
    };
    let warm = (0..n / 2)
        .map(|_| step(&mut rng, true, &mut live))
        .collect();
    let mut ops = Vec::with_capacity(steps);
    for _ in 0..steps {
        let alloc = if live.is_empty() {
            true
        } else if live.len() == n {
            false
        } else {
            rng.chance(0.5)
        };
        ops.push(step(&mut rng, alloc, &mut live));
    }
    Trace {
        warm,
        ops,
        slots: n,
    }
}

/// The allocator and its slot table during a run.
struct Run<B: Bench> {
    b: B,
    slots: Vec<(*mut u8, Layout)>,
}

impl<B: Bench> Drop for Run<B> {
    fn drop(&mut self) {
        self.b.release_all(&self.slots);
    }
}

#[inline]
fn apply<B: Bench>(r: &mut Run<B>, op: Op) {
    match op {
        Op::Alloc { slot, layout } => {
            let p = r.b.alloc(layout);
            assert!(!p.is_null(), "{} ran out of memory", B::NAME);
            r.slots[slot as usize] = (p, layout);
        }
        Op::Free { slot } => {
            let (p, l) = core::mem::replace(
                &mut r.slots[slot as usize],
                (ptr::null_mut(), Layout::new::<u8>()),
            );
            r.b.free(p, l);
        }
    }
}

fn time_trace<B: Bench>(arena: *mut u8, t: &Trace, reps: usize) -> f64 {
    median_ns_per_op(
        reps,
        || {
            let mut r = Run {
                b: B::new(arena, ARENA),
                slots: vec![(ptr::null_mut(), Layout::new::<u8>()); t.slots],
            };
            for &op in &t.warm {
                apply(&mut r, op);
            }
            r
        },
        |mut r| {
            for &op in &t.ops {
                apply(&mut r, op);
            }
            (t.ops.len() as u64, r)
        },
    )
}

/// H4's start: 1,000 blocks of 16 bytes.
fn h4_start<B: Bench>(arena: *mut u8) -> Run<B> {
    let mut r = Run {
        b: B::new(arena, ARENA),
        slots: Vec::with_capacity(1000),
    };
    let l = Layout::from_size_align(16, 8).unwrap();
    for _ in 0..1000 {
        let p = r.b.alloc(l);
        assert!(!p.is_null());
        r.slots.push((p, l));
    }
    r
}

/// H4's steps: every block doubles once per round, in the round's order.
/// Returns the bytes the moving reallocs copied (each moved block's old
/// size).
fn h4_rounds<B: Bench>(r: &mut Run<B>, order: &[Vec<u32>]) -> usize {
    let mut copied = 0;
    for round in order {
        for &i in round {
            let (p, l) = r.slots[i as usize];
            let new = l.size() * 2;
            let q = r.b.realloc(p, l, new);
            assert!(!q.is_null(), "{} realloc failed", B::NAME);
            if q != p {
                copied += l.size();
            }
            r.slots[i as usize] = (q, Layout::from_size_align(new, 8).unwrap());
        }
    }
    copied
}

/// H4: realloc by doubling, 1,000 blocks, 16 B -> 16 KiB.
fn time_h4<B: Bench>(arena: *mut u8, order: &[Vec<u32>], reps: usize) -> f64 {
    median_ns_per_op(
        reps,
        || h4_start::<B>(arena),
        |mut r| {
            h4_rounds(&mut r, order);
            let n = order.iter().map(Vec::len).sum::<usize>() as u64;
            (n, r)
        },
    )
}

/// H4's copying: MB the moving reallocs copy. H4 is bound by its copies,
/// so this count explains its times, without their noise.
fn h4_copied<B: Bench>(arena: *mut u8, order: &[Vec<u32>]) -> f64 {
    let mut r = h4_start::<B>(arena);
    h4_rounds(&mut r, order) as f64 / 1e6
}

/// H3: live payload as % of a 16 MiB arena at the first failure (median
/// over seeds).
fn h3<B: Bench>(arena: *mut u8) -> f64 {
    const SIZE: usize = 16 << 20;
    if !B::ARENA {
        return f64::NAN;
    }
    let mut results: Vec<f64> = (0..5)
        .map(|seed| {
            let mut rng = Rng::new(0x4833 + seed);
            let mut run = Run {
                b: B::new(arena, SIZE),
                slots: Vec::new(),
            };
            let mut payload = 0usize;
            loop {
                let size = rng.log_uniform(16, 8192) as usize;
                let l = Layout::from_size_align(size, 8).unwrap();
                let p = run.b.alloc(l);
                if p.is_null() {
                    break;
                }
                payload += size;
                run.slots.push((p, l));
                if rng.chance(0.3) {
                    let i = rng.below(run.slots.len() as u64) as usize;
                    let (q, ql) = run.slots.swap_remove(i);
                    run.b.free(q, ql);
                    payload -= ql.size();
                }
            }
            100.0 * payload as f64 / SIZE as f64
        })
        .collect();
    common::median(&mut results)
}

/// Arena bytes per block when a 1 MiB arena is filled with `size`-byte
/// blocks, minus `size`: the real per-block cost.
fn overhead<B: Bench>(arena: *mut u8, size: usize) -> f64 {
    const SIZE: usize = 1 << 20;
    if !B::ARENA {
        return f64::NAN;
    }
    let mut b = B::new(arena, SIZE);
    let l = Layout::from_size_align(size, 8).unwrap();
    let mut n = 0usize;
    while !b.alloc(l).is_null() {
        n += 1;
    }
    SIZE as f64 / n as f64 - size as f64
}

/// Whether to run `name` (env `HEAP_BENCH_ONLY=a,b` limits the run while tuning).
fn wanted(name: &str) -> bool {
    std::env::var("HEAP_BENCH_ONLY").map_or(true, |v| v.split(',').any(|n| n == name))
}

/// Whether to run workload `group` (`H1`, `H2`, `H4`, `mem`), for the rows
/// with a number of live blocks the one with `n`. Env
/// `HEAP_BENCH_ROWS=H1,H2/10000,H4` limits the run, for example under an
/// instruction counter: a group alone runs all of its rows, a number after
/// the slash one of them.
fn row_wanted(group: &str, n: Option<usize>) -> bool {
    std::env::var("HEAP_BENCH_ROWS").map_or(true, |v| {
        v.split(',').any(|r| match r.split_once('/') {
            Some((g, k)) => g == group && n.is_some_and(|n| k.parse() == Ok(n)),
            None => r == group,
        })
    })
}

/// Rounds per time row (env `HEAP_BENCH_ROUNDS`, default 9).
fn rounds() -> usize {
    std::env::var("HEAP_BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(9)
}

/// Every implementation's measurement, as closures (each one sample).
macro_rules! each {
    ($f:ident ( $($a:expr),* )) => {
        vec![
            (Ours::NAME, Box::new(|| $f::<Ours>($($a),*)) as Box<dyn FnMut() -> f64 + '_>),
            (OursLocked::NAME, Box::new(|| $f::<OursLocked>($($a),*)) as Box<dyn FnMut() -> f64 + '_>),
            (Talc::NAME, Box::new(|| $f::<Talc>($($a),*)) as Box<dyn FnMut() -> f64 + '_>),
            (Rlsf::NAME, Box::new(|| $f::<Rlsf>($($a),*)) as Box<dyn FnMut() -> f64 + '_>),
            (Buddy::NAME, Box::new(|| $f::<Buddy>($($a),*)) as Box<dyn FnMut() -> f64 + '_>),
            (LinkedList::NAME, Box::new(|| $f::<LinkedList>($($a),*)) as Box<dyn FnMut() -> f64 + '_>),
            (System::NAME, Box::new(|| $f::<System>($($a),*)) as Box<dyn FnMut() -> f64 + '_>),
        ]
    };
}

/// One implementation's name and a closure taking one sample.
type Sampler<'a> = (&'static str, Box<dyn FnMut() -> f64 + 'a>);

/// Runs the samples `rounds` times, each round in a new order, and takes
/// the medians. A run leaves the caches and the arena in a state the next
/// run inherits (a slow peer leaves them cold), so no implementation may
/// always follow the same one: a plain rotation keeps the cyclic order,
/// and it measured ours 7-12% slower than the same heap behind its lock,
/// the implementation after it. The order of each round is a shuffle from a
/// fixed seed.
///
/// The last sampler (the system allocator) runs last in every round: it
/// takes its memory from the host and gives it back, and the page faults
/// of that slow down whatever runs next.
fn interleaved(mut fs: Vec<Sampler<'_>>, rounds: usize) -> Vec<(String, f64)> {
    let n = fs.len();
    let shuffled = n.saturating_sub(1);
    let mut rng = Rng::new(0x0DE2);
    let mut samples: Vec<Vec<f64>> = vec![Vec::new(); n];
    for _ in 0..rounds {
        let mut order: Vec<usize> = (0..shuffled).collect();
        rng.shuffle(&mut order);
        for i in order.into_iter().chain(shuffled..n) {
            let (name, f) = &mut fs[i];
            if wanted(name) {
                samples[i].push(f());
            }
        }
    }
    fs.iter()
        .zip(samples.iter_mut())
        .map(|((name, _), v)| (name.to_string(), common::median(v)))
        .collect()
}

fn main() {
    // One pre-touched arena, reused by every allocator in turn.
    let layout = Layout::from_size_align(ARENA, 4096).unwrap();
    // SAFETY: a non-zero layout; freed at the end.
    let arena = unsafe { std::alloc::alloc_zeroed(layout) };
    assert!(!arena.is_null());
    // SAFETY: the arena is ours; huge pages (if the host has them) keep TLB
    // misses out of the measurement for every allocator alike.
    unsafe { libc::madvise(arena.cast(), ARENA, libc::MADV_HUGEPAGE) };
    // SAFETY: touch every page so no run pays page faults.
    unsafe { arena.write_bytes(1, ARENA) };

    let reps = rounds();
    let mut rows = Vec::new();
    for (n, steps) in [(1_000, 200_000), (10_000, 200_000)] {
        if !row_wanted("H1", Some(n)) {
            continue;
        }
        let t = churn_trace(0x4831 + n as u64, n, steps, |r| {
            let align = if r.chance(0.5) { 8 } else { 16 };
            Layout::from_size_align(r.range(8, 512) as usize, align).unwrap()
        });
        rows.push(Row {
            name: format!("H1 N={n} (ns/op)"),
            values: interleaved(each!(time_trace(arena, &t, 1)), reps),
        });
    }
    for (n, steps) in [(1_000, 100_000), (10_000, 50_000)] {
        if !row_wanted("H2", Some(n)) {
            continue;
        }
        let mut k = 0u32;
        let t = churn_trace(0x4832 + n as u64, n, steps, |r| {
            k += 1;
            let size = r.log_uniform(16, 65536) as usize;
            let align = if k % 32 == 0 { 1 << r.range(5, 12) } else { 16 };
            Layout::from_size_align(size, align).unwrap()
        });
        rows.push(Row {
            name: format!("H2 N={n} (ns/op)"),
            values: interleaved(each!(time_trace(arena, &t, 1)), reps),
        });
    }
    let mut rng = Rng::new(0x4834);
    let order: Vec<Vec<u32>> = (0..10)
        .map(|_| {
            let mut v: Vec<u32> = (0..1000).collect();
            rng.shuffle(&mut v);
            v
        })
        .collect();
    if row_wanted("H4", None) {
        rows.push(Row {
            name: "H4 realloc doubling (ns/realloc)".into(),
            values: interleaved(each!(time_h4(arena, &order, 1)), reps),
        });
    }
    print_table("Kernel heap: time (lower is better)", "ns", &rows);

    if !row_wanted("mem", None) {
        // SAFETY: allocated above with `layout`; nothing uses it any more.
        unsafe { std::alloc::dealloc(arena, layout) };
        return;
    }
    let eff = vec![
        Row {
            name: "H3 live payload at first failure (% of 16 MiB)".into(),
            values: interleaved(each!(h3(arena)), 1),
        },
        Row {
            name: "H4 bytes copied by moving reallocs (MB)".into(),
            values: interleaved(each!(h4_copied(arena, &order)), 1),
        },
        Row {
            name: "arena bytes per 24 B block, minus 24".into(),
            values: interleaved(each!(overhead(arena, 24)), 1),
        },
        Row {
            name: "arena bytes per 100 B block, minus 100".into(),
            values: interleaved(each!(overhead(arena, 100)), 1),
        },
    ];
    print_table(
        "Kernel heap: memory (H3: higher is better; copies and overhead: lower)",
        "value",
        &eff,
    );

    // SAFETY: allocated above with `layout`; nothing uses it any more.
    unsafe { std::alloc::dealloc(arena, layout) };
}
