//! [`Vmm`]: the kernel's virtual windows and the mappings made in them.

use super::error::VmmError;
use super::range::RangeAllocator;
use crate::addr::{Frame, PhysAddr, VirtAddr, PAGE_SIZE};
use crate::arch::{Mmu, PhysMapper};
use crate::frame_alloc::FrameAllocator;
use crate::layout::{
    Window, DEVICE_WINDOW_END, DEVICE_WINDOW_START, HEAP_WINDOW_END, HEAP_WINDOW_START,
};
use crate::paging::{AddressSpace, Mapping, PageFlags};
use core::cell::RefCell;

/// 64-page words covering the 256 MiB heap window.
const HEAP_WORDS: usize = 1024;
/// 64-page words covering the 1008 MiB device window (rounded up to a power of two).
const DEVICE_WORDS: usize = 4096;
const HEAP_PAGES: u64 = (HEAP_WINDOW_END - HEAP_WINDOW_START) / PAGE_SIZE;
const DEVICE_PAGES: u64 = (DEVICE_WINDOW_END - DEVICE_WINDOW_START) / PAGE_SIZE;

/// How a device mapping is cached.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CacheMode {
    /// `PCD`: uncached, what MMIO registers need (the spec's `PAGE_PCD`).
    Uncached,
    /// `PCD | PWT`: uncached, write-through (strong uncacheable with the default PAT).
    UncachedWriteThrough,
    /// `PWT`: cached reads, writes go straight through (framebuffers).
    WriteThrough,
}

impl CacheMode {
    const fn flags(self) -> PageFlags {
        match self {
            Self::Uncached => PageFlags::PCD,
            Self::UncachedWriteThrough => PageFlags::PCD.union(PageFlags::PWT),
            Self::WriteThrough => PageFlags::PWT,
        }
    }
}

/// What the VMM has mapped, for `vmm_stats` and the boot log.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VmmStats {
    /// 4 KiB pages mapped through the VMM (allocations, `map`, devices).
    pub pages_mapped: u64,
    /// Live `alloc` allocations.
    pub allocations: u64,
    /// Of those, how many got one physically contiguous run.
    pub contiguous_allocations: u64,
    /// Frames owned by live allocations (returned to the PMM by `free`).
    pub frames_owned: u64,
    /// Virtual bytes in use in the heap window, guard pages included.
    pub heap_window_bytes: u64,
    /// Virtual bytes in use in the device window, guard pages included.
    pub device_window_bytes: u64,
}

/// The virtual memory manager of one kernel address space.
///
/// It owns no page tables and no frames: each call takes the
/// [`AddressSpace`] to change and the [`FrameAllocator`] that backs it, so the
/// kernel keeps each behind its own lock and host tests use plain values.
/// `Vmm::new` is a `const fn`: a kernel keeps its VMM in a `static`.
#[derive(Clone)]
pub struct Vmm {
    heap: RangeAllocator<HEAP_WORDS>,
    device: RangeAllocator<DEVICE_WORDS>,
    /// Set on the first page of each `alloc` allocation (which owns its
    /// frames), clear for `map` reservations.
    owned: StartBits,
    /// Set on the first page of each `alloc` allocation backed by one run.
    contiguous: StartBits,
    stats: VmmStats,
}

/// One bit per heap-window page, marking the first pages of allocations.
#[derive(Clone)]
struct StartBits([u64; HEAP_WORDS]);

impl StartBits {
    const fn new() -> Self {
        Self([0; HEAP_WORDS])
    }

    /// The bit of the range starting at `start` (false outside the window).
    fn get(&self, start: VirtAddr) -> bool {
        let i = heap_index(start);
        self.0.get(i / 64).is_some_and(|w| w & (1 << (i % 64)) != 0)
    }

    /// Sets or clears the bit of `start` (ignored outside the window).
    fn set(&mut self, start: VirtAddr, on: bool) {
        let i = heap_index(start);
        if let Some(w) = self.0.get_mut(i / 64) {
            if on {
                *w |= 1 << (i % 64);
            } else {
                *w &= !(1 << (i % 64));
            }
        }
    }
}

