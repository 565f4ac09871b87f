//! The specification's own examples, run on the real MMU, printing what the
//! C code prints. Each checks what its example promises.

use super::{Ctx, Done, Outcome, Test};
use crate::mm::api::{
    free, malloc, pmm_alloc_page, pmm_alloc_pages, pmm_free_page, pmm_free_pages, pmm_stats_kb,
    vmm_alloc, vmm_free, vmm_get_phys,
};
use crate::mm::Frames;
use crate::{check, fail, mm_parts, out};
use valen_mm::layout::phys_to_virt;
use valen_mm::paging::PageFlags;
use valen_mm::vmm::Vmm;
use valen_mm::{Frame, FrameAllocator, PhysAddr, VirtAddr, PAGE_SIZE};

/// The spec-example tests.
pub const TESTS: &[Test] = &[
    Test {
        name: "spec::paging_map",
        run: paging_map,
    },
    Test {
        name: "spec::paging_map_range_64k",
        run: paging_map_range,
    },
    Test {
        name: "spec::vmm_map_and_map_range",
        run: vmm_map_and_map_range,
    },
    Test {
        name: "spec::vmm_alloc_4_pages_and_get_phys",
        run: vmm_alloc_and_get_phys,
    },
];

const RW: PageFlags = PageFlags::PRESENT.union(PageFlags::WRITE);

/// Writes `n` u64 words from `v` and checks they reached `phys` through the direct map.
fn write_and_check(v: VirtAddr, phys: PhysAddr, n: u64, seed: u64) -> Result<(), super::Failed> {
    for i in 0..n {
        // SAFETY: the caller mapped [v, v + 8n) writable.
        unsafe {
            (v.as_u64() as *mut u64)
                .add(i as usize)
                .write_volatile(seed ^ i)
        };
    }
    let Some(d) = phys_to_virt(phys) else {
        fail!("no direct map for {phys}");
    };
    for i in 0..n {
        // SAFETY: the direct map covers all RAM.
        let got = unsafe { (d.as_u64() as *const u64).add(i as usize).read_volatile() };
        check!(
            got == seed ^ i,
            "word {i}: {got:#x} through the direct map, wrote {:#x}",
            seed ^ i
        );
    }
    Ok(())
}

/// `count` contiguous frames, or a failed test.
fn frames_for(frames: &mut Frames, count: u64) -> Result<Frame, super::Failed> {
    match frames.allocate_contiguous(count) {
        Some(f) => Ok(f),
        None => fail!("no {count} contiguous frames"),
    }
}

/// Gives back `count` frames from `first`.
fn give_back(frames: &mut Frames, first: Frame, count: u64) {
    for i in 0..count {
        if let Ok(f) = Frame::from_number(first.number() + i) {
            // SAFETY: the frames came from this allocator and are unmapped now.
            unsafe { frames.deallocate_frame(f) };
        }
    }
}

/// `paging_map(0x1000000, physical_addr, PAGE_PRESENT | PAGE_WRITE);`
fn paging_map(_: &Ctx<'_>) -> Outcome {
    mm_parts!(mm => _vmm, space, frames);
    let frame = frames_for(frames, 1)?;
    let virt = VirtAddr::new_truncate(0x100_0000);
    let r = space.map(virt, frame.start(), RW, frames);
    check!(
        r.is_ok(),
        "paging_map(0x1000000, {:#x}): {r:?}",
        frame.start()
    );
    write_and_check(virt, frame.start(), 512, 0x1000000)?;
    let r = space.unmap(virt, frames);
    check!(r.is_ok(), "unmap: {r:?}");
    give_back(frames, frame, 1);
    Ok(Done::Pass)
}

