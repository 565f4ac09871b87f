//! The PMM core: typed addresses in and out, every argument checked before
//! anything changes, statistics in KiB. It takes `&mut self`; [`LockedPmm`]
//! (locked.rs) is the thread-safe wrapper.
//!
//! A note on the spec's `pmm_free_page`: called on the first frame of a run
//! from `pmm_alloc_pages`, it frees that one frame only and the rest of the
//! run stays allocated (the spec's own example leaks them that way).
//! [`Pmm::free_page`] keeps that meaning; [`Pmm::free_pages`] frees a run.
//!
//! [`LockedPmm`]: super::LockedPmm

use super::bitmap::FrameBitmap;
use super::error::{Corruption, PmmError};
use super::init::BitmapPlacement;
use super::ranges::FrameRanges;
use super::recent::Recent;
use super::FIRST_FRAME;
use crate::addr::{Frame, PhysAddr, PAGE_SIZE};
use crate::frame_alloc::FrameAllocator;

/// Lowest address the PMM hands out: 2 MiB (below is for firmware and BIOS).
pub const MIN_ALLOC_ADDR: u64 = 2 << 20;
/// Limit for ISA DMA buffers: 16 MiB.
pub const ISA_DMA_LIMIT: PhysAddr = PhysAddr::new_truncate(16 << 20);
/// Limit for 32-bit DMA devices: 4 GiB.
pub const DMA32_LIMIT: PhysAddr = PhysAddr::new_truncate(4 << 30);

/// The physical memory manager over a bitmap it was given.
pub struct Pmm<'a> {
    pub(super) bitmap: FrameBitmap<'a>,
    pub(super) allocatable: FrameRanges,
    pub(super) total_frames: u64,
    pub(super) placement: BitmapPlacement,
    /// Frames freed one at a time, newest first: single-frame allocation
    /// takes these before it searches (recent.rs). The newest is held: its
    /// bit stays set until the next call that reads or writes the bitmap
    /// settles it, and every statistic and check here counts it as free.
    pub(super) recent: Recent,
}

/// The error for freeing frame `f`, which is free already.
#[cold]
fn double_free(f: u64) -> PmmError {
    PmmError::DoubleFree {
        addr: f * PAGE_SIZE,
    }
}

/// The frame with number `n` (always valid: the bitmap covers less than 2^40 frames).
fn frame(n: u64) -> Frame {
    Frame::containing(PhysAddr::new_truncate(n * PAGE_SIZE))
}

