//! The virtual memory manager (the spec's third tier): the kernel's virtual
//! windows, `vmm_alloc` / `vmm_free`, mappings at chosen addresses, device
//! mappings and `vmm_get_phys`.
//!
//! ```text
//! 0xFFFF_FFFF_B000_0000 ┬──────────────────────────────────────────────┐
//!                       │ heap window: vmm_alloc and the kernel heap   │
//!                       │  [alloc 3 pages][g][alloc 1][g]   free ...   │ g = unmapped
//! 0xFFFF_FFFF_C000_0000 ┼──────────────────────────────────────────────┤     guard page
//!                       │ device window: map_device (PCD / PWT)        │
//! 0xFFFF_FFFF_FF00_0000 ┴──────────────────────────────────────────────┘
//! ```
//!
//! Each window has a [`RangeAllocator`] (first fit in O(log n), coalescing).
//! The VMM owns no page tables and no frames: every call is given the
//! [`AddressSpace`](crate::paging::AddressSpace) and the
//! [`FrameAllocator`](crate::FrameAllocator) to use, and every call is all or
//! nothing: an error gives back each frame and range it took.

mod error;
mod manager;
pub mod range;

pub use error::VmmError;
pub use manager::{CacheMode, Vmm, VmmStats};
pub use range::{RangeAllocator, RangeError};
