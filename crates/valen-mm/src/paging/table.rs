//! Reaching page tables in physical memory: the only place paging touches
//! memory, so every `unsafe` of the tier sits in this small file.
//!
//! A [`Table`] is a pointer to the 512 entries of one table frame, obtained
//! through a [`PhysMapper`]. A [`FrameStack`] threads frames waiting to be
//! freed through their own first word, so an operation of any size can defer
//! freeing its emptied tables until the TLB is flushed, without a heap.

use super::entry::{Entry, ENTRIES};
use crate::addr::{Frame, PhysAddr};
use crate::arch::PhysMapper;
use crate::frame_alloc::FrameAllocator;

/// The 512 entries of one page table.
#[derive(Clone, Copy)]
pub(crate) struct Table(*mut u64);

impl Table {
    /// The table held in the frame at `frame`.
    ///
    /// # Safety
    /// 1. `frame` is a 4 KiB-aligned frame inside the memory `phys` reaches.
    /// 2. Nothing else reads or writes that frame while the returned value
    ///    (or a copy) is used, except the CPU's page walker.
    /// 3. `phys` outlives every use of the returned value.
    pub(crate) unsafe fn at<P: PhysMapper>(phys: &P, frame: u64) -> Self {
        Self(phys.phys_to_ptr(PhysAddr::new_truncate(frame)).cast())
    }

    /// Entry `i` (taken modulo 512).
    #[inline]
    pub(crate) fn get(self, i: usize) -> Entry {
        // SAFETY: `at`'s contract makes the frame 512 valid, aligned u64s that
        // only we access; the index is reduced modulo 512.
        Entry::from_raw(unsafe { self.0.add(i % ENTRIES).read() })
    }

    /// Writes entry `i` (taken modulo 512).
    #[inline]
    pub(crate) fn set(self, i: usize, e: Entry) {
        // SAFETY: as in `get`: in bounds, aligned, exclusively ours.
        unsafe { self.0.add(i % ENTRIES).write(e.raw()) }
    }

    /// Sets all 512 entries to not-present.
    pub(crate) fn zero(self) {
        // SAFETY: the frame is 4096 writable bytes that only we access (`at`).
        unsafe { core::ptr::write_bytes(self.0, 0, ENTRIES) }
    }
}

/// A stack of frames linked through their first 8 bytes.
pub(crate) struct FrameStack {
    head: Option<u64>,
    len: u64,
}

impl FrameStack {
    pub(crate) const fn new() -> Self {
        Self { head: None, len: 0 }
    }

    /// How many frames are on the stack.
    pub(crate) fn len(&self) -> u64 {
        self.len
    }

    /// Pushes a frame that nothing else references any more.
    ///
    /// # Safety
    /// `frame` satisfies [`Table::at`]'s contract for `phys`, and its content
    /// is no longer needed.
    pub(crate) unsafe fn push<P: PhysMapper>(&mut self, phys: &P, frame: u64) {
        // SAFETY: the caller hands over the frame, which `phys` reaches.
        let t = unsafe { Table::at(phys, frame) };
        t.set(0, Entry::from_raw(self.head.unwrap_or(u64::MAX)));
        self.head = Some(frame);
        self.len += 1;
    }

    /// Gives every frame back to `frames`.
    ///
    /// # Safety
    /// Every pushed frame came from `frames`, and `phys` is the mapper used
    /// to push them.
    pub(crate) unsafe fn release<P: PhysMapper, F: FrameAllocator + ?Sized>(
        &mut self,
        phys: &P,
        frames: &mut F,
    ) {
        while let Some(frame) = self.head {
            // SAFETY: `frame` was pushed, so it is a frame `phys` reaches.
            let next = unsafe { Table::at(phys, frame) }.get(0).raw();
            self.head = (next != u64::MAX).then_some(next);
            self.len -= 1;
            // SAFETY: the frame came from `frames` (our contract) and no
            // table references it any more.
            unsafe { frames.deallocate_frame(Frame::containing(PhysAddr::new_truncate(frame))) };
        }
    }
}
