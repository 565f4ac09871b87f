//! The CPU's protection as the kernel set it up, seen through faults, with
//! every change made through valen-mm's paging tier on the real MMU.

use super::fixture::{addr, map, peek, poke, read_mapped, unmap};
use super::{Ctx, Done, Outcome, Test};
use crate::cpu::fault::{error, probe, Access, Fault};
use crate::cpu::idt::BREAKPOINTS;
use crate::mm::nx;
use crate::{check, fail, mm_parts};
use core::sync::atomic::Ordering;
use valen_mm::arch::x86_64::X86Mmu;
use valen_mm::arch::Mmu;
use valen_mm::layout::Window;
use valen_mm::paging::PageFlags;
use valen_mm::{VirtAddr, PAGE_SIZE};

/// The fault tests.
pub const TESTS: &[Test] = &[
    Test {
        name: "cpu::long_mode_wp_nx_state",
        run: cpu_state,
    },
    Test {
        name: "cpu::breakpoint_returns",
        run: breakpoint_returns,
    },
    Test {
        name: "faults::unmapped_lower_half",
        run: unmapped_lower_half,
    },
    Test {
        name: "faults::unmapped_page",
        run: unmapped_page,
    },
    Test {
        name: "faults::write_to_read_only_page",
        run: write_to_read_only_page,
    },
    Test {
        name: "faults::execute_no_execute_page",
        run: execute_no_execute_page,
    },
    Test {
        name: "tlb::remap_seen_at_once",
        run: remap_seen_at_once,
    },
    Test {
        name: "tlb::protect_seen_at_once",
        run: protect_seen_at_once,
    },
    Test {
        name: "tlb::unmap_range_seen_at_once",
        run: unmap_range_seen_at_once,
    },
];

const RW: PageFlags = PageFlags::PRESENT.union(PageFlags::WRITE);
const RO: PageFlags = PageFlags::PRESENT;

fn cpu_state(_: &Ctx<'_>) -> Outcome {
    let efer = crate::cpu::read_efer();
    check!(
        efer & (1 << 10) != 0,
        "EFER.LMA is clear: not in long mode ({efer:#x})"
    );
    let nxe = efer & (1 << 11) != 0;
    check!(
        nxe == X86Mmu.has_nx(),
        "EFER.NXE={nxe} but CPUID NX={}",
        X86Mmu.has_nx()
    );
    check!(
        crate::cpu::read_cr0() & (1 << 16) != 0,
        "CR0.WP is clear: the kernel could write read-only pages"
    );
    Ok(Done::Pass)
}

fn breakpoint_returns(_: &Ctx<'_>) -> Outcome {
    let before = BREAKPOINTS.load(Ordering::SeqCst);
    // SAFETY: int3 traps to our handler, which counts it and returns.
    unsafe { core::arch::asm!("int3") };
    let after = BREAKPOINTS.load(Ordering::SeqCst);
    check!(after == before + 1, "breakpoints {before} -> {after}");
    Ok(Done::Pass)
}

/// The fault `probe` caught, or a failed test if there was none.
///
/// # Safety
/// As for [`probe`].
unsafe fn expect_fault(a: VirtAddr, access: Access) -> Result<Fault, super::Failed> {
    // SAFETY: forwarded from the caller.
    match unsafe { probe(a, access) } {
        Err(f) => Ok(f),
        Ok(()) => fail!("{access:?} at {a} did not fault"),
    }
}

fn unmapped_lower_half(_: &Ctx<'_>) -> Outcome {
    let a = VirtAddr::new_truncate(0x0000_7000_0000_0123);
    // SAFETY: an address left unmapped here, or a fixture slot (writes land in its frame).
    let f = unsafe { expect_fault(a, Access::Read) }?;
    check!(f.addr == a.as_u64(), "CR2 {:#x}, expected {a}", f.addr);
    check!(
        !f.was_protection(),
        "error {:#x} says the page was present",
        f.error
    );
    check!(Window::of(a) == Window::Lower, "window {:?}", Window::of(a));
    Ok(Done::Pass)
}

fn unmapped_page(_: &Ctx<'_>) -> Outcome {
    mm_parts!(mm => _vmm, space, frames);
    let r = unmap(space, frames, 3);
    check!(r.is_ok(), "unmap: {r:?}");
    let a = addr(3);
    // SAFETY: an address left unmapped here, or a fixture slot (writes land in its frame).
    let f = unsafe { expect_fault(a, Access::Write(1)) }?;
    check!(
        f.addr == a.as_u64() && !f.was_protection() && f.error & error::WRITE != 0,
        "write to unmapped {a}: {f:?}"
    );
    Ok(Done::Pass)
}

fn write_to_read_only_page(_: &Ctx<'_>) -> Outcome {
    mm_parts!(mm => _vmm, space, frames);
    poke(0, 8, 0x5A);
    let r = map(space, frames, 0, 0, RO | nx());
    check!(r.is_ok(), "map: {r:?}");
    let a = VirtAddr::new_truncate(addr(0).as_u64() + 8);
    check!(
        // SAFETY: an address left unmapped here, or a fixture slot (writes land in its frame).
        unsafe { probe(a, Access::Read) }.is_ok(),
        "reading read-only {a} faulted"
    );
    check!(
        read_mapped(a) == 0x5A,
        "read {:#x} through {a}, expected 0x5a",
        read_mapped(a)
    );
    // SAFETY: an address left unmapped here, or a fixture slot (writes land in its frame).
    let f = unsafe { expect_fault(a, Access::Write(0xA5)) }?;
    check!(
        f.was_protection() && f.error & error::WRITE != 0 && f.addr == a.as_u64(),
        "write to read-only {a}: {f:?}"
    );
    check!(peek(0, 8) == 0x5A, "the refused write changed the frame");
    let r = map(space, frames, 0, 0, RW);
    check!(r.is_ok(), "map: {r:?}");
    check!(
        // SAFETY: an address left unmapped here, or a fixture slot (writes land in its frame).
        unsafe { probe(a, Access::Write(0xA5)) }.is_ok(),
        "write after making {a} writable faulted"
    );
    check!(peek(0, 8) == 0xA5, "the write did not reach the frame");
    let r = unmap(space, frames, 0);
    check!(r.is_ok(), "unmap: {r:?}");
    Ok(Done::Pass)
}

