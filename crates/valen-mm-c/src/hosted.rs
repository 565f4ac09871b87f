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
//! The RAM is shared memory, so a `fork` gives the child a private copy
//! (handlers registered with `pthread_atfork`): just before the fork the
//! parent copies the pages it has touched into a new memfd ([`before_fork`]),
//! and the child maps that snapshot over its RAM and every mirror
//! ([`after_fork_child`]). As with most simple allocators, a fork while
//! another thread is inside the allocator (or writing heap memory) is not
//! a clean snapshot for the child.

use core::sync::atomic::{AtomicU64, Ordering};
use valen_mm::arch::{Mmu, PhysMapper};
use valen_mm::sync::SpinLock;
use valen_mm::{PhysAddr, VirtAddr};

/// Host address of simulated physical address 0 (`PHYS_TO_VIRT`'s offset).
pub const RAM_BASE: u64 = 0x4000_0000;
/// Bytes of simulated RAM.
pub const RAM_SIZE: u64 = 1 << 30;

/// The memfd behind RAM, or -1 before [`boot`] (or when it failed).
static RAM_FD: AtomicU64 = AtomicU64::new(u64::MAX);
/// Mirror mappings that the host refused (address already in use).
static MIRROR_FAILURES: AtomicU64 = AtomicU64::new(0);
/// End of the lower half: only addresses below it can be mirrored.
const LOWER_HALF_END: u64 = 0x0000_8000_0000_0000;
/// How many mirrors are remembered (further ones count as failures).
const MIRRORS: usize = 256;
/// The live mirrors `(virt, len, phys)`; `len == 0` marks a free slot.
/// `unmirror` removes only what is recorded here, never a host mapping of
/// its own; a forked child remaps each of them onto its own RAM.
static MIRROR_TABLE: SpinLock<[(u64, u64, u64); MIRRORS]> = SpinLock::new([(0, 0, 0); MIRRORS]);
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
    let ok =
        fd != u64::MAX && v.checked_add(len).is_some_and(|e| e <= LOWER_HALF_END) && in_ram(p, len);
    let mut table = MIRROR_TABLE.lock();
    let slot = table.iter().position(|&(_, l, _)| l == 0);
    let (true, Some(slot)) = (ok, slot) else {
        MIRROR_FAILURES.fetch_add(1, Ordering::Relaxed);
        return;
    };
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
        return;
    }
    table[slot] = (v, len, p);
}

