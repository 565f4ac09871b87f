//! The PMM in the kernel: what it never hands out, its statistics, misuse,
//! runs, and every free frame allocated and given back.

use super::{Ctx, Done, Outcome, Test};
use crate::{check, fail, mm_parts, out};
use core::cell::UnsafeCell;
use valen_mm::pmm::{PmmError, ISA_DMA_LIMIT};
use valen_mm::{PhysAddr, RegionKind, PAGE_SIZE};

/// The PMM tests.
pub const TESTS: &[Test] = &[
    Test {
        name: "pmm::never_hands_out_reserved_frames",
        run: never_hands_out_reserved,
    },
    Test {
        name: "pmm::statistics_add_up",
        run: statistics_add_up,
    },
    Test {
        name: "pmm::double_free_reported",
        run: double_free_reported,
    },
    Test {
        name: "pmm::aligned_run_and_dma_limit",
        run: aligned_run_and_dma_limit,
    },
    Test {
        name: "pmm::allocate_every_free_frame",
        run: allocate_every_free_frame,
    },
];

fn never_hands_out_reserved(ctx: &Ctx<'_>) -> Outcome {
    mm_parts!(mm => _vmm, _space, pmm);
    let bitmap = pmm.placement();
    let (bs, be) = bitmap
        .phys
        .map_or((0, 0), |p| (p.as_u64(), p.as_u64() + bitmap.bytes));
    let mut got = [PhysAddr::ZERO; 256];
    for slot in got.iter_mut() {
        let Some(f) = pmm.alloc_page() else {
            fail!("out of frames after fewer than 256");
        };
        let a = f.start().as_u64();
        check!(a >= 2 << 20, "a frame below 2 MiB: {a:#x}");
        check!(
            ctx.boot.map.kind_at(f.start()) == Some(RegionKind::Usable),
            "frame {a:#x} is {:?}",
            ctx.boot.map.kind_at(f.start())
        );
        check!(
            !(bs..be).contains(&a),
            "frame {a:#x} is inside the bitmap [{bs:#x}, {be:#x})"
        );
        *slot = f.start();
    }
    for a in got {
        let r = pmm.free_page(a);
        check!(r.is_ok(), "free {a}: {r:?}");
    }
    Ok(Done::Pass)
}

fn statistics_add_up(ctx: &Ctx<'_>) -> Outcome {
    mm_parts!(mm => _vmm, _space, pmm);
    let (total, used, free) = (pmm.total_kb(), pmm.used_kb(), pmm.free_kb());
    check!(
        total == used + free,
        "total {total} KiB != used {used} + free {free}"
    );
    check!(
        pmm.free_frames() * 4 == free,
        "{} free frames but {free} KiB free",
        pmm.free_frames()
    );
    let usable = ctx.boot.firmware_map.usable_bytes() / 1024;
    check!(
        total <= usable,
        "total {total} KiB > the firmware's usable {usable} KiB"
    );
    let r = pmm.check();
    check!(
        r.is_ok(),
        "bitmap summaries disagree with the bitmap: {r:?}"
    );
    Ok(Done::Pass)
}

fn double_free_reported(_: &Ctx<'_>) -> Outcome {
    mm_parts!(mm => _vmm, _space, pmm);
    let Some(f) = pmm.alloc_page() else {
        fail!("no frame");
    };
    check!(pmm.free_page(f.start()).is_ok(), "first free");
    let free = pmm.free_frames();
    let r = pmm.free_page(f.start());
    check!(
        matches!(r, Err(PmmError::DoubleFree { addr }) if addr == f.start().as_u64()),
        "double free: {r:?}"
    );
    check!(
        pmm.free_frames() == free,
        "the refused free changed the count"
    );
    let r = pmm.free_page(PhysAddr::new_truncate(0x1000));
    check!(r.is_err(), "freeing 0x1000 (below 2 MiB) was accepted");
    Ok(Done::Pass)
}

fn aligned_run_and_dma_limit(_: &Ctx<'_>) -> Outcome {
    mm_parts!(mm => _vmm, _space, pmm);
    match pmm.alloc_contiguous(512, 512) {
        Ok(Some(run)) => {
            check!(
                run.start().is_aligned(2 << 20),
                "2 MiB run at {} is not 2 MiB aligned",
                run.start()
            );
            check!(pmm.free_pages(run.start(), 512).is_ok(), "free_pages");
        }
        Ok(None) => out!("no free 2 MiB-aligned 2 MiB run on this machine"),
        Err(e) => fail!("alloc_contiguous(512, 512): {e:?}"),
    }
    if let Some(f) = pmm.alloc_page_below(ISA_DMA_LIMIT) {
        check!(
            f.start() < ISA_DMA_LIMIT,
            "{} is not below 16 MiB",
            f.start()
        );
        check!(pmm.free_page(f.start()).is_ok(), "free");
    }
    Ok(Done::Pass)
}

/// Runs of frames the big test took, as `(first, end)` frame numbers: the
/// frames themselves are never touched (that would make QEMU back every
/// page of a 16 GiB guest).
struct Runs(UnsafeCell<[(u64, u64); MAX_RUNS]>);
// SAFETY: used by the test runner alone (one CPU, one thread).
unsafe impl Sync for Runs {}
const MAX_RUNS: usize = 4096;
static RUNS: Runs = Runs(UnsafeCell::new([(0, 0); MAX_RUNS]));

fn allocate_every_free_frame(_: &Ctx<'_>) -> Outcome {
    mm_parts!(mm => _vmm, _space, pmm);
    // SAFETY: only this test touches RUNS, and it does not re-enter.
    let runs = unsafe { &mut *RUNS.0.get() };
    let free = pmm.free_frames();
    let (mut n, mut count) = (0usize, 0u64);
    while let Some(f) = pmm.alloc_page() {
        let num = f.number();
        count += 1;
        if n > 0 && runs[n - 1].1 == num {
            runs[n - 1].1 += 1;
            continue;
        }
        if n == MAX_RUNS {
            // Give back what we hold before failing.
            for &(s, e) in runs.iter() {
                let _ = pmm.free_pages(PhysAddr::new_truncate(s * PAGE_SIZE), e - s);
            }
            let _ = pmm.free_page(f.start());
            fail!("frames came in more than {MAX_RUNS} runs");
        }
        runs[n] = (num, num + 1);
        n += 1;
    }
    out!(
        "allocated {count} frames ({} MiB) in {n} runs; the PMM then had {} free",
        (count * PAGE_SIZE) >> 20,
        pmm.free_frames()
    );
    let empty = pmm.free_frames();
    let used_kb = pmm.used_kb();
    for &(s, e) in &runs[..n] {
        let r = pmm.free_pages(PhysAddr::new_truncate(s * PAGE_SIZE), e - s);
        check!(
            r.is_ok(),
            "free_pages({:#x}, {}): {r:?}",
            s * PAGE_SIZE,
            e - s
        );
    }
    check!(
        count == free,
        "allocated {count} frames, the statistics said {free} were free"
    );
    check!(
        empty == 0,
        "{empty} frames still free after allocating until None"
    );
    check!(
        used_kb == pmm.total_kb(),
        "used {used_kb} KiB of {} while full",
        pmm.total_kb()
    );
    check!(
        pmm.free_frames() == free,
        "{} free after freeing all, {free} before",
        pmm.free_frames()
    );
    let r = pmm.check();
    check!(r.is_ok(), "bitmap check: {r:?}");
    Ok(Done::Pass)
}
