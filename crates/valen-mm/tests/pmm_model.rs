//! Property test of the PMM against a simple model: the set of frames the
//! test owns. Random sequences of allocations (single, contiguous with an
//! alignment, below a limit), frees (whole runs, single frames, arbitrary
//! ranges), and marks, over every QEMU preset and synthetic maps. After every
//! step: no frame handed out twice, no frame outside usable RAM (or below
//! 2 MiB, or in the bitmap, or in the kernel image) ever handed out, the
//! statistics equal the model's, and the invariant checker agrees. Frames
//! freed one at a time are marked used again on purpose, so the PMM's list
//! of recently freed frames holds stale entries that it must skip.

use proptest::prelude::*;
use std::collections::BTreeSet;
use valen_mm::hosted::{synthetic_map, HostedMachine, Preset};
use valen_mm::pmm::{Pmm, PmmError, PmmInitError, DMA32_LIMIT, ISA_DMA_LIMIT};
use valen_mm::{MemoryMap, PhysAddr, RegionKind};

const PAGE: u64 = 4096;

#[derive(Clone, Debug)]
enum Op {
    Alloc,
    AllocBelow(bool),
    Contiguous {
        count: u64,
        align_log2: u32,
        below: Option<bool>,
    },
    /// Free the run of owned frames starting at the `i`-th owned frame, up to `len`.
    FreeRun {
        i: usize,
        len: u64,
    },
    /// The spec's `pmm_free_page` on the `i`-th owned frame.
    FreeOne {
        i: usize,
    },
    /// `free_page` / `free_pages` / `mark_free_range` at an arbitrary place.
    FreeAny {
        at: u64,
        count: u64,
        odd: bool,
        how: u8,
    },
    /// `mark_used_range` at an arbitrary place.
    MarkUsed {
        at: u64,
        count: u64,
        odd: bool,
    },
    /// The spec's `pmm_mark_used` on a frame freed recently by `free_page`
    /// (`back` frees ago), which the PMM offers to the next single-frame
    /// allocation: that offer is then stale and must be skipped.
    MarkUsedRecent {
        back: usize,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => Just(Op::Alloc),
        1 => any::<bool>().prop_map(Op::AllocBelow),
        4 => (1u64..=600, 0u32..=9, prop::option::of(any::<bool>()))
            .prop_map(|(count, align_log2, below)| Op::Contiguous { count, align_log2, below }),
        3 => (any::<usize>(), 1u64..=600).prop_map(|(i, len)| Op::FreeRun { i, len }),
        2 => any::<usize>().prop_map(|i| Op::FreeOne { i }),
        3 => (any::<u64>(), count(), prop::bool::weighted(0.05), 0u8..3)
            .prop_map(|(at, count, odd, how)| Op::FreeAny { at, count, odd, how }),
        2 => (any::<u64>(), count(), prop::bool::weighted(0.05))
            .prop_map(|(at, count, odd)| Op::MarkUsed { at, count, odd }),
        2 => (0usize..40).prop_map(|back| Op::MarkUsedRecent { back }),
    ]
}

/// Counts for the arbitrary calls: often 1, sometimes 0 or a few.
fn count() -> impl Strategy<Value = u64> {
    prop_oneof![2 => Just(1u64), 1 => 0u64..=9]
}

/// Which machine: a preset, or a synthetic map (seed, top in MiB, holes).
#[derive(Clone, Debug)]
enum Machine {
    Preset(usize),
    Synthetic(u64, u64, usize),
}

fn machine() -> impl Strategy<Value = Machine> {
    prop_oneof![
        (0..Preset::ALL.len()).prop_map(Machine::Preset),
        (any::<u64>(), 16u64..=8192, 0usize..=100)
            .prop_map(|(s, top, holes)| Machine::Synthetic(s, top, holes)),
    ]
}

/// The test's view: what it owns and what may ever be handed out.
struct Model {
    owned: BTreeSet<u64>,
    /// Allocatable frame ranges, from the map and the bitmap placement.
    allowed: Vec<(u64, u64)>,
    frames: u64,
    total: u64,
    initial_free: u64,
    /// Frames freed by `free_page`, oldest first (they may be owned again).
    freed_one: Vec<u64>,
}

impl Model {
    fn allowed(&self, f: u64) -> bool {
        self.allowed.iter().any(|&(s, e)| s <= f && f < e)
    }

    /// What a range call at `addr` for `count` frames must answer.
    fn expect(&self, addr: u64, count: u64, free: bool) -> Result<(), PmmError> {
        if count == 0 {
            return Err(PmmError::ZeroCount);
        }
        if count > self.total {
            return Err(PmmError::CountTooLarge {
                count,
                total: self.total,
            });
        }
        if addr % PAGE != 0 {
            return Err(PmmError::Unaligned { addr });
        }
        let ram_end = self.frames * PAGE;
        let s = addr / PAGE;
        if s >= self.frames {
            return Err(PmmError::OutsideRam { addr, ram_end });
        }
        if s + count > self.frames {
            return Err(PmmError::OutsideRam {
                addr: ram_end,
                ram_end,
            });
        }
        if s < 512 {
            return Err(PmmError::BelowMinimum { addr });
        }
        if let Some(f) = (s..s + count).find(|&f| !self.allowed(f)) {
            return Err(PmmError::Reserved { addr: f * PAGE });
        }
        // Freeing wants every frame owned; marking used wants none owned.
        if let Some(f) = (s..s + count).find(|&f| self.owned.contains(&f) != free) {
            let addr = f * PAGE;
            return Err(if free {
                PmmError::DoubleFree { addr }
            } else {
                PmmError::AlreadyUsed { addr }
            });
        }
        Ok(())
    }

