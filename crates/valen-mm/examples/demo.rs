//! The demo: the PMM on a simulated QEMU `pc` machine with 128 MiB of RAM.
//!
//! It reserves a pretend kernel image at 2 MiB, starts the PMM straight from
//! the firmware memory map, shows where the PMM put its bitmap, then runs the
//! specification's examples and prints what they print.

use std::process::ExitCode;
use valen_mm::hosted::{HostedMachine, Preset};
use valen_mm::pmm::{LockedPmm, Pmm};
use valen_mm::{MemoryMap, RegionKind};

const MIB: u64 = 1 << 20;
/// Where the pretend kernel image lies: [2 MiB, 3 MiB + 340 KiB).
const KERNEL: (u64, u64) = (2 * MIB, 3 * MIB + 0x5_5000);

fn print_map(map: &MemoryMap) {
    println!("| start | end | size | kind |");
    println!("| ---: | ---: | ---: | --- |");
    for r in map.regions() {
        println!(
            "| {:#012x} | {:#012x} | {:>9} | {} |",
            r.start.as_u64(),
            r.end.as_u64(),
            human(r.len()),
            r.kind.name()
        );
    }
}

fn human(bytes: u64) -> String {
    match bytes {
        b if b >= MIB && b % MIB == 0 => format!("{} MiB", b / MIB),
        b if b >= MIB => format!("{:.1} MiB", b as f64 / MIB as f64),
        b if b >= 1024 => format!("{:.1} KiB", b as f64 / 1024.0),
        b => format!("{b} B"),
    }
}

fn print_memory_info(pmm: &LockedPmm<'_>) {
    // The spec's print_memory_info().
    println!("Physical Memory:");
    println!("  Total: {} KB", pmm.get_total_kb());
    println!("  Used:  {} KB", pmm.get_used_kb());
    println!("  Free:  {} KB", pmm.get_free_kb());
    if let Some(usage) = (pmm.get_used_kb() * 100).checked_div(pmm.get_total_kb()) {
        println!("  Usage: {usage}%");
    }
}

fn main() -> ExitCode {
    let mut machine = match HostedMachine::preset(Preset::Pc128M) {
        Ok(m) => m,
        Err(e) => {
            eprintln!("demo: cannot create the hosted machine: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!(
        "valen-mm demo: {} on the hosted machine\n",
        Preset::Pc128M.name()
    );
    if let Err(e) = machine
        .map
        .reserve(KERNEL.0, KERNEL.1, RegionKind::KernelImage)
    {
        eprintln!("demo: cannot reserve the kernel image: {e}");
        return ExitCode::FAILURE;
    }
    println!("Memory map (firmware's, with the kernel image reserved):\n");
    print_map(&machine.map);

    // SAFETY: the hosted RAM is fresh: nothing but the PMM (and the frames
    // it hands out) uses what the map calls usable.
    let pmm = match unsafe { Pmm::from_map(&machine.map, &machine.ram) } {
        Ok(p) => LockedPmm::new(p),
        Err(e) => {
            eprintln!("demo: PMM init failed: {e}");
            return ExitCode::FAILURE;
        }
    };
    let place = pmm.placement();
    let phys = place.phys.map_or(0, |p| p.as_u64());
    let why = if phys >= 16 * MIB {
        "the first usable place above 16 MiB, keeping ISA DMA memory free"
    } else {
        "the first usable place above 2 MiB"
    };
    println!(
        "\nPMM: {} frames; bitmap + summaries {} bytes ({:.3} bits per frame)\n     \
         placed at physical {:#x} ({why}), marked used\n",
        place.frames,
        place.bytes,
        place.bytes as f64 * 8.0 / place.frames as f64,
        phys,
    );

    // The spec's page-allocation example.
    if let Some(page) = pmm.alloc_page() {
        println!("Allocated page at: {:#x}", page.start().as_u64());
        if let Err(e) = pmm.free_page(page.start()) {
            eprintln!("demo: free failed: {e}");
            return ExitCode::FAILURE;
        }
    }
    match pmm.alloc_pages(4) {
        Ok(Some(pages)) => {
            println!("Allocated 4 pages at: {:#x}", pages.start().as_u64());
            // The spec frees with pmm_free_page, which frees only the first
            // of the four; free_pages frees the whole run.
            if let Err(e) = pmm.free_pages(pages.start(), 4) {
                eprintln!("demo: free failed: {e}");
                return ExitCode::FAILURE;
            }
        }
        Ok(None) => println!("Out of memory for 4 pages"),
        Err(e) => {
            eprintln!("demo: alloc_pages failed: {e}");
            return ExitCode::FAILURE;
        }
    }

    // The spec's statistics example.
    println!(
        "Memory: {} KB total, {} KB used, {} KB free\n",
        pmm.get_total_kb(),
        pmm.get_used_kb(),
        pmm.get_free_kb()
    );
    print_memory_info(&pmm);

    if let Err(e) = pmm.check() {
        eprintln!("demo: invariant check failed: {e:?}");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
