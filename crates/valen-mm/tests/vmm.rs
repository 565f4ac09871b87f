//! The VMM over the hosted machine: vmm_alloc / vmm_free, guard pages, maps at
//! chosen addresses, device mappings, statistics, and all-or-nothing errors.

use proptest::prelude::*;
use std::collections::BTreeMap;
use valen_mm::addr::{Frame, PAGE_SIZE};
use valen_mm::hosted::{FramePool, HostedRam, RecordingMmu};
use valen_mm::layout::{Window, DEVICE_WINDOW_START, HEAP_WINDOW_START};
use valen_mm::paging::{AddressSpace, PageFlags, PagingError};
use valen_mm::vmm::{CacheMode, Vmm, VmmError};
use valen_mm::{FrameAllocator, PhysAddr, VirtAddr};

const RAM: u64 = 64 << 20;
/// Contiguous runs come from [RUNS_START, RAM), single frames from below.
const RUNS_START: u64 = 32 << 20;

/// A frame pool that can also hand out contiguous runs (from its own range),
/// to drive both of `alloc`'s paths.
struct Frames {
    pool: FramePool,
    runs: Option<(u64, u64)>,
    run_frames_out: u64,
}

impl FrameAllocator for Frames {
    fn allocate_frame(&mut self) -> Option<Frame> {
        self.pool.allocate_frame()
    }
    unsafe fn deallocate_frame(&mut self, frame: Frame) {
        let a = frame.start().as_u64();
        if self.runs.is_some() && a >= RUNS_START {
            self.run_frames_out -= 1;
        } else {
            // SAFETY: forwarded from our caller.
            unsafe { self.pool.deallocate_frame(frame) }
        }
    }
    fn allocate_contiguous(&mut self, count: u64) -> Option<Frame> {
        let (next, end) = self.runs.as_mut()?;
        if *next + count * PAGE_SIZE > *end {
            return None;
        }
        let f = Frame::containing(PhysAddr::new(*next).unwrap());
        *next += count * PAGE_SIZE;
        self.run_frames_out += count;
        Some(f)
    }
}

struct Rig {
    ram: HostedRam,
    mmu: RecordingMmu,
}

impl Rig {
    fn new() -> Self {
        Self {
            ram: HostedRam::new(RAM).unwrap(),
            mmu: RecordingMmu::new(true),
        }
    }

    /// Scattered frames from [1 MiB, 32 MiB); runs (if asked) from [32 MiB, 64 MiB).
    fn frames(&self, runs: bool) -> Frames {
        Frames {
            pool: FramePool::new(&self.ram, pa(1 << 20), pa(RUNS_START)).unwrap(),
            runs: runs.then_some((RUNS_START, RAM)),
            run_frames_out: 0,
        }
    }

    fn space(&self, frames: &mut Frames) -> AddressSpace<&HostedRam, &RecordingMmu> {
        AddressSpace::new(&self.ram, &self.mmu, frames).unwrap()
    }
}

fn pa(a: u64) -> PhysAddr {
    PhysAddr::new(a).unwrap()
}

fn va(a: u64) -> VirtAddr {
    VirtAddr::new(a).unwrap()
}

fn rw() -> PageFlags {
    PageFlags::PRESENT | PageFlags::WRITE
}

fn page(v: VirtAddr, i: u64) -> VirtAddr {
    VirtAddr::new(v.as_u64() + i * PAGE_SIZE).unwrap()
}

