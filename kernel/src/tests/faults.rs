//! The CPU's protection as the kernel set it up, seen through faults.

use super::fixture::{self, NO_EXECUTE, PRESENT, WRITABLE};
use super::{Ctx, Done, Outcome, Test};
use crate::check;
use crate::cpu::fault::{error, probe, Access};
use crate::cpu::idt::BREAKPOINTS;
use core::sync::atomic::Ordering;
use valen_mm::arch::x86_64::X86Mmu;
use valen_mm::arch::Mmu;
use valen_mm::layout::Window;
use valen_mm::VirtAddr;

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
        name: "faults::unmapped_page_in_table",
        run: unmapped_page_in_table,
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
        name: "faults::remap_seen_without_stale_tlb",
        run: remap_seen_without_stale_tlb,
    },
];

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

fn unmapped_lower_half(_: &Ctx<'_>) -> Outcome {
    let a = VirtAddr::new_truncate(0x0000_7000_0000_0123);
    let f = probe(a, Access::Read);
    check!(f.is_err(), "reading {a} did not fault");
    let f = f
        .err()
        .unwrap_or(crate::cpu::fault::Fault { addr: 0, error: 0 });
    check!(f.addr == a.as_u64(), "CR2 {:#x}, expected {a}", f.addr);
    check!(
        !f.was_protection(),
        "error {:#x} says the page was present",
        f.error
    );
    check!(Window::of(a) == Window::Lower, "window {:?}", Window::of(a));
    Ok(Done::Pass)
}

fn setup(ctx: &Ctx<'_>) -> Result<(), super::Failed> {
    let _ = ctx;
    if let Err(e) = fixture::install() {
        check!(false, "cannot plant the fixture page table: {e}");
    }
    Ok(())
}

fn unmapped_page_in_table(ctx: &Ctx<'_>) -> Outcome {
    setup(ctx)?;
    fixture::unmap(3);
    let a = fixture::addr(3);
    let f = probe(a, Access::Write(1));
    check!(
        matches!(f, Err(e) if e.addr == a.as_u64() && !e.was_protection() && e.error & error::WRITE != 0),
        "write to unmapped {a}: {f:?}"
    );
    Ok(Done::Pass)
}

fn write_to_read_only_page(ctx: &Ctx<'_>) -> Outcome {
    setup(ctx)?;
    fixture::poke(0, 8, 0x5A);
    fixture::map(0, 0, PRESENT | NO_EXECUTE_IF_SUPPORTED());
    let a = fixture::addr(0).checked_add(8).unwrap_or(fixture::addr(0));
    check!(
        probe(a, Access::Read).is_ok(),
        "reading read-only {a} faulted"
    );
    check!(
        fixture::read_mapped(a) == 0x5A,
        "read {:#x} through {a}, expected 0x5a",
        fixture::read_mapped(a)
    );
    let f = probe(a, Access::Write(0xA5));
    check!(
        matches!(f, Err(e) if e.was_protection() && e.error & error::WRITE != 0 && e.addr == a.as_u64()),
        "write to read-only {a}: {f:?}"
    );
    check!(
        fixture::peek(0, 8) == 0x5A,
        "the refused write changed the frame"
    );
    fixture::map(0, 0, PRESENT | WRITABLE);
    check!(
        probe(a, Access::Write(0xA5)).is_ok(),
        "write after making {a} writable faulted"
    );
    check!(
        fixture::peek(0, 8) == 0xA5,
        "the write did not reach the frame"
    );
    fixture::unmap(0);
    Ok(Done::Pass)
}

#[allow(non_snake_case)]
fn NO_EXECUTE_IF_SUPPORTED() -> u64 {
    if X86Mmu.has_nx() {
        NO_EXECUTE
    } else {
        0
    }
}

fn execute_no_execute_page(ctx: &Ctx<'_>) -> Outcome {
    if !X86Mmu.has_nx() {
        return Ok(Done::Skip("the CPU has no NX bit"));
    }
    setup(ctx)?;
    fixture::poke(1, 0, 0xC3); // ret
    fixture::map(1, 1, PRESENT | NO_EXECUTE);
    let a = fixture::addr(1);
    let f = probe(a, Access::Execute);
    check!(
        matches!(f, Err(e) if e.was_protection() && e.error & error::FETCH != 0 && e.addr == a.as_u64()),
        "executing no-execute {a}: {f:?}"
    );
    fixture::map(1, 1, PRESENT);
    check!(
        probe(a, Access::Execute).is_ok(),
        "executing `ret` at executable {a} faulted"
    );
    fixture::unmap(1);
    Ok(Done::Pass)
}

fn remap_seen_without_stale_tlb(ctx: &Ctx<'_>) -> Outcome {
    setup(ctx)?;
    fixture::poke(0, 0, 0xAA);
    fixture::poke(1, 0, 0xBB);
    let a = fixture::addr(2);
    for round in 0..64 {
        let frame = round % 2;
        fixture::map(2, frame, PRESENT);
        let want = if frame == 0 { 0xAA } else { 0xBB };
        let got = fixture::read_mapped(a);
        check!(
            got == want,
            "round {round}: read {got:#x} through {a}, expected {want:#x} (stale TLB?)"
        );
    }
    fixture::unmap(2);
    check!(
        probe(a, Access::Read).is_err(),
        "{a} still readable after unmap + invlpg (stale TLB)"
    );
    Ok(Done::Pass)
}
