//! The VMM on the real MMU: `vmm_alloc` memory, aliases, guard pages,
//! no-execute heap memory and device mappings (the spec's examples).

use super::{Ctx, Done, Outcome, Test};
use crate::cpu::fault::{describe, error, probe, Access};
use crate::mm::{free_frames, nx};
use crate::{check, fail, mm_parts};
use valen_mm::arch::x86_64::X86Mmu;
use valen_mm::arch::Mmu;
use valen_mm::layout::{phys_to_virt, HEAP_WINDOW_END};
use valen_mm::paging::PageFlags;
use valen_mm::vmm::{CacheMode, Vmm, VmmError};
use valen_mm::{FrameAllocator, PhysAddr, VirtAddr, PAGE_SIZE};

/// The VMM tests.
pub const TESTS: &[Test] = &[
    Test {
        name: "vmm::alloc_write_read_free",
        run: alloc_write_read_free,
    },
    Test {
        name: "vmm::two_aliases_of_one_frame",
        run: two_aliases_of_one_frame,
    },
    Test {
        name: "vmm::guard_page_catches_overflow",
        run: guard_page_catches_overflow,
    },
    Test {
        name: "vmm::heap_memory_not_executable",
        run: heap_memory_not_executable,
    },
    Test {
        name: "vmm::spec_device_mapping_at_0xf0000000",
        run: spec_device_mapping,
    },
    Test {
        name: "vmm::map_device_reads_local_apic",
        run: map_device_reads_local_apic,
    },
    Test {
        name: "vmm::free_of_unknown_address_rejected",
        run: free_of_unknown_address_rejected,
    },
];

const RW: PageFlags = PageFlags::PRESENT.union(PageFlags::WRITE);

fn read_u64(v: VirtAddr) -> u64 {
    // SAFETY: the callers read memory they mapped present just before.
    unsafe { v.as_mut_ptr::<u64>().read_volatile() }
}

fn write_u64(v: VirtAddr, value: u64) {
    // SAFETY: the callers write memory they mapped writable just before.
    unsafe { v.as_mut_ptr::<u64>().write_volatile(value) }
}

fn at(base: VirtAddr, offset: u64) -> VirtAddr {
    VirtAddr::new_truncate(base.as_u64() + offset)
}

fn alloc_write_read_free(_: &Ctx<'_>) -> Outcome {
    mm_parts!(mm => vmm, space, frames);
    let before = vmm.stats();
    let free_before = free_frames(frames);
    let pages = 4;
    let m = match vmm.alloc(space, frames, pages, RW | nx()) {
        Ok(m) => m,
        Err(e) => fail!("vmm_alloc({pages}): {e}"),
    };
    for i in 0..pages * PAGE_SIZE / 8 {
        let v = at(m, i * 8);
        check!(read_u64(v) == 0, "vmm_alloc memory not zeroed at {v}");
        write_u64(v, 0x5EED_0000_0000 + i);
    }
    for page in 0..pages {
        let v = at(m, page * PAGE_SIZE + 8);
        let Some(p) = Vmm::get_phys(space, v) else {
            fail!("vmm_get_phys({v}) is None");
        };
        let Some(direct) = phys_to_virt(p) else {
            fail!("no direct map for {p}");
        };
        let want = 0x5EED_0000_0000 + page * PAGE_SIZE / 8 + 1;
        check!(
            read_u64(direct) == want,
            "the frame behind {v} ({p}) does not hold what was written"
        );
    }
    let r = vmm.free(space, frames, m);
    check!(r == Ok(pages), "vmm_free: {r:?}");
    let after = vmm.stats();
    check!(
        after == before,
        "statistics {:?} after free, {before:?} before",
        vmm.stats()
    );
    check!(
        free_frames(frames) == free_before,
        "{} frames free, {free_before} before",
        free_frames(frames)
    );
    check!(
        // SAFETY: memory this test allocated, or the guard page after it.
        unsafe { probe(m, Access::Read) }.is_err(),
        "{m} still mapped after vmm_free"
    );
    Ok(Done::Pass)
}

