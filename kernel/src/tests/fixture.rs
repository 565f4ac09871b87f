//! Two kernel-owned frames the fault tests map at chosen rights, through
//! valen-mm's paging tier on the kernel's own tables:
//!
//! ```text
//!  slot i = BASE + i * 4 KiB (0xFFFFFFFFFF000000 + ..., above the device
//!  window, where no tier maps anything)  ──map / protect / unmap──►  FRAMES[0|1]
//! ```
//! The frames are statics of the kernel (physical = virtual -
//! KERNEL_VIRT_OFFSET), so the tests can also read and write them through
//! the kernel's own mapping and see what went through the slot.

use crate::mm::{Frames, KernelSpace};
use core::cell::UnsafeCell;
use valen_mm::paging::{PageFlags, PagingError};
use valen_mm::{PhysAddr, VirtAddr, KERNEL_VIRT_OFFSET};

/// First virtual address of the fixture's slots.
pub const BASE: u64 = 0xFFFF_FFFF_FF00_0000;

/// A frame the CPU also reaches through a slot: touched only with volatile
/// accesses.
#[repr(C, align(4096))]
struct HwPage(UnsafeCell<[u8; 4096]>);

// SAFETY: the fixture is used by the test runner alone (one CPU, one thread).
unsafe impl Sync for HwPage {}

impl HwPage {
    const fn new() -> Self {
        Self(UnsafeCell::new([0; 4096]))
    }
    fn ptr(&self) -> *mut u8 {
        self.0.get().cast()
    }
}

static FRAMES: [HwPage; 2] = [HwPage::new(), HwPage::new()];

/// The physical address of fixture frame `frame`.
pub fn frame_phys(frame: usize) -> PhysAddr {
    PhysAddr::new_truncate(FRAMES[frame % 2].ptr() as u64 - KERNEL_VIRT_OFFSET)
}

/// The virtual address of slot `i`.
pub fn addr(slot: usize) -> VirtAddr {
    VirtAddr::new_truncate(BASE + (slot % 512) as u64 * 4096)
}

/// Maps slot `slot` to fixture frame `frame` with `flags` (replacing what
/// the slot mapped).
pub fn map(
    space: &mut KernelSpace,
    frames: &mut Frames,
    slot: usize,
    frame: usize,
    flags: PageFlags,
) -> Result<(), PagingError> {
    unmap(space, frames, slot)?;
    space.map(addr(slot), frame_phys(frame), flags, frames)
}

/// Unmaps slot `slot` if it is mapped.
pub fn unmap(space: &mut KernelSpace, frames: &mut Frames, slot: usize) -> Result<(), PagingError> {
    match space.unmap(addr(slot), frames) {
        Ok(_) | Err(PagingError::NotMapped { .. }) => Ok(()),
        Err(e) => Err(e),
    }
}

/// Writes byte `offset` of fixture frame `frame` through the kernel's own mapping.
pub fn poke(frame: usize, offset: usize, value: u8) {
    // SAFETY: inside the 4 KiB frame, which the kernel owns.
    unsafe {
        FRAMES[frame % 2]
            .ptr()
            .add(offset % 4096)
            .write_volatile(value)
    };
}

/// Reads byte `offset` of fixture frame `frame` through the kernel's own mapping.
pub fn peek(frame: usize, offset: usize) -> u8 {
    // SAFETY: inside the 4 KiB frame, which the kernel owns.
    unsafe { FRAMES[frame % 2].ptr().add(offset % 4096).read_volatile() }
}

/// Reads the byte at `addr`, which the caller has mapped readable.
pub fn read_mapped(addr: VirtAddr) -> u8 {
    // SAFETY: the test mapped this fixture slot present just before.
    unsafe { addr.as_mut_ptr::<u8>().read_volatile() }
}
