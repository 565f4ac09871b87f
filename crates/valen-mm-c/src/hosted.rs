//! The hosted backend: the simulated machine the C API runs on under Linux.
//!
//! ```text
//!  host address space                      simulated machine
//!  0x4000_0000 ┬──────────────────┐  memfd  ┌───────────────────┐ phys 0
//!              │ RAM (1 GiB):      │ <=====> │ "physical" RAM     │
//!              │ PHYS_TO_VIRT(p) = │         │  2-4 MiB: kernel   │
//!              │   0x4000_0000 + p │         │  4 MiB:   bitmap   │
//!  0x8000_0000 ┴──────────────────┘         └───────────────────┘ 1 GiB
//!  0xF000_0000   lower-half mappings made with paging_map / vmm_map are
//!                mirrored: the same memfd pages mapped again at `virt`
//! ```
//!
//! Physical RAM is a `memfd` mapped shared at [`RAM_BASE`], a fixed address,
//! so that `PHYS_TO_VIRT` is a constant offset exactly as with a kernel's
//! direct map, and so that a linker symbol (the spec's `_kernel_end`) can
//! point into it. Page tables, TLB flushes and CR3 are simulated (the
//! [`CountingMmu`]); a mapping of a lower-half address (below [`RAM_BASE`])
//! is *also* made real by mapping the memfd at `virt` ([`mirror`]), so the
//! spec's device example, which writes through the address it mapped, runs
//! and its write lands in the simulated physical page. Higher-half
//! addresses (the heap and device windows) exist only in the simulated
//! tables; the heap hands out `PHYS_TO_VIRT` of its physically contiguous
//! chunks instead.
//!
//! Nothing here allocates: this backend is the process's `malloc`.
//! Limitation: the RAM is shared memory, so a process that `fork`s and keeps
//! running without `exec` shares its heap with its child.

use core::sync::atomic::{AtomicU64, Ordering};
use valen_mm::arch::{Mmu, PhysMapper};
use valen_mm::{PhysAddr, VirtAddr};

/// Host address of simulated physical address 0 (`PHYS_TO_VIRT`'s offset).
pub const RAM_BASE: u64 = 0x4000_0000;
/// Bytes of simulated RAM.
pub const RAM_SIZE: u64 = 1 << 30;

/// The memfd behind RAM, or -1 before [`boot`] (or when it failed).
static RAM_FD: AtomicU64 = AtomicU64::new(u64::MAX);
/// Mirror mappings that the host refused (address already in use).
static MIRROR_FAILURES: AtomicU64 = AtomicU64::new(0);
/// TLB flushes and CR3 writes of the simulated MMU.
static FLUSHES: AtomicU64 = AtomicU64::new(0);
static ROOT: AtomicU64 = AtomicU64::new(0);

/// Why the simulated machine could not be created.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BootError {
    /// `memfd_create` or `ftruncate` failed with this `errno`.
    Memfd(i32),
    /// Mapping RAM at [`RAM_BASE`] failed with this `errno` (address in use).
    Map(i32),
}

fn errno() -> i32 {
    // SAFETY: `__errno_location` returns this thread's errno slot.
    unsafe { *libc::__errno_location() }
}

/// Creates the simulated RAM (once; later calls report the first result).
/// The caller serializes calls (the state's boot lock).
pub fn boot() -> Result<(), BootError> {
    if RAM_FD.load(Ordering::Acquire) != u64::MAX {
        return Ok(());
    }
    // SAFETY: a NUL-terminated name and no flags; creates a new file.
    let fd = unsafe { libc::memfd_create(c"valen-ram".as_ptr(), libc::MFD_CLOEXEC) };
    if fd < 0 {
        return Err(BootError::Memfd(errno()));
    }
    // SAFETY: `fd` is the memfd just created; the file stays sparse.
    if unsafe { libc::ftruncate(fd, RAM_SIZE as libc::off_t) } != 0 {
        let e = errno();
        // SAFETY: closing our own descriptor.
        unsafe { libc::close(fd) };
        return Err(BootError::Memfd(e));
    }
    // SAFETY: MAP_FIXED_NOREPLACE never replaces an existing mapping; the
    // new mapping covers the whole file.
    let p = unsafe {
        libc::mmap(
            RAM_BASE as *mut libc::c_void,
            RAM_SIZE as usize,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_SHARED | libc::MAP_FIXED_NOREPLACE | libc::MAP_NORESERVE,
            fd,
            0,
        )
    };
    if p as u64 != RAM_BASE {
        let e = errno();
        if p != libc::MAP_FAILED {
            // SAFETY: an old kernel put the mapping elsewhere: undo it.
            unsafe { libc::munmap(p, RAM_SIZE as usize) };
        }
        // SAFETY: closing our own descriptor.
        unsafe { libc::close(fd) };
        return Err(BootError::Map(e));
    }
    RAM_FD.store(fd as u64, Ordering::Release);
    Ok(())
}

