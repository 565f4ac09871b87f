//! Typed addresses: physical and virtual addresses, 4 KiB frames and pages.
//!
//! Inside the crate an address is never a bare `u64`: a [`PhysAddr`] cannot be
//! passed where a [`VirtAddr`] is expected, and a [`VirtAddr`] is always
//! canonical. Plain integers appear only at the C boundary.

mod frame;
mod phys;
mod virt;

pub use frame::{Frame, Page};
pub use phys::PhysAddr;
pub use virt::VirtAddr;

/// Size of a base page and of a physical frame: 4 KiB.
pub const PAGE_SIZE: u64 = 4096;
/// `log2(PAGE_SIZE)`.
pub const PAGE_SHIFT: u32 = 12;
/// Size of a 2 MiB large page.
pub const LARGE_PAGE_SIZE: u64 = 2 * 1024 * 1024;
/// Size of a 1 GiB huge page.
pub const HUGE_PAGE_SIZE: u64 = 1024 * 1024 * 1024;

/// Why a number is not a valid address of the requested kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddrError {
    /// A virtual address whose bits 63..48 are not copies of bit 47.
    NonCanonical(u64),
    /// A physical address at or above 2^52, the architectural limit.
    PhysTooHigh(u64),
    /// An address that must be 4 KiB aligned and is not.
    Unaligned(u64),
}

impl core::fmt::Display for AddrError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::NonCanonical(a) => write!(f, "virtual address {a:#x} is not canonical"),
            Self::PhysTooHigh(a) => write!(f, "physical address {a:#x} is above 2^52"),
            Self::Unaligned(a) => write!(f, "address {a:#x} is not 4 KiB aligned"),
        }
    }
}
