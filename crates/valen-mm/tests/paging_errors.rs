//! Every paging error, and the all-or-nothing promise: after each failure the
//! tables are byte-for-byte as before and every frame taken was given back.

mod paging_common;

use paging_common::*;
use valen_mm::addr::VirtAddr;
use valen_mm::arch::Mmu;
use valen_mm::hosted::{FramePool, HostedRam, RecordingMmu};
use valen_mm::paging::{AddressSpace, FlagProblem, Mapping, PageFlags, PageSize, PagingError};
use valen_mm::PhysAddr;

/// Runs `op` on `s` and checks that it failed with `want` and changed nothing.
fn fails_cleanly<M: Mmu>(
    ram: &HostedRam,
    s: &mut AddressSpace<&HostedRam, M>,
    pool: &mut FramePool,
    want: PagingError,
    op: impl FnOnce(&mut AddressSpace<&HostedRam, M>, &mut FramePool) -> Result<(), PagingError>,
) {
    let before = dump(ram, s.root().start());
    let out = pool.outstanding();
    assert_eq!(op(s, pool), Err(want));
    assert_eq!(
        dump(ram, s.root().start()),
        before,
        "tables changed by a failed call"
    );
    assert_eq!(pool.outstanding(), out, "frames leaked by a failed call");
    assert_eq!(pool.bad_frees(), 0);
    s.check_invariants().unwrap();
}

#[test]
fn bad_addresses_and_sizes() {
    let (ram, mmu, mut pool) = rig(true);
    let mut s = space(&ram, &mmu, &mut pool);
    let p = &mut pool;
    s.map(va(0x5000), pa(0x5000), rw(), p).unwrap();
    let cases: Vec<(PagingError, u64, u64, u64)> = vec![
        (PagingError::UnalignedVirt(va(0x1001)), 0x1001, 0, KB4),
        (PagingError::UnalignedPhys(pa(0x10)), 0x1000, 0x10, KB4),
        (PagingError::UnalignedSize(100), 0x1000, 0, 100),
        (PagingError::ZeroSize, 0x1000, 0, 0),
        (
            PagingError::NonCanonical {
                start: va(0x7fff_ffff_f000),
                size: 2 * KB4,
            },
            0x7fff_ffff_f000,
            0,
            2 * KB4,
        ),
        (
            PagingError::NonCanonical {
                start: va(0xffff_ffff_ffff_f000),
                size: 2 * KB4,
            },
            0xffff_ffff_ffff_f000,
            0,
            2 * KB4,
        ),
        (
            PagingError::PhysOverflow {
                start: pa(PhysAddr::LIMIT - KB4),
                size: 2 * KB4,
            },
            0x1000,
            PhysAddr::LIMIT - KB4,
            2 * KB4,
        ),
    ];
    for (want, v, ph, size) in cases {
        let v = VirtAddr::new(v).unwrap();
        fails_cleanly(&ram, &mut s, p, want, |s, p| {
            s.map_range(v, PhysAddr::new(ph).unwrap(), size, rw(), p)
        });
    }
    fails_cleanly(
        &ram,
        &mut s,
        p,
        PagingError::UnalignedVirt(va(0x5008)),
        |s, p| s.map(va(0x5008), pa(0x5000), rw(), p),
    );
    fails_cleanly(
        &ram,
        &mut s,
        p,
        PagingError::UnalignedPhys(pa(0x5008)),
        |s, p| s.map(va(0x6000), pa(0x5008), rw(), p),
    );
    fails_cleanly(
        &ram,
        &mut s,
        p,
        PagingError::UnalignedVirt(va(0x5008)),
        |s, p| s.unmap(va(0x5008), p).map(|_| ()),
    );
    fails_cleanly(&ram, &mut s, p, PagingError::ZeroSize, |s, p| {
        s.protect(va(0x5000), 0, rw(), p)
    });
    // The very last page of each half is fine.
    s.map_range(va(0x7fff_ffff_f000), pa(0), KB4, rw(), p)
        .unwrap();
    s.map_range(va(0xffff_ffff_ffff_f000), pa(0), KB4, rw(), p)
        .unwrap();
}

/// An MMU without NX support.
struct NoNx(RecordingMmu);

impl Mmu for NoNx {
    fn flush_page(&self, a: VirtAddr) {
        self.0.flush_page(a)
    }
    fn flush_all(&self) {
        self.0.flush_all()
    }
    fn root(&self) -> PhysAddr {
        self.0.root()
    }
    unsafe fn set_root(&self, p: PhysAddr) {
        // SAFETY: forwarded; the recording MMU has no real CPU behind it.
        unsafe { self.0.set_root(p) }
    }
    fn has_1g_pages(&self) -> bool {
        self.0.has_1g_pages()
    }
    fn has_nx(&self) -> bool {
        false
    }
}