/// `paging_map_range(0x2000000, physical_addr, 0x10000, PAGE_PRESENT | PAGE_WRITE);`
fn paging_map_range(_: &Ctx<'_>) -> Outcome {
    mm_parts!(mm => _vmm, space, frames);
    let frame = frames_for(frames, 16)?;
    let virt = VirtAddr::new_truncate(0x200_0000);
    let r = space.map_range(virt, frame.start(), 0x10000, RW, frames);
    check!(
        r.is_ok(),
        "paging_map_range(0x2000000, {:#x}, 0x10000): {r:?}",
        frame.start()
    );
    write_and_check(virt, frame.start(), 0x10000 / 8, 0x2000000)?;
    let r = space.unmap_range(virt, 0x10000, frames, |_| {});
    check!(r.is_ok(), "unmap_range: {r:?}");
    give_back(frames, frame, 16);
    Ok(Done::Pass)
}

/// `vmm_map(0x1000000, physical_addr, ...)` and `vmm_map_range(0x2000000, physical_addr, 0x10000, ...)`.
fn vmm_map_and_map_range(_: &Ctx<'_>) -> Outcome {
    mm_parts!(mm => vmm, space, frames);
    let one = frames_for(frames, 1)?;
    let run = frames_for(frames, 16)?;
    let (a, b) = (
        VirtAddr::new_truncate(0x100_0000),
        VirtAddr::new_truncate(0x200_0000),
    );
    let r = vmm.map_range(space, frames, a, one.start(), PAGE_SIZE, RW);
    check!(r.is_ok(), "vmm_map(0x1000000): {r:?}");
    let r = vmm.map_range(space, frames, b, run.start(), 0x10000, RW);
    check!(r.is_ok(), "vmm_map_range(0x2000000, 0x10000): {r:?}");
    check!(
        Vmm::get_phys(space, a) == Some(one.start()),
        "vmm_get_phys(0x1000000)"
    );
    let last = VirtAddr::new_truncate(0x200_F008);
    let want = PhysAddr::new_truncate(run.start().as_u64() + 0xF008);
    check!(
        Vmm::get_phys(space, last) == Some(want),
        "vmm_get_phys({last}) = {:?}",
        Vmm::get_phys(space, last)
    );
    write_and_check(a, one.start(), 512, 1)?;
    write_and_check(b, run.start(), 0x10000 / 8, 2)?;
    for (v, size) in [(a, PAGE_SIZE), (b, 0x10000)] {
        let r = vmm.unmap_range(space, frames, v, size);
        check!(r.is_ok(), "unmap {v}: {r:?}");
    }
    give_back(frames, one, 1);
    give_back(frames, run, 16);
    Ok(Done::Pass)
}

/// `void *memory = vmm_alloc(4, PAGE_PRESENT | PAGE_WRITE);` and `vmm_get_phys`.
fn vmm_alloc_and_get_phys(_: &Ctx<'_>) -> Outcome {
    mm_parts!(mm => vmm, space, frames);
    let memory = match vmm.alloc(space, frames, 4, RW) {
        Ok(m) => m,
        Err(e) => fail!("vmm_alloc(4): {e}"),
    };
    out!("Allocated virtual memory at: {:#x}", memory.as_u64());
    let Some(phys) = Vmm::get_phys(space, memory) else {
        fail!("vmm_get_phys({memory}) is 0");
    };
    out!(
        "Virtual {:#x} maps to physical {:#x}",
        memory.as_u64(),
        phys.as_u64()
    );
    write_and_check(memory, phys, 512, 4)?;
    let r = vmm.free(space, frames, memory);
    check!(r == Ok(4), "vmm_free: {r:?}");
    Ok(Done::Pass)
}

/// The PMM and heap examples of the specification.
pub const PMM_TESTS: &[Test] = &[
    Test {
        name: "spec::quick_start",
        run: quick_start,
    },
    Test {
        name: "spec::pmm_page_allocation",
        run: pmm_page_allocation,
    },
    Test {
        name: "spec::memory_statistics",
        run: memory_statistics,
    },
    Test {
        name: "spec::basic_allocation",
        run: basic_allocation,
    },
    Test {
        name: "spec::robust_memory_allocation",
        run: robust_memory_allocation,
    },
    Test {
        name: "spec::integration_allocate_resources",
        run: allocate_resources,
    },
];

