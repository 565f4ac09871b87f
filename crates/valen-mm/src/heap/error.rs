//! What can go wrong, one enum per kind of operation, each variant carrying
//! the addresses and values that explain it.

use crate::addr::VirtAddr;
use core::fmt;

/// Why a pointer handed to `free`, `realloc` or `usable_size` was refused.
///
/// A refused call changes nothing: the block stays as it was (a corrupted
/// block is kept allocated, quarantined, rather than spread into the lists).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlockError {
    /// The pointer lies in no region of this heap (or is not 16-aligned).
    ForeignPointer {
        /// The pointer.
        addr: VirtAddr,
    },
    /// The header before the pointer lacks `HEAP_MAGIC`.
    BadMagic {
        /// The pointer.
        addr: VirtAddr,
        /// The 32 bits found where the magic number belongs.
        found: u32,
    },
    /// The block is already free.
    DoubleFree {
        /// The pointer.
        addr: VirtAddr,
    },
    /// The header has the magic number but an impossible size.
    BadSize {
        /// The pointer.
        addr: VirtAddr,
        /// The size found in the header.
        found: usize,
    },
    /// The header after the block was overwritten: the payload overflowed.
    Overflow {
        /// The pointer whose block overflowed.
        addr: VirtAddr,
        /// Where the damaged header (the next block's tag) lives.
        header: VirtAddr,
        /// The tag word found there.
        found: u64,
        /// Whether the heap could restore the damaged tag (its size was intact).
        repaired: bool,
    },
    /// The free block before this one has a damaged boundary tag (a write
    /// into freed memory).
    FreeNeighbourDamaged {
        /// The pointer.
        addr: VirtAddr,
        /// The free block whose tag disagrees.
        neighbour: VirtAddr,
        /// The tag word found there.
        found: u64,
    },
}

/// Why an allocation returned nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AllocError {
    /// The alignment is not a power of two.
    BadAlign {
        /// The alignment asked for.
        align: usize,
    },
    /// Size (plus alignment) past the largest block or overflowing.
    TooLarge {
        /// The size asked for.
        size: usize,
    },
    /// No free block fits (the caller may grow the heap and retry).
    OutOfMemory {
        /// The size asked for.
        size: usize,
        /// The alignment asked for.
        align: usize,
    },
}

/// Why `realloc` failed. On any error the old block is untouched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReallocError {
    /// The old pointer was refused.
    Block(BlockError),
    /// No room for the new size.
    Alloc(AllocError),
}

/// Why a region could not be added to the heap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegionError {
    /// Too small to hold one block and the end sentinel (after alignment).
    TooSmall {
        /// Start of the region.
        start: VirtAddr,
        /// Its size in bytes.
        size: usize,
    },
    /// The region overlaps one the heap already manages.
    Overlaps {
        /// Start of the new region.
        start: VirtAddr,
        /// Start of the existing one.
        existing: VirtAddr,
    },
    /// Larger than one block can describe (about 4 GiB).
    TooLarge {
        /// Start of the region.
        start: VirtAddr,
        /// Its size.
        size: usize,
    },
    /// All region slots are used.
    TooManyRegions {
        /// The slot count.
        max: usize,
    },
    /// The region would wrap around the address space.
    Wraps {
        /// Start of the region.
        start: VirtAddr,
        /// Its size.
        size: usize,
    },
}

/// A broken invariant found by the integrity walk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IntegrityError {
    /// A block header lacks the magic number or has a bad size.
    BadHeader {
        /// The block.
        block: VirtAddr,
        /// Its tag word.
        found: u64,
    },
    /// `PREV_FREE` or `prev_size` disagrees with the previous block.
    BadBoundaryTag {
        /// The block.
        block: VirtAddr,
    },
    /// Two adjacent free blocks (coalescing missed them).
    UncoalescedFree {
        /// The second block.
        block: VirtAddr,
    },
    /// A free list holds a block that is used, of the wrong class, or whose
    /// back link is wrong.
    BadFreeList {
        /// First level.
        fl: usize,
        /// Second level.
        sl: usize,
        /// The offending block.
        block: VirtAddr,
    },
    /// A bitmap bit disagrees with its list.
    BadBitmap {
        /// First level.
        fl: usize,
        /// Second level.
        sl: usize,
    },
    /// Free blocks in lists and in regions differ.
    FreeCountMismatch {
        /// Counted walking the regions.
        in_regions: usize,
        /// Counted walking the lists.
        in_lists: usize,
    },
    /// A stack of the quick cache holds a block outside the heap, not
    /// tagged as cached, of another size, or more blocks than it counts.
    BadCacheStack {
        /// The block size of the stack.
        size: usize,
        /// The offending block.
        block: VirtAddr,
    },
    /// Cached blocks in the regions and on the stacks (or one stack and its
    /// count) differ.
    CacheCountMismatch {
        /// Counted walking the regions (or the stack).
        in_regions: usize,
        /// Counted on the stacks (or the stack's count).
        in_stacks: usize,
    },
    /// The statistics disagree with the walk.
    StatsMismatch {
        /// Bytes of used blocks by the walk.
        used_bytes: usize,
        /// By the counters.
        counted: usize,
    },
}

