//! A simple frame source over a slice of [`HostedRam`], for tests and
//! benchmarks of the tiers above the PMM.
//!
//! ```text
//!   start                next                          end
//!   |  handed out / freed  |   never handed out yet      |
//!   freed frames are reused first (LIFO), then `next` moves up
//! ```
//!
//! It can be given a budget (it runs dry after N more allocations, to test
//! out-of-memory paths), counts the frames outstanding (to find leaks) and
//! counts frees of frames it did not hand out.

use super::HostedRam;
use crate::addr::{Frame, PhysAddr, PAGE_SIZE};
use crate::frame_alloc::FrameAllocator;
use core::fmt;

/// Why a [`FramePool`] could not be made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FramePoolError {
    /// `start` or `end` is not 4 KiB aligned, or `start >= end`.
    BadRange {
        /// Requested start.
        start: PhysAddr,
        /// Requested end.
        end: PhysAddr,
    },
    /// The range reaches past the simulated RAM.
    OutsideRam {
        /// Requested end.
        end: PhysAddr,
        /// Size of the RAM.
        ram: u64,
    },
}

impl fmt::Display for FramePoolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::BadRange { start, end } => write!(f, "bad frame range {start}..{end}"),
            Self::OutsideRam { end, ram } => {
                write!(f, "frame range ends at {end}, RAM at {ram:#x}")
            }
        }
    }
}

impl std::error::Error for FramePoolError {}

/// Frames `[start, end)` of a hosted machine, handed out one at a time.
#[derive(Debug)]
pub struct FramePool {
    start: u64,
    end: u64,
    next: u64,
    free: Vec<Frame>,
    /// One bit per frame of the range: handed out and not yet freed.
    out: Vec<u64>,
    outstanding: usize,
    budget: Option<usize>,
    bad_frees: usize,
}

impl FramePool {
    /// A pool of the frames in `[start, end)`, which must lie inside `ram`.
    pub fn new(ram: &HostedRam, start: PhysAddr, end: PhysAddr) -> Result<Self, FramePoolError> {
        if !start.is_aligned(PAGE_SIZE) || !end.is_aligned(PAGE_SIZE) || start >= end {
            return Err(FramePoolError::BadRange { start, end });
        }
        if end.as_u64() > ram.size() {
            return Err(FramePoolError::OutsideRam {
                end,
                ram: ram.size(),
            });
        }
        let frames = (end.as_u64() - start.as_u64()) / PAGE_SIZE;
        Ok(Self {
            start: start.as_u64(),
            end: end.as_u64(),
            next: start.as_u64(),
            free: Vec::new(),
            out: vec![0; frames.div_ceil(64) as usize],
            outstanding: 0,
            budget: None,
            bad_frees: 0,
        })
    }

    /// Allows only `n` more allocations (`None`: no limit).
    pub fn set_budget(&mut self, n: Option<usize>) {
        self.budget = n;
    }

    /// Frames handed out and not given back.
    pub fn outstanding(&self) -> usize {
        self.outstanding
    }

    /// Frees of frames that were not handed out (double frees, strangers).
    pub fn bad_frees(&self) -> usize {
        self.bad_frees
    }

    /// Whether `frame` is handed out right now.
    pub fn is_allocated(&self, frame: Frame) -> bool {
        self.bit(frame).is_some_and(|(w, m)| self.out[w] & m != 0)
    }

    fn bit(&self, frame: Frame) -> Option<(usize, u64)> {
        let a = frame.start().as_u64();
        if a < self.start || a >= self.end {
            return None;
        }
        let n = (a - self.start) / PAGE_SIZE;
        Some(((n / 64) as usize, 1 << (n % 64)))
    }
}

impl FrameAllocator for FramePool {
    fn allocate_frame(&mut self) -> Option<Frame> {
        if let Some(b) = &mut self.budget {
            *b = b.checked_sub(1)?;
        }
        let frame = match self.free.pop() {
            Some(f) => f,
            None if self.next < self.end => {
                let f = Frame::containing(PhysAddr::new_truncate(self.next));
                self.next += PAGE_SIZE;
                f
            }
            None => {
                if let Some(b) = &mut self.budget {
                    *b += 1;
                }
                return None;
            }
        };
        if let Some((w, m)) = self.bit(frame) {
            self.out[w] |= m;
        }
        self.outstanding += 1;
        Some(frame)
    }

    unsafe fn deallocate_frame(&mut self, frame: Frame) {
        match self.bit(frame) {
            Some((w, m)) if self.out[w] & m != 0 => {
                self.out[w] &= !m;
                self.outstanding -= 1;
                self.free.push(frame);
            }
            _ => self.bad_frees += 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pa(a: u64) -> PhysAddr {
        PhysAddr::new(a).unwrap()
    }

    #[test]
    fn hands_out_counts_and_reuses() {
        let ram = HostedRam::new(1 << 20).unwrap();
        let mut pool = FramePool::new(&ram, pa(0x1000), pa(0x4000)).unwrap();
        let a = pool.allocate_frame().unwrap();
        let b = pool.allocate_frame().unwrap();
        let c = pool.allocate_frame().unwrap();
        assert_eq!(pool.allocate_frame(), None);
        assert_eq!(pool.outstanding(), 3);
        assert!(pool.is_allocated(b));
        // SAFETY: `b` came from this pool and is not used.
        unsafe { pool.deallocate_frame(b) };
        assert!(!pool.is_allocated(b));
        assert_eq!(pool.allocate_frame(), Some(b));
        // SAFETY: deliberately bad frees: the pool only counts them.
        unsafe {
            pool.deallocate_frame(a);
            pool.deallocate_frame(a);
            pool.deallocate_frame(Frame::containing(pa(0x8000)));
        }
        assert_eq!(pool.bad_frees(), 2);
        assert_eq!(pool.outstanding(), 2);
        assert!(pool.is_allocated(c));
    }

    #[test]
    fn budget_runs_dry() {
        let ram = HostedRam::new(1 << 20).unwrap();
        let mut pool = FramePool::new(&ram, pa(0), pa(1 << 20)).unwrap();
        pool.set_budget(Some(2));
        assert!(pool.allocate_frame().is_some());
        assert!(pool.allocate_frame().is_some());
        assert_eq!(pool.allocate_frame(), None);
        pool.set_budget(None);
        assert!(pool.allocate_frame().is_some());
    }

    #[test]
    fn bad_ranges() {
        let ram = HostedRam::new(1 << 20).unwrap();
        assert!(matches!(
            FramePool::new(&ram, pa(0x1001), pa(0x4000)),
            Err(FramePoolError::BadRange { .. })
        ));
        assert!(matches!(
            FramePool::new(&ram, pa(0), pa(2 << 20)),
            Err(FramePoolError::OutsideRam { .. })
        ));
    }
}
