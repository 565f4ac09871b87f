//! What a paging operation reports: its errors and the mappings it finds.
//!
//! One enum, [`PagingError`], serves every operation; each operation's doc
//! lists the variants it can return. Every variant carries the data that
//! explains it, and an operation that returns an error has changed nothing.

use super::entry::PageSize;
use super::flags::PageFlags;
use crate::addr::{PhysAddr, VirtAddr};
use core::fmt;

/// One leaf mapping: a page of `size` at `virt` mapped to `phys`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Mapping {
    /// First byte of the page (aligned to `size`).
    pub virt: VirtAddr,
    /// First byte of the physical frame(s) (aligned to `size`).
    pub phys: PhysAddr,
    /// The page size.
    pub size: PageSize,
    /// The leaf's flags (`HUGE` for 2 MiB and 1 GiB pages).
    pub flags: PageFlags,
}

/// What is wrong with a set of flags.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FlagProblem {
    /// `PRESENT` is missing: such an entry would map nothing.
    NotPresent,
    /// `HUGE` was given: the page size is chosen by the operation.
    Huge,
    /// `NO_EXECUTE` on a CPU without NX: the bit would be reserved and fault.
    NoExecuteUnsupported,
}

/// Why a paging operation failed. Nothing was changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PagingError {
    /// A virtual address that must be 4 KiB aligned is not.
    UnalignedVirt(VirtAddr),
    /// A physical address that must be 4 KiB aligned is not.
    UnalignedPhys(PhysAddr),
    /// A size that must be a multiple of 4 KiB is not.
    UnalignedSize(u64),
    /// A range of zero bytes.
    ZeroSize,
    /// `[start, start + size)` leaves its canonical half (or wraps around).
    NonCanonical {
        /// Start of the range.
        start: VirtAddr,
        /// Its length in bytes.
        size: u64,
    },
    /// `[start, start + size)` goes past the 2^52 physical limit.
    PhysOverflow {
        /// Start of the physical range.
        start: PhysAddr,
        /// Its length in bytes.
        size: u64,
    },
    /// The flags cannot be used for this operation.
    BadFlags {
        /// The flags given.
        flags: PageFlags,
        /// What is wrong with them.
        problem: FlagProblem,
    },
    /// `virt` is already mapped; `existing` is the mapping found there.
    AlreadyMapped {
        /// The address the operation wanted to map.
        virt: VirtAddr,
        /// What is mapped there now.
        existing: Mapping,
    },
    /// Mapping a smaller page at `virt` needs a table where `huge` is.
    HugePageInTheWay {
        /// The address the operation wanted to map.
        virt: VirtAddr,
        /// The huge page covering it.
        huge: Mapping,
    },
    /// The page holding `virt` is not mapped.
    NotMapped {
        /// The first address of the range found unmapped.
        virt: VirtAddr,
    },
    /// The frame allocator ran dry while page tables were needed.
    OutOfFrames {
        /// How many table frames had been obtained when it ran dry.
        obtained: u64,
    },
}

impl fmt::Display for PagingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnalignedVirt(v) => write!(f, "virtual address {v} is not 4 KiB aligned"),
            Self::UnalignedPhys(p) => write!(f, "physical address {p} is not 4 KiB aligned"),
            Self::UnalignedSize(s) => write!(f, "size {s:#x} is not a multiple of 4 KiB"),
            Self::ZeroSize => write!(f, "empty range"),
            Self::NonCanonical { start, size } => {
                write!(f, "range {start} + {size:#x} leaves the canonical half")
            }
            Self::PhysOverflow { start, size } => {
                write!(f, "physical range {start} + {size:#x} passes 2^52")
            }
            Self::BadFlags { flags, problem } => write!(f, "bad flags {flags:?}: {problem:?}"),
            Self::AlreadyMapped { virt, existing } => {
                write!(f, "{virt} is already mapped ({existing:?})")
            }
            Self::HugePageInTheWay { virt, huge } => {
                write!(f, "huge page {huge:?} is in the way of {virt}")
            }
            Self::NotMapped { virt } => write!(f, "{virt} is not mapped"),
            Self::OutOfFrames { obtained } => {
                write!(f, "out of frames for page tables after {obtained}")
            }
        }
    }
}

/// Where a translation led: the physical byte, and the leaf that maps it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Translation {
    /// The physical address of the translated byte.
    pub phys: PhysAddr,
    /// The leaf's flags.
    pub flags: PageFlags,
    /// The size of the page holding it.
    pub size: PageSize,
}