const PRESENT_WRITE: PageFlags = PageFlags::PRESENT.union(PageFlags::WRITE);

/// Quick Start: `pmm_alloc_page()`, `vmm_alloc(1, ...)`, `malloc(1024)`,
/// use them, `pmm_free_page`, `free` (and `vmm_free`, which the spec lacks).
fn quick_start(_: &Ctx<'_>) -> Outcome {
    let Some(phys_page) = pmm_alloc_page() else {
        fail!("pmm_alloc_page returned NULL");
    };
    let virt_mem = match vmm_alloc(1, PRESENT_WRITE) {
        Ok(v) => v,
        Err(e) => fail!("vmm_alloc(1): {e}"),
    };
    let Some(heap_mem) = malloc(1024) else {
        fail!("malloc(1024) returned NULL");
    };
    out!(
        "phys_page {:#x}, virt_mem {:#x}, heap_mem {:p}",
        phys_page.start().as_u64(),
        virt_mem.as_u64(),
        heap_mem.as_ptr()
    );
    check!(
        phys_page.start().as_u64() >= 2 << 20,
        "a frame below 2 MiB: {:#x}",
        phys_page.start().as_u64()
    );
    // Use memory...
    // SAFETY: 1024 bytes were just allocated; the page was just mapped writable.
    unsafe {
        core::ptr::write_bytes(heap_mem.as_ptr(), 0xAB, 1024);
        virt_mem.as_mut_ptr::<u64>().write_volatile(0x0123_4567);
    }
    check!(pmm_free_page(phys_page.start()).is_ok(), "pmm_free_page");
    // SAFETY: not used any more.
    check!(unsafe { free(heap_mem.as_ptr()) }.is_ok(), "free");
    check!(vmm_free(virt_mem) == Ok(1), "vmm_free");
    Ok(Done::Pass)
}

/// The PMM's page-allocation example: one page, then four contiguous ones.
fn pmm_page_allocation(_: &Ctx<'_>) -> Outcome {
    let (_, used_before, _) = pmm_stats_kb();
    let Some(page) = pmm_alloc_page() else {
        fail!("pmm_alloc_page returned NULL");
    };
    out!("Allocated page at: {:#x}", page.start().as_u64());
    check!(pmm_free_page(page.start()).is_ok(), "pmm_free_page");
    let Some(pages) = pmm_alloc_pages(4) else {
        fail!("pmm_alloc_pages(4) returned NULL");
    };
    out!("Allocated 4 pages at: {:#x}", pages.start().as_u64());
    // The spec frees a run with pmm_free_page, which frees its first frame
    // only; the other three are freed as a run here so nothing leaks.
    check!(pmm_free_page(pages.start()).is_ok(), "pmm_free_page(pages)");
    let rest = PhysAddr::new_truncate(pages.start().as_u64() + PAGE_SIZE);
    check!(pmm_free_pages(rest, 3).is_ok(), "pmm_free_pages(rest, 3)");
    let (_, used_after, _) = pmm_stats_kb();
    check!(
        used_after == used_before,
        "{used_after} KB used after, {used_before} before"
    );
    Ok(Done::Pass)
}

/// `printf("Memory: %d KB total, %d KB used, %d KB free\n", ...)` and
/// `print_memory_info`.
fn memory_statistics(ctx: &Ctx<'_>) -> Outcome {
    let (total, used, free_kb) = pmm_stats_kb();
    out!("Memory: {total} KB total, {used} KB used, {free_kb} KB free");
    out!("Physical Memory:");
    out!("  Total: {total} KB");
    out!("  Used:  {used} KB");
    out!("  Free:  {free_kb} KB");
    // The spec's `if (total > 0)` guard around the division.
    if let Some(percent) = (used * 100).checked_div(total) {
        out!("  Usage: {percent}%");
    }
    check!(
        total == used + free_kb,
        "total {total} != used {used} + free {free_kb}"
    );
    let usable = ctx.boot.firmware_map.usable_bytes() / 1024;
    check!(
        total <= usable && total + 2048 >= usable,
        "total {total} KB, the firmware's usable RAM {usable} KB"
    );
    Ok(Done::Pass)
}