impl Default for Vmm {
    fn default() -> Self {
        Self::new()
    }
}

const fn window<const W: usize>(start: u64, pages: u64) -> RangeAllocator<W> {
    match RangeAllocator::new(VirtAddr::new_truncate(start), pages) {
        Some(r) => r,
        None => panic!("the layout's windows fit their range allocators"),
    }
}

impl Vmm {
    /// A VMM with both windows empty.
    pub const fn new() -> Self {
        Self {
            heap: window(HEAP_WINDOW_START, HEAP_PAGES),
            device: window(DEVICE_WINDOW_START, DEVICE_PAGES),
            owned: StartBits::new(),
            contiguous: StartBits::new(),
            stats: VmmStats {
                pages_mapped: 0,
                allocations: 0,
                contiguous_allocations: 0,
                frames_owned: 0,
                heap_window_bytes: 0,
                device_window_bytes: 0,
            },
        }
    }

    /// Current statistics.
    pub fn stats(&self) -> VmmStats {
        VmmStats {
            heap_window_bytes: (self.heap.pages() - self.heap.free_pages()) * PAGE_SIZE,
            device_window_bytes: (self.device.pages() - self.device.free_pages()) * PAGE_SIZE,
            ..self.stats
        }
    }

    /// The spec's `vmm_alloc`: `pages` zeroed pages in the heap window,
    /// followed by an unmapped guard page. Backed by one physically contiguous
    /// run when the PMM has one, otherwise by any free frames, so it never
    /// fails merely because physical memory is fragmented. All or nothing.
    pub fn alloc<P, M, F>(
        &mut self,
        space: &mut AddressSpace<P, M>,
        frames: &mut F,
        pages: u64,
        flags: PageFlags,
    ) -> Result<VirtAddr, VmmError>
    where
        P: PhysMapper,
        M: Mmu,
        F: FrameAllocator + ?Sized,
    {
        if pages == 0 {
            return Err(VmmError::Zero);
        }
        let flags = space.check_flags(flags)?;
        let with_guard = pages.saturating_add(1);
        let virt = self
            .heap
            .alloc(with_guard)
            .ok_or(VmmError::OutOfVirtualSpace {
                window: Window::Heap,
                pages: with_guard,
            })?;
        match back(space, frames, virt, pages, flags) {
            Ok(contiguous) => {
                self.owned.set(virt, true);
                self.contiguous.set(virt, contiguous);
                self.stats.pages_mapped += pages;
                self.stats.allocations += 1;
                self.stats.contiguous_allocations += u64::from(contiguous);
                self.stats.frames_owned += pages;
                Ok(virt)
            }
            Err(e) => {
                // The range was allocated just above; giving it back cannot fail.
                let _ = self.heap.free(virt);
                Err(e)
            }
        }
    }

    /// `vmm_free`: unmaps an allocation made by [`alloc`](Self::alloc) and
    /// returns its frames and its virtual range. Returns the pages freed.
    pub fn free<P, M, F>(
        &mut self,
        space: &mut AddressSpace<P, M>,
        frames: &mut F,
        virt: VirtAddr,
    ) -> Result<u64, VmmError>
    where
        P: PhysMapper,
        M: Mmu,
        F: FrameAllocator + ?Sized,
    {
        let not_allocated = VmmError::NotAllocated(virt);
        let with_guard = self.heap.len_of(virt).ok_or(not_allocated)?;
        if !self.owned.get(virt) {
            return Err(not_allocated);
        }
        let pages = with_guard - 1;
        unmap_and_free(space, frames, virt, pages)?;
        let contiguous = self.contiguous.get(virt);
        self.owned.set(virt, false);
        self.contiguous.set(virt, false);
        let _ = self.heap.free(virt);
        self.stats.pages_mapped -= pages;
        self.stats.allocations -= 1;
        self.stats.contiguous_allocations -= u64::from(contiguous);
        self.stats.frames_owned -= pages;
        Ok(pages)
    }

