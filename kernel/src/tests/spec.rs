//! The specification's own examples, run on the real MMU, printing what the
//! C code prints. Each checks what its example promises.

use super::{Ctx, Done, Outcome, Test};
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
