//! `heap.h`: the kernel heap's C functions, under the C library's names.
//!
//! Blocks are 16-byte aligned and carry a header with `HEAP_MAGIC`; `free`
//! of a pointer the heap did not hand out (or a second `free`) is refused
//! and counted ([`heap_get_refused`]), never followed. On the hosted build
//! these are the process's allocator (linked in or `LD_PRELOAD`ed): the
//! first call brings the simulated machine up, and nothing on this path
//! allocates through anything else.

use crate::error::{to_code, CError};
use crate::state::{self, HEAP};
use core::ffi::c_void;
use core::ptr::{self, NonNull};
use valen_mm::heap::MIN_ALIGN;

fn out(p: Option<NonNull<u8>>) -> *mut c_void {
    p.map_or(ptr::null_mut(), |p| p.as_ptr().cast())
}

fn aligned(align: usize, size: usize) -> *mut c_void {
    if !state::heap_ready() || !align.is_power_of_two() {
        return ptr::null_mut();
    }
    out(HEAP.malloc_aligned(size, align.max(MIN_ALIGN)))
}

/// Spec: `void heap_init(void)`: the 16 KiB initial heap (after `vmm_init`).
#[no_mangle]
pub extern "C" fn heap_init() {
    heap_init_checked();
}

/// `int heap_init_checked(void)`.
#[no_mangle]
pub extern "C" fn heap_init_checked() -> i32 {
    to_code(state::heap_init())
}

/// Spec: `void *malloc(uint64_t size)`: 16-byte aligned, or `NULL`.
#[no_mangle]
pub extern "C" fn malloc(size: u64) -> *mut c_void {
    if !state::heap_ready() {
        return ptr::null_mut();
    }
    usize::try_from(size).map_or(ptr::null_mut(), |s| out(HEAP.malloc(s)))
}

/// Spec: `void free(void *ptr)`. `NULL` is ignored; a bad pointer is refused.
///
/// # Safety
/// `ptr` is `NULL` or came from this heap and is not used after.
#[no_mangle]
pub unsafe extern "C" fn free(ptr: *mut c_void) {
    // SAFETY: forwarded.
    unsafe { heap_free_checked(ptr) };
}

/// `int heap_free_checked(void *ptr)`: `free` that says why it refused.
///
/// # Safety
/// As for `free`.
#[no_mangle]
pub unsafe extern "C" fn heap_free_checked(ptr: *mut c_void) -> i32 {
    if ptr.is_null() {
        return 0;
    }
    // SAFETY: the caller's contract; the heap validates the header first.
    to_code(unsafe { HEAP.free(ptr.cast()) }.map_err(CError::Block))
}

/// `void *calloc(size_t count, size_t size)`: zeroed; `NULL` on overflow.
#[no_mangle]
pub extern "C" fn calloc(count: usize, size: usize) -> *mut c_void {
    if !state::heap_ready() {
        return ptr::null_mut();
    }
    out(HEAP.calloc(count, size))
}

/// `void *realloc(void *ptr, size_t size)`: C semantics (`NULL` -> malloc,
/// size 0 -> free and `NULL`; on failure the old block stays valid).
///
/// # Safety
/// `ptr` is `NULL` or a live block of this heap.
#[no_mangle]
pub unsafe extern "C" fn realloc(ptr: *mut c_void, size: usize) -> *mut c_void {
    if ptr.is_null() {
        return malloc(size as u64);
    }
    if size == 0 {
        // SAFETY: forwarded.
        unsafe { free(ptr) };
        return ptr::null_mut();
    }
    // SAFETY: forwarded; the heap validates the header first.
    out(unsafe { HEAP.realloc_aligned(ptr.cast(), size, MIN_ALIGN) }.ok())
}

/// `void *aligned_alloc(size_t align, size_t size)`.
#[no_mangle]
pub extern "C" fn aligned_alloc(align: usize, size: usize) -> *mut c_void {
    aligned(align, size)
}

/// `void *memalign(size_t align, size_t size)` (the C library's older name).
#[no_mangle]
pub extern "C" fn memalign(align: usize, size: usize) -> *mut c_void {
    aligned(align, size)
}

/// `void *valloc(size_t size)`: page aligned.
#[no_mangle]
pub extern "C" fn valloc(size: usize) -> *mut c_void {
    aligned(4096, size)
}

/// `void *pvalloc(size_t size)`: page aligned, size rounded up to pages.
#[no_mangle]
pub extern "C" fn pvalloc(size: usize) -> *mut c_void {
    size.checked_next_multiple_of(4096)
        .map_or(ptr::null_mut(), |s| aligned(4096, s.max(4096)))
}

/// `int posix_memalign(void **out, size_t align, size_t size)`: 0, `EINVAL`
/// (22: `align` not a power of two multiple of `sizeof(void *)`) or
/// `ENOMEM` (12).
///
/// # Safety
/// `out` is valid for one pointer write.
#[no_mangle]
pub unsafe extern "C" fn posix_memalign(out: *mut *mut c_void, align: usize, size: usize) -> i32 {
    if out.is_null() || !align.is_power_of_two() || align % core::mem::size_of::<usize>() != 0 {
        return 22;
    }
    let p = aligned(align, size);
    if p.is_null() {
        return 12;
    }
    // SAFETY: non-null, and the caller promises it is writable.
    unsafe { out.write(p) };
    0
}

/// `size_t malloc_usable_size(void *ptr)`: bytes usable at `ptr` (0 for
/// `NULL` or a pointer the heap does not know).
#[no_mangle]
pub extern "C" fn malloc_usable_size(ptr: *mut c_void) -> usize {
    if ptr.is_null() {
        return 0;
    }
    HEAP.usable_size(ptr.cast()).unwrap_or(0)
}

/// `uint64_t heap_get_total_bytes(void)`: bytes the heap has taken from the VMM.
#[no_mangle]
pub extern "C" fn heap_get_total_bytes() -> u64 {
    HEAP.stats().total_bytes as u64
}

/// `uint64_t heap_get_used_bytes(void)`: bytes of used blocks, headers included.
#[no_mangle]
pub extern "C" fn heap_get_used_bytes() -> u64 {
    HEAP.stats().used_bytes as u64
}

/// `uint64_t heap_get_free_bytes(void)`: bytes in free blocks.
#[no_mangle]
pub extern "C" fn heap_get_free_bytes() -> u64 {
    HEAP.stats().free_bytes as u64
}

/// `uint64_t heap_get_refused(void)`: how many `free`/`realloc` pointers
/// were refused (foreign, double free, damaged header).
#[no_mangle]
pub extern "C" fn heap_get_refused() -> u64 {
    HEAP.refused().0 as u64
}

/// `int heap_check(void)`: walks every block; 0, or `VALEN_ECORRUPT`.
#[no_mangle]
pub extern "C" fn heap_check() -> i32 {
    match HEAP.check() {
        Ok(_) => 0,
        Err(_) => crate::error::VALEN_ECORRUPT,
    }
}

/// `uint64_t heap_flush_cache(void)`: frees the blocks waiting in the quick
/// cache for real (merging them); returns how many.
#[no_mangle]
pub extern "C" fn heap_flush_cache() -> u64 {
    HEAP.flush_cache() as u64
}

/// `void heap_set_cache_depth(uint32_t depth)`: blocks of each size the
/// quick cache may hold; 0 turns it off. Flushes the cache first.
#[no_mangle]
pub extern "C" fn heap_set_cache_depth(depth: u32) {
    HEAP.with_heap(|h| h.set_cache_depth(depth));
}