#[test]
fn alloc_gives_zeroed_pages_with_a_guard_and_free_returns_everything() {
    let rig = Rig::new();
    let mut frames = rig.frames(false);
    let mut space = rig.space(&mut frames);
    let mut vmm = Vmm::new();
    let tables_only = frames.pool.outstanding();

    // Dirty the frames the pool will hand out, to see that alloc zeroes them.
    for a in (1u64 << 20..2 << 20).step_by(8) {
        rig.ram.write_u64(pa(a), 0x5a5a_5a5a_5a5a_5a5a);
    }
    let v = vmm.alloc(&mut space, &mut frames, 4, rw()).unwrap();
    assert_eq!(Window::of(v), Window::Heap);
    assert_eq!(v, va(HEAP_WINDOW_START));
    let mut seen = Vec::new();
    for i in 0..4 {
        let p = Vmm::get_phys(&space, page(v, i)).expect("mapped");
        assert!(!seen.contains(&p));
        seen.push(p);
        assert_eq!(rig.ram.read_u64(p), Some(0), "zeroed");
        rig.ram.write_u64(p, 0x1000 + i);
        let t = space.translate(page(v, i)).unwrap();
        assert!(t.flags.contains(PageFlags::WRITE));
    }
    assert_eq!(Vmm::get_phys(&space, page(v, 4)), None, "guard page");
    assert_eq!(vmm.allocation_containing(page(v, 3)), Some((v, 4)));
    assert_eq!(vmm.allocation_containing(page(v, 4)), None);
    assert_eq!(vmm.guard_page_of(page(v, 4)), Some(v));
    assert_eq!(vmm.guard_page_of(page(v, 3)), None);
    let s = vmm.stats();
    assert_eq!((s.pages_mapped, s.allocations, s.frames_owned), (4, 1, 4));
    assert_eq!(s.heap_window_bytes, 5 * PAGE_SIZE);

    // The next allocation starts after the guard page.
    let w = vmm.alloc(&mut space, &mut frames, 1, rw()).unwrap();
    assert_eq!(w, page(v, 5));

    assert_eq!(vmm.free(&mut space, &mut frames, v), Ok(4));
    assert_eq!(vmm.free(&mut space, &mut frames, w), Ok(1));
    assert_eq!(Vmm::get_phys(&space, v), None);
    assert_eq!(
        frames.pool.outstanding(),
        tables_only,
        "frames and emptied tables returned"
    );
    assert_eq!(frames.pool.bad_frees(), 0);
    assert_eq!(vmm.stats().heap_window_bytes, 0);
    vmm.check().unwrap();
    space.check_invariants().unwrap();
}

#[test]
fn alloc_prefers_one_contiguous_run() {
    let rig = Rig::new();
    let mut frames = rig.frames(true);
    let mut space = rig.space(&mut frames);
    let mut vmm = Vmm::new();
    let v = vmm.alloc(&mut space, &mut frames, 16, rw()).unwrap();
    let first = Vmm::get_phys(&space, v).unwrap();
    for i in 0..16 {
        let p = Vmm::get_phys(&space, page(v, i)).unwrap();
        assert_eq!(p.as_u64(), first.as_u64() + i * PAGE_SIZE);
    }
    assert_eq!(vmm.stats().contiguous_allocations, 1);
    assert_eq!(frames.run_frames_out, 16);
    vmm.free(&mut space, &mut frames, v).unwrap();
    assert_eq!(frames.run_frames_out, 0);
    assert_eq!(
        vmm.stats().contiguous_allocations,
        0,
        "counts live allocations"
    );
}

#[test]
fn out_of_frames_midway_undoes_everything() {
    let rig = Rig::new();
    let mut frames = rig.frames(false);
    let mut space = rig.space(&mut frames);
    let mut vmm = Vmm::new();
    let keep = vmm.alloc(&mut space, &mut frames, 3, rw()).unwrap();
    rig.mmu.take_flushes();
    let before = (frames.pool.outstanding(), vmm.stats());
    frames.pool.set_budget(Some(100));
    let err = vmm.alloc(&mut space, &mut frames, 1000, rw()).unwrap_err();
    assert!(
        matches!(
            err,
            VmmError::OutOfFrames { wanted: 1000, .. }
                | VmmError::Paging(PagingError::OutOfFrames { .. })
        ),
        "{err:?}"
    );
    frames.pool.set_budget(None);
    assert_eq!((frames.pool.outstanding(), vmm.stats()), before);
    assert_eq!(Vmm::get_phys(&space, page(keep, 4)), None);
    // The virtual range was given back: the next allocation reuses it.
    assert_eq!(
        vmm.alloc(&mut space, &mut frames, 1, rw()),
        Ok(page(keep, 4))
    );
    space.check_invariants().unwrap();
}

#[test]
fn bad_frees_change_nothing() {
    let rig = Rig::new();
    let mut frames = rig.frames(false);
    let mut space = rig.space(&mut frames);
    let mut vmm = Vmm::new();
    let v = vmm.alloc(&mut space, &mut frames, 2, rw()).unwrap();
    let reserved = va(HEAP_WINDOW_START + (100 << 20));
    vmm.map_range(
        &mut space,
        &mut frames,
        reserved,
        pa(0x20_0000),
        PAGE_SIZE,
        rw(),
    )
    .unwrap();
    let before = (frames.pool.outstanding(), vmm.stats());
    for bad in [
        page(v, 1),
        page(v, 2),
        va(0x1000),
        va(DEVICE_WINDOW_START),
        reserved,
    ] {
        assert_eq!(
            vmm.free(&mut space, &mut frames, bad),
            Err(VmmError::NotAllocated(bad))
        );
    }
    assert_eq!((frames.pool.outstanding(), vmm.stats()), before);
    vmm.free(&mut space, &mut frames, v).unwrap();
    assert_eq!(
        vmm.free(&mut space, &mut frames, v),
        Err(VmmError::NotAllocated(v)),
        "double free"
    );
    assert_eq!(
        vmm.alloc(&mut space, &mut frames, 0, rw()),
        Err(VmmError::Zero)
    );
    assert!(matches!(
        vmm.alloc(&mut space, &mut frames, 1, PageFlags::WRITE),
        Err(VmmError::Paging(PagingError::BadFlags { .. }))
    ));
    assert_eq!(
        vmm.alloc(&mut space, &mut frames, 1 << 20, rw()),
        Err(VmmError::OutOfVirtualSpace {
            window: Window::Heap,
            pages: (1 << 20) + 1
        })
    );
}

