//! What can go wrong in the PMM, one variant per cause, each with the data
//! that explains it. A call that returns an error has changed nothing.

use core::fmt;

/// Why a PMM call was rejected. Out of memory is not an error: allocations
/// return `None` (or `Ok(None)`) for it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PmmError {
    /// The address is not 4 KiB aligned.
    Unaligned {
        /// The rejected address.
        addr: u64,
    },
    /// The address (or the end of the range) lies past the RAM the bitmap covers.
    OutsideRam {
        /// The first address past RAM that the call names.
        addr: u64,
        /// One past the highest address the bitmap covers.
        ram_end: u64,
    },
    /// The frame lies below 2 MiB, which the PMM never hands out or takes back.
    BelowMinimum {
        /// The rejected frame address.
        addr: u64,
    },
    /// The frame is not allocatable RAM: a hole or a reserved, ACPI, bad,
    /// kernel-image or boot-data region, or the PMM's own bitmap.
    Reserved {
        /// The first such frame in the range.
        addr: u64,
    },
    /// Freeing (or `mark_free`) a frame that is already free: a double free.
    DoubleFree {
        /// The first free frame in the range.
        addr: u64,
    },
    /// `mark_used` of a frame that is already in use.
    AlreadyUsed {
        /// The first used frame in the range.
        addr: u64,
    },
    /// A count of zero frames.
    ZeroCount,
    /// More frames than the machine has RAM.
    CountTooLarge {
        /// The requested count.
        count: u64,
        /// Frames of usable RAM.
        total: u64,
    },
    /// An alignment that is zero or not a power of two (in frames).
    BadAlignment {
        /// The rejected alignment.
        align: u64,
    },
}

impl fmt::Display for PmmError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::Unaligned { addr } => write!(f, "address {addr:#x} is not 4 KiB aligned"),
            Self::OutsideRam { addr, ram_end } => {
                write!(f, "address {addr:#x} is outside RAM (ends at {ram_end:#x})")
            }
            Self::BelowMinimum { addr } => {
                write!(f, "frame {addr:#x} is below 2 MiB and never managed")
            }
            Self::Reserved { addr } => write!(f, "frame {addr:#x} is not allocatable RAM"),
            Self::DoubleFree { addr } => write!(f, "frame {addr:#x} is already free"),
            Self::AlreadyUsed { addr } => write!(f, "frame {addr:#x} is already in use"),
            Self::ZeroCount => write!(f, "a count of zero frames"),
            Self::CountTooLarge { count, total } => {
                write!(f, "{count} frames requested, the machine has {total}")
            }
            Self::BadAlignment { align } => {
                write!(f, "alignment {align} is not a power of two")
            }
        }
    }
}

/// Why a PMM could not be created.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PmmInitError {
    /// The memory map has no usable RAM.
    NoUsableRam,
    /// No usable region above 2 MiB can hold the bitmap.
    NoRoomForBitmap {
        /// Bytes the bitmap needs.
        bytes: u64,
    },
    /// The storage given for the bitmap is too small.
    StorageTooSmall {
        /// 64-bit words needed.
        needed: u64,
        /// 64-bit words given.
        given: u64,
    },
    /// The bitmap's address is not 8-byte aligned.
    MisalignedBitmap {
        /// The rejected address.
        addr: u64,
    },
    /// The memory map could not be normalized.
    Map(crate::memmap::MemoryMapError),
    /// More RAM than a physical address can reach (2^52 bytes).
    TooMuchRam {
        /// The rejected size in bytes.
        bytes: u64,
    },
}

impl fmt::Display for PmmInitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::NoUsableRam => write!(f, "the memory map has no usable RAM"),
            Self::NoRoomForBitmap { bytes } => {
                write!(
                    f,
                    "no usable region above 2 MiB holds the {bytes}-byte bitmap"
                )
            }
            Self::StorageTooSmall { needed, given } => {
                write!(f, "bitmap storage of {given} words, {needed} needed")
            }
            Self::MisalignedBitmap { addr } => {
                write!(f, "bitmap address {addr:#x} is not 8-byte aligned")
            }
            Self::Map(e) => write!(f, "bad memory map: {e}"),
            Self::TooMuchRam { bytes } => write!(f, "{bytes:#x} bytes of RAM is beyond 2^52"),
        }
    }
}

/// An inconsistency the invariant checker found (a bug, never bad input).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Corruption {
    /// A summary bit disagrees with the bitmap or with the level below it.
    Summary {
        /// Which summary: 0 = "has a free frame", 1 = "entirely free".
        tree: u8,
        /// Level inside that summary (0 = one bit per bitmap word).
        level: u8,
        /// Bit index at that level.
        index: u64,
    },
    /// The running count of free frames differs from the bitmap.
    FreeCount {
        /// The running count.
        counted: u64,
        /// Zero bits in the bitmap.
        actual: u64,
    },
    /// A frame that is not allocatable (reserved, below 2 MiB, padding) is free.
    ReservedFree {
        /// The frame number.
        frame: u64,
    },
    /// The chunk map calls a chunk allocatable that holds this unallocatable frame.
    Chunk {
        /// The frame number.
        frame: u64,
    },
    /// The frame held back by the last single-frame free (free, its bit
    /// still set) lies outside the bitmap, is not allocatable, or its bit is
    /// clear (it would be counted twice).
    Held {
        /// The frame number.
        frame: u64,
    },
}