    /// The spec's `vmm_map_range` (and `vmm_map` for one page): maps
    /// `[virt, virt + size)` to `[phys, phys + size)` at an address the caller
    /// chose. Inside the heap or device window the range is reserved there so
    /// no allocation lands on it. The caller keeps ownership of the frames.
    pub fn map_range<P, M, F>(
        &mut self,
        space: &mut AddressSpace<P, M>,
        frames: &mut F,
        virt: VirtAddr,
        phys: PhysAddr,
        size: u64,
        flags: PageFlags,
    ) -> Result<(), VmmError>
    where
        P: PhysMapper,
        M: Mmu,
        F: FrameAllocator + ?Sized,
    {
        if size == 0 {
            return Err(VmmError::Zero);
        }
        let flags = space.check_flags(flags)?;
        let pages = size.div_ceil(PAGE_SIZE);
        let window = Window::of(virt);
        match window {
            Window::Heap => self.heap.reserve(virt, pages)?,
            Window::Device => self.device.reserve(virt, pages)?,
            _ => {}
        }
        if let Err(e) = space.map_range(virt, phys, pages * PAGE_SIZE, flags, frames) {
            self.release(virt);
            return Err(e.into());
        }
        self.stats.pages_mapped += pages;
        Ok(())
    }

    /// Undoes a [`map_range`](Self::map_range): unmaps `[virt, virt + size)`
    /// without touching the frames (they are the caller's). Inside a window
    /// the range must be exactly one earlier `map_range`.
    pub fn unmap_range<P, M, F>(
        &mut self,
        space: &mut AddressSpace<P, M>,
        frames: &mut F,
        virt: VirtAddr,
        size: u64,
    ) -> Result<(), VmmError>
    where
        P: PhysMapper,
        M: Mmu,
        F: FrameAllocator + ?Sized,
    {
        if size == 0 {
            return Err(VmmError::Zero);
        }
        let pages = size.div_ceil(PAGE_SIZE);
        let window = Window::of(virt);
        let reserved = match window {
            Window::Heap if self.owned.get(virt) => None,
            Window::Heap => self.heap.len_of(virt),
            Window::Device => self.device.len_of(virt),
            _ => Some(pages),
        };
        if reserved != Some(pages) {
            return Err(VmmError::NotAMapping { virt, size });
        }
        space.unmap_range(virt, pages * PAGE_SIZE, frames, |_| {})?;
        self.release(virt);
        self.stats.pages_mapped -= pages;
        Ok(())
    }

    /// Maps the device registers `[phys, phys + size)` at an address the VMM
    /// picks in the device window, writable, not executable, cached as `cache`
    /// says; returns the address of `phys` itself (the offset into its page is
    /// kept). A guard page follows each mapping.
    pub fn map_device<P, M, F>(
        &mut self,
        space: &mut AddressSpace<P, M>,
        frames: &mut F,
        phys: PhysAddr,
        size: u64,
        cache: CacheMode,
    ) -> Result<VirtAddr, VmmError>
    where
        P: PhysMapper,
        M: Mmu,
        F: FrameAllocator + ?Sized,
    {
        if size == 0 {
            return Err(VmmError::Zero);
        }
        let start = phys.align_down(PAGE_SIZE);
        let end = phys
            .checked_add(size)
            .and_then(|e| e.align_up(PAGE_SIZE))
            .ok_or(VmmError::PhysRange { phys, size })?;
        let bytes = end.as_u64() - start.as_u64();
        let pages = bytes / PAGE_SIZE;
        let mut flags = PageFlags::PRESENT | PageFlags::WRITE | cache.flags();
        if space.mmu().has_nx() {
            flags |= PageFlags::NO_EXECUTE;
        }
        let base = self
            .device
            .alloc(pages + 1)
            .ok_or(VmmError::OutOfVirtualSpace {
                window: Window::Device,
                pages: pages + 1,
            })?;
        if let Err(e) = space.map_range(base, start, bytes, flags, frames) {
            let _ = self.device.free(base);
            return Err(e.into());
        }
        self.stats.pages_mapped += pages;
        Ok(VirtAddr::new_truncate(
            base.as_u64() + (phys.as_u64() - start.as_u64()),
        ))
    }

