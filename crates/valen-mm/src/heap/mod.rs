//! The kernel heap: `malloc`, `free`, `calloc`, `realloc`, aligned
//! allocation and `GlobalAlloc`, TLSF-style (O(1) malloc and free).
//!
//! ```text
//!   LockedHeap<G>  SpinLock + growth (G: HeapGrowth) + GlobalAlloc   locked.rs
//!        |
//!      Heap        TLSF core, &mut self                             tlsf.rs
//!        |-- size classes (pure)                                    class.rs
//!        |-- blocks: HEAP_MAGIC tags, boundary tags                 block.rs
//!        |-- splitting and coalescing                               merge.rs
//!        |-- malloc / aligned / calloc / realloc                    alloc.rs
//!        |-- free and pointer validation                            free.rs
//!        |-- the quick cache of small freed blocks                  quick.rs
//!        `-- statistics, integrity walk                             check.rs
//! ```
//!
//! Every block carries a header with [`HEAP_MAGIC`], checked (with the
//! neighbours' boundary tags) before a pointer is trusted; misuse comes back
//! as a [`BlockError`] naming the address and what was found, and leaves the
//! heap working. Payloads are 16-byte aligned; a used block costs 8 bytes of
//! header. The spec's linked list becomes segregated free lists with a
//! two-level bitmap, so no call walks a list. Small blocks just freed wait
//! in a per-size cache for the next request of their size; they coalesce
//! when it is flushed (by itself, before any allocation would fail). A
//! larger request takes a free block whole when the rest would be under an
//! eighth of the request, rather than split off a rest that would only
//! merge back.

mod alloc;
mod block;
mod check;
mod class;
mod error;
mod free;
mod growth;
mod locked;
mod merge;
mod quick;
mod tlsf;

#[cfg(test)]
mod tests;

pub use alloc::MIN_ALIGN;
pub use block::OVERHEAD;
pub use check::{HeapStats, HeapWalk};
pub use class::MAX_BLOCK;
pub use error::{AllocError, BlockError, IntegrityError, ReallocError, RegionError};
#[cfg(feature = "hosted")]
pub use growth::MmapGrowth;
pub use growth::{ArenaGrowth, HeapGrowth};
pub use locked::{LockedHeap, GROWTH_CHUNK, INITIAL_HEAP_SIZE};
pub use quick::{QUICK_DEPTH, QUICK_MAX};
pub use tlsf::{Heap, MAX_REGION, MAX_REGIONS};

/// The spec's magic number, in the header of every block.
pub const HEAP_MAGIC: u32 = 0x1234_5678;
