//! `vmm.h`: the virtual memory manager's C functions.
//!
//! `vmm_alloc` returns an address in the heap window
//! (`0xFFFFFFFFB0000000..0xFFFFFFFFC0000000`). In a kernel it is ordinary
//! memory; on the hosted build it exists in the simulated page tables only,
//! and its bytes are reached through `PHYS_TO_VIRT(vmm_get_phys(addr))`.

use super::paging::{flags, mirror, page_range, unmirror};
use crate::error::{to_code, CError};
use crate::state::{self, with_mm};
use core::ffi::c_void;
use valen_mm::vmm::{CacheMode, Vmm};
use valen_mm::{PhysAddr, VirtAddr};

/// Spec: `void vmm_init(void)` (after `paging_init`).
#[no_mangle]
pub extern "C" fn vmm_init() {
    vmm_init_checked();
}

/// `int vmm_init_checked(void)`.
#[no_mangle]
pub extern "C" fn vmm_init_checked() -> i32 {
    to_code(state::vmm_init())
}

/// Spec: `void vmm_map(uintptr_t virt, uintptr_t phys, uint64_t flags)`: one page.
#[no_mangle]
pub extern "C" fn vmm_map(virt: usize, phys: usize, flags: u64) {
    vmm_map_checked(virt, phys, flags);
}

/// `int vmm_map_checked(uintptr_t virt, uintptr_t phys, uint64_t flags)`.
#[no_mangle]
pub extern "C" fn vmm_map_checked(virt: usize, phys: usize, flags: u64) -> i32 {
    let page = valen_mm::PAGE_SIZE as usize - 1;
    vmm_map_range_checked(virt & !page, phys & !page, 1, flags)
}

/// Spec: `void vmm_map_range(uintptr_t virt, uintptr_t phys, uint64_t size, uint64_t flags)`.
#[no_mangle]
pub extern "C" fn vmm_map_range(virt: usize, phys: usize, size: u64, flags: u64) {
    vmm_map_range_checked(virt, phys, size, flags);
}

/// `int vmm_map_range_checked(uintptr_t virt, uintptr_t phys, uint64_t size, uint64_t flags)`.
#[no_mangle]
pub extern "C" fn vmm_map_range_checked(virt: usize, phys: usize, size: u64, flags: u64) -> i32 {
    to_code(with_mm(|space, mm, frames| {
        let (v, p, bytes) = page_range(virt as u64, phys as u64, size)?;
        let fl = self::flags(flags)?;
        mm.vmm()?.map_range(space, frames, v, p, bytes, fl)?;
        mirror(v, p, bytes);
        Ok(())
    }))
}

/// `int vmm_unmap(uintptr_t virt, uint64_t size)`: removes exactly one
/// earlier `vmm_map`/`vmm_map_range` mapping (the frames stay the caller's).
#[no_mangle]
pub extern "C" fn vmm_unmap(virt: usize, size: u64) -> i32 {
    to_code(with_mm(|space, mm, frames| {
        let (v, _, bytes) = page_range(virt as u64, virt as u64, size)?;
        mm.vmm()?.unmap_range(space, frames, v, bytes)?;
        unmirror(v, bytes);
        Ok(())
    }))
}

/// Spec: `void *vmm_alloc(uint64_t pages, uint64_t flags)`: zeroed pages
/// followed by an unmapped guard page, or `NULL`.
#[no_mangle]
pub extern "C" fn vmm_alloc(pages: u64, flags: u64) -> *mut c_void {
    with_mm(|space, mm, frames| {
        let fl = self::flags(flags)?;
        Ok(mm.vmm()?.alloc(space, frames, pages, fl)?)
    })
    .map_or(core::ptr::null_mut(), |v| v.as_mut_ptr())
}

/// `int vmm_free(void *virt)`: frees a `vmm_alloc` allocation and its frames.
#[no_mangle]
pub extern "C" fn vmm_free(virt: *mut c_void) -> i32 {
    to_code(with_mm(|space, mm, frames| {
        let v = VirtAddr::new(virt as u64).map_err(|_| CError::Invalid(virt as u64))?;
        mm.vmm()?.free(space, frames, v)?;
        Ok(())
    }))
}

/// `void *vmm_map_device(uintptr_t phys, uint64_t size)`: maps device
/// registers uncached (`PAGE_PCD`), writable, not executable, at an address
/// the VMM picks in the device window; returns the address of `phys` itself.
#[no_mangle]
pub extern "C" fn vmm_map_device(phys: usize, size: u64) -> *mut c_void {
    with_mm(|space, mm, frames| {
        let p = PhysAddr::new(phys as u64).map_err(|_| CError::Invalid(phys as u64))?;
        Ok(mm
            .vmm()?
            .map_device(space, frames, p, size, CacheMode::Uncached)?)
    })
    .map_or(core::ptr::null_mut(), |v| v.as_mut_ptr())
}

/// `int vmm_unmap_device(void *virt)`: removes a `vmm_map_device` mapping.
#[no_mangle]
pub extern "C" fn vmm_unmap_device(virt: *mut c_void) -> i32 {
    to_code(with_mm(|space, mm, frames| {
        let v = VirtAddr::new(virt as u64).map_err(|_| CError::Invalid(virt as u64))?;
        Ok(mm.vmm()?.unmap_device(space, frames, v)?)
    }))
}

/// Spec: `uintptr_t vmm_get_phys(uintptr_t virtual_addr)`: 0 when unmapped.
#[no_mangle]
pub extern "C" fn vmm_get_phys(virtual_addr: usize) -> usize {
    with_mm(|space, _, _| {
        let v = VirtAddr::new(virtual_addr as u64).map_err(|_| CError::Invalid(0))?;
        Ok(Vmm::get_phys(space, v).map_or(0, |p| p.as_u64() as usize))
    })
    .unwrap_or(0)
}

fn vmm_stat(f: impl FnOnce(valen_mm::vmm::VmmStats) -> u64) -> u64 {
    with_mm(|_, mm, _| Ok(f(mm.vmm()?.stats()))).unwrap_or(0)
}

/// `uint64_t vmm_get_mapped_pages(void)`: 4 KiB pages mapped through the VMM.
#[no_mangle]
pub extern "C" fn vmm_get_mapped_pages() -> u64 {
    vmm_stat(|s| s.pages_mapped)
}

/// `uint64_t vmm_get_allocations(void)`: live `vmm_alloc` allocations.
#[no_mangle]
pub extern "C" fn vmm_get_allocations() -> u64 {
    vmm_stat(|s| s.allocations)
}
