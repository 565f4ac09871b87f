//! PMM benchmark against rcore-os `bitmap-allocator` (BitAlloc16M) and
//! `buddy_system_allocator::FrameAllocator`, over 4,194,304 frames (16 GiB)
//! with the first 2 MiB and a 256 MiB hole at 3 GiB reserved.
//!
//! - F1 single frames: each usable frame starts allocated with probability
//!   50% (and 95%); timed pairs of (allocate one frame, free a random frame
//!   that was allocated at the start).
//! - F2 contiguous: runs of 1..=512 frames (log-uniform) aligned to the run
//!   size rounded up to a power of two; fill to 60% of the frames, then churn
//!   (allocate while below 60%, else free a random live run).
//! - F3 init: create the allocator over the map.
//! - Memory: bits of allocator state per frame.
//!
//! Traces come from fixed seeds and are generated before timing. Both bitmaps
//! live on 2 MiB pages where the host allows it, as in a kernel's direct map.

mod common;

use bitmap_allocator::{BitAlloc, BitAlloc16M};
use buddy_system_allocator::FrameAllocator as Buddy;
use common::{median, median_ns_per_op, print_table, Rng, Row};
use std::hint::black_box;
use std::sync::OnceLock;
use valen_mm::pmm::{storage_words, Pmm};
use valen_mm::{MemoryMap, PhysAddr, RegionKind};

const FRAMES: u64 = 4_194_304;
const GIB: u64 = 1 << 30;
const REPS: usize = 7;

/// Runs each measurement `reps` times, round-robin, so that load changes on
/// the shared machine hit every implementation alike; the median of each.
fn interleave<const N: usize>(reps: usize, mut runs: [&mut dyn FnMut() -> f64; N]) -> [f64; N] {
    let mut samples = vec![Vec::new(); N];
    for _ in 0..reps {
        for (i, run) in runs.iter_mut().enumerate() {
            samples[i].push(run());
        }
    }
    core::array::from_fn(|i| median(&mut samples[i]))
}

/// The 16 GiB map: RAM everywhere but the first 2 MiB and [3 GiB, 3.25 GiB).
fn map() -> MemoryMap {
    let mut m = MemoryMap::new();
    m.push(0, 16 * GIB, RegionKind::Usable).unwrap();
    m.push(0, 2 << 20, RegionKind::Reserved).unwrap();
    m.push(3 * GIB, 3 * GIB + (256 << 20), RegionKind::Reserved)
        .unwrap();
    m.normalize().unwrap();
    m
}

/// Usable frame ranges of the map.
fn usable(map: &MemoryMap) -> Vec<(u64, u64)> {
    map.of_kind(RegionKind::Usable)
        .map(|r| (r.start.as_u64() / 4096, r.end.as_u64() / 4096))
        .collect()
}

/// A memory region mapped once for the whole program, on 2 MiB pages where
/// the host allows it: physically contiguous, as a kernel's direct map holds
/// its data. Both bitmaps (ours and bitmap-allocator's) live in one, so that
/// where the host happens to place 4 KiB pages does not decide the results.
struct Region(*mut u8);

// SAFETY: a plain address; the benchmark uses the memory from one thread.
unsafe impl Send for Region {}
// SAFETY: as above.
unsafe impl Sync for Region {}

static OURS: OnceLock<Region> = OnceLock::new();
static PEER: OnceLock<Region> = OnceLock::new();

/// The start of `slot`'s region of at least `bytes` bytes, mapped on first use.
fn region(slot: &OnceLock<Region>, bytes: usize) -> *mut u8 {
    slot.get_or_init(|| {
        const HUGE: usize = 2 << 20;
        let len = bytes.div_ceil(HUGE) * HUGE + HUGE;
        // SAFETY: a new anonymous private mapping; no existing memory changes.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        assert_ne!(p, libc::MAP_FAILED, "mmap failed");
        let start = (p as usize).next_multiple_of(HUGE) as *mut u8;
        // SAFETY: advice about a range inside the mapping just made.
        unsafe { libc::madvise(start.cast(), len - HUGE, libc::MADV_HUGEPAGE) };
        Region(start)
    })
    .0
}

