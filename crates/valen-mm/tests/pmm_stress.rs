//! Many threads share one `LockedPmm` over hosted RAM: each allocates
//! frames and runs, writes its tag into every frame it owns, checks the tags
//! are still its own, and frees. A frame handed to two owners at once shows
//! up as a foreign tag (and in the global ownership table).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use valen_mm::hosted::{HostedMachine, HostedRam, Preset};
use valen_mm::pmm::{LockedPmm, Pmm, ISA_DMA_LIMIT};
use valen_mm::{Frame, FrameAllocator, PhysAddr};

const THREADS: u64 = 4;
const ROUNDS: usize = if cfg!(debug_assertions) { 1500 } else { 20_000 };

fn tag(thread: u64, frame: u64) -> u64 {
    (thread + 1) << 48 | frame
}

/// Claims `[s, s + n)` in the ownership table; panics if any frame is owned.
fn claim(owners: &[AtomicU64], s: u64, n: u64, me: u64) {
    for f in s..s + n {
        let prev = owners[f as usize].swap(me + 1, Ordering::SeqCst);
        assert_eq!(prev, 0, "frame {f:#x} owned by {} and {}", prev, me + 1);
    }
}

fn release(owners: &[AtomicU64], s: u64, n: u64, me: u64) {
    for f in s..s + n {
        assert_eq!(owners[f as usize].swap(0, Ordering::SeqCst), me + 1);
    }
}

fn write_tags(ram: &HostedRam, s: u64, n: u64, me: u64) {
    for f in s..s + n {
        let a = PhysAddr::new(f * 4096).unwrap();
        assert!(ram.write_u64(a, tag(me, f)));
        assert!(ram.write_u64(PhysAddr::new(f * 4096 + 4088).unwrap(), tag(me, f)));
    }
}

fn check_tags(ram: &HostedRam, s: u64, n: u64, me: u64) {
    for f in s..s + n {
        let a = PhysAddr::new(f * 4096).unwrap();
        assert_eq!(
            ram.read_u64(a),
            Some(tag(me, f)),
            "frame {f:#x} overwritten"
        );
    }
}

#[test]
fn threads_never_share_a_frame() {
    let machine = HostedMachine::preset(Preset::Pc128M).unwrap();
    // SAFETY: fresh hosted RAM; the PMM hands frames to the threads, which
    // touch only frames they own.
    let pmm = unsafe { Pmm::from_map(&machine.map, &machine.ram) }.unwrap();
    let pmm = LockedPmm::new(pmm);
    let frames = pmm.placement().frames;
    let start_free = pmm.free_frames();
    let owners: Arc<Vec<AtomicU64>> = Arc::new((0..frames).map(|_| AtomicU64::new(0)).collect());

    std::thread::scope(|scope| {
        for me in 0..THREADS {
            let (pmm, ram, owners) = (&pmm, &machine.ram, Arc::clone(&owners));
            scope.spawn(move || {
                let mut held: Vec<(u64, u64)> = Vec::new();
                let mut x = me.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
                for round in 0..ROUNDS {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    let got = match x % 5 {
                        0 => pmm
                            .alloc_pages(1 + x % 17)
                            .unwrap()
                            .map(|f| (f, 1 + x % 17)),
                        1 => pmm.alloc_contiguous(8, 8).unwrap().map(|f| (f, 8)),
                        2 => pmm.alloc_page_below(ISA_DMA_LIMIT).map(|f| (f, 1)),
                        _ => pmm.alloc_page().map(|f| (f, 1)),
                    };
                    if let Some((f, n)) = got {
                        claim(&owners, f.number(), n, me);
                        write_tags(ram, f.number(), n, me);
                        held.push((f.number(), n));
                    }
                    if held.len() > 24 || (round % 3 == 0 && !held.is_empty()) {
                        let (s, n) = held.swap_remove((x >> 20) as usize % held.len());
                        check_tags(ram, s, n, me);
                        release(&owners, s, n, me);
                        pmm.free_pages(PhysAddr::new(s * 4096).unwrap(), n).unwrap();
                    }
                }
                for (s, n) in held {
                    check_tags(ram, s, n, me);
                    release(&owners, s, n, me);
                    pmm.free_pages(PhysAddr::new(s * 4096).unwrap(), n).unwrap();
                }
            });
        }
    });
    assert_eq!(pmm.free_frames(), start_free);
    assert_eq!(pmm.check(), Ok(()));
}

#[test]
fn locked_pmm_is_a_frame_allocator_for_threads() {
    let machine = HostedMachine::preset(Preset::Pc32M).unwrap();
    // SAFETY: fresh hosted RAM, used only through the PMM.
    let pmm = LockedPmm::new(unsafe { Pmm::from_map(&machine.map, &machine.ram) }.unwrap());
    let before = pmm.free_frames();
    std::thread::scope(|s| {
        for _ in 0..THREADS {
            s.spawn(|| {
                let mut a = &pmm;
                let frames: Vec<Frame> = (0..100).map(|_| a.allocate_frame().unwrap()).collect();
                for f in frames {
                    // SAFETY: allocated above and no longer used.
                    unsafe { a.deallocate_frame(f) };
                }
            });
        }
    });
    assert_eq!(pmm.free_frames(), before);
    assert_eq!(pmm.get_free_kb(), before * 4);
    assert_eq!(pmm.check(), Ok(()));
}