#[test]
fn spec_device_example_maps_at_0xf0000000_with_pcd() {
    let rig = Rig::new();
    let mut frames = rig.frames(false);
    let mut space = rig.space(&mut frames);
    let mut vmm = Vmm::new();
    let flags = PageFlags::PRESENT | PageFlags::WRITE | PageFlags::PCD;
    // The spec maps `size` bytes of registers; 0x100 is rounded up to a page.
    vmm.map_range(
        &mut space,
        &mut frames,
        va(0xF000_0000),
        pa(0x30_0000),
        0x100,
        flags,
    )
    .unwrap();
    let t = space.translate(va(0xF000_0000)).unwrap();
    assert_eq!(t.phys, pa(0x30_0000));
    assert!(t.flags.contains(PageFlags::PCD));
    assert_eq!(vmm.stats().pages_mapped, 1);
    assert!(matches!(
        vmm.map_range(
            &mut space,
            &mut frames,
            va(0xF000_0000),
            pa(0x40_0000),
            0x1000,
            flags
        ),
        Err(VmmError::Paging(PagingError::AlreadyMapped { .. }))
    ));
    vmm.unmap_range(&mut space, &mut frames, va(0xF000_0000), 0x100)
        .unwrap();
    assert_eq!(Vmm::get_phys(&space, va(0xF000_0000)), None);
    assert_eq!(vmm.stats().pages_mapped, 0);
}

#[test]
fn maps_in_the_heap_window_are_reserved_and_must_be_unmapped_whole() {
    let rig = Rig::new();
    let mut frames = rig.frames(false);
    let mut space = rig.space(&mut frames);
    let mut vmm = Vmm::new();
    let at = va(HEAP_WINDOW_START);
    vmm.map_range(
        &mut space,
        &mut frames,
        at,
        pa(0x20_0000),
        2 * PAGE_SIZE,
        rw(),
    )
    .unwrap();
    let v = vmm.alloc(&mut space, &mut frames, 1, rw()).unwrap();
    assert_eq!(v, page(at, 2), "alloc avoids the reserved range");
    assert_eq!(
        vmm.unmap_range(&mut space, &mut frames, at, PAGE_SIZE),
        Err(VmmError::NotAMapping {
            virt: at,
            size: PAGE_SIZE
        })
    );
    assert_eq!(
        vmm.unmap_range(&mut space, &mut frames, v, PAGE_SIZE),
        Err(VmmError::NotAMapping {
            virt: v,
            size: PAGE_SIZE
        }),
        "allocations are freed with free, not unmapped"
    );
    vmm.unmap_range(&mut space, &mut frames, at, 2 * PAGE_SIZE)
        .unwrap();
    assert_eq!(vmm.alloc(&mut space, &mut frames, 1, rw()), Ok(at));
}