fn two_aliases_of_one_frame(_: &Ctx<'_>) -> Outcome {
    mm_parts!(mm => vmm, space, frames);
    let Some(frame) = frames.allocate_frame() else {
        fail!("no frame");
    };
    let p = frame.start();
    let a = VirtAddr::new_truncate(HEAP_WINDOW_END - 16 * PAGE_SIZE);
    let b = VirtAddr::new_truncate(HEAP_WINDOW_END - 8 * PAGE_SIZE);
    for v in [a, b] {
        let r = vmm.map_range(space, frames, v, p, PAGE_SIZE, RW | nx());
        check!(r.is_ok(), "vmm_map_range({v}, {p}): {r:?}");
    }
    for i in 0..64u64 {
        write_u64(at(a, i * 8), i * 3);
        check!(
            read_u64(at(b, i * 8)) == i * 3,
            "alias {b} does not see the write through {a}"
        );
        write_u64(at(b, i * 8), i * 5);
        check!(
            read_u64(at(a, i * 8)) == i * 5,
            "alias {a} does not see the write through {b}"
        );
    }
    for v in [a, b] {
        let r = vmm.unmap_range(space, frames, v, PAGE_SIZE);
        check!(r.is_ok(), "vmm_unmap_range({v}): {r:?}");
    }
    // SAFETY: the frame came from this allocator and is mapped nowhere now.
    unsafe { frames.deallocate_frame(frame) };
    Ok(Done::Pass)
}

fn guard_page_catches_overflow(_: &Ctx<'_>) -> Outcome {
    mm_parts!(mm => vmm, space, frames);
    let m = match vmm.alloc(space, frames, 2, RW | nx()) {
        Ok(m) => m,
        Err(e) => fail!("vmm_alloc(2): {e}"),
    };
    let last = at(m, 2 * PAGE_SIZE - 1);
    check!(
        // SAFETY: memory this test allocated, or the guard page after it.
        unsafe { probe(last, Access::Write(1)) }.is_ok(),
        "the last byte {last} faulted"
    );
    let over = at(m, 2 * PAGE_SIZE);
    // SAFETY: memory this test allocated, or the guard page after it.
    let f = unsafe { probe(over, Access::Write(1)) };
    check!(
        matches!(f, Err(e) if !e.was_protection() && e.addr == over.as_u64()),
        "overflow into {over}: {f:?}"
    );
    check!(
        vmm.guard_page_of(over) == Some(m),
        "guard_page_of({over}) = {:?}",
        vmm.guard_page_of(over)
    );
    drop(mm);
    let (window, what) = describe(over.as_u64(), error::WRITE);
    check!(
        what == "guard page" && window == "heap window",
        "reported as {what} in the {window}"
    );
    mm_parts!(mm => vmm, space, frames);
    let r = vmm.free(space, frames, m);
    check!(r == Ok(2), "vmm_free: {r:?}");
    Ok(Done::Pass)
}

fn heap_memory_not_executable(_: &Ctx<'_>) -> Outcome {
    if !X86Mmu.has_nx() {
        return Ok(Done::Skip("the CPU has no NX bit"));
    }
    mm_parts!(mm => vmm, space, frames);
    let m = match vmm.alloc(space, frames, 1, RW | PageFlags::NO_EXECUTE) {
        Ok(m) => m,
        Err(e) => fail!("vmm_alloc(1): {e}"),
    };
    // SAFETY: the page was just mapped writable.
    unsafe { m.as_mut_ptr::<u8>().write_volatile(0xC3) };
    // SAFETY: memory this test allocated, or the guard page after it.
    let f = unsafe { probe(m, Access::Execute) };
    check!(
        matches!(f, Err(e) if e.was_protection() && e.error & error::FETCH != 0),
        "executing vmm_alloc memory at {m}: {f:?}"
    );
    let r = vmm.free(space, frames, m);
    check!(r == Ok(1), "vmm_free: {r:?}");
    Ok(Done::Pass)
}

