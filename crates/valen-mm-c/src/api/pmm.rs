//! `pmm.h`: the physical memory manager's C functions.
//!
//! Addresses cross the boundary as physical addresses in `void *` (the
//! spec's choice for `pmm_alloc_page`) or `uintptr_t`. `NULL` means "no
//! frame": physical address 0 is never handed out (nothing below 2 MiB is).

use crate::error::{to_code, CError};
use crate::state::{self, with_pmm};
use core::ffi::c_void;
use valen_mm::PhysAddr;

fn phys(addr: u64) -> Result<PhysAddr, CError> {
    PhysAddr::new(addr).map_err(|_| CError::Invalid(addr))
}

/// The frame holding `addr` (the marks take any address inside it).
fn frame_of(addr: usize) -> Result<PhysAddr, CError> {
    Ok(phys(addr as u64)?.align_down(valen_mm::PAGE_SIZE))
}

fn frame_ptr(f: Option<valen_mm::Frame>) -> *mut c_void {
    f.map_or(core::ptr::null_mut(), |f| f.start().as_u64() as *mut c_void)
}

/// Spec: `void pmm_init(uintptr_t start, uint64_t size)`.
#[no_mangle]
pub extern "C" fn pmm_init(start: usize, size: u64) {
    pmm_init_checked(start, size);
}

/// `int pmm_init_checked(uintptr_t start, uint64_t size)`.
#[no_mangle]
pub extern "C" fn pmm_init_checked(start: usize, size: u64) -> i32 {
    if !state::machine_ready() {
        return CError::NotInit.code();
    }
    to_code(state::pmm_init(start as u64, size))
}

/// Spec: `void *pmm_alloc_page(void)`: one frame, or `NULL`.
#[no_mangle]
pub extern "C" fn pmm_alloc_page() -> *mut c_void {
    frame_ptr(with_pmm(|p| Ok(p.alloc_page())).ok().flatten())
}

/// Spec: `void *pmm_alloc_pages(uint64_t count)`: `count` contiguous frames.
#[no_mangle]
pub extern "C" fn pmm_alloc_pages(count: u64) -> *mut c_void {
    frame_ptr(with_pmm(|p| Ok(p.alloc_pages(count)?)).ok().flatten())
}

/// `void *pmm_alloc_pages_aligned(uint64_t count, uint64_t align)`: a run
/// whose first frame is `align`-byte aligned (a power of two, >= 4096).
#[no_mangle]
pub extern "C" fn pmm_alloc_pages_aligned(count: u64, align: u64) -> *mut c_void {
    if !align.is_power_of_two() {
        return core::ptr::null_mut();
    }
    let frames = (align / valen_mm::PAGE_SIZE).max(1);
    frame_ptr(
        with_pmm(|p| Ok(p.alloc_contiguous(count, frames)?))
            .ok()
            .flatten(),
    )
}

/// Spec: `void pmm_free_page(void *addr)`: frees one frame.
#[no_mangle]
pub extern "C" fn pmm_free_page(addr: *mut c_void) {
    pmm_free_page_checked(addr);
}

/// `int pmm_free_page_checked(void *addr)`.
#[no_mangle]
pub extern "C" fn pmm_free_page_checked(addr: *mut c_void) -> i32 {
    to_code(with_pmm(|p| Ok(p.free_page(phys(addr as u64)?)?)))
}

/// `void pmm_free_pages(void *addr, uint64_t count)`: frees a run.
#[no_mangle]
pub extern "C" fn pmm_free_pages(addr: *mut c_void, count: u64) {
    pmm_free_pages_checked(addr, count);
}

/// `int pmm_free_pages_checked(void *addr, uint64_t count)`.
#[no_mangle]
pub extern "C" fn pmm_free_pages_checked(addr: *mut c_void, count: u64) -> i32 {
    to_code(with_pmm(|p| Ok(p.free_pages(phys(addr as u64)?, count)?)))
}

/// Spec: `void pmm_mark_free(uintptr_t addr)`.
#[no_mangle]
pub extern "C" fn pmm_mark_free(addr: usize) {
    pmm_mark_free_checked(addr);
}

/// `int pmm_mark_free_checked(uintptr_t addr)`.
#[no_mangle]
pub extern "C" fn pmm_mark_free_checked(addr: usize) -> i32 {
    to_code(with_pmm(|p| Ok(p.mark_free(frame_of(addr)?)?)))
}

/// Spec: `void pmm_mark_used(uintptr_t addr)`.
#[no_mangle]
pub extern "C" fn pmm_mark_used(addr: usize) {
    pmm_mark_used_checked(addr);
}

/// `int pmm_mark_used_checked(uintptr_t addr)`.
#[no_mangle]
pub extern "C" fn pmm_mark_used_checked(addr: usize) -> i32 {
    to_code(with_pmm(|p| Ok(p.mark_used(frame_of(addr)?)?)))
}

/// Spec: `uint64_t pmm_get_total_kb(void)` (0 before `pmm_init`).
#[no_mangle]
pub extern "C" fn pmm_get_total_kb() -> u64 {
    with_pmm(|p| Ok(p.total_kb())).unwrap_or(0)
}

/// Spec: `uint64_t pmm_get_used_kb(void)`.
#[no_mangle]
pub extern "C" fn pmm_get_used_kb() -> u64 {
    with_pmm(|p| Ok(p.used_kb())).unwrap_or(0)
}

/// Spec: `uint64_t pmm_get_free_kb(void)`.
#[no_mangle]
pub extern "C" fn pmm_get_free_kb() -> u64 {
    with_pmm(|p| Ok(p.free_kb())).unwrap_or(0)
}

/// `uint64_t pmm_bitmap_bytes(uint64_t size)`: bytes `pmm_init` needs at
/// `start` for `size` bytes of RAM.
#[no_mangle]
pub extern "C" fn pmm_bitmap_bytes(size: u64) -> u64 {
    valen_mm::pmm::bitmap_bytes(size)
}