/// Removes the host mirrors (made by [`mirror`]) inside an unmapped range.
pub fn unmirror(virt: VirtAddr, len: u64) {
    let (s, e) = (virt.as_u64(), virt.as_u64().saturating_add(len));
    let mut table = MIRROR_TABLE.lock();
    for entry in table.iter_mut() {
        let (ms, me) = (entry.0, entry.0 + entry.1);
        let (cs, ce) = (s.max(ms), e.min(me));
        if entry.1 == 0 || cs >= ce {
            continue;
        }
        // SAFETY: `[cs, ce)` lies inside a mirror this module mapped and
        // still records: only our memfd view goes away.
        unsafe { libc::munmap(cs as *mut libc::c_void, (ce - cs) as usize) };
        let p = entry.2;
        *entry = match (cs == ms, ce == me) {
            (true, true) => (0, 0, 0),
            (true, false) => (ce, me - ce, p + (ce - ms)),
            (false, true) => (ms, cs - ms, p),
            // A hole in the middle: the record keeps both ends (unmapping
            // the hole again later is harmless: nothing of ours is there).
            (false, false) => *entry,
        };
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

fn map_fd(virt: u64, len: u64, fd: i32, off: u64) -> bool {
    // SAFETY: replaces (MAP_FIXED) only RAM or a recorded mirror, which
    // the caller passes; the file range lies inside the memfd.
    let r = unsafe {
        libc::mmap(
            virt as *mut libc::c_void,
            len as usize,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_SHARED | libc::MAP_FIXED | libc::MAP_NORESERVE,
            fd,
            off as libc::off_t,
        )
    };
    r as u64 == virt
}

/// Copies the written parts of memfd `old` (as seen at [`RAM_BASE`]) into `new`.
fn copy_data(old: i32, new: i32) -> bool {
    let mut off: i64 = 0;
    while (off as u64) < RAM_SIZE {
        // SAFETY: plain lseek on our own descriptor.
        let data = unsafe { libc::lseek(old, off, libc::SEEK_DATA) };
        if data < 0 {
            return true; // no data after `off`
        }
        // SAFETY: as above.
        let hole = unsafe { libc::lseek(old, data, libc::SEEK_HOLE) }.max(data);
        let mut at = data;
        while at < hole {
            let src = (RAM_BASE + at as u64) as *const libc::c_void;
            // SAFETY: `[at, hole)` is inside RAM, mapped at RAM_BASE.
            let n = unsafe { libc::pwrite(new, src, (hole - at) as usize, at) };
            if n <= 0 {
                return false;
            }
            at += n as i64;
        }
        off = hole;
    }
    true
}

/// The copy of RAM [`before_fork`] made for the child, or -1.
static CHILD_FD: core::sync::atomic::AtomicI32 = core::sync::atomic::AtomicI32::new(-1);

/// `pthread_atfork` prepare handler (in the parent, just before `fork`):
/// copies RAM into a new memfd, which the child inherits. Copying here, and
/// not in the child, makes it a snapshot: the parent runs on as soon as
/// `fork` returns and would otherwise change RAM under the child's copy.
pub extern "C" fn before_fork() {
    let old = RAM_FD.load(Ordering::Acquire);
    if old == u64::MAX {
        return;
    }
    // SAFETY: as in `boot`.
    let new = unsafe { libc::memfd_create(c"valen-ram".as_ptr(), libc::MFD_CLOEXEC) };
    // SAFETY: our new descriptor.
    if new < 0 || unsafe { libc::ftruncate(new, RAM_SIZE as libc::off_t) } != 0 {
        MIRROR_FAILURES.fetch_add(1, Ordering::Relaxed);
        return;
    }
    if !copy_data(old as i32, new) {
        MIRROR_FAILURES.fetch_add(1, Ordering::Relaxed);
        // SAFETY: our own descriptor, not in use.
        unsafe { libc::close(new) };
        return;
    }
    CHILD_FD.store(new, Ordering::Release);
}

/// `pthread_atfork` parent handler: the parent keeps its RAM; drops the copy.
pub extern "C" fn after_fork_parent() {
    let fd = CHILD_FD.swap(-1, Ordering::AcqRel);
    if fd >= 0 {
        // SAFETY: the copy is the child's; the parent's descriptor is unused.
        unsafe { libc::close(fd) };
    }
}

/// `pthread_atfork` child handler: maps the parent's snapshot over RAM and
/// every mirror, so parent and child no longer share memory.
pub extern "C" fn after_fork_child() {
    let new = CHILD_FD.swap(-1, Ordering::AcqRel);
    let old = RAM_FD.load(Ordering::Acquire);
    if new < 0 || old == u64::MAX {
        return;
    }
    if !map_fd(RAM_BASE, RAM_SIZE, new, 0) {
        MIRROR_FAILURES.fetch_add(1, Ordering::Relaxed);
        return;
    }
    for &(v, len, p) in MIRROR_TABLE.lock().iter() {
        if len != 0 && !map_fd(v, len, new, p) {
            MIRROR_FAILURES.fetch_add(1, Ordering::Relaxed);
        }
    }
    RAM_FD.store(new as u64, Ordering::Release);
    // SAFETY: nothing maps the old file in this process any more.
    unsafe { libc::close(old as i32) };
}

/// Registers the fork handlers (once). Called with no lock held: the C
/// library may allocate to register it.
pub fn register_fork_handler() {
    static DONE: core::sync::atomic::AtomicBool = core::sync::atomic::AtomicBool::new(false);
    if !DONE.swap(true, Ordering::AcqRel) {
        // SAFETY: registers a handler that runs in the child after fork.
        unsafe {
            libc::pthread_atfork(
                Some(before_fork),
                Some(after_fork_parent),
                Some(after_fork_child),
            )
        };
    }
}
