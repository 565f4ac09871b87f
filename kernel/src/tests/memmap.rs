//! The memory map as the boot loader gave it and as the kernel reserved it.

use super::{Ctx, Done, Outcome, Test};
use crate::check;
use valen_mm::{PhysAddr, RegionKind, PAGE_SIZE};

/// The memory-map tests.
pub const TESTS: &[Test] = &[
    Test {
        name: "memmap::has_ram_above_1mib",
        run: has_ram_above_1mib,
    },
    Test {
        name: "memmap::sorted_disjoint_aligned",
        run: sorted_disjoint_aligned,
    },
    Test {
        name: "memmap::kernel_image_reserved",
        run: kernel_image_reserved,
    },
    Test {
        name: "memmap::boot_data_reserved",
        run: boot_data_reserved,
    },
    Test {
        name: "memmap::legacy_hole_not_usable",
        run: legacy_hole_not_usable,
    },
    Test {
        name: "memmap::usable_matches_qemu_mem",
        run: usable_matches_qemu_mem,
    },
];

fn has_ram_above_1mib(ctx: &Ctx<'_>) -> Outcome {
    let map = &ctx.boot.map;
    let above = map
        .of_kind(RegionKind::Usable)
        .filter(|r| r.start.as_u64() >= 1 << 20)
        .map(|r| r.len())
        .sum::<u64>();
    check!(
        above >= 4 << 20,
        "only {above:#x} bytes of usable RAM above 1 MiB"
    );
    Ok(Done::Pass)
}

fn sorted_disjoint_aligned(ctx: &Ctx<'_>) -> Outcome {
    for map in [&ctx.boot.firmware_map, &ctx.boot.map] {
        let regions = map.regions();
        for w in regions.windows(2) {
            check!(
                w[0].end <= w[1].start,
                "{} overlaps or precedes {}",
                w[1],
                w[0]
            );
            check!(
                !(w[0].end == w[1].start && w[0].kind == w[1].kind),
                "{} and {} touch and should have merged",
                w[0],
                w[1]
            );
        }
        for r in map.of_kind(RegionKind::Usable) {
            check!(
                r.start.is_aligned(PAGE_SIZE) && r.end.is_aligned(PAGE_SIZE),
                "usable region {r} is not 4 KiB aligned"
            );
        }
    }
    Ok(Done::Pass)
}

fn kernel_image_reserved(ctx: &Ctx<'_>) -> Outcome {
    let img = ctx.boot.image;
    let map = &ctx.boot.map;
    let mut a = img.phys_start();
    while a < img.phys_end() {
        let kind = map.kind_at(PhysAddr::new_truncate(a));
        check!(
            kind == Some(RegionKind::KernelImage),
            "image byte {a:#x} is {kind:?}"
        );
        a += PAGE_SIZE;
    }
    check!(
        !map.is_usable(
            PhysAddr::new_truncate(img.phys_start()),
            PhysAddr::new_truncate(img.phys_start() + 1)
        ),
        "the image start is usable"
    );
    Ok(Done::Pass)
}

fn boot_data_reserved(ctx: &Ctx<'_>) -> Outcome {
    let map = &ctx.boot.map;
    check!(
        !ctx.boot.boot_data().is_empty(),
        "no boot data was recorded"
    );
    for &(s, e) in ctx.boot.boot_data() {
        for a in [s, e - 1] {
            let kind = map.kind_at(PhysAddr::new_truncate(a));
            check!(
                kind != Some(RegionKind::Usable),
                "boot data byte {a:#x} is still usable"
            );
        }
    }
    Ok(Done::Pass)
}

fn legacy_hole_not_usable(ctx: &Ctx<'_>) -> Outcome {
    let map = &ctx.boot.map;
    for a in (0xA_0000u64..0x10_0000).step_by(PAGE_SIZE as usize) {
        let kind = map.kind_at(PhysAddr::new_truncate(a));
        check!(
            kind != Some(RegionKind::Usable),
            "legacy VGA/BIOS byte {a:#x} is usable"
        );
    }
    Ok(Done::Pass)
}

/// `mem=BYTES` on the command line (the runner passes QEMU's `-m`): the
/// usable RAM must be that, less at most the 1 MiB of low-memory holes and
/// the boot data, and never more.
fn usable_matches_qemu_mem(ctx: &Ctx<'_>) -> Outcome {
    let Some(expected) = ctx
        .boot
        .cmdline_value("mem")
        .and_then(|v| v.parse::<u64>().ok())
    else {
        return Ok(Done::Skip("no mem= on the command line"));
    };
    let usable = ctx.boot.firmware_map.usable_bytes();
    check!(
        usable <= expected,
        "usable {usable:#x} > the machine's {expected:#x}"
    );
    check!(
        expected - usable <= 1 << 20,
        "usable {usable:#x} is more than 1 MiB below the machine's {expected:#x}"
    );
    Ok(Done::Pass)
}
