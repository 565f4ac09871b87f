//! valen-mm's tiers brought up in the kernel, in the spec's order:
//!
//! ```text
//!  frames (PMM)  ─► paging: the kernel's own tables, CR3 ─► VMM ─► (heap)
//! ```
//!
//! Everything lives in one [`Mm`] behind one spinlock, [`MM`]: the VMM, the
//! kernel's address space and the frame source are always used together.
//! The page-fault handler only ever `try_lock`s it.

mod boot_frames;
pub mod heap;
mod kernel_space;

pub use boot_frames::BootFrames;
pub use kernel_space::{nx, stack_guard, KernelSpace};

use crate::boot::BootInfo;
use crate::bootlog::Size;
use crate::kprintln;
use core::fmt;
use valen_mm::paging::PagingError;
use valen_mm::sync::SpinLock;
use valen_mm::vmm::Vmm;
use valen_mm::VirtAddr;

/// The frame source the kernel uses.
pub type Frames = BootFrames;

/// The memory manager's parts.
pub struct Mm {
    /// The virtual windows.
    pub vmm: Vmm,
    /// The kernel's address space (after [`init`]).
    pub space: Option<KernelSpace>,
    /// The frame source (after [`init`]).
    pub frames: Option<Frames>,
    /// Free frames right after the kernel tables are up (before the heap).
    pub baseline_free: u64,
    /// Page tables then.
    pub baseline_tables: u64,
}

impl Mm {
    /// The three parts, once [`init`] has run.
    pub fn parts(&mut self) -> Option<(&mut Vmm, &mut KernelSpace, &mut Frames)> {
        match self {
            Mm {
                vmm,
                space: Some(s),
                frames: Some(f),
                ..
            } => Some((vmm, s, f)),
            _ => None,
        }
    }
}

/// The kernel's memory manager.
pub static MM: SpinLock<Mm> = SpinLock::new(Mm {
    vmm: Vmm::new(),
    space: None,
    frames: None,
    baseline_free: 0,
    baseline_tables: 0,
});

/// Free frames in the frame source.
pub fn free_frames(frames: &Frames) -> u64 {
    frames.free_frames()
}

/// Where the PMM put its bitmap (the stand-in frame source has none).
pub fn bitmap_range() -> Option<(u64, u64)> {
    None
}

/// Why bring-up failed.
#[derive(Debug)]
pub enum MmError {
    /// Building the kernel's tables failed.
    Paging(PagingError),
    /// The VMM had no 16 KiB for the initial heap.
    Heap,
}

impl fmt::Display for MmError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Paging(e) => write!(f, "building the kernel's page tables: {e}"),
            Self::Heap => write!(f, "no memory for the 16 KiB initial heap"),
        }
    }
}

/// Whether `addr` is the guard page after a `vmm_alloc` allocation (for the
/// page-fault report; answers `false` if the memory manager is busy).
fn is_guard_page(addr: u64) -> bool {
    if addr & !0xFFF == stack_guard().as_u64() {
        return true;
    }
    MM.try_lock()
        .is_some_and(|mm| mm.vmm.guard_page_of(VirtAddr::new_truncate(addr)).is_some())
}

/// Prints what each tier holds.
pub fn report(when: &str) {
    let mut mm = MM.lock();
    let Some((vmm, space, frames)) = mm.parts() else {
        return;
    };
    let free = free_frames(frames);
    let tables = space.check_invariants().map(|t| t.tables).unwrap_or(0);
    let v = vmm.stats();
    drop(mm);
    let h = heap::HEAP.stats();
    let (chunks, pages) = heap::growth();
    kprintln!("memory {when}:");
    kprintln!("  frames: {} free", Size(free * 4096));
    kprintln!("  paging: {tables} page tables");
    kprintln!(
        "  vmm: {} allocations ({} pages mapped, {} frames owned), heap window {} in use, device window {} in use",
        v.allocations,
        v.pages_mapped,
        v.frames_owned,
        Size(v.heap_window_bytes),
        Size(v.device_window_bytes)
    );
    kprintln!(
        "  heap: {} in {chunks} chunk(s) from the VMM ({} pages), {} used in {} blocks, peak {}, {} growth events",
        Size(h.total_bytes as u64),
        pages,
        Size(h.used_bytes as u64),
        h.used_blocks,
        Size(h.peak_used_bytes as u64),
        h.growth_events
    );
}

/// Brings up every tier that exists, printing what each did.
pub fn init(boot: &BootInfo) -> Result<(), MmError> {
    let mut frames = BootFrames::new(&boot.map);
    kprintln!(
        "frames: {} free from 2 MiB up (stand-in frame source until the PMM tier lands)",
        Size(frames.free_frames() * 4096)
    );

    // SAFETY: the boot tables are active; the stand-in hands out frames from
    // 2 MiB up in address order, and the kernel tables need far fewer than
    // the RAM below 1 GiB that the boot tables map.
    let space = unsafe { kernel_space::build(boot, &mut frames) }.map_err(MmError::Paging)?;
    let stats = space.check_invariants().unwrap_or_default();
    // SAFETY: the new tables map the kernel image (code, data, this stack)
    // and all RAM through the direct map, which is all the kernel uses.
    unsafe { space.activate() };
    let [k4, m2, g1] = stats.leaves;
    kprintln!(
        "paging: kernel tables active, CR3 = {:#x}: {} tables, leaves {k4} x 4 KiB, {m2} x 2 MiB, {g1} x 1 GiB{}",
        space.root().start().as_u64(),
        stats.tables,
        if g1 == 0 && m2 > 0 { " (no 1 GiB pages on this CPU)" } else { "" },
    );
    let mut mm = MM.lock();
    mm.space = Some(space);
    mm.baseline_free = free_frames(&frames);
    mm.baseline_tables = stats.tables;
    mm.frames = Some(frames);
    drop(mm);
    crate::cpu::fault::set_guard_check(is_guard_page);
    kprintln!("vmm: heap window and device window ready");
    if !heap::init() {
        return Err(MmError::Heap);
    }
    let h = heap::HEAP.stats();
    kprintln!(
        "heap: {} initial heap in the heap window, the kernel's global allocator",
        Size(h.total_bytes as u64)
    );
    Ok(())
}
