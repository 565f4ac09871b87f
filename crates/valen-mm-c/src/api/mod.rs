//! The exported C functions, one file per header.

#[cfg(feature = "hosted")]
pub mod hosted;
pub mod heap;
pub mod paging;
pub mod pmm;
pub mod vmm;
