//! Behaviour of the paging tier on the hosted machine: mapping with each page
//! size, translation, unmapping, protection, huge-page splitting, TLB flushes
//! and the tables freed when they empty.

mod paging_common;

use paging_common::*;
use valen_mm::hosted::Flush;
use valen_mm::paging::{
    AddressSpace, Mapping, PageFlags, PageSize, PagingError, FLUSH_ALL_THRESHOLD,
};

#[test]
fn map_translates_and_builds_three_tables() {
    let (ram, mmu, mut pool) = rig(true);
    let mut s = space(&ram, &mmu, &mut pool);
    let pool = &mut pool;
    s.map(va(0x40_0000), pa(0x1234_5000), rw(), pool).unwrap();
    let t = s.translate(va(0x40_0abc)).unwrap();
    assert_eq!(t.phys, pa(0x1234_5abc));
    assert_eq!(t.size, PageSize::Size4K);
    assert_eq!(t.flags, rw());
    assert_eq!(
        s.translate(va(0x40_1000)),
        Err(PagingError::NotMapped {
            virt: va(0x40_1000)
        })
    );
    let stats = s.check_invariants().unwrap();
    assert_eq!(stats.tables, 4);
    assert_eq!(stats.leaves, [1, 0, 0]);
    assert_eq!(pool.outstanding(), 4);
    // A neighbour reuses every table.
    s.map(va(0x40_1000), pa(0x9000), rw(), pool).unwrap();
    assert_eq!(pool.outstanding(), 4);
    assert!(mmu.take_flushes().is_empty(), "mapping never needs a flush");
    // Unmapping one page keeps the tables its neighbour needs...
    let m = s.unmap(va(0x40_0000), pool).unwrap();
    assert_eq!((m.phys, m.size), (pa(0x1234_5000), PageSize::Size4K));
    assert_eq!(pool.outstanding(), 4);
    // ...and the last one frees the whole chain, after flushing.
    s.unmap(va(0x40_1000), pool).unwrap();
    assert_eq!(pool.outstanding(), 1);
    assert_eq!(s.check_invariants().unwrap().tables, 1);
    assert_eq!(
        mmu.take_flushes(),
        vec![Flush::Page(va(0x40_0000)), Flush::Page(va(0x40_1000))]
    );
}

#[test]
fn map_range_picks_the_largest_page_alignment_allows() {
    for has_1g in [true, false] {
        let (ram, mmu, mut pool) = rig(has_1g);
        let mut s = space(&ram, &mmu, &mut pool);
        let pool = &mut pool;
        // 2 x 4K, then 1 GiB, then 2 MiB, then 4K.
        let start = GB1 - 2 * KB4;
        let size = 2 * KB4 + GB1 + MB2 + KB4;
        s.map_range(va(start), pa(start), size, rw(), pool).unwrap();
        let stats = s.check_invariants().unwrap();
        if has_1g {
            assert_eq!(stats.leaves, [3, 1, 1]);
        } else {
            assert_eq!(stats.leaves, [3, 513, 0]);
        }
        for probe in [
            start,
            GB1,
            GB1 + 12345,
            2 * GB1,
            2 * GB1 + MB2 - 8,
            2 * GB1 + MB2,
        ] {
            assert_eq!(s.translate(va(probe)).unwrap().phys, pa(probe));
        }
        assert!(s.translate(va(start + size)).is_err());
    }
}

#[test]
fn map_range_uses_4k_when_phys_is_misaligned_or_asked() {
    let (ram, mmu, mut pool) = rig(true);
    let mut s = space(&ram, &mmu, &mut pool);
    let pool = &mut pool;
    s.map_range(va(0), pa(0x1000), 4 * MB2, rw(), pool).unwrap();
    assert_eq!(s.check_invariants().unwrap().leaves, [4 * 512, 0, 0]);
    s.map_range_max(va(GB1), pa(0), 4 * MB2, rw(), PageSize::Size4K, pool)
        .unwrap();
    assert_eq!(s.check_invariants().unwrap().leaves, [8 * 512, 0, 0]);
    s.map_range_max(va(2 * GB1), pa(0), GB1, rw(), PageSize::Size2M, pool)
        .unwrap();
    assert_eq!(s.check_invariants().unwrap().leaves, [8 * 512, 512, 0]);
}