/// `basic_allocation`: heap, virtual and physical memory at once.
fn basic_allocation(_: &Ctx<'_>) -> Outcome {
    let heap_mem = malloc(1024);
    let virt_mem = vmm_alloc(2, PRESENT_WRITE);
    let phys_page = pmm_alloc_page();
    check!(
        heap_mem.is_some() && virt_mem.is_ok() && phys_page.is_some(),
        "an allocation failed"
    );
    if let Some(p) = heap_mem {
        // SAFETY: not used any more.
        check!(unsafe { free(p.as_ptr()) }.is_ok(), "free");
    }
    // The spec has no frees for these two; valen-mm does.
    if let Ok(v) = virt_mem {
        check!(vmm_free(v) == Ok(2), "vmm_free");
    }
    if let Some(f) = phys_page {
        check!(pmm_free_page(f.start()).is_ok(), "pmm_free_page");
    }
    Ok(Done::Pass)
}

/// `robust_memory_allocation`: each failure path frees what came before.
fn robust_memory_allocation(_: &Ctx<'_>) -> Outcome {
    let Some(buffer) = malloc(1024) else {
        out!("Heap allocation failed");
        fail!("malloc(1024) returned NULL");
    };
    let pages = match vmm_alloc(4, PRESENT_WRITE) {
        Ok(p) => p,
        Err(e) => {
            out!("Virtual allocation failed");
            // SAFETY: not used any more.
            let _ = unsafe { free(buffer.as_ptr()) };
            fail!("vmm_alloc(4): {e}");
        }
    };
    let Some(phys) = pmm_alloc_page() else {
        out!("Physical allocation failed");
        // SAFETY: not used any more.
        let _ = unsafe { free(buffer.as_ptr()) };
        fail!("pmm_alloc_page returned NULL");
    };
    // The error paths themselves: requests that cannot succeed fail cleanly.
    check!(
        vmm_alloc(0, PRESENT_WRITE).is_err(),
        "vmm_alloc(0) succeeded"
    );
    check!(malloc(usize::MAX).is_none(), "malloc(SIZE_MAX) succeeded");
    check!(
        pmm_alloc_pages(u64::MAX).is_none(),
        "pmm_alloc_pages(huge) succeeded"
    );
    // SAFETY: not used any more.
    check!(unsafe { free(buffer.as_ptr()) }.is_ok(), "free");
    check!(vmm_free(pages) == Ok(4), "vmm_free");
    check!(pmm_free_page(phys.start()).is_ok(), "pmm_free_page");
    Ok(Done::Pass)
}

/// The integration example's `allocate_resources`.
fn allocate_resources(_: &Ctx<'_>) -> Outcome {
    #[allow(dead_code)]
    struct MyData {
        id: u64,
        name: [u8; 48],
    }
    let Some(data) = malloc(core::mem::size_of::<MyData>()) else {
        fail!("malloc(sizeof(struct my_data)) returned NULL");
    };
    let buffer_area = match vmm_alloc(8, PRESENT_WRITE) {
        Ok(v) => v,
        Err(e) => {
            // SAFETY: not used any more.
            let _ = unsafe { free(data.as_ptr()) };
            fail!("vmm_alloc(8): {e}");
        }
    };
    let Some(phys) = vmm_get_phys(buffer_area) else {
        fail!("vmm_get_phys({buffer_area}) is 0");
    };
    out!(
        "buffer_area {:#x} -> physical {:#x}",
        buffer_area.as_u64(),
        phys.as_u64()
    );
    // SAFETY: not used any more.
    check!(unsafe { free(data.as_ptr()) }.is_ok(), "free(data)");
    check!(vmm_free(buffer_area) == Ok(8), "vmm_free(buffer_area)");
    Ok(Done::Pass)
}
