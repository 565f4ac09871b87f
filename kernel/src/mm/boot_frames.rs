//! A stand-in frame source until the PMM tier is in the kernel: hands out
//! the usable frames of the memory map from 2 MiB up, in address order, and
//! reuses frames given back (up to a fixed number, the rest are kept out).
//!
//! It is deliberately simple; the PMM replaces it as soon as it lands.

use valen_mm::memmap::MAX_REGIONS;
use valen_mm::{Frame, FrameAllocator, MemoryMap, RegionKind, PAGE_SIZE};

/// Frames below this are never handed out (the spec's rule).
const FIRST_ADDR: u64 = 2 << 20;
const RECYCLE: usize = 512;

/// Usable frames from the memory map, handed out lowest first.
pub struct BootFrames {
    ranges: [(u64, u64); MAX_REGIONS],
    len: usize,
    current: usize,
    next: u64,
    recycled: [u64; RECYCLE],
    recycled_len: usize,
    /// Frames handed out and not given back.
    pub in_use: u64,
    /// Frames given back that could not be kept for reuse.
    pub lost: u64,
}

impl BootFrames {
    /// Every usable frame of `map` from 2 MiB up.
    pub fn new(map: &MemoryMap) -> Self {
        let mut s = Self {
            ranges: [(0, 0); MAX_REGIONS],
            len: 0,
            current: 0,
            next: 0,
            recycled: [0; RECYCLE],
            recycled_len: 0,
            in_use: 0,
            lost: 0,
        };
        for r in map.of_kind(RegionKind::Usable) {
            let start = r.start.as_u64().max(FIRST_ADDR);
            if start < r.end.as_u64() {
                s.ranges[s.len] = (start, r.end.as_u64());
                s.len += 1;
            }
        }
        s.next = s.ranges[0].0;
        s
    }

    /// Free frames left (never handed out, or given back).
    pub fn free_frames(&self) -> u64 {
        let rest: u64 = self.ranges[self.current..self.len]
            .iter()
            .map(|&(s, e)| (e - s.max(self.next.min(e))) / PAGE_SIZE)
            .sum();
        rest + self.recycled_len as u64
    }
}

impl FrameAllocator for BootFrames {
    fn allocate_frame(&mut self) -> Option<Frame> {
        if self.recycled_len > 0 {
            self.recycled_len -= 1;
            self.in_use += 1;
            return Frame::from_start(valen_mm::PhysAddr::new_truncate(
                self.recycled[self.recycled_len],
            ))
            .ok();
        }
        while self.current < self.len {
            let (_, end) = self.ranges[self.current];
            if self.next < end {
                let f = self.next;
                self.next += PAGE_SIZE;
                self.in_use += 1;
                return Frame::from_start(valen_mm::PhysAddr::new_truncate(f)).ok();
            }
            self.current += 1;
            if self.current < self.len {
                self.next = self.ranges[self.current].0;
            }
        }
        None
    }

    fn allocate_contiguous(&mut self, count: u64) -> Option<Frame> {
        let bytes = count.checked_mul(PAGE_SIZE)?;
        while self.current < self.len {
            let (_, end) = self.ranges[self.current];
            if end - self.next.min(end) >= bytes {
                let f = self.next;
                self.next += bytes;
                self.in_use += count;
                return Frame::from_start(valen_mm::PhysAddr::new_truncate(f)).ok();
            }
            self.current += 1;
            if self.current < self.len {
                self.next = self.ranges[self.current].0;
            }
        }
        None
    }

    unsafe fn deallocate_frame(&mut self, frame: Frame) {
        self.in_use -= 1;
        if self.recycled_len < RECYCLE {
            self.recycled[self.recycled_len] = frame.start().as_u64();
            self.recycled_len += 1;
        } else {
            self.lost += 1;
        }
    }
}