#[test]
fn both_canonical_halves_work() {
    let (ram, mmu, mut pool) = rig(true);
    let mut s = space(&ram, &mmu, &mut pool);
    let pool = &mut pool;
    let high = 0xffff_ffff_ffe0_0000; // the last 2 MiB of the address space
    s.map_range(va(high), pa(0x4000_0000), MB2, rw(), pool)
        .unwrap();
    let low_top = 0x0000_7fff_ffe0_0000; // the last 2 MiB of the lower half
    s.map_range(va(low_top), pa(0x20_0000), MB2, rw(), pool)
        .unwrap();
    assert_eq!(
        s.translate(va(0xffff_ffff_ffff_fff8)).unwrap().phys,
        pa(0x401f_fff8)
    );
    assert_eq!(
        s.translate(va(0x0000_7fff_ffff_f000)).unwrap().phys,
        pa(0x3f_f000)
    );
    assert_eq!(s.check_invariants().unwrap().leaves, [0, 2, 0]);
    s.unmap_range(va(high), MB2, pool, |_| {}).unwrap();
    s.unmap_range(va(low_top), MB2, pool, |_| {}).unwrap();
    assert_eq!(pool.outstanding(), 1);
}

#[test]
fn unmap_range_reports_each_leaf_and_frees_empty_tables() {
    let (ram, mmu, mut pool) = rig(true);
    let mut s = space(&ram, &mmu, &mut pool);
    let pool = &mut pool;
    s.map_range(va(GB1 - KB4), pa(0x7000_0000 - KB4), KB4 + MB2, rw(), pool)
        .unwrap();
    assert_eq!(pool.outstanding(), 5); // PML4, PDPT, 2 PDs, 1 PT
    let mut seen = Vec::new();
    let sum = s
        .unmap_range(va(GB1 - KB4), KB4 + MB2, pool, |m| seen.push(m))
        .unwrap();
    assert_eq!(sum.leaves, 2);
    assert_eq!(sum.tables_freed, 4);
    assert_eq!(
        seen,
        vec![
            Mapping {
                virt: va(GB1 - KB4),
                phys: pa(0x7000_0000 - KB4),
                size: PageSize::Size4K,
                flags: rw()
            },
            Mapping {
                virt: va(GB1),
                phys: pa(0x7000_0000),
                size: PageSize::Size2M,
                flags: rw() | PageFlags::HUGE
            },
        ]
    );
    assert_eq!(pool.outstanding(), 1);
    assert_eq!(pool.bad_frees(), 0);
    assert_eq!(s.check_invariants().unwrap().tables, 1);
    assert_eq!(
        mmu.take_flushes(),
        vec![Flush::Page(va(GB1 - KB4)), Flush::Page(va(GB1))]
    );
}

#[test]
fn unmap_of_one_page_splits_a_1g_page_down_to_4k() {
    let (ram, mmu, mut pool) = rig(true);
    let mut s = space(&ram, &mmu, &mut pool);
    let pool = &mut pool;
    s.map_range(va(GB1), pa(4 * GB1), GB1, rw(), pool).unwrap();
    mmu.take_flushes();
    let hole = GB1 + 3 * MB2 + 5 * KB4;
    let m = s.unmap(va(hole), pool).unwrap();
    assert_eq!(m.phys, pa(4 * GB1 + 3 * MB2 + 5 * KB4));
    assert_eq!(m.size, PageSize::Size4K);
    assert_eq!(s.check_invariants().unwrap().leaves, [511, 511, 0]);
    assert!(s.translate(va(hole)).is_err());
    for probe in [GB1, hole - KB4, hole + KB4, 2 * GB1 - 1] {
        assert_eq!(s.translate(va(probe)).unwrap().phys, pa(probe + 3 * GB1));
    }
    // The split itself changes page sizes, so it is flushed too.
    assert_eq!(
        mmu.take_flushes(),
        vec![
            Flush::Page(va(GB1)),
            Flush::Page(va(GB1 + 3 * MB2)),
            Flush::Page(va(hole))
        ]
    );
    // Mapping the hole again and unmapping everything frees all but the root.
    s.map(va(hole), pa(hole + 3 * GB1), rw(), pool).unwrap();
    s.unmap_range(va(GB1), GB1, pool, |_| {}).unwrap();
    assert_eq!(pool.outstanding(), 1);
}