#[test]
fn bad_flags() {
    let (ram, _, mut pool) = rig(true);
    let mmu = NoNx(RecordingMmu::new(true));
    let mut s = AddressSpace::new(&ram, &mmu, &mut pool).unwrap();
    let p = &mut pool;
    s.map(va(0x5000), pa(0x5000), rw(), p).unwrap();
    for (flags, problem) in [
        (PageFlags::WRITE, FlagProblem::NotPresent),
        (rw() | PageFlags::HUGE, FlagProblem::Huge),
        (
            rw() | PageFlags::NO_EXECUTE,
            FlagProblem::NoExecuteUnsupported,
        ),
    ] {
        let want = PagingError::BadFlags { flags, problem };
        fails_cleanly(&ram, &mut s, p, want, |s, p| {
            s.map(va(0x6000), pa(0), flags, p)
        });
        fails_cleanly(&ram, &mut s, p, want, |s, p| {
            s.map_range(va(0x6000), pa(0), KB4, flags, p)
        });
        fails_cleanly(&ram, &mut s, p, want, |s, p| {
            s.protect(va(0x5000), KB4, flags, p)
        });
    }
}

#[test]
fn already_mapped_and_huge_page_in_the_way() {
    let (ram, mmu, mut pool) = rig(true);
    let mut s = space(&ram, &mmu, &mut pool);
    let p = &mut pool;
    s.map(va(0x40_5000), pa(0x9000), rw(), p).unwrap();
    s.map_range(va(0x80_0000), pa(0x20_0000), MB2, rw(), p)
        .unwrap();
    let small = Mapping {
        virt: va(0x40_5000),
        phys: pa(0x9000),
        size: PageSize::Size4K,
        flags: rw(),
    };
    let huge = Mapping {
        virt: va(0x80_0000),
        phys: pa(0x20_0000),
        size: PageSize::Size2M,
        flags: rw() | PageFlags::HUGE,
    };
    fails_cleanly(
        &ram,
        &mut s,
        p,
        PagingError::AlreadyMapped {
            virt: va(0x40_5000),
            existing: small,
        },
        |s, p| s.map(va(0x40_5000), pa(0x1000), rw(), p),
    );
    // A range that runs into the page after mapping (and creating tables for)
    // a good part of itself: everything it did is undone, USER bits included.
    fails_cleanly(
        &ram,
        &mut s,
        p,
        PagingError::AlreadyMapped {
            virt: va(0x40_5000),
            existing: small,
        },
        |s, p| s.map_range(va(0x3f_0000), pa(0), 0x2_0000, rw() | PageFlags::USER, p),
    );
    // 2 MiB at 0 goes in, then the PT holding 0x405000 is in the way.
    fails_cleanly(
        &ram,
        &mut s,
        p,
        PagingError::AlreadyMapped {
            virt: va(0x40_5000),
            existing: small,
        },
        |s, p| s.map_range(va(0), pa(0), 4 * MB2, rw(), p),
    );
    fails_cleanly(
        &ram,
        &mut s,
        p,
        PagingError::AlreadyMapped {
            virt: va(0x80_0000),
            existing: huge,
        },
        |s, p| s.map_range(va(0x60_0000), pa(0), 2 * MB2, rw(), p),
    );
    fails_cleanly(
        &ram,
        &mut s,
        p,
        PagingError::HugePageInTheWay {
            virt: va(0x80_3000),
            huge,
        },
        |s, p| s.map(va(0x80_3000), pa(0), rw(), p),
    );
    fails_cleanly(
        &ram,
        &mut s,
        p,
        PagingError::HugePageInTheWay {
            virt: va(0x80_0000),
            huge,
        },
        |s, p| s.map_range(va(0x7f_f000), pa(0x1000), 2 * KB4, rw(), p),
    );
}

