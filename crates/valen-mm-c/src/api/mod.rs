//! The exported C functions, one file per header.

pub mod heap;
#[cfg(feature = "hosted")]
pub mod hosted;
pub mod paging;
pub mod pmm;
pub mod vmm;
