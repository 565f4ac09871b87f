//! The kernel's own page tables as the CPU uses them: image rights per
//! section, the direct map, and the boot mappings gone.

use super::{Ctx, Done, Outcome, Test};
use crate::cpu::fault::{error, probe, Access};
use crate::{check, mm_parts};
use valen_mm::arch::x86_64::X86Mmu;
use valen_mm::arch::Mmu;
use valen_mm::layout::phys_to_virt;
use valen_mm::paging::PageFlags;
use valen_mm::{PhysAddr, VirtAddr};

/// The paging tests.
pub const TESTS: &[Test] = &[
    Test {
        name: "paging::tables_consistent",
        run: tables_consistent,
    },
    Test {
        name: "paging::text_not_writable",
        run: text_not_writable,
    },
    Test {
        name: "paging::rodata_not_writable",
        run: rodata_not_writable,
    },
    Test {
        name: "paging::data_not_executable",
        run: data_not_executable,
    },
    Test {
        name: "paging::direct_map_reaches_all_ram",
        run: direct_map_reaches_all_ram,
    },
    Test {
        name: "paging::boot_identity_map_gone",
        run: boot_identity_map_gone,
    },
];

/// A byte in .rodata (an immutable static with no interior mutability).
static RODATA_BYTE: u8 = 0x42;

/// A `ret` instruction in .data (a mutable static, so it cannot go to .rodata).
static DATA_RET: core::sync::atomic::AtomicU8 = core::sync::atomic::AtomicU8::new(0xC3);

fn tables_consistent(_: &Ctx<'_>) -> Outcome {
    mm_parts!(mm => _vmm, space, _frames);
    let r = space.check_invariants();
    check!(r.is_ok(), "invariants: {r:?}");
    check!(
        X86Mmu.root() == space.root().start(),
        "CR3 {:#x} is not the kernel's root",
        X86Mmu.root()
    );
    Ok(Done::Pass)
}

fn text_not_writable(_: &Ctx<'_>) -> Outcome {
    let a = VirtAddr::from_ptr(text_not_writable as fn(&Ctx<'_>) -> Outcome as *const u8);
    // SAFETY: reading one byte of our own code.
    let byte = unsafe { a.as_mut_ptr::<u8>().read_volatile() };
    // Writing the same byte back: harmless should the write go through.
    // SAFETY: the kernel's own bytes, written back unchanged (or a `ret`), or RAM read via the direct map.
    let f = unsafe { probe(a, Access::Write(byte)) };
    check!(
        matches!(f, Err(e) if e.was_protection() && e.error & error::WRITE != 0),
        "writing kernel text at {a}: {f:?}"
    );
    Ok(Done::Pass)
}

fn rodata_not_writable(_: &Ctx<'_>) -> Outcome {
    let a = VirtAddr::from_ptr(&RODATA_BYTE);
    check!(
        // SAFETY: the kernel's own bytes, written back unchanged (or a `ret`), or RAM read via the direct map.
        unsafe { probe(a, Access::Read) }.is_ok(),
        "reading rodata at {a} faulted"
    );
    // SAFETY: the kernel's own bytes, written back unchanged (or a `ret`), or RAM read via the direct map.
    let f = unsafe { probe(a, Access::Write(0x42)) };
    check!(
        matches!(f, Err(e) if e.was_protection() && e.error & error::WRITE != 0),
        "writing rodata at {a}: {f:?}"
    );
    Ok(Done::Pass)
}

fn data_not_executable(_: &Ctx<'_>) -> Outcome {
    if !X86Mmu.has_nx() {
        return Ok(Done::Skip("the CPU has no NX bit"));
    }
    let a = VirtAddr::from_ptr(DATA_RET.as_ptr());
    // SAFETY: the kernel's own bytes, written back unchanged (or a `ret`), or RAM read via the direct map.
    let f = unsafe { probe(a, Access::Execute) };
    check!(
        matches!(f, Err(e) if e.was_protection() && e.error & error::FETCH != 0),
        "executing kernel data at {a}: {f:?}"
    );
    Ok(Done::Pass)
}

fn direct_map_reaches_all_ram(ctx: &Ctx<'_>) -> Outcome {
    mm_parts!(mm => _vmm, space, _frames);
    let top = ctx.boot.map.highest_usable_end().as_u64();
    for phys in [0x1000, 2 << 20, (top / 2) & !0xFFF, top - 1] {
        let p = PhysAddr::new_truncate(phys);
        let Some(v) = phys_to_virt(p) else {
            crate::fail!("no direct-map address for {p}");
        };
        if !ctx.boot.map.is_usable(p, PhysAddr::new_truncate(phys + 1)) {
            continue;
        }
        check!(
            // SAFETY: the kernel's own bytes, written back unchanged (or a `ret`), or RAM read via the direct map.
            unsafe { probe(v, Access::Read) }.is_ok(),
            "reading RAM {p:#x} through {v} faulted"
        );
        let t = space.translate(v);
        check!(
            matches!(t, Ok(t) if t.phys == p),
            "{v} translates to {t:?}, expected {p:#x}"
        );
        if let Ok(t) = t {
            check!(
                !X86Mmu.has_nx() || t.flags.contains(PageFlags::NO_EXECUTE),
                "direct map at {v} is executable"
            );
        }
    }
    Ok(Done::Pass)
}

fn boot_identity_map_gone(ctx: &Ctx<'_>) -> Outcome {
    let a = VirtAddr::new_truncate(ctx.boot.image.phys_start());
    // SAFETY: the kernel's own bytes, written back unchanged (or a `ret`), or RAM read via the direct map.
    let f = unsafe { probe(a, Access::Read) };
    check!(
        matches!(f, Err(e) if !e.was_protection()),
        "the boot identity map still maps {a}: {f:?}"
    );
    Ok(Done::Pass)
}
