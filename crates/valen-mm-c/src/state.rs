//! The global state behind the C API, in one place, for both backends.
//!
//! ```text
//!   PMM    SpinLock<Option<Pmm>>                    pmm_init
//!   MM     SpinLock<{ AddressSpace?, Vmm, ready }>  paging_init, vmm_init
//!   HEAP   LockedHeap<VmmGrowth>                     heap_init
//!
//!   lock order: HEAP (never held while growing) -> MM -> PMM
//! ```
//!
//! The C functions are thin: they convert integers to typed addresses, take
//! the locks through [`with_pmm`] / [`with_mm`], and turn errors into codes.
//! Backends differ only in the types and constants chosen here:
//!
//! | | kernel (`x86_64-unknown-none`) | hosted (Linux) |
//! | --- | --- | --- |
//! | physical memory | direct map at `DIRECT_MAP_BASE` | memfd at `hosted::RAM_BASE` |
//! | MMU | `X86Mmu` (`invlpg`, CR3) | `hosted::CountingMmu` |
//! | `paging_init` | adopts the tables in CR3, reloads CR3 | a fresh PML4 |
//! | heap chunk address | `vmm_alloc`'s virtual address | `PHYS_TO_VIRT` of its contiguous frames |
//!
//! On the hosted build the first heap call brings every tier up by itself
//! (as the Valen boot code would, bitmap right after a simulated kernel
//! image), because a C runtime calls `malloc` before `main`; a later spec
//! `*_init` call then finds its tier ready and does nothing (the `_checked`
//! form says `VALEN_EALREADY`).

use crate::error::CError;
use core::ptr::NonNull;
use core::sync::atomic::{AtomicBool, Ordering};
use valen_mm::arch::Mmu;
use valen_mm::heap::{HeapGrowth, LockedHeap};
use valen_mm::paging::AddressSpace;
use valen_mm::pmm::Pmm;
use valen_mm::sync::SpinLock;
use valen_mm::vmm::Vmm;
use valen_mm::{Frame, FrameAllocator, PageFlags, PhysAddr, VirtAddr, PAGE_SIZE};

#[cfg(feature = "hosted")]
mod backend {
    pub use crate::hosted::{CountingMmu as TheMmu, RamMapper as Mapper};
    /// `PHYS_TO_VIRT`'s offset.
    pub const PHYS_BASE: u64 = crate::hosted::RAM_BASE;
    pub const fn mapper() -> Mapper {
        Mapper
    }
    pub const fn mmu() -> TheMmu {
        TheMmu
    }
}

#[cfg(not(feature = "hosted"))]
mod backend {
    pub use valen_mm::arch::x86_64::{OffsetMapper as Mapper, X86Mmu as TheMmu};
    /// `PHYS_TO_VIRT`'s offset: the direct map.
    pub const PHYS_BASE: u64 = valen_mm::layout::DIRECT_MAP_BASE;
    pub const fn mapper() -> Mapper {
        // SAFETY: the C API's contract (documented in the headers): the
        // kernel maps all RAM at DIRECT_MAP_BASE before calling pmm_init.
        unsafe { Mapper::new(PHYS_BASE) }
    }
    pub const fn mmu() -> TheMmu {
        TheMmu
    }
}

pub use backend::PHYS_BASE;
use backend::{Mapper, TheMmu};

/// The kernel address space type of this backend.
pub type Space = AddressSpace<Mapper, TheMmu>;

/// Page tables and the VMM, under one lock.
pub struct Mm {
    /// The address space, once `paging_init` ran.
    pub space: Option<Space>,
    /// The VMM (const-built; usable once `ready`).
    pub vmm: Vmm,
    /// Whether `vmm_init` ran.
    pub ready: bool,
}