/// Bitmap storage for one PMM, in the `OURS` region.
fn storage() -> &'static mut [u64] {
    let words = storage_words(FRAMES) as usize;
    let ptr = region(&OURS, words * 8).cast::<u64>();
    // SAFETY: the region is mapped for the whole program, page aligned and at
    // least `words` long. Each timed run builds one PMM and consumes it
    // before the next run's setup calls this, so no two slices are ever in use.
    unsafe { std::slice::from_raw_parts_mut(ptr, words) }
}

fn addr(frame: u64) -> PhysAddr {
    PhysAddr::new(frame * 4096).unwrap()
}

/// A BitAlloc16M (2 MiB: too big for the stack) in the `PEER` region, with
/// nothing available.
fn bitalloc() -> &'static mut BitAlloc16M {
    let ptr = region(&PEER, std::mem::size_of::<BitAlloc16M>()).cast::<BitAlloc16M>();
    // SAFETY: as in `storage`: mapped for the program, aligned, big enough,
    // one user at a time. The mapping starts zeroed, and all zeros is
    // BitAlloc16M's `DEFAULT` (it is nested arrays of integers); later runs
    // find a valid earlier state, which the `remove` below resets.
    let b = unsafe { &mut *ptr };
    b.insert(0..BitAlloc16M::CAP);
    b.remove(0..BitAlloc16M::CAP);
    b
}

fn f1(map: &MemoryMap, occupancy: f64, pairs: usize) -> Row {
    let ranges = usable(map);
    let mut rng = Rng::new(0xF1 ^ (occupancy * 100.0) as u64);
    let mut initially = Vec::new();
    for &(s, e) in &ranges {
        initially.extend((s..e).filter(|_| rng.chance(occupancy)));
    }
    // The frames to free, in random order.
    let mut frees = initially.clone();
    rng.shuffle(&mut frees);
    frees.truncate(pairs);
    let is_init: Vec<bool> = {
        let mut v = vec![false; FRAMES as usize];
        for &f in &initially {
            v[f as usize] = true;
        }
        v
    };

    // Our API takes addresses where bitmap-allocator's takes frame numbers:
    // each implementation gets its trace in its own terms, before timing.
    let free_addrs: Vec<PhysAddr> = frees.iter().map(|&f| addr(f)).collect();
    let mut ours = || {
        median_ns_per_op(
            1,
            || {
                let mut p = Pmm::new_in(storage(), map).unwrap();
                for &f in &initially {
                    p.mark_used(addr(f)).unwrap();
                }
                p
            },
            |mut p| {
                let mut failures = 0u64;
                let mut sum = 0u64;
                for &a in &free_addrs {
                    match p.alloc_page() {
                        Some(a) => sum = sum.wrapping_add(a.number()),
                        None => failures += 1,
                    }
                    failures += p.free_page(a).is_err() as u64;
                }
                assert_eq!(failures, 0);
                (frees.len() as u64, sum)
            },
        )
    };

    let mut bitmap = || {
        median_ns_per_op(
            1,
            || {
                let b = bitalloc();
                for &(s, e) in &ranges {
                    b.insert(s as usize..e as usize);
                }
                for &f in &initially {
                    b.remove(f as usize..f as usize + 1);
                }
                b
            },
            |b| {
                let mut failures = 0u64;
                let mut sum = 0usize;
                for &f in &frees {
                    match b.alloc() {
                        Some(a) => sum = sum.wrapping_add(a),
                        None => failures += 1,
                    }
                    failures += !b.dealloc(f as usize) as u64;
                }
                assert_eq!(failures, 0);
                (frees.len() as u64, b)
            },
        )
    };

    let mut buddy = || {
        median_ns_per_op(
            1,
            || {
                let mut b = Buddy::<33>::new();
                let mut start = None;
                for &(s, e) in &ranges {
                    for f in s..e {
                        match (is_init[f as usize], start) {
                            (false, None) => start = Some(f),
                            (true, Some(st)) => {
                                b.add_frame(st as usize, f as usize);
                                start = None;
                            }
                            _ => {}
                        }
                    }
                    if let Some(st) = start.take() {
                        b.add_frame(st as usize, e as usize);
                    }
                }
                b
            },
            |mut b| {
                let mut failures = 0u64;
                let mut sum = 0usize;
                for &f in &frees {
                    match b.alloc(1) {
                        Some(a) => sum = sum.wrapping_add(a),
                        None => failures += 1,
                    }
                    b.dealloc(f as usize, 1);
                }
                assert_eq!(failures, 0);
                (frees.len() as u64, b)
            },
        )
    };
    let [ours, bitmap, buddy] = interleave(REPS, [&mut ours, &mut bitmap, &mut buddy]);
    Row {
        name: format!("F1 alloc+free pair, {:.0}% used", occupancy * 100.0),
        values: vec![
            ("valen-mm".into(), ours),
            ("bitmap-allocator".into(), bitmap),
            ("buddy".into(), buddy),
        ],
    }
}