    /// Removes a [`map_device`](Self::map_device) mapping, given any address
    /// inside its first page.
    pub fn unmap_device<P, M, F>(
        &mut self,
        space: &mut AddressSpace<P, M>,
        frames: &mut F,
        virt: VirtAddr,
    ) -> Result<(), VmmError>
    where
        P: PhysMapper,
        M: Mmu,
        F: FrameAllocator + ?Sized,
    {
        let base = virt.align_down(PAGE_SIZE);
        let pages = self
            .device
            .len_of(base)
            .ok_or(VmmError::NotAllocated(virt))?
            - 1;
        space.unmap_range(base, pages * PAGE_SIZE, frames, |_| {})?;
        let _ = self.device.free(base);
        self.stats.pages_mapped -= pages;
        Ok(())
    }

    /// The spec's `vmm_get_phys`: where `virt` leads, or `None` if unmapped.
    pub fn get_phys<P: PhysMapper, M: Mmu>(
        space: &AddressSpace<P, M>,
        virt: VirtAddr,
    ) -> Option<PhysAddr> {
        space.translate(virt).ok().map(|t| t.phys)
    }

    /// The `alloc` allocation whose pages hold `virt`: its start and pages
    /// (the guard page is not one of them).
    pub fn allocation_containing(&self, virt: VirtAddr) -> Option<(VirtAddr, u64)> {
        let (start, pages, guard) = self.owned_allocation(virt)?;
        (!guard).then_some((start, pages))
    }

    /// If `virt` lies in the guard page after an `alloc` allocation, that
    /// allocation's start: what a page-fault handler reports as an overflow.
    pub fn guard_page_of(&self, virt: VirtAddr) -> Option<VirtAddr> {
        let (start, _, guard) = self.owned_allocation(virt)?;
        guard.then_some(start)
    }

    /// The owned allocation around `virt`: start, pages (guard excluded) and
    /// whether `virt` is in the guard page.
    fn owned_allocation(&self, virt: VirtAddr) -> Option<(VirtAddr, u64, bool)> {
        let (start, with_guard) = self.heap.allocation_containing(virt)?;
        if !self.owned.get(start) {
            return None;
        }
        let guard = virt.as_u64() - start.as_u64() >= (with_guard - 1) * PAGE_SIZE;
        Some((start, with_guard - 1, guard))
    }

    /// Checks both windows' allocators (tests, debug builds).
    pub fn check(&self) -> Result<(), &'static str> {
        self.heap.check()?;
        self.device.check()
    }

    /// Gives back the window range that starts at `virt`, if it is in one.
    /// Called only for ranges this VMM reserved, so the free cannot fail.
    fn release(&mut self, virt: VirtAddr) {
        let _ = match Window::of(virt) {
            Window::Heap => self.heap.free(virt),
            Window::Device => self.device.free(virt),
            _ => Ok(0),
        };
    }
}

/// Page index of a heap-window address (`usize::MAX` outside the window).
fn heap_index(virt: VirtAddr) -> usize {
    match virt.as_u64().checked_sub(HEAP_WINDOW_START) {
        Some(off) if off < HEAP_WINDOW_END - HEAP_WINDOW_START => (off / PAGE_SIZE) as usize,
        _ => usize::MAX,
    }
}