fn execute_no_execute_page(_: &Ctx<'_>) -> Outcome {
    if !X86Mmu.has_nx() {
        return Ok(Done::Skip("the CPU has no NX bit"));
    }
    mm_parts!(mm => _vmm, space, frames);
    poke(1, 0, 0xC3); // ret
    let r = map(space, frames, 1, 1, RO | PageFlags::NO_EXECUTE);
    check!(r.is_ok(), "map: {r:?}");
    let a = addr(1);
    // SAFETY: an address left unmapped here, or a fixture slot (writes land in its frame).
    let f = unsafe { expect_fault(a, Access::Execute) }?;
    check!(
        f.was_protection() && f.error & error::FETCH != 0 && f.addr == a.as_u64(),
        "executing no-execute {a}: {f:?}"
    );
    let r = map(space, frames, 1, 1, RO);
    check!(r.is_ok(), "map: {r:?}");
    check!(
        // SAFETY: an address left unmapped here, or a fixture slot (writes land in its frame).
        unsafe { probe(a, Access::Execute) }.is_ok(),
        "executing `ret` at executable {a} faulted"
    );
    let r = unmap(space, frames, 1);
    check!(r.is_ok(), "unmap: {r:?}");
    Ok(Done::Pass)
}

/// One slot switched between two frames: each read must see the frame just
/// mapped, never the one the TLB may still remember.
fn remap_seen_at_once(_: &Ctx<'_>) -> Outcome {
    mm_parts!(mm => _vmm, space, frames);
    poke(0, 0, 0xAA);
    poke(1, 0, 0xBB);
    let a = addr(2);
    for round in 0..64 {
        let frame = round % 2;
        let r = map(space, frames, 2, frame, RO);
        check!(r.is_ok(), "map: {r:?}");
        let want = if frame == 0 { 0xAA } else { 0xBB };
        let got = read_mapped(a);
        check!(
            got == want,
            "round {round}: read {got:#x} through {a}, expected {want:#x} (stale TLB)"
        );
    }
    let r = unmap(space, frames, 2);
    check!(r.is_ok(), "unmap: {r:?}");
    check!(
        // SAFETY: an address left unmapped here, or a fixture slot (writes land in its frame).
        unsafe { probe(a, Access::Read) }.is_err(),
        "{a} still readable after unmap (stale TLB)"
    );
    Ok(Done::Pass)
}

/// `protect` flips a page between read-only and writable; the CPU must
/// follow each flip, though it cached the previous rights.
fn protect_seen_at_once(_: &Ctx<'_>) -> Outcome {
    mm_parts!(mm => _vmm, space, frames);
    let a = addr(4);
    let r = map(space, frames, 4, 0, RW);
    check!(r.is_ok(), "map: {r:?}");
    for round in 0..16u8 {
        check!(
            // SAFETY: an address left unmapped here, or a fixture slot (writes land in its frame).
            unsafe { probe(a, Access::Write(round)) }.is_ok(),
            "round {round}: writable {a} faulted"
        );
        let r = space.protect(a, PAGE_SIZE, RO, frames);
        check!(r.is_ok(), "protect: {r:?}");
        check!(
            // SAFETY: an address left unmapped here, or a fixture slot (writes land in its frame).
            unsafe { probe(a, Access::Write(0xEE)) }.is_err(),
            "round {round}: write after protect(read-only) went through (stale TLB)"
        );
        let r = space.protect(a, PAGE_SIZE, RW, frames);
        check!(r.is_ok(), "protect: {r:?}");
    }
    check!(
        peek(0, 0) == 15,
        "frame holds {:#x}, expected the last write 0xf",
        peek(0, 0)
    );
    let r = unmap(space, frames, 4);
    check!(r.is_ok(), "unmap: {r:?}");
    Ok(Done::Pass)
}

/// A range larger than the flush-all threshold, read (so the TLB holds it),
/// unmapped in one call: every page must fault afterwards.
fn unmap_range_seen_at_once(_: &Ctx<'_>) -> Outcome {
    mm_parts!(mm => _vmm, space, frames);
    let pages = (valen_mm::paging::FLUSH_ALL_THRESHOLD + 8).min(256);
    for n in [4usize, pages] {
        let first = 16;
        for i in 0..n {
            let r = map(space, frames, first + i, i % 2, RO);
            check!(r.is_ok(), "map slot {}: {r:?}", first + i);
            let _ = read_mapped(addr(first + i));
        }
        let r = space.unmap_range(addr(first), n as u64 * PAGE_SIZE, frames, |_| {});
        check!(r.is_ok(), "unmap_range of {n} pages: {r:?}");
        for i in 0..n {
            let a = addr(first + i);
            check!(
                // SAFETY: an address left unmapped here, or a fixture slot (writes land in its frame).
                unsafe { probe(a, Access::Read) }.is_err(),
                "{a} readable after unmap_range of {n} pages"
            );
        }
    }
    Ok(Done::Pass)
}