    /// Takes `[s, s + n)` into the model, checking it was free and allowed.
    fn take(&mut self, s: u64, n: u64) -> Result<(), TestCaseError> {
        for f in s..s + n {
            prop_assert!(
                self.allowed(f),
                "handed out frame {f:#x} that is not allocatable"
            );
            prop_assert!(self.owned.insert(f), "frame {f:#x} handed out twice");
        }
        Ok(())
    }

    /// Whether some aligned run of `n` free, allowed frames ends by `hi`.
    fn run_exists(&self, n: u64, align: u64, hi: u64) -> bool {
        self.allowed.iter().any(|&(s, e)| {
            let e = e.min(hi);
            let mut c = s.div_ceil(align) * align;
            while c + n <= e {
                match (c..c + n).find(|f| self.owned.contains(f)) {
                    None => return true,
                    Some(u) => c = (u + 1).div_ceil(align) * align,
                }
            }
            false
        })
    }
}

fn build_map(m: &Machine, kernel: bool) -> MemoryMap {
    let mut map = match *m {
        Machine::Preset(i) => Preset::ALL[i].map(),
        Machine::Synthetic(seed, top, holes) => synthetic_map(seed, top << 20, holes),
    };
    if kernel {
        map.reserve(2 << 20, (2 << 20) + 0x15_3000, RegionKind::KernelImage)
            .unwrap();
    }
    map
}

fn pick(at: u64, frames: u64, odd: bool, allowed: &[(u64, u64)]) -> u64 {
    // Mostly frames inside RAM, some just past it, some at the edges of the
    // allocatable ranges; `odd` makes it unaligned.
    let f = if at % 2 == 0 {
        let (s, e) = allowed[(at >> 8) as usize % allowed.len()];
        [s.saturating_sub(1), s, e - 1, e][(at >> 1) as usize % 4]
    } else {
        at % (frames + frames / 16 + 1)
    };
    f * PAGE + if odd { 1 + at % 4095 } else { 0 }
}

