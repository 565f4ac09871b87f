//! Every bad input to the PMM gets its own error, and changes nothing.

use valen_mm::hosted::{HostedMachine, Preset};
use valen_mm::pmm::{Pmm, PmmError, PmmInitError};
use valen_mm::{MemoryMap, PhysAddr, RegionKind};

const MIB: u64 = 1 << 20;

fn pa(a: u64) -> PhysAddr {
    PhysAddr::new(a).unwrap()
}

/// Everything observable: statistics and the state of every frame.
fn snapshot(p: &Pmm<'_>) -> (u64, u64, u64, Vec<bool>) {
    let frames = p.ram_end().as_u64() / 4096;
    let states = (0..frames)
        .map(|f| p.is_free(pa(f * 4096)).unwrap())
        .collect();
    (p.total_frames(), p.used_frames(), p.free_frames(), states)
}

/// A pc-32M machine with a kernel image at [2 MiB, 3 MiB) and boot data at
/// [3 MiB, 3 MiB + 64 KiB); a few frames allocated.
fn with_pmm(f: impl FnOnce(&mut Pmm<'_>)) {
    let mut map = Preset::Pc32M.map();
    map.reserve(2 * MIB, 3 * MIB, RegionKind::KernelImage)
        .unwrap();
    map.reserve(3 * MIB, 3 * MIB + 0x1_0000, RegionKind::BootData)
        .unwrap();
    let m = HostedMachine::new(map.clone()).unwrap();
    // SAFETY: fresh hosted RAM, used only by this PMM.
    let mut p = unsafe { Pmm::from_map(&map, &m.ram) }.unwrap();
    p.alloc_page().unwrap();
    p.alloc_pages(5).unwrap().unwrap();
    f(&mut p);
}

#[test]
fn every_bad_input_is_rejected_and_changes_nothing() {
    with_pmm(|p| {
        let end = p.ram_end().as_u64();
        let bitmap = p.placement().phys.unwrap().as_u64();
        let free = p.alloc_page().unwrap().start().as_u64();
        let used = p.alloc_page().unwrap().start().as_u64();
        assert_eq!(used, free + 4096);
        p.free_page(pa(free)).unwrap();
        let total = p.total_frames();
        let cases: Vec<(&str, Result<(), PmmError>, PmmError)> = vec![
            (
                "unaligned free",
                p.free_page(pa(used + 8)),
                PmmError::Unaligned { addr: used + 8 },
            ),
            (
                "unaligned run",
                p.free_pages(pa(used + 1), 2),
                PmmError::Unaligned { addr: used + 1 },
            ),
            (
                "unaligned mark",
                p.mark_used(pa(free + 0x800)),
                PmmError::Unaligned { addr: free + 0x800 },
            ),
            (
                "outside RAM",
                p.free_page(pa(end)),
                PmmError::OutsideRam {
                    addr: end,
                    ram_end: end,
                },
            ),
            (
                "far outside",
                p.mark_free(pa(1 << 40)),
                PmmError::OutsideRam {
                    addr: 1 << 40,
                    ram_end: end,
                },
            ),
            (
                "run past RAM",
                p.free_pages(pa(end - 4096), 2),
                PmmError::OutsideRam {
                    addr: end,
                    ram_end: end,
                },
            ),
            (
                "below 2 MiB",
                p.free_page(pa(0x1000)),
                PmmError::BelowMinimum { addr: 0x1000 },
            ),
            (
                "below 2 MiB mark",
                p.mark_used(pa(0x10_0000)),
                PmmError::BelowMinimum { addr: 0x10_0000 },
            ),
            (
                "kernel image",
                p.free_page(pa(2 * MIB)),
                PmmError::Reserved { addr: 2 * MIB },
            ),
            (
                "boot data",
                p.mark_free(pa(3 * MIB)),
                PmmError::Reserved { addr: 3 * MIB },
            ),
            (
                "the bitmap",
                p.free_page(pa(bitmap)),
                PmmError::Reserved { addr: bitmap },
            ),
            (
                "into a hole",
                p.free_pages(pa(3 * MIB - 4096), 2),
                PmmError::Reserved {
                    addr: 3 * MIB - 4096,
                },
            ),
            (
                "double free",
                p.free_page(pa(free)),
                PmmError::DoubleFree { addr: free },
            ),
            (
                "run partly free",
                p.free_pages(pa(used), 2),
                PmmError::DoubleFree { addr: used + 4096 },
            ),
            (
                "mark_free of free",
                p.mark_free_range(pa(free), 1),
                PmmError::DoubleFree { addr: free },
            ),
            (
                "mark_used of used",
                p.mark_used(pa(used)),
                PmmError::AlreadyUsed { addr: used },
            ),
            (
                "range partly used",
                p.mark_used_range(pa(used - 4096), 3),
                PmmError::AlreadyUsed { addr: used },
            ),
            (
                "zero-frame free",
                p.free_pages(pa(used), 0),
                PmmError::ZeroCount,
            ),
            (
                "zero-frame mark",
                p.mark_used_range(pa(free), 0),
                PmmError::ZeroCount,
            ),
            (
                "free larger than RAM",
                p.free_pages(pa(used), total + 1),
                PmmError::CountTooLarge {
                    count: total + 1,
                    total,
                },
            ),
        ];
        for (name, got, want) in cases {
            assert_eq!(got, Err(want), "{name}");
        }
    });
}

/// A call that should be rejected; `true` if it was.
type Call = Box<dyn Fn(&mut Pmm<'_>) -> bool>;

#[test]
fn rejected_calls_leave_every_frame_as_it_was() {
    with_pmm(|p| {
        let used = p.alloc_page().unwrap().start().as_u64();
        let before = snapshot(p);
        let total = p.total_frames();
        let calls: Vec<Call> = vec![
            Box::new(move |p| p.free_pages(pa(used), 3).is_err()),
            Box::new(move |p| p.mark_used_range(pa(used - 8192), 3).is_err()),
            Box::new(move |p| p.free_pages(pa(2 * MIB - 4096), 2).is_err()),
            Box::new(move |p| p.mark_free_range(pa(used), total + 1).is_err()),
            Box::new(|p| p.alloc_pages(0).is_err()),
            Box::new(move |p| p.alloc_pages(total + 1).is_err()),
            Box::new(|p| p.alloc_contiguous(4, 3).is_err()),
            Box::new(|p| p.alloc_contiguous(4, 0).is_err()),
            Box::new(|p| p.free_page(pa(0)).is_err()),
        ];
        for (i, call) in calls.iter().enumerate() {
            assert!(call(p), "call {i} should fail");
            assert_eq!(snapshot(p), before, "call {i} changed the PMM");
            assert_eq!(p.check(), Ok(()));
        }
    });
}

#[test]
fn allocation_errors_and_out_of_memory() {
    with_pmm(|p| {
        let total = p.total_frames();
        assert_eq!(p.alloc_pages(0), Err(PmmError::ZeroCount));
        assert_eq!(p.alloc_contiguous(0, 1), Err(PmmError::ZeroCount));
        assert_eq!(
            p.alloc_pages(total + 1),
            Err(PmmError::CountTooLarge {
                count: total + 1,
                total
            })
        );
        assert_eq!(
            p.alloc_contiguous(2, 3),
            Err(PmmError::BadAlignment { align: 3 })
        );
        assert_eq!(
            p.alloc_contiguous(2, 0),
            Err(PmmError::BadAlignment { align: 0 })
        );
        // Not a hard error: simply no such run.
        assert_eq!(p.alloc_pages(total), Ok(None));
        while p.alloc_page().is_some() {}
        assert_eq!(p.free_frames(), 0);
        assert_eq!(p.alloc_page(), None);
        assert_eq!(p.alloc_pages(2), Ok(None));
        assert_eq!(p.alloc_page_below(PhysAddr::new(16 * MIB).unwrap()), None);
        assert_eq!(p.check(), Ok(()));
    });
}

#[test]
fn init_errors() {
    let ram = valen_mm::hosted::HostedRam::new(64 * MIB).unwrap();
    // SAFETY: nothing is created on failure; the RAM is fresh.
    let empty = unsafe { Pmm::from_map(&MemoryMap::new(), &ram) };
    assert_eq!(empty.err(), Some(PmmInitError::NoUsableRam));

    // Usable RAM only below 2 MiB: nowhere to put the bitmap.
    let mut low = MemoryMap::new();
    low.push(0, 0x9_f000, RegionKind::Usable).unwrap();
    // SAFETY: as above.
    let r = unsafe { Pmm::from_map(&low, &ram) };
    assert!(matches!(
        r.err(),
        Some(PmmInitError::NoRoomForBitmap { .. })
    ));

    let mut small = [0u64; 4];
    let r = Pmm::new_in(&mut small, &Preset::Pc10M.map());
    assert!(matches!(
        r.err(),
        Some(PmmInitError::StorageTooSmall { given: 4, .. })
    ));

    let mut store = vec![0u64; 1024];
    let v = valen_mm::VirtAddr::from_ptr(store.as_mut_ptr()).as_u64() + 4;
    // SAFETY: rejected before anything is touched.
    let r = unsafe { Pmm::init(valen_mm::VirtAddr::new(v).unwrap(), 32 * MIB) };
    assert_eq!(r.err(), Some(PmmInitError::MisalignedBitmap { addr: v }));
    // SAFETY: rejected before anything is touched.
    let r = unsafe { Pmm::init(valen_mm::VirtAddr::new(v - 4).unwrap(), 1 << 53) };
    assert_eq!(r.err(), Some(PmmInitError::TooMuchRam { bytes: 1 << 53 }));
}
