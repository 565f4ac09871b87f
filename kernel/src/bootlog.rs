//! The boot log: the memory map as a table and as a bar drawn to scale.
//!
//! ```text
//!  0 |K=======B=================================================| 128 MiB   one cell = 2 MiB
//!     = usable  K kernel  B PMM bitmap  b boot data  a ACPI  r reserved  . hole
//! ```
//! A cell covers a fixed slice of the physical address space and shows the
//! strongest kind inside it, so a 1 MiB kernel still shows on a 16 GiB bar.

use crate::boot::{BootInfo, Protocol};
use crate::kprintln;
use valen_mm::memmap::Region;
use valen_mm::{MemoryMap, RegionKind};

const BAR_WIDTH: u64 = 64;

/// Prints how the kernel was booted and its memory map.
pub fn print(boot: &BootInfo) {
    let img = boot.image;
    kprintln!("valen: booted through {}", boot.protocol.name());
    if boot.protocol == Protocol::Pvh || !boot.cmdline().is_empty() {
        kprintln!("valen: command line \"{}\"", boot.cmdline());
    }
    kprintln!(
        "valen: kernel image {:#x}..{:#x} ({} KiB): text {:#x}, rodata {:#x}, data+bss {:#x}",
        img.phys_start(),
        img.phys_end(),
        (img.phys_end() - img.phys_start()) / 1024,
        img.text.0,
        img.rodata.0,
        img.data.0
    );
    for &(start, end) in boot.boot_data() {
        kprintln!(
            "valen: boot data {start:#x}..{end:#x} ({})",
            Size(end - start)
        );
    }
    kprintln!();
    kprintln!(
        "Firmware memory map ({} entries):",
        boot.firmware_map.regions().len()
    );
    table(&boot.firmware_map);
    kprintln!();
    kprintln!("Memory map for the allocators (kernel image and boot data reserved):");
    table(&boot.map);
    kprintln!();
    address_space();
    kprintln!();
}

/// Prints the kernel's virtual address space (valen-mm's windows).
fn address_space() {
    use valen_mm::layout::*;
    kprintln!("Kernel address space:");
    let windows = [
        (
            DIRECT_MAP_BASE,
            DIRECT_MAP_BASE + DIRECT_MAP_SIZE,
            "direct map of all RAM (no-execute)",
        ),
        (
            KERNEL_WINDOW_START,
            KERNEL_WINDOW_END,
            "kernel image: text RX, rodata R, data RW",
        ),
        (
            HEAP_WINDOW_START,
            HEAP_WINDOW_END,
            "kernel heap and vmm_alloc",
        ),
        (DEVICE_WINDOW_START, DEVICE_WINDOW_END, "device mappings"),
    ];
    for (start, end, what) in windows {
        kprintln!(
            "  {start:#018x} - {end:#018x}  {:>9}  {what}",
            Size(end - start)
        );
    }
}

fn table(map: &MemoryMap) {
    kprintln!("  {:>18}  {:>18}  {:>12}  kind", "start", "end", "size");
    for r in map.regions() {
        kprintln!(
            "  {:#018x}  {:#018x}  {:>12}  {}",
            r.start.as_u64(),
            r.end.as_u64(),
            Size(r.len()),
            r.kind.name()
        );
    }
    kprintln!(
        "  usable: {}, highest usable address: {:#x}",
        Size(map.usable_bytes()),
        map.highest_usable_end().as_u64()
    );
}

/// One character per kind; `None` is a hole the map says nothing about.
fn symbol(kind: Option<RegionKind>) -> char {
    match kind {
        None => '.',
        Some(RegionKind::Usable) => '=',
        Some(RegionKind::KernelImage) => 'K',
        Some(RegionKind::BootData) => 'b',
        Some(RegionKind::AcpiReclaimable | RegionKind::AcpiNvs) => 'a',
        Some(RegionKind::Reserved | RegionKind::Bad) => 'r',
    }
}

/// How much a kind stands out on the bar (higher wins a cell).
fn weight(kind: Option<RegionKind>) -> u8 {
    match kind {
        None => 0,
        Some(RegionKind::Usable) => 1,
        Some(RegionKind::Reserved | RegionKind::Bad) => 2,
        Some(RegionKind::AcpiReclaimable | RegionKind::AcpiNvs) => 3,
        Some(RegionKind::BootData) => 4,
        Some(RegionKind::KernelImage) => 5,
    }
}