fn run(machine: Machine, kernel: bool, ops: Vec<Op>) -> Result<(), TestCaseError> {
    let map = build_map(&machine, kernel);
    let hosted = HostedMachine::new(map.clone()).unwrap();
    // SAFETY: the hosted RAM is fresh and only the PMM and this test use it.
    let mut pmm = match unsafe { Pmm::from_map(&map, &hosted.ram) } {
        Ok(p) => p,
        // Synthetic maps may leave no usable room above 2 MiB for the bitmap.
        Err(PmmInitError::NoRoomForBitmap { bytes }) => {
            let room = map
                .of_kind(RegionKind::Usable)
                .map(|r| r.end.as_u64().saturating_sub(r.start.as_u64().max(2 << 20)))
                .max()
                .unwrap_or(0);
            prop_assert!(
                room < bytes.div_ceil(PAGE) * PAGE,
                "room {room:#x} for {bytes:#x}"
            );
            return Ok(());
        }
        Err(e) => return Err(TestCaseError::fail(format!("init: {e}"))),
    };
    let place = pmm.placement();
    let bitmap = place.phys.unwrap().as_u64() / PAGE;
    let bitmap_end = bitmap + place.bytes.div_ceil(PAGE);
    let mut allowed = Vec::new();
    for r in map.of_kind(RegionKind::Usable) {
        let (s, e) = ((r.start.as_u64() / PAGE).max(512), r.end.as_u64() / PAGE);
        for (s, e) in [(s, e.min(bitmap)), (s.max(bitmap_end), e)] {
            if s < e {
                allowed.push((s, e));
            }
        }
    }
    let mut model = Model {
        owned: BTreeSet::new(),
        frames: map.highest_usable_end().as_u64() / PAGE,
        total: map.usable_bytes() / PAGE,
        initial_free: allowed.iter().map(|(s, e)| e - s).sum(),
        allowed,
        freed_one: Vec::new(),
    };
    prop_assert_eq!(pmm.total_frames(), model.total);
    prop_assert_eq!(pmm.free_frames(), model.initial_free);
    let small = model.frames <= 1 << 16;

    for op in ops {
        match op {
            Op::Alloc => match pmm.alloc_page() {
                Some(f) => model.take(f.number(), 1)?,
                None => prop_assert_eq!(model.owned.len() as u64, model.initial_free),
            },
            Op::AllocBelow(isa) => {
                let limit = if isa { ISA_DMA_LIMIT } else { DMA32_LIMIT };
                let hi = limit.as_u64() / PAGE;
                match pmm.alloc_page_below(limit) {
                    Some(f) => {
                        prop_assert!(f.number() < hi);
                        model.take(f.number(), 1)?;
                    }
                    None => prop_assert!(!model.run_exists(1, 1, hi)),
                }
            }
            Op::Contiguous {
                count,
                align_log2,
                below,
            } => {
                let align = 1u64 << align_log2;
                let limit = match below {
                    None => None,
                    Some(true) => Some(ISA_DMA_LIMIT),
                    Some(false) => Some(DMA32_LIMIT),
                };
                let got = match limit {
                    None => pmm.alloc_contiguous(count, align),
                    Some(l) => pmm.alloc_contiguous_below(count, align, l),
                };
                let hi = limit.map_or(u64::MAX, |l| l.as_u64() / PAGE);
                if count > model.total {
                    prop_assert_eq!(
                        got,
                        Err(PmmError::CountTooLarge {
                            count,
                            total: model.total
                        })
                    );
                    continue;
                }
                match got.unwrap() {
                    Some(f) => {
                        let s = f.number();
                        prop_assert_eq!(s % align, 0);
                        prop_assert!(s + count <= hi);
                        model.take(s, count)?;
                    }
                    None if small => prop_assert!(!model.run_exists(count, align, hi)),
                    None => {}
                }
            }
            Op::FreeRun { i, len } => {
                let Some(&s) = model.owned.iter().nth(i % model.owned.len().max(1)) else {
                    continue;
                };
                let n = (s..s + len).take_while(|f| model.owned.contains(f)).count() as u64;
                prop_assert_eq!(pmm.free_pages(PhysAddr::new(s * PAGE).unwrap(), n), Ok(()));
                for f in s..s + n {
                    model.owned.remove(&f);
                }
            }
            Op::FreeOne { i } => {
                let Some(&s) = model.owned.iter().nth(i % model.owned.len().max(1)) else {
                    continue;
                };
                prop_assert_eq!(pmm.free_page(PhysAddr::new(s * PAGE).unwrap()), Ok(()));
                model.owned.remove(&s);
                model.freed_one.push(s);
            }
            Op::FreeAny {
                at,
                count,
                odd,
                how,
            } => {
                let addr = pick(at, model.frames, odd, &model.allowed);
                let want = model.expect(addr, count, true);
                let p = PhysAddr::new(addr).unwrap();
                let got = match (how, count) {
                    (0, 1) => pmm.free_page(p),
                    (0 | 1, _) => pmm.free_pages(p, count),
                    _ => pmm.mark_free_range(p, count),
                };
                prop_assert_eq!(got, want);
                if want.is_ok() {
                    for f in addr / PAGE..addr / PAGE + count {
                        model.owned.remove(&f);
                    }
                    if (how, count) == (0, 1) {
                        model.freed_one.push(addr / PAGE);
                    }
                }
            }
            Op::MarkUsed { at, count, odd } => {
                let addr = pick(at, model.frames, odd, &model.allowed);
                let want = model.expect(addr, count, false);
                let got = pmm.mark_used_range(PhysAddr::new(addr).unwrap(), count);
                prop_assert_eq!(got, want);
                if want.is_ok() {
                    model.take(addr / PAGE, count)?;
                }
            }
            Op::MarkUsedRecent { back } => {
                let Some(i) = model.freed_one.len().checked_sub(1 + back) else {
                    continue;
                };
                let addr = model.freed_one[i] * PAGE;
                let want = model.expect(addr, 1, false);
                prop_assert_eq!(pmm.mark_used(PhysAddr::new(addr).unwrap()), want);
                if want.is_ok() {
                    model.take(addr / PAGE, 1)?;
                }
            }
        }
        let free = model.initial_free - model.owned.len() as u64;
        prop_assert_eq!(pmm.free_frames(), free);
        prop_assert_eq!(pmm.used_frames(), model.total - free);
        prop_assert_eq!(pmm.free_kb(), free * 4);
        prop_assert_eq!(pmm.check(), Ok(()));
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(if cfg!(debug_assertions) { 48 } else { 256 }))]

    #[test]
    fn pmm_agrees_with_the_model(
        machine in machine(),
        kernel in any::<bool>(),
        ops in prop::collection::vec(op(), 1..80),
    ) {
        run(machine, kernel, ops)?;
    }
}

/// A long deterministic run on the smallest machine, where memory runs out
/// and every search has to wrap around.
#[test]
fn long_run_on_a_small_machine() {
    let mut ops = Vec::new();
    let mut x = 7u64;
    for _ in 0..3000 {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let r = x >> 33;
        ops.push(match r % 9 {
            0..=2 => Op::Alloc,
            8 => Op::MarkUsedRecent {
                back: (r % 4) as usize,
            },
            3 | 4 => Op::Contiguous {
                count: 1 + r % 40,
                align_log2: (r % 5) as u32,
                below: None,
            },
            5 => Op::FreeOne { i: r as usize },
            _ => Op::FreeRun {
                i: r as usize,
                len: 1 + r % 64,
            },
        });
    }
    run(Machine::Preset(0), true, ops).unwrap();
}
