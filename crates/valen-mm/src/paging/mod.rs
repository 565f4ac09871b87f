//! Paging: x86_64 4-level page tables (the spec's second tier).
//!
//! ```text
//!            AddressSpace (root = PML4 frame, CR3 when active)
//!                 |
//!   PML4 [512] -> PDPT [512] -> PD [512] -> PT [512] -> 4 KiB frame
//!                     \-- PS: 1 GiB     \-- PS: 2 MiB
//! ```
//!
//! - [`flags`]: the spec's `PAGE_*` values and [`PageFlags`].
//! - [`entry`]: one entry, page sizes, and the per-table count of present
//!   entries kept in the ignored bits of the entry above each table.
//! - `table`: the only code that touches table memory (through
//!   [`PhysMapper`](crate::arch::PhysMapper)).
//! - `space`: [`AddressSpace`] with `new`, `from_root`, `activate`,
//!   `translate` and the single-page `map`.
//! - `range`: `map_range`, picking 1 GiB / 2 MiB / 4 KiB pages.
//! - `change`: `unmap`, `unmap_range` and `protect`.
//! - `split`: checking a range is mapped and splitting huge pages at its ends.
//! - `flush`: batching TLB invalidations.
//! - `check`: the invariant checker and teardown.
//!
//! Every operation is all-or-nothing: an error leaves the tables as they
//! were and gives back every frame it took. Pass the same
//! [`FrameAllocator`](crate::FrameAllocator) to every call on one space: it
//! provides the table frames and takes them back when they empty.

mod change;
mod check;
pub mod entry;
mod error;
pub mod flags;
mod flush;
mod range;
mod space;
mod split;
mod table;
#[cfg(all(test, feature = "hosted"))]
mod tests;

pub use change::UnmapSummary;
pub use check::{InvariantError, TableStats};
pub use entry::{Entry, PageSize};
pub use error::{FlagProblem, Mapping, PagingError, Translation};
pub use flags::{
    PageFlags, PAGE_ACCESSED, PAGE_DIRTY, PAGE_GLOBAL, PAGE_HUGE, PAGE_NO_EXECUTE, PAGE_PCD,
    PAGE_PRESENT, PAGE_PWT, PAGE_USER, PAGE_WRITE,
};
pub use flush::FLUSH_ALL_THRESHOLD;
pub use space::AddressSpace;
