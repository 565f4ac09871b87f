//! `paging.h`: the page tables' C functions.
//!
//! The spec maps "pages"; here a range `[virt, virt + size)` covers every
//! page it touches, so `virt` and `phys` may be unaligned only by the same
//! offset into their page. `paging_map_range` picks 1 GiB / 2 MiB / 4 KiB
//! pages as alignment allows; `paging_map_page` with `PAGE_HUGE` maps one
//! 2 MiB page. `PAGE_HUGE` elsewhere is refused: the size is chosen here.

use crate::error::{to_code, CError};
use crate::state::{self, with_mm, Space};
use valen_mm::paging::PageSize;
use valen_mm::{FrameAllocator, PageFlags, PhysAddr, VirtAddr, PAGE_SIZE};

/// A page-aligned range from C integers: (virt, phys, bytes).
pub(crate) fn page_range(
    virt: u64,
    phys: u64,
    size: u64,
) -> Result<(VirtAddr, PhysAddr, u64), CError> {
    let off = virt % PAGE_SIZE;
    if phys % PAGE_SIZE != off || size == 0 {
        return Err(CError::Invalid(virt));
    }
    let bytes = (off.checked_add(size).ok_or(CError::Invalid(size))?)
        .checked_next_multiple_of(PAGE_SIZE)
        .ok_or(CError::Invalid(size))?;
    let v = VirtAddr::new(virt - off).map_err(|_| CError::Invalid(virt))?;
    let p = PhysAddr::new(phys - off).map_err(|_| CError::Invalid(phys))?;
    Ok((v, p, bytes))
}

pub(crate) fn flags(bits: u64) -> Result<PageFlags, CError> {
    PageFlags::from_bits(bits).ok_or(CError::Invalid(bits))
}

/// After a successful mapping: the hosted build makes lower-half mappings real.
pub(crate) fn mirror(virt: VirtAddr, phys: PhysAddr, bytes: u64) {
    #[cfg(feature = "hosted")]
    if virt.as_u64() < 0x0000_8000_0000_0000 {
        crate::hosted::mirror(virt, phys, bytes);
    }
    #[cfg(not(feature = "hosted"))]
    let _ = (virt, phys, bytes);
}

/// After a successful unmapping.
pub(crate) fn unmirror(virt: VirtAddr, bytes: u64) {
    #[cfg(feature = "hosted")]
    crate::hosted::unmirror(virt, bytes);
    #[cfg(not(feature = "hosted"))]
    let _ = (virt, bytes);
}

fn map_range(
    space: &mut Space,
    frames: &mut dyn FrameAllocator,
    (v, p, bytes): (VirtAddr, PhysAddr, u64),
    fl: PageFlags,
    largest: PageSize,
) -> Result<(), CError> {
    space.map_range_max(v, p, bytes, fl, largest, frames)?;
    mirror(v, p, bytes);
    Ok(())
}

/// Spec: `void paging_init(void)`.
#[no_mangle]
pub extern "C" fn paging_init() {
    paging_init_checked();
}

/// `int paging_init_checked(void)`.
#[no_mangle]
pub extern "C" fn paging_init_checked() -> i32 {
    to_code(state::paging_init())
}

/// Spec: `void paging_map(uint64_t virt, uint64_t phys, uint64_t flags)`: one 4 KiB page.
#[no_mangle]
pub extern "C" fn paging_map(virt: u64, phys: u64, flags: u64) {
    paging_map_checked(virt, phys, flags);
}

/// `int paging_map_checked(uint64_t virt, uint64_t phys, uint64_t flags)`.
#[no_mangle]
pub extern "C" fn paging_map_checked(virt: u64, phys: u64, flags: u64) -> i32 {
    paging_map_range_checked(virt & !(PAGE_SIZE - 1), phys & !(PAGE_SIZE - 1), 1, flags)
}

/// Spec: `void paging_map_range(uint64_t virt, uint64_t phys, uint64_t size, uint64_t flags)`.
#[no_mangle]
pub extern "C" fn paging_map_range(virt: u64, phys: u64, size: u64, flags: u64) {
    paging_map_range_checked(virt, phys, size, flags);
}

/// `int paging_map_range_checked(uint64_t virt, uint64_t phys, uint64_t size, uint64_t flags)`.
#[no_mangle]
pub extern "C" fn paging_map_range_checked(virt: u64, phys: u64, size: u64, flags: u64) -> i32 {
    to_code(with_mm(|space, _, frames| {
        let r = page_range(virt, phys, size)?;
        map_range(space, frames, r, self::flags(flags)?, PageSize::Size1G)
    }))
}

