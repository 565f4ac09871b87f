//! What a VMM operation reports when it refuses.

use super::range::RangeError;
use crate::addr::{PhysAddr, VirtAddr};
use crate::layout::Window;
use crate::paging::PagingError;
use core::fmt;

/// Why a VMM call was refused. Nothing changed: no page mapped, no frame or
/// virtual range kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VmmError {
    /// A request for zero pages or zero bytes.
    Zero,
    /// The flags lack `PRESENT`, or carry `HUGE` (the VMM picks page sizes).
    BadFlags(u64),
    /// No run of `pages` free pages (the allocation plus its guard page) is
    /// left in `window`.
    OutOfVirtualSpace {
        /// The window searched.
        window: Window,
        /// Pages asked for, guard page included.
        pages: u64,
    },
    /// The PMM ran dry after `obtained` of `wanted` frames; all were given back.
    OutOfFrames {
        /// Frames the request needed.
        wanted: u64,
        /// Frames obtained before the failure.
        obtained: u64,
    },
    /// `free` of an address that `alloc` did not return (or already freed).
    NotAllocated(VirtAddr),
    /// `unmap` of a range in a window that is not exactly one earlier `map`.
    NotAMapping {
        /// Start of the rejected range.
        virt: VirtAddr,
        /// Its size in bytes.
        size: u64,
    },
    /// A device mapping of physical memory that wraps past 2^52.
    PhysRange {
        /// Start of the rejected range.
        phys: PhysAddr,
        /// Its size in bytes.
        size: u64,
    },
    /// A window's range allocator refused (overlap with an allocation, outside).
    Range(RangeError),
    /// The page tables refused (already mapped, unaligned, out of table frames...).
    Paging(PagingError),
}

impl From<PagingError> for VmmError {
    fn from(e: PagingError) -> Self {
        Self::Paging(e)
    }
}

impl From<RangeError> for VmmError {
    fn from(e: RangeError) -> Self {
        Self::Range(e)
    }
}

impl fmt::Display for VmmError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Zero => write!(f, "zero-sized request"),
            Self::BadFlags(fl) => write!(f, "flags {fl:#x} lack PRESENT or carry HUGE"),
            Self::OutOfVirtualSpace { window, pages } => {
                write!(f, "no {pages} free pages left in the {}", window.name())
            }
            Self::OutOfFrames { wanted, obtained } => {
                write!(f, "out of physical frames: got {obtained} of {wanted}")
            }
            Self::NotAllocated(v) => write!(f, "{v} was not returned by vmm_alloc"),
            Self::NotAMapping { virt, size } => {
                write!(f, "{virt} + {size:#x} is not one mapping made by vmm_map")
            }
            Self::PhysRange { phys, size } => {
                write!(f, "physical range {phys} + {size:#x} passes 2^52")
            }
            Self::Range(e) => write!(f, "{e}"),
            Self::Paging(e) => write!(f, "{e}"),
        }
    }
}
