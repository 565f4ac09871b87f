//! Unit tests of the pieces under the address space: range checks, flush
//! batching, the deferred-free stack, and how often a range walk touches
//! tables (once per table, not once per page).

use super::flush::FlushBatch;
use super::space::{check_virt_range, intermediate_flags, leaf_mapping};
use super::table::FrameStack;
use super::*;
use crate::addr::{PhysAddr, VirtAddr};
use crate::arch::PhysMapper;
use crate::frame_alloc::FrameAllocator;
use crate::hosted::{Flush, FramePool, HostedRam, RecordingMmu};
use core::cell::Cell;

fn va(a: u64) -> VirtAddr {
    VirtAddr::new(a).unwrap()
}

fn pa(a: u64) -> PhysAddr {
    PhysAddr::new(a).unwrap()
}

#[test]
fn virtual_ranges_stay_in_one_canonical_half() {
    assert_eq!(check_virt_range(va(0), 4096), Ok(()));
    assert_eq!(check_virt_range(va(0x7fff_ffff_f000), 4096), Ok(()));
    assert_eq!(check_virt_range(va(0xffff_ffff_ffff_f000), 4096), Ok(()));
    let cross = PagingError::NonCanonical {
        start: va(0x7fff_ffff_f000),
        size: 8192,
    };
    assert_eq!(check_virt_range(va(0x7fff_ffff_f000), 8192), Err(cross));
    assert!(check_virt_range(va(0xffff_ffff_ffff_f000), 8192).is_err());
    assert!(check_virt_range(va(0x1000), !0xfff).is_err());
    assert_eq!(check_virt_range(va(0x1000), 0), Err(PagingError::ZeroSize));
}

#[test]
fn parents_are_permissive_and_user_only_when_asked() {
    let kernel = PageFlags::PRESENT | PageFlags::NO_EXECUTE | PageFlags::PCD;
    assert_eq!(
        intermediate_flags(kernel),
        PageFlags::PRESENT | PageFlags::WRITE
    );
    assert_eq!(
        intermediate_flags(PageFlags::PRESENT | PageFlags::USER),
        PageFlags::PRESENT | PageFlags::WRITE | PageFlags::USER
    );
    let e = Entry::from_raw(0x4000_0000 | 0x83);
    let m = leaf_mapping(e, 3, 0x7fff_1234).unwrap();
    assert_eq!((m.virt, m.size), (va(0x4000_0000), PageSize::Size1G));
    assert_eq!(leaf_mapping(e, 4, 0), None);
}

#[test]
fn flush_batch_switches_to_a_full_flush_past_the_threshold() {
    let mmu = RecordingMmu::new(true);
    let mut b = FlushBatch::new();
    for i in 0..FLUSH_ALL_THRESHOLD as u64 {
        b.add(i * 4096);
    }
    b.finish(&mmu);
    assert_eq!(mmu.take_flushes().len(), FLUSH_ALL_THRESHOLD);
    for i in 0..=FLUSH_ALL_THRESHOLD as u64 {
        b.add(i * 4096);
    }
    b.finish(&mmu);
    assert_eq!(mmu.take_flushes(), vec![Flush::All]);
    b.finish(&mmu);
    assert!(mmu.take_flushes().is_empty(), "finish empties the batch");
}

#[test]
fn frame_stack_gives_every_frame_back() {
    let ram = HostedRam::new(1 << 20).unwrap();
    let mut pool = FramePool::new(&ram, pa(0), pa(1 << 20)).unwrap();
    let mut st = FrameStack::new();
    for _ in 0..5 {
        let f = pool.allocate_frame().unwrap();
        // SAFETY: a frame of `ram` from `pool`, not used by anything.
        unsafe { st.push(&ram, f.start().as_u64()) };
    }
    assert_eq!(st.len(), 5);
    // SAFETY: every frame came from `pool` and was pushed through `ram`.
    unsafe { st.release(&ram, &mut pool) };
    assert_eq!((st.len(), pool.outstanding(), pool.bad_frees()), (0, 0, 0));
}

/// Counts how many times tables are reached.
struct Counting<'a>(&'a HostedRam, Cell<u64>);

// SAFETY: forwards to `HostedRam`, which upholds the contract.
unsafe impl PhysMapper for Counting<'_> {
    fn phys_to_ptr(&self, phys: PhysAddr) -> *mut u8 {
        self.1.set(self.1.get() + 1);
        self.0.phys_to_ptr(phys)
    }
}

#[test]
#[cfg_attr(miri, ignore = "262,144 leaves three times over: minutes under Miri")]
fn range_operations_reach_each_table_a_bounded_number_of_times() {
    let ram = HostedRam::new(8 << 20).unwrap();
    let mmu = RecordingMmu::new(true);
    let mut pool = FramePool::new(&ram, pa(1 << 20), pa(8 << 20)).unwrap();
    let phys = Counting(&ram, Cell::new(0));
    let mut s = AddressSpace::new(&phys, &mmu, &mut pool).unwrap();
    let rw = PageFlags::PRESENT | PageFlags::WRITE;
    // 1 GiB of 4 KiB pages: 262,144 leaves under 515 tables.
    s.map_range(va(1 << 30), pa(4096), 1 << 30, rw, &mut pool)
        .unwrap();
    let after_map = phys.1.get();
    assert!(
        after_map < 2 * 515,
        "map_range reached tables {after_map} times"
    );
    s.protect(va(1 << 30), 1 << 30, PageFlags::PRESENT, &mut pool)
        .unwrap();
    s.unmap_range(va(1 << 30), 1 << 30, &mut pool, |_| {})
        .unwrap();
    let rest = phys.1.get() - after_map;
    assert!(
        rest < 6 * 515,
        "protect + unmap_range reached tables {rest} times"
    );
    assert_eq!(pool.outstanding(), 1);
}