#[test]
fn device_mappings_keep_the_offset_and_are_uncached_and_not_executable() {
    let rig = Rig::new();
    let mut frames = rig.frames(false);
    let mut space = rig.space(&mut frames);
    let mut vmm = Vmm::new();
    let v = vmm
        .map_device(
            &mut space,
            &mut frames,
            pa(0xFEE0_0020),
            0x1000,
            CacheMode::Uncached,
        )
        .unwrap();
    assert_eq!(Window::of(v), Window::Device);
    assert_eq!(v.as_u64() & 0xfff, 0x20);
    let t = space.translate(v).unwrap();
    assert_eq!(t.phys, pa(0xFEE0_0020));
    assert!(t
        .flags
        .contains(PageFlags::PCD | PageFlags::NO_EXECUTE | PageFlags::WRITE));
    assert!(!t.flags.contains(PageFlags::PWT));
    // 0x20 + 0x1000 bytes span two pages; a guard page follows.
    assert!(space.translate(page(v.align_down(PAGE_SIZE), 1)).is_ok());
    assert!(space.translate(page(v.align_down(PAGE_SIZE), 2)).is_err());
    let w = vmm
        .map_device(
            &mut space,
            &mut frames,
            pa(0xFD00_0000),
            0x1000,
            CacheMode::WriteThrough,
        )
        .unwrap();
    assert!(space.translate(w).unwrap().flags.contains(PageFlags::PWT));
    assert_eq!(vmm.stats().device_window_bytes, 5 * PAGE_SIZE);
    vmm.unmap_device(&mut space, &mut frames, v).unwrap();
    assert_eq!(
        vmm.unmap_device(&mut space, &mut frames, v),
        Err(VmmError::NotAllocated(v))
    );
    assert_eq!(
        vmm.map_device(
            &mut space,
            &mut frames,
            pa(0xF_FFFF_FFFF_F000),
            0x2000,
            CacheMode::Uncached
        ),
        Err(VmmError::PhysRange {
            phys: pa(0xF_FFFF_FFFF_F000),
            size: 0x2000
        })
    );
    assert_eq!(vmm.stats().device_window_bytes, 2 * PAGE_SIZE);
}

#[derive(Debug, Clone)]
enum Op {
    Alloc(u64, bool),
    Free(usize),
    FreeBogus(u64),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (1u64..40, any::<bool>()).prop_map(|(n, tight)| Op::Alloc(n, tight)),
        2 => any::<usize>().prop_map(Op::Free),
        1 => (0u64..2000).prop_map(Op::FreeBogus),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(if cfg!(debug_assertions) { 24 } else { 128 }))]
    /// Random alloc / free (some with a frame budget that runs dry) against a
    /// model of the live allocations: every live page translates to its own
    /// frame holding what was written, guard pages stay unmapped, statistics
    /// agree, and at the end every frame and table is back.
    #[test]
    fn agrees_with_a_model(ops in prop::collection::vec(op(), 1..60), runs: bool) {
        let rig = Rig::new();
        let mut frames = rig.frames(runs);
        let mut space = rig.space(&mut frames);
        let mut vmm = Vmm::new();
        let tables_only = frames.pool.outstanding();
        let mut live: BTreeMap<u64, u64> = BTreeMap::new();
        let mut tag = 0u64;
        for op in ops {
            match op {
                Op::Alloc(n, tight) => {
                    frames.pool.set_budget(tight.then_some(n as usize / 2));
                    let r = vmm.alloc(&mut space, &mut frames, n, rw());
                    frames.pool.set_budget(None);
                    if let Ok(v) = r {
                        for i in 0..n {
                            tag += 1;
                            let p = Vmm::get_phys(&space, page(v, i)).unwrap();
                            prop_assert_eq!(rig.ram.read_u64(p), Some(0));
                            rig.ram.write_u64(p, tag);
                        }
                        live.insert(v.as_u64(), n);
                    }
                }
                Op::Free(k) => {
                    if live.is_empty() { continue }
                    let (&v, &n) = live.iter().nth(k % live.len()).unwrap();
                    prop_assert_eq!(vmm.free(&mut space, &mut frames, va(v)), Ok(n));
                    live.remove(&v);
                }
                Op::FreeBogus(p) => {
                    let v = va(HEAP_WINDOW_START + p * PAGE_SIZE);
                    if !live.contains_key(&v.as_u64()) {
                        prop_assert_eq!(vmm.free(&mut space, &mut frames, v), Err(VmmError::NotAllocated(v)));
                    }
                }
            }
            let mut frames_seen = std::collections::HashSet::new();
            for (&v, &n) in &live {
                for i in 0..n {
                    let p = Vmm::get_phys(&space, page(va(v), i)).unwrap();
                    prop_assert!(frames_seen.insert(p.as_u64()), "frame mapped twice");
                    prop_assert!(rig.ram.read_u64(p).unwrap() > 0, "contents survive");
                }
                prop_assert_eq!(Vmm::get_phys(&space, page(va(v), n)), None, "guard");
            }
            let pages: u64 = live.values().sum();
            let s = vmm.stats();
            prop_assert_eq!((s.pages_mapped, s.allocations, s.frames_owned), (pages, live.len() as u64, pages));
            prop_assert_eq!(vmm.check(), Ok(()));
        }
        for &v in live.keys() {
            vmm.free(&mut space, &mut frames, va(v)).unwrap();
        }
        prop_assert_eq!(frames.pool.outstanding(), tables_only);
        prop_assert_eq!(frames.run_frames_out, 0);
        prop_assert_eq!(frames.pool.bad_frees(), 0);
        prop_assert!(space.check_invariants().is_ok());
    }
}
