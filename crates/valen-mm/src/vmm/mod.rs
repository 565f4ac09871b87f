//! The virtual memory manager: the kernel's virtual windows and what is mapped in them.

pub mod range;

pub use range::{RangeAllocator, RangeError};
