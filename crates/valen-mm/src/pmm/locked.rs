//! [`LockedPmm`]: the PMM behind the interrupt-safe spinlock, with the same
//! calls through `&self`, so a kernel can keep one in a `static` and an
//! interrupt handler can allocate without deadlocking.

use super::error::{Corruption, PmmError};
use super::init::BitmapPlacement;
use super::pmm::Pmm;
use crate::addr::{Frame, PhysAddr};
use crate::frame_alloc::FrameAllocator;
use crate::sync::{SpinLock, SpinLockGuard};

/// A [`Pmm`] shared between threads (CPUs) behind a [`SpinLock`].
pub struct LockedPmm<'a> {
    inner: SpinLock<Pmm<'a>>,
}

impl<'a> LockedPmm<'a> {
    /// Wraps `pmm`.
    pub const fn new(pmm: Pmm<'a>) -> Self {
        Self {
            inner: SpinLock::new(pmm),
        }
    }

    /// Holds the lock for several calls in a row.
    pub fn lock(&self) -> SpinLockGuard<'_, Pmm<'a>> {
        self.inner.lock()
    }

    /// The PMM, consuming the wrapper.
    pub fn into_inner(self) -> Pmm<'a> {
        self.inner.into_inner()
    }

    /// See [`Pmm::alloc_page`] (the spec's `pmm_alloc_page`).
    pub fn alloc_page(&self) -> Option<Frame> {
        self.lock().alloc_page()
    }

    /// See [`Pmm::alloc_page_below`].
    pub fn alloc_page_below(&self, limit: PhysAddr) -> Option<Frame> {
        self.lock().alloc_page_below(limit)
    }

    /// See [`Pmm::alloc_pages`] (the spec's `pmm_alloc_pages`).
    pub fn alloc_pages(&self, count: u64) -> Result<Option<Frame>, PmmError> {
        self.lock().alloc_pages(count)
    }

    /// See [`Pmm::alloc_contiguous`].
    pub fn alloc_contiguous(&self, count: u64, align: u64) -> Result<Option<Frame>, PmmError> {
        self.lock().alloc_contiguous(count, align)
    }

    /// See [`Pmm::alloc_contiguous_below`].
    pub fn alloc_contiguous_below(
        &self,
        count: u64,
        align: u64,
        limit: PhysAddr,
    ) -> Result<Option<Frame>, PmmError> {
        self.lock().alloc_contiguous_below(count, align, limit)
    }

    /// See [`Pmm::free_page`] (the spec's `pmm_free_page`: one frame only).
    pub fn free_page(&self, addr: PhysAddr) -> Result<(), PmmError> {
        self.lock().free_page(addr)
    }

    /// See [`Pmm::free_pages`].
    pub fn free_pages(&self, addr: PhysAddr, count: u64) -> Result<(), PmmError> {
        self.lock().free_pages(addr, count)
    }

    /// See [`Pmm::mark_free`] (the spec's `pmm_mark_free`).
    pub fn mark_free(&self, addr: PhysAddr) -> Result<(), PmmError> {
        self.lock().mark_free(addr)
    }

    /// See [`Pmm::mark_used`] (the spec's `pmm_mark_used`).
    pub fn mark_used(&self, addr: PhysAddr) -> Result<(), PmmError> {
        self.lock().mark_used(addr)
    }

    /// See [`Pmm::mark_free_range`].
    pub fn mark_free_range(&self, addr: PhysAddr, count: u64) -> Result<(), PmmError> {
        self.lock().mark_free_range(addr, count)
    }

    /// See [`Pmm::mark_used_range`].
    pub fn mark_used_range(&self, addr: PhysAddr, count: u64) -> Result<(), PmmError> {
        self.lock().mark_used_range(addr, count)
    }

    /// See [`Pmm::is_free`].
    pub fn is_free(&self, addr: PhysAddr) -> Result<bool, PmmError> {
        self.lock().is_free(addr)
    }

    /// See [`Pmm::total_frames`].
    pub fn total_frames(&self) -> u64 {
        self.lock().total_frames()
    }

    /// See [`Pmm::used_frames`].
    pub fn used_frames(&self) -> u64 {
        self.lock().used_frames()
    }

    /// See [`Pmm::free_frames`].
    pub fn free_frames(&self) -> u64 {
        self.lock().free_frames()
    }

    /// See [`Pmm::total_kb`].
    pub fn total_kb(&self) -> u64 {
        self.lock().total_kb()
    }

    /// See [`Pmm::used_kb`].
    pub fn used_kb(&self) -> u64 {
        self.lock().used_kb()
    }

    /// See [`Pmm::free_kb`].
    pub fn free_kb(&self) -> u64 {
        self.lock().free_kb()
    }

    /// The spec's `pmm_get_total_kb`.
    pub fn get_total_kb(&self) -> u64 {
        self.total_kb()
    }

    /// The spec's `pmm_get_used_kb`.
    pub fn get_used_kb(&self) -> u64 {
        self.used_kb()
    }

    /// The spec's `pmm_get_free_kb`.
    pub fn get_free_kb(&self) -> u64 {
        self.free_kb()
    }

    /// See [`Pmm::placement`].
    pub fn placement(&self) -> BitmapPlacement {
        self.lock().placement()
    }

    /// See [`Pmm::check`].
    pub fn check(&self) -> Result<(), Corruption> {
        self.lock().check()
    }
}

impl FrameAllocator for LockedPmm<'_> {
    fn allocate_frame(&mut self) -> Option<Frame> {
        self.inner.get_mut().alloc_page()
    }

    fn allocate_contiguous(&mut self, count: u64) -> Option<Frame> {
        self.inner.get_mut().allocate_contiguous(count)
    }

    unsafe fn deallocate_frame(&mut self, frame: Frame) {
        // SAFETY: the caller upholds `deallocate_frame`'s contract; we forward it.
        unsafe { self.inner.get_mut().deallocate_frame(frame) }
    }
}

impl FrameAllocator for &LockedPmm<'_> {
    fn allocate_frame(&mut self) -> Option<Frame> {
        self.alloc_page()
    }

    fn allocate_contiguous(&mut self, count: u64) -> Option<Frame> {
        self.lock().allocate_contiguous(count)
    }

    unsafe fn deallocate_frame(&mut self, frame: Frame) {
        // SAFETY: the caller upholds `deallocate_frame`'s contract; we forward it.
        unsafe { self.lock().deallocate_frame(frame) }
    }
}