#[test]
fn protect_splits_huge_pages_at_both_ends_and_grants_user_upwards() {
    let (ram, mmu, mut pool) = rig(true);
    let mut s = space(&ram, &mmu, &mut pool);
    let pool = &mut pool;
    s.map_range(va(0), pa(0), 4 * MB2, rw(), pool).unwrap();
    mmu.take_flushes();
    let ro_user = PageFlags::PRESENT | PageFlags::USER | PageFlags::NO_EXECUTE;
    s.protect(va(MB2 - KB4), MB2 + 2 * KB4, ro_user, pool)
        .unwrap();
    // 2 MiB pages 0 and 2 split; page 1 stays whole; page 3 untouched.
    assert_eq!(s.check_invariants().unwrap().leaves, [1024, 2, 0]);
    assert_eq!(s.translate(va(MB2 - KB4)).unwrap().flags, ro_user);
    assert_eq!(
        s.translate(va(MB2)).unwrap().flags,
        ro_user | PageFlags::HUGE
    );
    assert_eq!(s.translate(va(2 * MB2)).unwrap().flags, ro_user);
    assert_eq!(s.translate(va(2 * MB2 + KB4)).unwrap().flags, rw());
    assert_eq!(s.translate(va(MB2 - 2 * KB4)).unwrap().flags, rw());
    assert_eq!(
        s.translate(va(3 * MB2)).unwrap().flags,
        rw() | PageFlags::HUGE
    );
    // Every table above a user leaf lets user mode through.
    let root = s.root().start();
    let pml4e = ram.read_u64(root).unwrap();
    assert_ne!(pml4e & PageFlags::USER.bits(), 0);
    assert_eq!(
        mmu.take_flushes(),
        vec![
            Flush::Page(va(0)),
            Flush::Page(va(2 * MB2)),
            Flush::Page(va(MB2 - KB4)),
            Flush::Page(va(MB2)),
            Flush::Page(va(2 * MB2)),
        ]
    );
    // Same flags again: nothing changes, nothing to flush.
    s.protect(va(MB2 - KB4), MB2 + 2 * KB4, ro_user, pool)
        .unwrap();
    assert!(mmu.take_flushes().is_empty());
}

#[test]
fn large_changes_flush_everything_once() {
    let (ram, mmu, mut pool) = rig(true);
    let mut s = space(&ram, &mmu, &mut pool);
    let pool = &mut pool;
    let n = FLUSH_ALL_THRESHOLD as u64;
    s.map_range(va(0), pa(KB4), (n + 1) * KB4, rw(), pool)
        .unwrap();
    s.protect(va(0), n * KB4, PageFlags::PRESENT, pool).unwrap();
    assert_eq!(
        mmu.take_flushes().len(),
        n as usize,
        "at the threshold: one invlpg each"
    );
    s.unmap_range(va(0), (n + 1) * KB4, pool, |_| {}).unwrap();
    assert_eq!(mmu.take_flushes(), vec![Flush::All]);
}

#[test]
fn user_is_granted_to_parents_only_where_needed() {
    let (ram, mmu, mut pool) = rig(true);
    let mut s = space(&ram, &mmu, &mut pool);
    let pool = &mut pool;
    s.map(va(0x1000), pa(0x1000), rw(), pool).unwrap();
    let root = s.root().start();
    let user_bit = |raw: u64| raw & PageFlags::USER.bits() != 0;
    assert!(!user_bit(ram.read_u64(root).unwrap()));
    s.map(va(0x2000), pa(0x2000), rw() | PageFlags::USER, pool)
        .unwrap();
    let d = dump(&ram, root);
    // PML4e, PDPTe, PDe are tables: all user now; the kernel leaf is not.
    assert!(d[..3].iter().all(|&(_, _, raw)| user_bit(raw)));
    assert!(!user_bit(d[3].2));
    assert!(user_bit(d[4].2));
    let t = s.translate(va(0x1000)).unwrap();
    assert_eq!(t.flags, rw());
}

#[test]
fn activate_loads_cr3() {
    let (ram, mmu, mut pool) = rig(true);
    let s = space(&ram, &mmu, &mut pool);
    // SAFETY: the recording MMU has no real CPU behind it.
    unsafe { s.activate() };
    assert_eq!(valen_mm::arch::Mmu::root(&mmu), s.root().start());
    assert_eq!(mmu.root_writes(), 1);
}

#[test]
fn from_root_recounts_an_adopted_hierarchy() {
    let (ram, mmu, mut pool) = rig(true);
    let mut s = space(&ram, &mmu, &mut pool);
    let pool = &mut pool;
    s.map_range(va(0), pa(0), 3 * KB4 + MB2 - KB4, rw(), pool)
        .unwrap();
    let root = s.root();
    // Wipe every stored count, as a bootloader's tables would have none.
    for (table, i, raw) in dump(&ram, root.start()) {
        ram.write_u64(pa(table + 8 * i as u64), raw & !(0x3ff << 52));
    }
    assert!(s.check_invariants().is_err());
    // SAFETY: the tables are valid and came from `pool`; `s` is not used again.
    let mut adopted = unsafe { AddressSpace::from_root(&ram, &mmu, root) };
    let stats = adopted.check_invariants().unwrap();
    assert_eq!(stats.leaves, [2, 1, 0]);
    adopted
        .unmap_range(va(0), 3 * KB4 + MB2 - KB4, pool, |_| {})
        .unwrap();
    assert_eq!(pool.outstanding(), 1);
    // SAFETY: not active, every table came from `pool`.
    assert_eq!(unsafe { adopted.free_tables(pool) }, 1);
    assert_eq!(pool.outstanding(), 0);
}