/// Whether `[phys, phys + len)` lies in simulated RAM.
pub fn in_ram(phys: u64, len: u64) -> bool {
    phys.checked_add(len).is_some_and(|end| end <= RAM_SIZE)
}

/// Makes the lower-half mapping `[virt, virt + len)` -> `[phys, ...)` real in
/// the host process (both page aligned). Counts a failure (address in use,
/// outside RAM) in [`mirror_failures`] and leaves the host unchanged.
pub fn mirror(virt: VirtAddr, phys: PhysAddr, len: u64) {
    let (v, p) = (virt.as_u64(), phys.as_u64());
    let fd = RAM_FD.load(Ordering::Acquire);
    let ok = fd != u64::MAX && v.checked_add(len).is_some_and(|e| e <= RAM_BASE) && in_ram(p, len);
    if !ok {
        MIRROR_FAILURES.fetch_add(1, Ordering::Relaxed);
        return;
    }
    // SAFETY: MAP_FIXED_NOREPLACE never replaces an existing host mapping;
    // the file range is inside the memfd (checked).
    let r = unsafe {
        libc::mmap(
            v as *mut libc::c_void,
            len as usize,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_SHARED | libc::MAP_FIXED_NOREPLACE,
            fd as i32,
            p as libc::off_t,
        )
    };
    if r as u64 != v {
        if r != libc::MAP_FAILED {
            // SAFETY: an old kernel ignored the hint: undo the stray mapping.
            unsafe { libc::munmap(r, len as usize) };
        }
        MIRROR_FAILURES.fetch_add(1, Ordering::Relaxed);
    }
}

/// Removes the host mirror of a lower-half range that was unmapped.
pub fn unmirror(virt: VirtAddr, len: u64) {
    let v = virt.as_u64();
    if v.checked_add(len).is_some_and(|e| e <= RAM_BASE) {
        // SAFETY: the range was a mirror made by `mirror` (or nothing):
        // unmapping it only removes memfd views this module created.
        unsafe { libc::munmap(v as *mut libc::c_void, len as usize) };
    }
}

/// How many mirrors the host refused so far.
pub fn mirror_failures() -> u64 {
    MIRROR_FAILURES.load(Ordering::Relaxed)
}

/// Reaches simulated RAM at [`RAM_BASE`].
#[derive(Clone, Copy, Debug)]
pub struct RamMapper;

// SAFETY: once `boot` succeeded (the state builds no tier before), RAM is
// mapped at `RAM_BASE + phys` for every `phys < RAM_SIZE`, for the rest of
// the process; the tiers are given only RAM_SIZE bytes of RAM.
unsafe impl PhysMapper for RamMapper {
    fn phys_to_ptr(&self, phys: PhysAddr) -> *mut u8 {
        (RAM_BASE + phys.as_u64()) as *mut u8
    }
}

/// The simulated MMU: counts flushes, remembers CR3, never allocates
/// (`valen_mm::hosted::RecordingMmu` keeps a `Vec`, which a `malloc` cannot use).
#[derive(Clone, Copy, Debug)]
pub struct CountingMmu;

impl CountingMmu {
    /// TLB flushes so far.
    pub fn flushes() -> u64 {
        FLUSHES.load(Ordering::Relaxed)
    }
}

impl Mmu for CountingMmu {
    fn flush_page(&self, _addr: VirtAddr) {
        FLUSHES.fetch_add(1, Ordering::Relaxed);
    }
    fn flush_all(&self) {
        FLUSHES.fetch_add(1, Ordering::Relaxed);
    }
    fn root(&self) -> PhysAddr {
        PhysAddr::new_truncate(ROOT.load(Ordering::Relaxed))
    }
    unsafe fn set_root(&self, pml4: PhysAddr) {
        ROOT.store(pml4.as_u64(), Ordering::Relaxed);
    }
    fn has_1g_pages(&self) -> bool {
        true
    }
    fn has_nx(&self) -> bool {
        true
    }
}
