//! Differential test against an implementation nobody here wrote: after
//! random sequences, the `x86_64` crate's `OffsetPageTable::translate` walks
//! the same PML4 in simulated RAM and must give the same answer as ours for
//! every probed address (physical address, leaf flags, page size).

mod paging_common;

use paging_common::model::{action, step, Model};
use paging_common::*;
use proptest::prelude::*;
use valen_mm::hosted::HostedRam;
use valen_mm::paging::{PageSize, PagingError};
use x86_64::structures::paging::mapper::{MappedFrame, TranslateResult};
use x86_64::structures::paging::{OffsetPageTable, PageTable, Translate};

/// Compares our translation of every address in `probes` with the crate's.
fn compare(ram: &HostedRam, s: &Space<'_>, probes: &[u64]) {
    let root = s.root().start().as_u64() as usize;
    // SAFETY: the PML4 lies inside the simulated RAM, 4 KiB aligned; `s` is
    // not used to change anything while this reference lives.
    let pml4 = unsafe { &mut *ram.base().add(root).cast::<PageTable>() };
    let offset = x86_64::VirtAddr::new(ram.base() as u64);
    // SAFETY: all of the simulated RAM is mapped at `offset`, and every table
    // the walk can reach lies inside it.
    let theirs = unsafe { OffsetPageTable::new(pml4, offset) };
    for &v in probes {
        let ours = s.translate(va(v));
        let peer = theirs.translate(x86_64::VirtAddr::new(v));
        match (ours, peer) {
            (Err(PagingError::NotMapped { .. }), TranslateResult::NotMapped) => {}
            (
                Ok(t),
                TranslateResult::Mapped {
                    frame,
                    offset,
                    flags,
                },
            ) => {
                assert_eq!(
                    t.phys.as_u64(),
                    frame.start_address().as_u64() + offset,
                    "phys of {v:#x}"
                );
                assert_eq!(t.flags.bits(), flags.bits(), "flags of {v:#x}");
                let size = match frame {
                    MappedFrame::Size4KiB(_) => PageSize::Size4K,
                    MappedFrame::Size2MiB(_) => PageSize::Size2M,
                    MappedFrame::Size1GiB(_) => PageSize::Size1G,
                };
                assert_eq!(t.size, size, "page size at {v:#x}");
            }
            (ours, peer) => panic!("{v:#x}: ours {ours:?}, x86_64 {peer:?}"),
        }
    }
}

fn cases() -> u32 {
    if cfg!(debug_assertions) {
        32
    } else {
        256
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    #[test]
    fn x86_64_crate_reads_our_tables_the_same_way(
        has_1g in any::<bool>(),
        actions in proptest::collection::vec(action(), 1..40),
        extra in proptest::collection::vec(0..1u64 << 32, 16),
    ) {
        let (ram, mmu, mut pool) = rig(has_1g);
        let mut s = space(&ram, &mmu, &mut pool);
        let mut m = Model::default();
        for a in &actions {
            step(&mut s, &mut pool, &mut m, a);
            compare(&ram, &s, &m.probes(&extra));
        }
    }
}

#[test]
fn every_page_size_in_both_halves() {
    let (ram, mmu, mut pool) = rig(true);
    let mut s = space(&ram, &mmu, &mut pool);
    let p = &mut pool;
    let high = 0xffff_8000_0000_0000;
    s.map_range(
        va(high + GB1 - KB4),
        pa(GB1 - KB4),
        GB1 + MB2 + 2 * KB4,
        rw(),
        p,
    )
    .unwrap();
    s.map_range(
        va(GB1 - KB4),
        pa(7 * GB1 - KB4),
        GB1 + MB2 + 2 * KB4,
        rw(),
        p,
    )
    .unwrap();
    s.unmap(va(high + GB1 + 5 * MB2 + KB4), p).unwrap();
    let mut probes = Vec::new();
    for base in [0, high] {
        for off in [
            GB1 - KB4,
            GB1,
            GB1 + 5 * MB2 + KB4,
            2 * GB1 - 8,
            2 * GB1,
            2 * GB1 + MB2,
            2 * GB1 + MB2 + KB4,
        ] {
            probes.push(base + off);
        }
    }
    compare(&ram, &s, &probes);
}