/// One step of the F2 trace.
#[derive(Clone, Copy)]
enum Op {
    /// Allocate a run of this many frames (aligned to its power-of-two ceiling).
    Alloc(u64),
    /// Free the live run at this index (swap-remove).
    Free(usize),
}

fn f2_trace(usable_frames: u64, churn: usize) -> Vec<Op> {
    let mut rng = Rng::new(0xF2);
    let target = usable_frames * 6 / 10;
    let mut live: Vec<u64> = Vec::new();
    let mut held = 0;
    let mut ops = Vec::new();
    let mut churned = 0;
    while churned < churn {
        if held < target {
            let n = rng.log_uniform(1, 512);
            live.push(n);
            held += n;
            ops.push(Op::Alloc(n));
        } else {
            let i = rng.below(live.len() as u64) as usize;
            held -= live.swap_remove(i);
            ops.push(Op::Free(i));
        }
        if held >= target || churned > 0 {
            churned += 1;
        }
    }
    ops
}

/// What F2 needs of an allocator.
trait Runs {
    /// A run of `count` frames aligned to `align` frames; its first frame.
    fn alloc(&mut self, count: u64, align: u64) -> Option<u64>;
    /// Frees the run.
    fn free(&mut self, start: u64, count: u64);
}

impl Runs for Pmm<'_> {
    fn alloc(&mut self, count: u64, align: u64) -> Option<u64> {
        self.alloc_contiguous(count, align)
            .ok()
            .flatten()
            .map(|f| f.number())
    }
    fn free(&mut self, start: u64, count: u64) {
        let _ = black_box(self.free_pages(addr(start), count));
    }
}

impl Runs for Buddy<33> {
    /// The buddy allocator rounds `count` up to a power of two and aligns to it.
    fn alloc(&mut self, count: u64, _align: u64) -> Option<u64> {
        Buddy::alloc(self, count as usize).map(|s| s as u64)
    }
    fn free(&mut self, start: u64, count: u64) {
        self.dealloc(start as usize, count as usize)
    }
}

/// Runs `trace` on `a`; returns (ops, failures).
fn run_f2(trace: &[Op], a: &mut impl Runs) -> (u64, u64) {
    let mut live: Vec<(u64, u64)> = Vec::with_capacity(1 << 16);
    let mut failures = 0;
    for op in trace {
        match *op {
            Op::Alloc(n) => match a.alloc(n, n.next_power_of_two()) {
                Some(s) => live.push((s, n)),
                None => failures += 1,
            },
            Op::Free(i) => {
                if !live.is_empty() {
                    let (s, n) = live.swap_remove(i % live.len());
                    a.free(s, n);
                }
            }
        }
    }
    (trace.len() as u64, failures)
}