/// The end of what the bar shows: the end of the last RAM, so that RAM
/// fills the bar; what lies above is listed under it.
fn bar_top(map: &MemoryMap) -> u64 {
    map.highest_usable_end().as_u64()
}

/// Prints the map as bars drawn to scale: all RAM, and the first 64 MiB
/// (where the kernel, the boot data and the PMM bitmap sit) when RAM is larger.
/// `bitmap` is the PMM bitmap's physical range, once the PMM is up.
pub fn bars(map: &MemoryMap, bitmap: Option<(u64, u64)>) {
    let top = bar_top(map);
    if top == 0 {
        return;
    }
    kprintln!("Physical memory (a cell shows the strongest kind in it):");
    bar(map, bitmap, top);
    const ZOOM: u64 = 64 << 20;
    if top > 2 * ZOOM {
        bar(map, bitmap, ZOOM);
    }
    kprintln!("     = usable  K kernel  B PMM bitmap  b boot data  a ACPI  r reserved  . hole");
    for r in map.regions().iter().filter(|r| r.start.as_u64() >= top) {
        kprintln!("     above: {r}");
    }
}

/// One bar over `[0, top)`.
fn bar(map: &MemoryMap, bitmap: Option<(u64, u64)>, top: u64) {
    let cell = top.div_ceil(BAR_WIDTH).next_multiple_of(4096);
    let mut line = [b' '; BAR_WIDTH as usize];
    for (i, slot) in line.iter_mut().enumerate() {
        let (lo, hi) = (i as u64 * cell, (i as u64 + 1) * cell);
        let strongest = map
            .regions()
            .iter()
            .filter(|r: &&Region| r.start.as_u64() < hi && r.end.as_u64() > lo)
            .map(|r| Some(r.kind))
            .max_by_key(|k| weight(*k))
            .unwrap_or(None);
        let has_bitmap = bitmap.is_some_and(|(s, e)| s < hi && e > lo);
        *slot = if has_bitmap && weight(strongest) < weight(Some(RegionKind::KernelImage)) {
            b'B'
        } else {
            symbol(strongest) as u8
        };
    }
    kprintln!(
        "  0 |{}| {:<9} one cell = {}",
        core::str::from_utf8(&line).unwrap_or(""),
        Size(top),
        Size(cell)
    );
}

/// A byte count shown in the largest unit that keeps it readable.
pub struct Size(pub u64);

impl core::fmt::Display for Size {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let mut buf = [0u8; 24];
        let n = self.write_into(&mut buf);
        let text = core::str::from_utf8(&buf[..n]).unwrap_or("");
        match f.width() {
            Some(w) => write!(f, "{text:>w$}"),
            None => f.write_str(text),
        }
    }
}

impl Size {
    /// Writes "12 MiB" (exact) or "2046.9 MiB" (one decimal) into `buf`.
    fn write_into(&self, buf: &mut [u8; 24]) -> usize {
        use core::fmt::Write;
        struct W<'a>(&'a mut [u8; 24], usize);
        impl Write for W<'_> {
            fn write_str(&mut self, s: &str) -> core::fmt::Result {
                let end = self.1 + s.len();
                self.0
                    .get_mut(self.1..end)
                    .ok_or(core::fmt::Error)?
                    .copy_from_slice(s.as_bytes());
                self.1 = end;
                Ok(())
            }
        }
        let b = self.0;
        let (shift, unit) = match b {
            _ if b >= 1 << 40 => (40, "TiB"),
            _ if b >= 1 << 30 => (30, "GiB"),
            _ if b >= 1 << 20 => (20, "MiB"),
            _ if b >= 1 << 10 => (10, "KiB"),
            _ => (0, "B"),
        };
        let mut w = W(buf, 0);
        let whole = b >> shift;
        let tenths = ((b - (whole << shift)) * 10) >> shift;
        let _ = if b.is_multiple_of(1 << shift) {
            write!(w, "{whole} {unit}")
        } else {
            write!(w, "{whole}.{tenths} {unit}")
        };
        w.1
    }
}