static PMM: SpinLock<Option<Pmm<'static>>> = SpinLock::new(None);
static MM: SpinLock<Mm> = SpinLock::new(Mm {
    space: None,
    vmm: Vmm::new(),
    ready: false,
});
/// The kernel heap, growing through the VMM.
pub static HEAP: LockedHeap<VmmGrowth> = LockedHeap::new(VmmGrowth { grown: 0 });
/// Set once the heap has its initial memory (the fast check of every `malloc`).
static HEAP_UP: AtomicBool = AtomicBool::new(false);
/// Serializes the `*_init` calls and the hosted automatic bring-up.
static BOOT: SpinLock<bool> = SpinLock::new(false);

/// The PMM as a [`FrameAllocator`] that also hands out contiguous runs
/// (which `vmm_alloc` asks for first).
pub struct Frames<'p, 'a>(pub &'p mut Pmm<'a>);

impl FrameAllocator for Frames<'_, '_> {
    fn allocate_frame(&mut self) -> Option<Frame> {
        self.0.alloc_page()
    }

    unsafe fn deallocate_frame(&mut self, frame: Frame) {
        // The contract makes this an allocated frame; a refusal would leave
        // the PMM unchanged and there is no caller to tell.
        let _ = self.0.free_page(frame.start());
    }

    fn allocate_contiguous(&mut self, count: u64) -> Option<Frame> {
        self.0.alloc_pages(count).ok().flatten()
    }
}

/// Runs `f` on the PMM, or [`CError::NotInit`].
pub fn with_pmm<R>(f: impl FnOnce(&mut Pmm<'static>) -> Result<R, CError>) -> Result<R, CError> {
    let mut g = PMM.lock();
    f(g.as_mut().ok_or(CError::NotInit)?)
}

/// Runs `f` on the address space, the VMM state and the PMM's frames.
/// Needs `paging_init` (the VMM itself is checked by the callers that need it).
pub fn with_mm<R>(
    f: impl FnOnce(&mut Space, &mut Mm2, &mut Frames<'_, 'static>) -> Result<R, CError>,
) -> Result<R, CError> {
    let mut mm = MM.lock();
    let Mm { space, vmm, ready } = &mut *mm;
    let space = space.as_mut().ok_or(CError::NotInit)?;
    let mut pmm = PMM.lock();
    let pmm = pmm.as_mut().ok_or(CError::NotInit)?;
    f(space, &mut Mm2 { vmm, ready: *ready }, &mut Frames(pmm))
}

/// The VMM part of [`Mm`] handed to [`with_mm`]'s closure.
pub struct Mm2<'v> {
    vmm: &'v mut Vmm,
    ready: bool,
}

impl Mm2<'_> {
    /// The VMM, or [`CError::NotInit`] before `vmm_init`.
    pub fn vmm(&mut self) -> Result<&mut Vmm, CError> {
        if self.ready {
            Ok(self.vmm)
        } else {
            Err(CError::NotInit)
        }
    }
}

/// The spec's `pmm_init(start, size)`: a bitmap at virtual `start` covering
/// `size` bytes of RAM; then every frame from 2 MiB to the end of the bitmap
/// is marked used (the spec puts the bitmap right after the kernel image, so
/// that range is the kernel and the bitmap). `start` must be a
/// `PHYS_TO_VIRT` address (or, in a kernel, a kernel-image address).
pub fn pmm_init(start: u64, size: u64) -> Result<(), CError> {
    let _boot = BOOT.lock();
    pmm_init_locked(start, size)
}

fn pmm_init_locked(start: u64, size: u64) -> Result<(), CError> {
    if PMM.lock().is_some() {
        return Err(CError::Already);
    }
    let virt = VirtAddr::new(start).map_err(|_| CError::Invalid(start))?;
    let phys = virt_to_phys(virt).ok_or(CError::Invalid(start))?;
    let bytes = valen_mm::pmm::bitmap_bytes(size);
    #[cfg(feature = "hosted")]
    if !crate::hosted::in_ram(phys.as_u64(), bytes) || size > crate::hosted::RAM_SIZE {
        return Err(CError::Invalid(size));
    }
    // SAFETY: the C caller's contract for pmm_init (documented in pmm.h):
    // `start` is a direct-map address with bitmap_bytes(size) bytes of RAM
    // nothing else uses; on the hosted build that RAM is the memfd (checked
    // to be inside it just above).
    let mut pmm = unsafe { Pmm::init(virt, size) }.map_err(CError::PmmInit)?;
    let first = valen_mm::pmm::MIN_ALLOC_ADDR;
    let end = (phys.as_u64() + bytes).div_ceil(PAGE_SIZE) * PAGE_SIZE;
    let end = end.min(size / PAGE_SIZE * PAGE_SIZE);
    if end > first {
        pmm.mark_used_range(PhysAddr::new_truncate(first), (end - first) / PAGE_SIZE)?;
    }
    *PMM.lock() = Some(pmm);
    Ok(())
}

