//! valen-mm: memory management for x86_64 kernels.
//!
//! Four tiers, bottom to top, each usable on its own:
//!
//! ```text
//!   heap    malloc / free / realloc, GlobalAlloc      (grows through the VMM)
//!   vmm     kernel virtual windows, vmm_alloc / free  (maps through paging)
//!   paging  4-level page tables, 4K / 2M / 1G pages  (tables from the PMM)
//!   pmm     bitmap of 4 KiB frames + summary level    (from the memory map)
//! ```
//!
//! Hardware is reached only through the small traits in [`arch`], so all of it
//! runs unchanged on the host over the simulated machine in `hosted`.

#![cfg_attr(not(any(test, feature = "std")), no_std)]
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]

pub mod addr;
pub mod arch;
pub mod frame_alloc;
pub mod heap;
#[cfg(feature = "hosted")]
pub mod hosted;
pub mod layout;
pub mod memmap;
pub mod paging;
pub mod pmm;
pub mod sync;
pub mod vmm;

pub use addr::{Frame, Page, PhysAddr, VirtAddr, PAGE_SIZE};
pub use frame_alloc::FrameAllocator;
pub use layout::KERNEL_VIRT_OFFSET;
pub use memmap::{MemoryMap, Region, RegionKind};
pub use paging::{AddressSpace, PageFlags, PageSize, PagingError};
pub use pmm::{LockedPmm, Pmm, PmmError};