impl Pmm<'_> {
    /// Where the bitmap lives and how big it is.
    pub fn placement(&self) -> BitmapPlacement {
        self.placement
    }

    /// One past the highest address the bitmap covers (the highest usable end).
    #[inline]
    pub fn ram_end(&self) -> PhysAddr {
        PhysAddr::new_truncate(self.bitmap.frames() * PAGE_SIZE)
    }

    /// The ranges of frames the PMM may hand out, as `[start, end)` addresses.
    pub fn allocatable(&self) -> impl Iterator<Item = (PhysAddr, PhysAddr)> + '_ {
        self.allocatable.as_slice().iter().map(|&(s, e)| {
            (
                PhysAddr::new_truncate(s * PAGE_SIZE),
                PhysAddr::new_truncate(e * PAGE_SIZE),
            )
        })
    }

    /// One free frame, or `None` when memory is exhausted. Near-constant
    /// time: the frame [`free_page`](Self::free_page) freed last if nothing
    /// has touched the bitmap since (no bitmap access at all), else a frame
    /// freed recently if it is still free (its bitmap word is likely in the
    /// CPU's cache), else next fit through the summary, never a scan from the
    /// start.
    #[inline]
    pub fn alloc_page(&mut self) -> Option<Frame> {
        let f = match self.recent.take_held() {
            0 => self.alloc_page_searching()?,
            // Its bit is still set: it is ours as it is.
            f => f,
        };
        // SAFETY: a frame of the bitmap, which covers at most 2^40 frames
        // (addresses below 2^52). Known to the compiler, this drops the
        // truncation in `frame`.
        unsafe { core::hint::assert_unchecked(f < 1 << 40) };
        Some(frame(f))
    }

    /// [`alloc_page`](Self::alloc_page) when no frame is held: the older
    /// recently freed frames that are still free (the others were taken
    /// meanwhile by a run, a mark or an allocation below a limit), then
    /// next fit through the summary. At most
    /// [`RECENT_SLOTS`](super::recent::RECENT_SLOTS) stale entries are
    /// dropped. A frame number.
    #[cold]
    #[inline(never)]
    fn alloc_page_searching(&mut self) -> Option<u64> {
        while let Some(f) = self.recent.pop_older() {
            let f = u64::from(f);
            // SAFETY: older entries are frames `release` freed, which are
            // below `frames()` (its own precondition), or lower numbers
            // (see recent.rs).
            if unsafe { self.bitmap.take_if_free(f) } {
                return Some(f);
            }
        }
        self.bitmap.alloc_one()
    }

    /// Clears the bit of the frame held back by the last
    /// [`free_page`](Self::free_page), if any, so that the bitmap says
    /// exactly which frames are free: every call that reads or writes the
    /// bitmap but `alloc_page` and `free_page` does this first.
    #[inline]
    fn settle_held(&mut self) {
        // Only a test inline: the calls that come here (runs, marks, frees
        // of runs) cost far more, and most find no frame held.
        if self.recent.held() != 0 {
            self.settle_held_now();
        }
    }

    /// [`settle_held`](Self::settle_held) when a frame is held.
    #[inline(never)]
    fn settle_held_now(&mut self) {
        let f = self.recent.take_held();
        self.settle(f);
    }

    /// Clears the bit of `f`, a frame that was held, and records it as a
    /// recently freed frame.
    #[inline]
    fn settle(&mut self, f: u64) {
        // SAFETY: `release` held `f` after checking that it is below
        // `frames()` and allocated; held, its bit stayed set.
        let cleared = unsafe { self.bitmap.release_one(f) };
        debug_assert!(cleared, "a held frame was free in the bitmap");
        self.recent.push(f);
    }

    /// The lowest free frame if it lies below `limit` (for example
    /// [`ISA_DMA_LIMIT`] or [`DMA32_LIMIT`]), else `None`.
    #[inline]
    pub fn alloc_page_below(&mut self, limit: PhysAddr) -> Option<Frame> {
        self.settle_held();
        self.bitmap
            .alloc_one_below(limit.as_u64() / PAGE_SIZE)
            .map(frame)
    }

    /// `count` contiguous free frames (the spec's `pmm_alloc_pages`); the
    /// first of them, or `Ok(None)` when no such run is free.
    pub fn alloc_pages(&mut self, count: u64) -> Result<Option<Frame>, PmmError> {
        self.alloc_contiguous(count, 1)
    }

    /// `count` contiguous free frames whose first frame number is a multiple
    /// of `align_frames` (a power of two; 512 gives a 2 MiB aligned run).
    /// Never rounds `count` up.
    #[inline]
    pub fn alloc_contiguous(
        &mut self,
        count: u64,
        align_frames: u64,
    ) -> Result<Option<Frame>, PmmError> {
        self.alloc_contiguous_below(count, align_frames, self.ram_end())
    }

    /// As [`alloc_contiguous`](Self::alloc_contiguous), with the whole run
    /// below `limit`.
    #[inline]
    pub fn alloc_contiguous_below(
        &mut self,
        count: u64,
        align_frames: u64,
        limit: PhysAddr,
    ) -> Result<Option<Frame>, PmmError> {
        self.check_count(count)?;
        if !align_frames.is_power_of_two() {
            return Err(PmmError::BadAlignment {
                align: align_frames,
            });
        }
        let hi = limit.as_u64() / PAGE_SIZE;
        if count == 1 && align_frames == 1 && hi >= self.bitmap.frames() {
            return Ok(self.alloc_page());
        }
        self.settle_held();
        Ok(self
            .bitmap
            .alloc_run(count, align_frames, FIRST_FRAME, hi)
            .map(frame))
    }

    /// Frees one allocated frame (the spec's `pmm_free_page`: on a run from
    /// [`alloc_pages`](Self::alloc_pages) it frees only the first frame;
    /// use [`free_pages`](Self::free_pages) for the run).
    #[inline]
    pub fn free_page(&mut self, addr: PhysAddr) -> Result<(), PmmError> {
        let a = addr.as_u64();
        // The frame number if `a` is aligned; else the offset bits rotate to
        // the top and the number lies past every chunk. So one load and test
        // covers every way the address can be wrong: an aligned frame in a
        // chunk (64 frames) that is entirely allocatable lies inside RAM,
        // above 2 MiB and outside every reserved region. Frames of other
        // chunks take the slower path, which says what is wrong.
        let f = a.rotate_right(PAGE_SIZE.trailing_zeros());
        if !self.bitmap.in_free_chunk(f) {
            return self.free_page_outside_chunks(a);
        }
        // SAFETY: a chunk is marked only when all of its frames lie in the
        // ranges the bitmap was built from, which end by `frames()`; the
        // chunk map never changes after that.
        unsafe { self.release(f) }
    }

    /// [`free_page`](Self::free_page) for an address the chunk map does not
    /// vouch for: checked against the allocatable ranges.
    #[inline(never)]
    fn free_page_outside_chunks(&mut self, a: u64) -> Result<(), PmmError> {
        let f = a / PAGE_SIZE;
        if a % PAGE_SIZE != 0 || f >= self.bitmap.frames() || !self.allocatable.contains(f) {
            return Err(self.why_not_allocatable(a));
        }
        // SAFETY: `f < frames()`, checked just above.
        unsafe { self.release(f) }
    }

    /// Frees the allocatable frame `f`, unless it is already free: holds it
    /// back for the next single-frame allocation, its bit still set, and
    /// settles the frame held before it (recent.rs).
    ///
    /// # Safety
    ///
    /// `f < self.bitmap.frames()`.
    #[inline]
    unsafe fn release(&mut self, f: u64) -> Result<(), PmmError> {
        let older = self.recent.hold(f);
        // SAFETY: the caller's promise.
        if unsafe { self.bitmap.is_free_unchecked(f) } || f == older {
            // Put the held frame back: a refused free changes nothing.
            self.recent.hold(older);
            return Err(double_free(f));
        }
        if older != 0 {
            self.settle(older);
        }
        Ok(())
    }

    /// Why `free_page(addr)` refused `addr`, which is unaligned or not allocatable.
    #[cold]
    fn why_not_allocatable(&self, a: u64) -> PmmError {
        match self.frame_number(PhysAddr::new_truncate(a)) {
            Err(e) => e,
            Ok(f) if f < FIRST_FRAME => PmmError::BelowMinimum { addr: a },
            Ok(_) => PmmError::Reserved { addr: a },
        }
    }

    /// Frees the `count` frames from `addr`; all of them must be allocated.
    #[inline]
    pub fn free_pages(&mut self, addr: PhysAddr, count: u64) -> Result<(), PmmError> {
        self.set_checked(addr, count, false)
    }

    /// Marks one frame free (the spec's `pmm_mark_free`): as [`free_page`](Self::free_page).
    #[inline]
    pub fn mark_free(&mut self, addr: PhysAddr) -> Result<(), PmmError> {
        self.set_checked(addr, 1, false)
    }

    /// Marks one free frame used (the spec's `pmm_mark_used`), so it is never
    /// handed out until freed.
    #[inline]
    pub fn mark_used(&mut self, addr: PhysAddr) -> Result<(), PmmError> {
        self.set_checked(addr, 1, true)
    }

    /// Marks `count` frames from `addr` free; all of them must be used.
    pub fn mark_free_range(&mut self, addr: PhysAddr, count: u64) -> Result<(), PmmError> {
        self.set_checked(addr, count, false)
    }

    /// Marks `count` frames from `addr` used; all of them must be free.
    pub fn mark_used_range(&mut self, addr: PhysAddr, count: u64) -> Result<(), PmmError> {
        self.set_checked(addr, count, true)
    }

    /// Whether the frame at `addr` is free (`false` for frames never handed out).
    pub fn is_free(&self, addr: PhysAddr) -> Result<bool, PmmError> {
        let f = self.frame_number(addr)?;
        Ok(self.bitmap.is_free(f) || f == self.recent.held())
    }

    /// Frames of usable RAM (not the highest address: holes do not count).
    #[inline]
    pub fn total_frames(&self) -> u64 {
        self.total_frames
    }

    /// Free frames (the held one included).
    #[inline]
    pub fn free_frames(&self) -> u64 {
        self.bitmap.free_frames() + (self.recent.held() != 0) as u64
    }

    /// Frames of usable RAM in use (including those below 2 MiB and the bitmap).
    #[inline]
    pub fn used_frames(&self) -> u64 {
        self.total_frames - self.free_frames()
    }

    /// Usable RAM in KiB (the spec's `pmm_get_total_kb`).
    pub fn total_kb(&self) -> u64 {
        self.total_frames() * (PAGE_SIZE / 1024)
    }

    /// RAM in use in KiB (the spec's `pmm_get_used_kb`).
    pub fn used_kb(&self) -> u64 {
        self.used_frames() * (PAGE_SIZE / 1024)
    }

    /// Free RAM in KiB (the spec's `pmm_get_free_kb`).
    pub fn free_kb(&self) -> u64 {
        self.free_frames() * (PAGE_SIZE / 1024)
    }

    /// Checks every invariant: summaries agree with the bitmap, the free count
    /// agrees, no frame outside the allocatable ranges is free, and the chunk
    /// map claims no chunk with a frame outside them. O(RAM).
    pub fn check(&self) -> Result<(), Corruption> {
        self.bitmap.check()?;
        let mut cursor = 0;
        let gaps = self.allocatable.as_slice().iter().copied();
        for (s, e) in gaps.chain([(self.bitmap.frames(), self.bitmap.frames())]) {
            if let Some(frame) = self.bitmap.first_with(cursor, s, false) {
                return Err(Corruption::ReservedFree { frame });
            }
            cursor = e;
        }
        for (s, e) in self.bitmap.free_chunks() {
            if let Some(frame) = self.allocatable.first_outside(s, e) {
                return Err(Corruption::Chunk { frame });
            }
        }
        let held = self.recent.held();
        if held != 0
            && (held >= self.bitmap.frames()
                || self.bitmap.is_free(held)
                || !self.allocatable.contains(held))
        {
            return Err(Corruption::Held { frame: held });
        }
        if self.free_frames() > self.total_frames {
            return Err(Corruption::FreeCount {
                counted: self.free_frames(),
                actual: self.total_frames,
            });
        }
        Ok(())
    }

    /// The frame number of `addr`: aligned and inside the bitmap.
    fn frame_number(&self, addr: PhysAddr) -> Result<u64, PmmError> {
        if !addr.is_aligned(PAGE_SIZE) {
            return Err(PmmError::Unaligned {
                addr: addr.as_u64(),
            });
        }
        let f = addr.as_u64() / PAGE_SIZE;
        if f >= self.bitmap.frames() {
            return Err(PmmError::OutsideRam {
                addr: addr.as_u64(),
                ram_end: self.ram_end().as_u64(),
            });
        }
        Ok(f)
    }

    fn check_count(&self, count: u64) -> Result<(), PmmError> {
        if count == 0 {
            return Err(PmmError::ZeroCount);
        }
        if count > self.total_frames {
            return Err(PmmError::CountTooLarge {
                count,
                total: self.total_frames,
            });
        }
        Ok(())
    }

    /// Checks `[addr, addr + count frames)`: a sane count, aligned, inside
    /// RAM, every frame allocatable. Returns the first frame number.
    #[inline]
    fn check_range(&self, addr: PhysAddr, count: u64) -> Result<u64, PmmError> {
        self.check_count(count)?;
        let start = self.frame_number(addr)?;
        let end = start + count;
        if end > self.bitmap.frames() {
            return Err(PmmError::OutsideRam {
                addr: self.ram_end().as_u64(),
                ram_end: self.ram_end().as_u64(),
            });
        }
        if start < FIRST_FRAME {
            return Err(PmmError::BelowMinimum {
                addr: addr.as_u64(),
            });
        }
        // A run whose chunks are all entirely allocatable is allocatable:
        // two loads instead of a search, for any run of up to 4096 frames.
        if !self.bitmap.in_free_chunks(start, end) {
            if let Some(f) = self.allocatable.first_outside(start, end) {
                return Err(PmmError::Reserved {
                    addr: f * PAGE_SIZE,
                });
            }
        }
        Ok(start)
    }

    /// Sets the `count` frames from `addr` to `used`, if every argument is
    /// valid and every frame is currently `!used`; else changes nothing.
    fn set_checked(&mut self, addr: PhysAddr, count: u64, used: bool) -> Result<(), PmmError> {
        let start = self.check_range(addr, count)?;
        let end = start + count;
        self.settle_held();
        if !self.bitmap.all_are(start, end, !used) {
            // Which frame is the culprit is only worth finding on this path.
            let addr = self.bitmap.first_with(start, end, used).unwrap_or(start) * PAGE_SIZE;
            return Err(if used {
                PmmError::AlreadyUsed { addr }
            } else {
                PmmError::DoubleFree { addr }
            });
        }
        self.bitmap.set_range(start, end, used);
        Ok(())
    }
}

impl FrameAllocator for Pmm<'_> {
    fn allocate_frame(&mut self) -> Option<Frame> {
        self.alloc_page()
    }

    unsafe fn deallocate_frame(&mut self, frame: Frame) {
        // The contract says `frame` came from this allocator and is still
        // allocated, so this cannot fail; were it broken, the PMM refuses
        // the free and stays consistent, and there is no one to tell.
        let _ = self.free_page(frame.start());
    }

    fn allocate_contiguous(&mut self, count: u64) -> Option<Frame> {
        self.alloc_pages(count).ok().flatten()
    }
}