fn f2(map: &MemoryMap) -> (Row, u64, u64) {
    let ranges = usable(map);
    let total: u64 = ranges.iter().map(|(s, e)| e - s).sum();
    let trace = f2_trace(total, 300_000);
    let mut ours_failures = 0;
    let mut ours = || {
        median_ns_per_op(
            1,
            || Pmm::new_in(storage(), map).unwrap(),
            |mut p| {
                let (ops, fails) = run_f2(&trace, &mut p);
                ours_failures = fails;
                (ops, p.free_frames())
            },
        )
    };
    let mut buddy_failures = 0;
    let mut buddy = || {
        median_ns_per_op(
            1,
            || {
                let mut b = Buddy::<33>::new();
                for &(s, e) in &ranges {
                    b.add_frame(s as usize, e as usize);
                }
                b
            },
            |mut b| {
                let (ops, fails) = run_f2(&trace, &mut b);
                buddy_failures = fails;
                (ops, b)
            },
        )
    };
    let [ours, buddy] = interleave(REPS, [&mut ours, &mut buddy]);
    let row = Row {
        name: format!("F2 contiguous 1..=512, 60% churn ({} ops)", trace.len()),
        values: vec![("valen-mm".into(), ours), ("buddy".into(), buddy)],
    };
    (row, ours_failures, buddy_failures)
}

fn f3(map: &MemoryMap) -> Row {
    let ranges = usable(map);
    let ours = median_ns_per_op(REPS * 4, storage, |mem| {
        let p = Pmm::new_in(mem, map).unwrap();
        (1, p.free_frames())
    });
    let bitmap = median_ns_per_op(REPS * 4, bitalloc, |b| {
        for &(s, e) in &ranges {
            b.insert(s as usize..e as usize);
        }
        (1, b)
    });
    let buddy = median_ns_per_op(REPS * 4, Buddy::<33>::new, |mut b| {
        for &(s, e) in &ranges {
            b.add_frame(s as usize, e as usize);
        }
        (1, b)
    });
    Row {
        name: "F3 init over 16 GiB".into(),
        values: vec![
            ("valen-mm".into(), ours),
            ("bitmap-allocator".into(), bitmap),
            ("buddy".into(), buddy),
        ],
    }
}

/// Whether to run `section`: all of them unless some are named on the
/// command line (`cargo bench --bench pmm -- f1 f3`).
fn wanted(section: &str) -> bool {
    let named: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    named.is_empty() || named.iter().any(|a| a == section)
}

fn main() {
    let map = map();
    println!("PMM benchmark: {FRAMES} frames (16 GiB), medians of {REPS}+ runs");
    if wanted("f1") {
        let rows = vec![f1(&map, 0.5, 1_000_000), f1(&map, 0.95, 1_000_000)];
        print_table("F1 single frames", "ns/pair", &rows);
        println!("\nTarget: at least 5x faster than bitmap-allocator at both occupancies.");
    }
    if wanted("f2") {
        let (row, ours_failures, buddy_failures) = f2(&map);
        print_table("F2 contiguous runs", "ns/op", &[row]);
        println!(
            "\nF2 failures: valen-mm {ours_failures}, buddy {buddy_failures} \
             (buddy rounds every run up to a power of two; valen-mm does not).\n\
             Target: no slower than buddy, zero failures."
        );
    }
    if wanted("f3") {
        print_table("F3 init", "ns", &[f3(&map)]);
        println!("\nTarget: under 60 us (60000 ns).");
    }
    let ours_bits = storage_words(FRAMES) as f64 * 64.0 / FRAMES as f64;
    let bitmap_bits = std::mem::size_of::<BitAlloc16M>() as f64 * 8.0 / FRAMES as f64;
    print_table(
        "Memory",
        "bits/frame",
        &[Row {
            name: "allocator state per frame up to 16 GiB".into(),
            values: vec![
                ("valen-mm".into(), ours_bits),
                ("bitmap-allocator".into(), bitmap_bits),
            ],
        }],
    );
    println!(
        "\nvalen-mm: {ours_bits:.4} bits per frame (bitmap, summaries, chunk map); \
         target at most 1.1."
    );
}