/// Spec: `void paging_map_page(uint64_t virt, uint64_t phys, uint64_t flags)`:
/// one page, 2 MiB if `flags` has `PAGE_HUGE` (both addresses 2 MiB aligned).
#[no_mangle]
pub extern "C" fn paging_map_page(virt: u64, phys: u64, flags: u64) {
    paging_map_page_checked(virt, phys, flags);
}

/// `int paging_map_page_checked(uint64_t virt, uint64_t phys, uint64_t flags)`.
#[no_mangle]
pub extern "C" fn paging_map_page_checked(virt: u64, phys: u64, flags: u64) -> i32 {
    const HUGE: u64 = 2 << 20;
    if flags & valen_mm::paging::PAGE_HUGE == 0 {
        return paging_map_checked(virt, phys, flags);
    }
    if virt % HUGE != 0 || phys % HUGE != 0 {
        return CError::Invalid(virt | phys).code();
    }
    let flags = flags & !valen_mm::paging::PAGE_HUGE;
    to_code(with_mm(|space, _, frames| {
        let r = page_range(virt, phys, HUGE)?;
        map_range(space, frames, r, self::flags(flags)?, PageSize::Size2M)
    }))
}

/// `int paging_unmap(uint64_t virt, uint64_t size)`: unmaps every page of
/// the range (all must be mapped; huge pages cut by the ends are split). The
/// frames stay the caller's.
#[no_mangle]
pub extern "C" fn paging_unmap(virt: u64, size: u64) -> i32 {
    to_code(with_mm(|space, _, frames| {
        let (v, _, bytes) = page_range(virt, virt, size)?;
        space.unmap_range(v, bytes, frames, |_| {})?;
        unmirror(v, bytes);
        Ok(())
    }))
}

/// `int paging_translate(uint64_t virt, uint64_t *phys, uint64_t *flags)`:
/// where `virt` leads and the leaf's flags (`PAGE_HUGE` for big pages).
/// Either pointer may be `NULL`.
///
/// # Safety
/// `phys` and `flags` are `NULL` or valid for one `uint64_t` write.
#[no_mangle]
pub unsafe extern "C" fn paging_translate(virt: u64, phys: *mut u64, flags: *mut u64) -> i32 {
    let r = with_mm(|space, _, _| {
        let v = VirtAddr::new(virt).map_err(|_| CError::Invalid(virt))?;
        Ok(space.translate(v)?)
    });
    match r {
        Ok(t) => {
            if !phys.is_null() {
                // SAFETY: non-null, and the caller promises it is writable.
                unsafe { phys.write(t.phys.as_u64()) };
            }
            if !flags.is_null() {
                // SAFETY: as above.
                unsafe { flags.write(t.flags.bits()) };
            }
            0
        }
        Err(e) => e.code(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(a: u64) -> VirtAddr {
        VirtAddr::new(a).unwrap()
    }

    fn p(a: u64) -> PhysAddr {
        PhysAddr::new(a).unwrap()
    }

    #[test]
    fn a_range_covers_every_page_it_touches() {
        assert_eq!(
            page_range(0x1000, 0x5000, 1),
            Ok((v(0x1000), p(0x5000), 0x1000))
        );
        assert_eq!(
            page_range(0x1000_0ff0, 0x2000_0ff0, 0x20),
            Ok((v(0x1000_0000), p(0x2000_0000), 0x2000))
        );
        assert_eq!(
            page_range(0xF000_0000, 0x1234_5000, 0x1800).map(|r| r.2),
            Ok(0x2000)
        );
    }

    #[test]
    fn bad_ranges_are_refused() {
        assert_eq!(page_range(0x1000, 0x5008, 8), Err(CError::Invalid(0x1000)));
        assert_eq!(page_range(0x1000, 0x5000, 0), Err(CError::Invalid(0x1000)));
        assert!(page_range(0x1800, 0x1800, u64::MAX).is_err());
        assert!(page_range(0x0000_8000_0000_0000, 0x1000, 1).is_err());
        assert!(page_range(0x1000, 1 << 53, 1).is_err());
    }

    #[test]
    fn only_known_flag_bits_pass() {
        assert_eq!(flags(0x3), Ok(PageFlags::PRESENT | PageFlags::WRITE));
        assert_eq!(flags(1 << 9), Err(CError::Invalid(1 << 9)));
    }
}