#[test]
fn not_mapped() {
    let (ram, mmu, mut pool) = rig(true);
    let mut s = space(&ram, &mmu, &mut pool);
    let p = &mut pool;
    s.map_range(va(0), pa(0), 4 * MB2, rw(), p).unwrap();
    s.unmap(va(MB2 + 7 * KB4), p).unwrap();
    let hole = PagingError::NotMapped {
        virt: va(MB2 + 7 * KB4),
    };
    fails_cleanly(&ram, &mut s, p, hole, |s, p| {
        s.unmap(va(MB2 + 7 * KB4), p).map(|_| ())
    });
    // The huge pages at both ends would need splitting: nothing is split.
    fails_cleanly(&ram, &mut s, p, hole, |s, p| {
        s.unmap_range(va(KB4), 3 * MB2, p, |_| {}).map(|_| ())
    });
    fails_cleanly(&ram, &mut s, p, hole, |s, p| {
        s.protect(va(KB4), 3 * MB2, PageFlags::PRESENT, p)
    });
    let far = PagingError::NotMapped { virt: va(4 * MB2) };
    fails_cleanly(&ram, &mut s, p, far, |s, p| {
        s.unmap_range(va(3 * MB2), 2 * MB2, p, |_| {}).map(|_| ())
    });
    assert_eq!(
        mmu.take_flushes().len(),
        2,
        "only the successful unmap flushed"
    );
}

#[test]
fn out_of_frames_for_new_and_map() {
    let (ram, mmu, mut pool) = rig(true);
    pool.set_budget(Some(0));
    assert_eq!(
        AddressSpace::new(&ram, &mmu, &mut pool).err(),
        Some(PagingError::OutOfFrames { obtained: 0 })
    );
    pool.set_budget(None);
    let mut s = space(&ram, &mmu, &mut pool);
    let p = &mut pool;
    p.set_budget(Some(2));
    fails_cleanly(
        &ram,
        &mut s,
        p,
        PagingError::OutOfFrames { obtained: 2 },
        |s, p| s.map(va(0x1000), pa(0x1000), rw(), p),
    );
    p.set_budget(Some(3));
    s.map(va(0x1000), pa(0x1000), rw(), p).unwrap();
}

#[test]
fn out_of_frames_in_the_middle_of_a_1g_map_range() {
    let (ram, mmu, mut pool) = rig(true);
    let mut s = space(&ram, &mmu, &mut pool);
    let p = &mut pool;
    // Something already there, so the walk goes through existing tables too.
    s.map(va(3 * GB1 + 0x3000), pa(0x3000), rw() | PageFlags::USER, p)
        .unwrap();
    s.map(va(3 * GB1 + 5 * MB2), pa(0x3000), rw(), p).unwrap();
    // 4 KiB-granular 1 GiB (phys misaligned by 4 KiB) needs a PD and 512 PTs.
    for budget in [0, 1, 2, 100, 511, 512] {
        p.set_budget(Some(budget));
        fails_cleanly(
            &ram,
            &mut s,
            p,
            PagingError::OutOfFrames {
                obtained: budget as u64,
            },
            |s, p| s.map_range(va(GB1), pa(KB4), GB1, rw() | PageFlags::USER, p),
        );
    }
    // Running dry inside a range that shares tables with existing mappings.
    p.set_budget(Some(3));
    fails_cleanly(
        &ram,
        &mut s,
        p,
        PagingError::OutOfFrames { obtained: 3 },
        |s, p| {
            s.map_range(
                va(3 * GB1 + 0x4000),
                pa(KB4),
                10 * MB2,
                rw() | PageFlags::USER,
                p,
            )
        },
    );
    p.set_budget(Some(513));
    s.map_range(va(GB1), pa(KB4), GB1, rw(), p).unwrap();
    assert_eq!(s.check_invariants().unwrap().leaves, [512 * 512 + 2, 0, 0]);
}

#[test]
fn out_of_frames_while_splitting_undoes_the_splits() {
    let (ram, mmu, mut pool) = rig(true);
    let mut s = space(&ram, &mmu, &mut pool);
    let p = &mut pool;
    s.map_range(va(GB1), pa(0), GB1, rw(), p).unwrap();
    mmu.take_flushes();
    // First end needs 2 frames (1G -> 2M -> 4K), second end 1 more.
    let (start, size) = (GB1 + KB4, GB1 - 2 * KB4);
    for budget in [0, 1, 2] {
        p.set_budget(Some(budget));
        let want = PagingError::OutOfFrames {
            obtained: if budget == 2 { 0 } else { budget as u64 },
        };
        fails_cleanly(&ram, &mut s, p, want, |s, p| {
            s.unmap_range(va(start), size, p, |_| {}).map(|_| ())
        });
        p.set_budget(Some(budget));
        fails_cleanly(&ram, &mut s, p, want, |s, p| {
            s.protect(va(start), size, PageFlags::PRESENT, p)
        });
    }
    // Splits that were undone were flushed (the CPU may have cached them).
    assert!(!mmu.take_flushes().is_empty());
    p.set_budget(Some(3));
    s.unmap_range(va(start), size, p, |_| {}).unwrap();
    assert_eq!(s.check_invariants().unwrap().leaves, [2, 0, 0]);
}
