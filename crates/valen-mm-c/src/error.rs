//! The C API's error codes: what a `_checked` function returns.
//!
//! The spec's functions return `void` or a pointer (`NULL` on failure). Each
//! has a `_checked` twin that returns `VALEN_OK` (0) or one of these negative
//! codes, chosen from the Rust error enum the tier reported. The Rust enums
//! carry more (the address, what was found); the codes are what crosses the
//! C boundary.

use valen_mm::heap::{AllocError, BlockError, ReallocError};
use valen_mm::paging::PagingError;
use valen_mm::pmm::{PmmError, PmmInitError};
use valen_mm::vmm::{RangeError, VmmError};

/// Success.
pub const VALEN_OK: i32 = 0;
/// A bad argument: unaligned, zero, bad flags, outside the allowed range.
pub const VALEN_EINVAL: i32 = -1;
/// Out of memory: physical frames, virtual space or heap.
pub const VALEN_ENOMEM: i32 = -2;
/// Already there: the page is mapped, or the frame is already used.
pub const VALEN_EEXIST: i32 = -3;
/// Not there: unmapped, not allocated, already freed.
pub const VALEN_ENOENT: i32 = -4;
/// The tier has not been initialized (call its `*_init` first).
pub const VALEN_ENOTINIT: i32 = -5;
/// The tier is already initialized.
pub const VALEN_EALREADY: i32 = -6;
/// A heap block's header is damaged (bad `HEAP_MAGIC`, bad size).
pub const VALEN_ECORRUPT: i32 = -7;

/// Why a call failed, before it is turned into a code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CError {
    /// The tier is not initialized.
    NotInit,
    /// `*_init` called twice.
    Already,
    /// An argument the C layer itself rejects (before any tier sees it).
    Invalid(u64),
    /// The PMM refused.
    Pmm(PmmError),
    /// `pmm_init` refused.
    PmmInit(PmmInitError),
    /// The page tables refused.
    Paging(PagingError),
    /// The VMM refused.
    Vmm(VmmError),
    /// The heap refused an allocation.
    Alloc(AllocError),
    /// The heap refused a pointer.
    Block(BlockError),
}

impl From<PmmError> for CError {
    fn from(e: PmmError) -> Self {
        Self::Pmm(e)
    }
}
impl From<PagingError> for CError {
    fn from(e: PagingError) -> Self {
        Self::Paging(e)
    }
}
impl From<VmmError> for CError {
    fn from(e: VmmError) -> Self {
        Self::Vmm(e)
    }
}
impl From<ReallocError> for CError {
    fn from(e: ReallocError) -> Self {
        match e {
            ReallocError::Alloc(a) => Self::Alloc(a),
            ReallocError::Block(b) => Self::Block(b),
        }
    }
}

fn paging_code(e: PagingError) -> i32 {
    match e {
        PagingError::AlreadyMapped { .. } | PagingError::HugePageInTheWay { .. } => VALEN_EEXIST,
        PagingError::NotMapped { .. } => VALEN_ENOENT,
        PagingError::OutOfFrames { .. } => VALEN_ENOMEM,
        _ => VALEN_EINVAL,
    }
}

impl CError {
    /// The negative code for C.
    pub fn code(self) -> i32 {
        match self {
            Self::NotInit => VALEN_ENOTINIT,
            Self::Already => VALEN_EALREADY,
            Self::Invalid(_) | Self::PmmInit(_) => VALEN_EINVAL,
            Self::Pmm(PmmError::DoubleFree { .. }) => VALEN_ENOENT,
            Self::Pmm(PmmError::AlreadyUsed { .. }) => VALEN_EEXIST,
            Self::Pmm(_) => VALEN_EINVAL,
            Self::Paging(e) => paging_code(e),
            Self::Vmm(e) => match e {
                VmmError::OutOfVirtualSpace { .. } | VmmError::OutOfFrames { .. } => VALEN_ENOMEM,
                VmmError::NotAllocated(_) | VmmError::NotAMapping { .. } => VALEN_ENOENT,
                VmmError::Range(RangeError::InUse { .. }) => VALEN_EEXIST,
                VmmError::Paging(p) => paging_code(p),
                _ => VALEN_EINVAL,
            },
            Self::Alloc(AllocError::OutOfMemory { .. }) => VALEN_ENOMEM,
            Self::Alloc(_) => VALEN_EINVAL,
            Self::Block(BlockError::DoubleFree { .. }) => VALEN_ENOENT,
            Self::Block(BlockError::ForeignPointer { .. }) => VALEN_EINVAL,
            Self::Block(_) => VALEN_ECORRUPT,
        }
    }
}

/// `Ok` to 0, an error to its code.
pub fn to_code(r: Result<(), CError>) -> i32 {
    match r {
        Ok(()) => VALEN_OK,
        Err(e) => e.code(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use valen_mm::VirtAddr;

    #[test]
    fn each_failure_gets_its_code() {
        let virt = VirtAddr::new(0x1000).unwrap();
        let cases = [
            (CError::NotInit, VALEN_ENOTINIT),
            (CError::Already, VALEN_EALREADY),
            (CError::Invalid(3), VALEN_EINVAL),
            (
                PmmError::DoubleFree { addr: 0x20_0000 }.into(),
                VALEN_ENOENT,
            ),
            (
                PmmError::AlreadyUsed { addr: 0x20_0000 }.into(),
                VALEN_EEXIST,
            ),
            (PmmError::BelowMinimum { addr: 0x1000 }.into(), VALEN_EINVAL),
            (PagingError::NotMapped { virt }.into(), VALEN_ENOENT),
            (
                PagingError::OutOfFrames { obtained: 1 }.into(),
                VALEN_ENOMEM,
            ),
            (PagingError::UnalignedVirt(virt).into(), VALEN_EINVAL),
            (VmmError::NotAllocated(virt).into(), VALEN_ENOENT),
            (
                VmmError::OutOfFrames {
                    wanted: 4,
                    obtained: 1,
                }
                .into(),
                VALEN_ENOMEM,
            ),
            (
                VmmError::Paging(PagingError::NotMapped { virt }).into(),
                VALEN_ENOENT,
            ),
            (VmmError::Zero.into(), VALEN_EINVAL),
            (
                CError::Alloc(AllocError::OutOfMemory { size: 1, align: 16 }),
                VALEN_ENOMEM,
            ),
        ];
        for (e, code) in cases {
            assert_eq!(e.code(), code, "{e:?}");
            assert_eq!(to_code(Err(e)), code);
        }
        assert_eq!(to_code(Ok(())), VALEN_OK);
    }
}
