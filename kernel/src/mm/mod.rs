//! valen-mm's tiers brought up in the kernel, in the spec's order:
//!
//! ```text
//!  PMM (from the memory map) ─► paging: the kernel's own tables, CR3
//!    ─► VMM (heap and device windows) ─► heap (#[global_allocator], grows via vmm_alloc)
//! ```
//! [`api`] has the spec's C-named calls (`pmm_alloc_page`, `vmm_alloc`,
//! `malloc`, ...) over it, for the spec's examples.
//!
//! Everything lives in one [`Mm`] behind one spinlock, [`MM`]: the VMM, the
//! kernel's address space and the frame source are always used together.
//! The page-fault handler only ever `try_lock`s it.

pub mod api;
pub mod heap;
mod kernel_space;

pub use kernel_space::{nx, stack_guard, KernelSpace};

use crate::boot::BootInfo;
use crate::bootlog::Size;
use crate::kprintln;
use core::fmt;
use valen_mm::arch::x86_64::OffsetMapper;
use valen_mm::layout::DIRECT_MAP_BASE;
use valen_mm::paging::PagingError;
use valen_mm::pmm::{Pmm, PmmInitError};
use valen_mm::sync::SpinLock;
use valen_mm::vmm::Vmm;
use valen_mm::VirtAddr;
use valen_mm::{Frame, FrameAllocator, PhysAddr};

/// The frame source the kernel uses: the PMM.
pub type Frames = Pmm<'static>;

/// The direct map, through which the PMM reaches its bitmap.
// SAFETY: the boot tables map the first GiB at the direct-map base (where the
// PMM places its bitmap, low in RAM), and the kernel's own tables map all RAM
// there before anything else is reached through it.
static DIRECT: OffsetMapper = unsafe { OffsetMapper::new(DIRECT_MAP_BASE) };

/// The PMM as a frame source that only hands out frames below 1 GiB: what
/// the boot tables reach while the kernel's tables are being built.
struct BelowEarlyMap<'p>(&'p mut Pmm<'static>);

impl FrameAllocator for BelowEarlyMap<'_> {
    fn allocate_frame(&mut self) -> Option<Frame> {
        self.0.alloc_page_below(PhysAddr::new_truncate(1 << 30))
    }

    unsafe fn deallocate_frame(&mut self, frame: Frame) {
        // SAFETY: forwarded: the frame came from this PMM.
        unsafe { self.0.deallocate_frame(frame) }
    }
}

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

/// Where the PMM put its bitmap: `[start, end)` physical.
pub fn bitmap_range() -> Option<(u64, u64)> {
    let mut mm = MM.lock();
    let (_, _, pmm) = mm.parts()?;
    let p = pmm.placement();
    p.phys.map(|s| (s.as_u64(), s.as_u64() + p.bytes))
}

/// Why bring-up failed.
#[derive(Debug)]
pub enum MmError {
    /// The PMM could not be set up from the memory map.
    Pmm(PmmInitError),
    /// Building the kernel's tables failed.
    Paging(PagingError),
    /// The VMM had no 16 KiB for the initial heap.
    Heap,
}

impl fmt::Display for MmError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Pmm(e) => write!(f, "PMM: {e}"),
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
    let (total, used, free) = (frames.total_kb(), frames.used_kb(), frames.free_kb());
    let tables = space.check_invariants().map(|t| t.tables).unwrap_or(0);
    let v = vmm.stats();
    drop(mm);
    let h = heap::HEAP.stats();
    let (chunks, pages) = heap::growth();
    kprintln!("memory {when}:");
    kprintln!(
        "  pmm: {} total, {} used, {} free ({}% used)",
        Size(total * 1024),
        Size(used * 1024),
        Size(free * 1024),
        (used * 100).checked_div(total).unwrap_or(0)
    );
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
        "  heap: {} in {chunks} chunk(s) from the VMM ({} pages), {} used in {} blocks, {} in {} small blocks waiting in the quick cache, peak {}, {} growth events",
        Size(h.total_bytes as u64),
        pages,
        Size(h.used_bytes as u64),
        h.used_blocks,
        Size(h.cached_bytes as u64),
        h.cached_blocks,
        Size(h.peak_used_bytes as u64),
        h.growth_events
    );
}

/// Brings up every tier that exists, printing what each did.
pub fn init(boot: &BootInfo) -> Result<(), MmError> {
    // SAFETY: 1. nothing has allocated yet: the RAM the map calls usable is
    // unused (the kernel image and boot data are reserved in it); 2. the PMM
    // touches only its bitmap, which it places low (first fit from 16 MiB),
    // inside the first GiB the boot tables map; the kernel's tables map the
    // rest before anything else is reached through the direct map.
    let mut frames = unsafe { Pmm::from_map(&boot.map, &DIRECT) }.map_err(MmError::Pmm)?;
    let p = frames.placement();
    kprintln!(
        "pmm: {} usable, {} free from 2 MiB up; bitmap {} at {:#x} for {} frames",
        Size(frames.total_kb() * 1024),
        Size(frames.free_kb() * 1024),
        Size(p.bytes),
        p.phys.map_or(0, PhysAddr::as_u64),
        p.frames
    );

    // SAFETY: the boot tables are active, and the frames for the new tables
    // come from below 1 GiB, which they map at the direct-map base.
    let space = unsafe { kernel_space::build(boot, &mut BelowEarlyMap(&mut frames)) }
        .map_err(MmError::Paging)?;
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
