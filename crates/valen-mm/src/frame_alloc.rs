//! The interface between the PMM and its users (page tables, the VMM).
//!
//! Paging code asks for frames through [`FrameAllocator`] rather than naming
//! the PMM, so tests can hand it a PMM that runs dry at a chosen moment.

use crate::addr::Frame;

/// A source of 4 KiB physical frames.
pub trait FrameAllocator {
    /// One free frame, now owned by the caller, or `None` when none is left.
    fn allocate_frame(&mut self) -> Option<Frame>;

    /// Gives a frame back.
    ///
    /// # Safety
    /// `frame` must have come from `allocate_frame` or `allocate_contiguous`
    /// of this allocator (a run may be given back frame by frame) and nothing
    /// may use it any more.
    unsafe fn deallocate_frame(&mut self, frame: Frame);

    /// `count` physically contiguous frames, or `None` if this allocator has
    /// no free run that long (or cannot allocate runs at all, the default).
    /// Callers that can use scattered frames fall back to `allocate_frame`.
    fn allocate_contiguous(&mut self, count: u64) -> Option<Frame> {
        let _ = count;
        None
    }
}
