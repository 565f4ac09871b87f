//! A one-page-table fixture for the fault tests, independent of the paging
//! tier: it plants its own page table in the active tables and maps two
//! kernel-owned frames at chosen rights.
//!
//! ```text
//!  CR3 ─► PML4[511] ─► PDPT[511] ─► PD[504] ─► PT (ours) ─► FRAMES[0], FRAMES[1]
//!  slot i of the PT is virtual BASE + i * 4 KiB (0xFFFFFFFFFF000000 + ...),
//!  above the device window, where no tier maps anything
//! ```
//! Every change is followed by `invlpg` through valen-mm's `X86Mmu`, so the
//! tests also show that a single-page flush is enough for the CPU to see it.

use core::cell::UnsafeCell;
use valen_mm::arch::x86_64::X86Mmu;
use valen_mm::arch::Mmu;
use valen_mm::layout::DIRECT_MAP_BASE;
use valen_mm::{VirtAddr, KERNEL_VIRT_OFFSET};

/// First virtual address of the fixture's page table.
pub const BASE: u64 = 0xFFFF_FFFF_FF00_0000;
/// Entry bits.
pub const PRESENT: u64 = 1;
/// Writable.
pub const WRITABLE: u64 = 1 << 1;
/// Large page (in a PD or PDPT entry).
const HUGE: u64 = 1 << 7;
/// No-execute.
pub const NO_EXECUTE: u64 = 1 << 63;
const ADDR_MASK: u64 = 0x000F_FFFF_FFFF_F000;

/// A page the CPU reads behind the compiler's back: touched only with
/// volatile accesses.
#[repr(C, align(4096))]
struct HwPage(UnsafeCell<[u64; 512]>);

// SAFETY: the fixture is used by the test runner alone (one CPU, one thread).
unsafe impl Sync for HwPage {}

impl HwPage {
    const fn new() -> Self {
        Self(UnsafeCell::new([0; 512]))
    }
    fn ptr(&self) -> *mut u64 {
        self.0.get().cast()
    }
    fn phys(&self) -> u64 {
        self.ptr() as u64 - KERNEL_VIRT_OFFSET
    }
}

static PD: HwPage = HwPage::new();
static PT: HwPage = HwPage::new();
static FRAMES: [HwPage; 2] = [HwPage::new(), HwPage::new()];

/// Why the fixture could not be planted.
#[derive(Debug)]
pub enum FixtureError {
    /// PML4[511] (the kernel's) is not present.
    NoKernelPdpt,
    /// PDPT[511] maps a 1 GiB page.
    HugePdpt,
    /// PD[504] is in use by someone else.
    PdSlotTaken(u64),
}

impl core::fmt::Display for FixtureError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::NoKernelPdpt => write!(f, "PML4[511] is not present"),
            Self::HugePdpt => write!(f, "PDPT[511] maps a 1 GiB page"),
            Self::PdSlotTaken(e) => write!(f, "PD[504] already holds {e:#x}"),
        }
    }
}

/// A table entry `index` of the table at physical `table`, via the direct map.
fn entry(table: u64, index: usize) -> *mut u64 {
    (DIRECT_MAP_BASE + table + index as u64 * 8) as *mut u64
}

/// Plants the fixture's page table in the active tables (idempotent).
pub fn install() -> Result<(), FixtureError> {
    let pml4 = X86Mmu.root().as_u64();
    // SAFETY: the active PML4 is reachable through the direct map, and the
    // tables below it too (early tables: below 1 GiB; later: all RAM).
    let pml4e = unsafe { entry(pml4, 511).read_volatile() };
    if pml4e & PRESENT == 0 {
        return Err(FixtureError::NoKernelPdpt);
    }
    let pdpte_ptr = entry(pml4e & ADDR_MASK, 511);
    // SAFETY: as above: a table entry of the active tables.
    let pdpte = unsafe { pdpte_ptr.read_volatile() };
    let pd = if pdpte & PRESENT == 0 {
        // SAFETY: the entry was empty; our PD (zeroed) now covers that GiB.
        unsafe { pdpte_ptr.write_volatile(PD.phys() | PRESENT | WRITABLE) };
        PD.phys()
    } else if pdpte & HUGE != 0 {
        return Err(FixtureError::HugePdpt);
    } else {
        pdpte & ADDR_MASK
    };
    let pde_ptr = entry(pd, 504);
    let ours = PT.phys() | PRESENT | WRITABLE;
    // SAFETY: a table entry of the active tables.
    let pde = unsafe { pde_ptr.read_volatile() };
    // The CPU may have set the accessed and dirty bits (5, 6) since.
    if pde != 0 && pde & !0x60 != ours {
        return Err(FixtureError::PdSlotTaken(pde));
    }
    // SAFETY: the slot was free or already ours; our PT maps only our frames.
    unsafe { pde_ptr.write_volatile(ours) };
    X86Mmu.flush_all();
    Ok(())
}

/// The virtual address of slot `i`.
pub fn addr(slot: usize) -> VirtAddr {
    VirtAddr::new_truncate(BASE + slot as u64 * 4096)
}

/// Maps slot `slot` to fixture frame `frame` with `flags`, and flushes it.
pub fn map(slot: usize, frame: usize, flags: u64) {
    let value = FRAMES[frame % 2].phys() | flags;
    // SAFETY: our own PT, slot below 512; it maps only our frames.
    unsafe { PT.ptr().add(slot % 512).write_volatile(value) };
    X86Mmu.flush_page(addr(slot));
}

/// Unmaps slot `slot` and flushes it.
pub fn unmap(slot: usize) {
    // SAFETY: our own PT, slot below 512.
    unsafe { PT.ptr().add(slot % 512).write_volatile(0) };
    X86Mmu.flush_page(addr(slot));
}

/// Writes byte `offset` of fixture frame `frame` through the kernel's own mapping.
pub fn poke(frame: usize, offset: usize, value: u8) {
    let p = FRAMES[frame % 2].ptr().cast::<u8>();
    // SAFETY: inside the 4 KiB frame, which the kernel owns.
    unsafe { p.add(offset % 4096).write_volatile(value) };
}

/// Reads byte `offset` of fixture frame `frame` through the kernel's own mapping.
pub fn peek(frame: usize, offset: usize) -> u8 {
    let p = FRAMES[frame % 2].ptr().cast::<u8>();
    // SAFETY: inside the 4 KiB frame, which the kernel owns.
    unsafe { p.add(offset % 4096).read_volatile() }
}

/// Reads the byte at `addr`, which the caller has mapped.
pub fn read_mapped(addr: VirtAddr) -> u8 {
    // SAFETY: the test mapped this fixture slot present just before.
    unsafe { addr.as_mut_ptr::<u8>().read_volatile() }
}