/// The spec's `paging_init`. Kernel: adopts the page tables in CR3 (the
/// bootloader's, which must map all RAM at `DIRECT_MAP_BASE`) and reloads
/// CR3. Hosted: a fresh, empty PML4 from the PMM, loaded into the simulated CR3.
pub fn paging_init() -> Result<(), CError> {
    let _boot = BOOT.lock();
    paging_init_locked()
}

fn paging_init_locked() -> Result<(), CError> {
    let mut mm = MM.lock();
    if mm.space.is_some() {
        return Err(CError::Already);
    }
    let space = new_space()?;
    // SAFETY: kernel: the tables are the ones in use (adopted from CR3), so
    // they map the running code; hosted: the simulated CR3 maps nothing real.
    unsafe { space.activate() };
    mm.space = Some(space);
    Ok(())
}

#[cfg(feature = "hosted")]
fn new_space() -> Result<Space, CError> {
    with_pmm(|pmm| Ok(AddressSpace::new(backend::mapper(), backend::mmu(), pmm)?))
}

#[cfg(not(feature = "hosted"))]
fn new_space() -> Result<Space, CError> {
    use valen_mm::arch::Mmu;
    with_pmm(|_| Ok(()))?;
    let root = Frame::containing(backend::mmu().root());
    // SAFETY: CR3 holds valid tables that the direct map reaches (pmm_init's
    // contract); from now on only this address space changes them.
    Ok(unsafe { AddressSpace::from_root(backend::mapper(), backend::mmu(), root) })
}

/// The spec's `vmm_init`: needs `paging_init`.
pub fn vmm_init() -> Result<(), CError> {
    let _boot = BOOT.lock();
    vmm_init_locked()
}

fn vmm_init_locked() -> Result<(), CError> {
    let mut mm = MM.lock();
    if mm.space.is_none() {
        return Err(CError::NotInit);
    }
    if mm.ready {
        return Err(CError::Already);
    }
    mm.ready = true;
    Ok(())
}

/// The spec's `heap_init`: the 16 KiB initial heap, through the VMM.
pub fn heap_init() -> Result<(), CError> {
    let _boot = BOOT.lock();
    heap_init_locked()
}

fn heap_init_locked() -> Result<(), CError> {
    if HEAP.stats().total_bytes != 0 {
        return Err(CError::Already);
    }
    if !MM.lock().ready {
        return Err(CError::NotInit);
    }
    if HEAP.init() {
        HEAP_UP.store(true, Ordering::Release);
        // The heap is up, so the C library may allocate while registering.
        #[cfg(feature = "hosted")]
        crate::hosted::register_fork_handler();
        Ok(())
    } else {
        Err(CError::Alloc(valen_mm::heap::AllocError::OutOfMemory {
            size: valen_mm::heap::INITIAL_HEAP_SIZE,
            align: 16,
        }))
    }
}

/// Where the hosted bring-up puts the PMM bitmap: right after a simulated
/// 2 MiB kernel image at 2 MiB (the spec's `(kernel_phys_end + 0x1000) & ~0xFFF`).
pub const HOSTED_KERNEL_END: u64 = 4 << 20;