/// The spec's `map_device_registers`: `vmm_map_range(0xF0000000, phys, size,
/// PRESENT | WRITE | PCD)`, then `regs[0] = 0xDEADBEEF`. A RAM frame stands
/// in for the device so the write can be checked through the direct map.
fn spec_device_mapping(_: &Ctx<'_>) -> Outcome {
    mm_parts!(mm => vmm, space, frames);
    let Some(frame) = frames.allocate_frame() else {
        fail!("no frame");
    };
    let regs = VirtAddr::new_truncate(0xF000_0000);
    let flags = RW | PageFlags::PCD;
    let r = vmm.map_range(space, frames, regs, frame.start(), PAGE_SIZE, flags);
    check!(r.is_ok(), "vmm_map_range(0xF0000000): {r:?}");
    // SAFETY: mapped writable just above.
    unsafe { regs.as_mut_ptr::<u32>().write_volatile(0xDEAD_BEEF) };
    let t = space.translate(regs);
    check!(
        matches!(t, Ok(t) if t.phys == frame.start() && t.flags.contains(PageFlags::PCD)),
        "0xF0000000 translates to {t:?}"
    );
    let direct = phys_to_virt(frame.start()).unwrap_or(regs);
    // SAFETY: the direct map covers every usable frame.
    let seen = unsafe { direct.as_mut_ptr::<u32>().read_volatile() };
    check!(seen == 0xDEAD_BEEF, "the frame holds {seen:#x}");
    let r = vmm.unmap_range(space, frames, regs, PAGE_SIZE);
    check!(r.is_ok(), "unmap: {r:?}");
    // SAFETY: the frame came from this allocator and is mapped nowhere now.
    unsafe { frames.deallocate_frame(frame) };
    Ok(Done::Pass)
}

/// Real MMIO: the local APIC's registers at 0xFEE00000, mapped uncached in
/// the device window; its version register (offset 0x30) reads 0x10..0x15
/// for an integrated APIC.
fn map_device_reads_local_apic(_: &Ctx<'_>) -> Outcome {
    mm_parts!(mm => vmm, space, frames);
    let apic = PhysAddr::new_truncate(0xFEE0_0000);
    let regs = match vmm.map_device(space, frames, apic, PAGE_SIZE, CacheMode::Uncached) {
        Ok(v) => v,
        Err(e) => fail!("map_device(0xFEE00000): {e}"),
    };
    let t = space.translate(regs);
    check!(
        matches!(t, Ok(t) if t.flags.contains(PageFlags::PCD) && t.phys == apic),
        "{regs} translates to {t:?}"
    );
    // SAFETY: the APIC's register page, mapped uncached just above.
    let version = unsafe { at(regs, 0x30).as_mut_ptr::<u32>().read_volatile() };
    check!(
        (0x10..=0x15).contains(&(version & 0xFF)),
        "APIC version register reads {version:#x}"
    );
    let r = vmm.unmap_device(space, frames, regs);
    check!(r.is_ok(), "unmap_device: {r:?}");
    Ok(Done::Pass)
}

fn free_of_unknown_address_rejected(_: &Ctx<'_>) -> Outcome {
    mm_parts!(mm => vmm, space, frames);
    let before = vmm.stats();
    let v = VirtAddr::new_truncate(HEAP_WINDOW_END - 64 * PAGE_SIZE);
    let r = vmm.free(space, frames, v);
    check!(
        matches!(r, Err(VmmError::NotAllocated(a)) if a == v),
        "vmm_free({v}): {r:?}"
    );
    check!(vmm.stats() == before, "statistics changed");
    Ok(Done::Pass)
}