/// Maps `pages` zeroed frames at `virt`: one contiguous run if the allocator
/// has one, else frame by frame. Returns whether the run was contiguous.
/// On error everything it took is given back.
fn back<P, M, F>(
    space: &mut AddressSpace<P, M>,
    frames: &mut F,
    virt: VirtAddr,
    pages: u64,
    flags: PageFlags,
) -> Result<bool, VmmError>
where
    P: PhysMapper,
    M: Mmu,
    F: FrameAllocator + ?Sized,
{
    let bytes = pages * PAGE_SIZE;
    if let Some(run) = frames.allocate_contiguous(pages) {
        zero(space.phys(), run, bytes);
        return match space.map_range(virt, run.start(), bytes, flags, frames) {
            Ok(()) => Ok(true),
            Err(e) => {
                for i in 0..pages {
                    // SAFETY: the run came from this allocator just above and
                    // was never mapped (map_range changed nothing).
                    unsafe { frames.deallocate_frame(frame_at(run, i)) };
                }
                Err(e.into())
            }
        };
    }
    for i in 0..pages {
        let page = VirtAddr::new_truncate(virt.as_u64() + i * PAGE_SIZE);
        let Some(frame) = frames.allocate_frame() else {
            undo(space, frames, virt, i);
            return Err(VmmError::OutOfFrames {
                wanted: pages,
                obtained: i,
            });
        };
        zero(space.phys(), frame, PAGE_SIZE);
        if let Err(e) = space.map(page, frame.start(), flags, frames) {
            // SAFETY: allocated just above and not mapped (map changed nothing).
            unsafe { frames.deallocate_frame(frame) };
            undo(space, frames, virt, i);
            return Err(e.into());
        }
    }
    Ok(false)
}

/// Unmaps the first `done` pages `back` mapped and frees their frames.
fn undo<P, M, F>(space: &mut AddressSpace<P, M>, frames: &mut F, virt: VirtAddr, done: u64)
where
    P: PhysMapper,
    M: Mmu,
    F: FrameAllocator + ?Sized,
{
    if done > 0 {
        // Whole 4 KiB pages mapped a moment ago: unmapping them needs no
        // split and cannot fail.
        let _ = unmap_and_free(space, frames, virt, done);
    }
}

/// Unmaps `pages` pages from `virt` and gives every frame behind them back.
fn unmap_and_free<P, M, F>(
    space: &mut AddressSpace<P, M>,
    frames: &mut F,
    virt: VirtAddr,
    pages: u64,
) -> Result<(), VmmError>
where
    P: PhysMapper,
    M: Mmu,
    F: FrameAllocator + ?Sized,
{
    // The paging code hands the allocator to us (for emptied tables) and
    // reports each removed leaf to a callback, never both at once; a RefCell
    // lets both borrow it in turn.
    let shared = RefCell::new(frames);
    let mut tables = Shared(&shared);
    space.unmap_range(virt, pages * PAGE_SIZE, &mut tables, |m: Mapping| {
        let mut f = shared.borrow_mut();
        let first = Frame::containing(m.phys);
        for i in 0..m.size.bytes() / PAGE_SIZE {
            // SAFETY: the leaf was just removed and its frames came from this
            // allocator when `alloc` backed the range.
            unsafe { f.deallocate_frame(frame_at(first, i)) };
        }
    })?;
    Ok(())
}

/// A [`FrameAllocator`] that borrows a shared one for each call.
struct Shared<'a, 'b, F: ?Sized>(&'a RefCell<&'b mut F>);

impl<F: FrameAllocator + ?Sized> FrameAllocator for Shared<'_, '_, F> {
    fn allocate_frame(&mut self) -> Option<Frame> {
        self.0.borrow_mut().allocate_frame()
    }

    unsafe fn deallocate_frame(&mut self, frame: Frame) {
        // SAFETY: forwarded; our caller upholds the contract.
        unsafe { self.0.borrow_mut().deallocate_frame(frame) }
    }
}

fn frame_at(first: Frame, i: u64) -> Frame {
    Frame::containing(PhysAddr::new_truncate(
        first.start().as_u64() + i * PAGE_SIZE,
    ))
}

/// Zeroes `bytes` bytes of frames starting at `first`.
fn zero<P: PhysMapper>(phys: &P, first: Frame, bytes: u64) {
    // SAFETY: the frames were just allocated, so nothing else uses them, and
    // the PhysMapper contract makes `bytes` bytes from the pointer writable
    // (the mapping is linear over the frames it covers).
    unsafe { core::ptr::write_bytes(phys.phys_to_ptr(first.start()), 0, bytes as usize) };
}