/// Makes sure the heap can be used: on the hosted build, brings up every
/// tier not yet up (the simulated boot); in a kernel, only reports.
pub fn heap_ready() -> bool {
    if HEAP_UP.load(Ordering::Acquire) {
        return true;
    }
    #[cfg(feature = "hosted")]
    {
        let mut booted = BOOT.lock();
        if !*booted {
            *booted = true;
            if crate::hosted::boot().is_err() {
                return false;
            }
            let bitmap = PHYS_BASE + HOSTED_KERNEL_END + PAGE_SIZE;
            let _ = pmm_init_locked(bitmap, crate::hosted::RAM_SIZE);
            let _ = paging_init_locked();
            let _ = vmm_init_locked();
            let _ = heap_init_locked();
        }
    }
    HEAP_UP.load(Ordering::Acquire)
}

/// Makes sure the simulated machine exists (hosted); always true in a kernel.
pub fn machine_ready() -> bool {
    #[cfg(feature = "hosted")]
    {
        let _b = BOOT.lock();
        crate::hosted::boot().is_ok()
    }
    #[cfg(not(feature = "hosted"))]
    true
}

/// The corrected `VIRT_TO_PHYS`: direct-map (hosted: simulated-RAM) and
/// kernel-image addresses.
pub fn virt_to_phys(v: VirtAddr) -> Option<PhysAddr> {
    #[cfg(feature = "hosted")]
    {
        let off = v.as_u64().checked_sub(PHYS_BASE)?;
        crate::hosted::in_ram(off, 0).then(|| PhysAddr::new_truncate(off))
    }
    #[cfg(not(feature = "hosted"))]
    valen_mm::layout::virt_to_phys(v)
}

/// Heap growth through the VMM: `vmm_alloc` chunks, at least doubling the
/// heap each time (the heap keeps at most 64 regions, and guard pages keep
/// chunks from merging).
pub struct VmmGrowth {
    grown: usize,
}

/// The flags of heap pages (without NX on a CPU that lacks it).
const HEAP_FLAGS: PageFlags = PageFlags::PRESENT
    .union(PageFlags::WRITE)
    .union(PageFlags::NO_EXECUTE);

impl VmmGrowth {
    fn chunk(&self, pages: u64) -> Option<NonNull<u8>> {
        with_mm(|space, mm, frames| {
            let vmm = mm.vmm()?;
            let before = vmm.stats().contiguous_allocations;
            let flags = if space.mmu().has_nx() {
                HEAP_FLAGS
            } else {
                HEAP_FLAGS.difference(PageFlags::NO_EXECUTE)
            };
            let virt = vmm.alloc(space, frames, pages, flags)?;
            if cfg!(feature = "hosted") {
                // Hosted: the bytes are reached through PHYS_TO_VIRT, so
                // the chunk must be one physical run.
                if vmm.stats().contiguous_allocations == before {
                    let _ = vmm.free(space, frames, virt);
                    return Err(CError::Invalid(pages));
                }
                let phys = Vmm::get_phys(space, virt).ok_or(CError::Invalid(pages))?;
                return Ok((PHYS_BASE + phys.as_u64()) as *mut u8);
            }
            Ok(virt.as_mut_ptr::<u8>())
        })
        .ok()
        .and_then(NonNull::new)
    }
}

// SAFETY: each chunk is a fresh vmm_alloc allocation (zeroed, writable, never
// freed), reached through its virtual address (kernel) or the direct map of
// its contiguous frames (hosted); page aligned, so 16-byte aligned.
unsafe impl HeapGrowth for VmmGrowth {
    fn grow(&mut self, min_bytes: usize) -> Option<(NonNull<u8>, usize)> {
        let want = min_bytes
            .max(self.grown)
            .checked_next_multiple_of(PAGE_SIZE as usize)?;
        let min = min_bytes.checked_next_multiple_of(PAGE_SIZE as usize)?;
        let limit = valen_mm::heap::MAX_REGION / PAGE_SIZE as usize * PAGE_SIZE as usize;
        for bytes in [want.min(limit), min] {
            if bytes == 0 || bytes > limit {
                continue;
            }
            if let Some(p) = self.chunk((bytes / PAGE_SIZE as usize) as u64) {
                self.grown += bytes;
                return Some((p, bytes));
            }
        }
        None
    }
}