impl fmt::Display for BlockError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::ForeignPointer { addr } => write!(f, "{addr} is not a block of this heap"),
            Self::BadMagic { addr, found } => {
                write!(f, "{addr}: bad magic {found:#x} (expected {:#x})", super::HEAP_MAGIC)
            }
            Self::DoubleFree { addr } => write!(f, "{addr}: double free"),
            Self::BadSize { addr, found } => write!(f, "{addr}: impossible block size {found:#x}"),
            Self::Overflow {
                addr,
                header,
                found,
                repaired,
            } => write!(
                f,
                "{addr}: overflow into the header at {header} (found {found:#x}, repaired: {repaired})"
            ),
            Self::FreeNeighbourDamaged {
                addr,
                neighbour,
                found,
            } => write!(f, "{addr}: free neighbour {neighbour} damaged (tag {found:#x})"),
        }
    }
}

impl fmt::Display for AllocError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::BadAlign { align } => write!(f, "alignment {align} is not a power of two"),
            Self::TooLarge { size } => write!(f, "{size} bytes is past the largest block"),
            Self::OutOfMemory { size, align } => {
                write!(f, "no free block for {size} bytes aligned to {align}")
            }
        }
    }
}

impl fmt::Display for ReallocError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Block(e) => write!(f, "realloc refused the old block: {e}"),
            Self::Alloc(e) => write!(f, "realloc found no room: {e}"),
        }
    }
}

impl fmt::Display for RegionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::TooSmall { start, size } => {
                write!(f, "region at {start} of {size:#x} bytes holds no block")
            }
            Self::Overlaps { start, existing } => {
                write!(f, "region at {start} overlaps the region at {existing}")
            }
            Self::TooLarge { start, size } => {
                write!(
                    f,
                    "region at {start} of {size:#x} bytes is past the largest block"
                )
            }
            Self::TooManyRegions { max } => write!(f, "all {max} region slots are used"),
            Self::Wraps { start, size } => {
                write!(f, "region at {start} of {size:#x} bytes wraps around")
            }
        }
    }
}

impl fmt::Display for IntegrityError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::BadHeader { block, found } => write!(f, "block {block}: bad header {found:#x}"),
            Self::BadBoundaryTag { block } => write!(f, "block {block}: boundary tag disagrees"),
            Self::UncoalescedFree { block } => {
                write!(f, "block {block}: free next to a free block")
            }
            Self::BadFreeList { fl, sl, block } => {
                write!(f, "free list ({fl}, {sl}): bad entry {block}")
            }
            Self::BadBitmap { fl, sl } => {
                write!(f, "bitmap bit ({fl}, {sl}) disagrees with its list")
            }
            Self::FreeCountMismatch {
                in_regions,
                in_lists,
            } => write!(
                f,
                "{in_regions} free blocks in regions, {in_lists} in lists"
            ),
            Self::BadCacheStack { size, block } => {
                write!(
                    f,
                    "quick cache stack of {size}-byte blocks: bad block {block}"
                )
            }
            Self::CacheCountMismatch {
                in_regions,
                in_stacks,
            } => write!(
                f,
                "{in_regions} cached blocks found, {in_stacks} on the cache stacks"
            ),
            Self::StatsMismatch {
                used_bytes,
                counted,
            } => write!(
                f,
                "walk found {used_bytes} used bytes, counters say {counted}"
            ),
        }
    }
}

impl core::error::Error for BlockError {}
impl core::error::Error for AllocError {}
impl core::error::Error for ReallocError {}
impl core::error::Error for RegionError {}
impl core::error::Error for IntegrityError {}
