//! Reading loader structures by physical address during early boot, and
//! little-endian fields out of the copies.

use super::BootError;
use valen_mm::layout::DIRECT_MAP_BASE;

/// How much physical memory the early page tables map at the direct-map base.
pub const EARLY_MAPPED: u64 = 1 << 30;

/// The `len` bytes at physical `phys`, through the early direct map.
///
/// # Safety
/// The early page tables must be active and the range must be memory the
/// loader handed over (not device memory), not written while the slice lives.
pub unsafe fn phys_slice(phys: u64, len: u64) -> Result<&'static [u8], BootError> {
    match phys.checked_add(len) {
        Some(end) if end <= EARLY_MAPPED && phys != 0 => {}
        _ => return Err(BootError::Unreachable { phys, len }),
    }
    let ptr = (DIRECT_MAP_BASE + phys) as *const u8;
    // SAFETY: the range is below EARLY_MAPPED, hence mapped; the caller
    // promised it is plain memory nobody writes.
    Ok(unsafe { core::slice::from_raw_parts(ptr, len as usize) })
}

/// The bytes of a NUL-terminated string at `phys`, at most `max` long.
///
/// # Safety
/// As for [`phys_slice`] for the bytes up to the terminator.
pub unsafe fn phys_cstr(phys: u64, max: usize) -> Result<&'static [u8], BootError> {
    let mut len = 0;
    while len < max {
        // SAFETY: reading one byte at a time; the caller vouches for the string.
        let byte = unsafe { phys_slice(phys + len as u64, 1)? };
        if byte[0] == 0 {
            break;
        }
        len += 1;
    }
    // SAFETY: the `len` bytes were just read through the same mapping.
    unsafe { phys_slice(phys, len as u64) }
}

/// The little-endian u32 at `off`, or `None` past the end.
pub fn u32_at(bytes: &[u8], off: usize) -> Option<u32> {
    let b = bytes.get(off..off.checked_add(4)?)?;
    Some(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

/// The little-endian u64 at `off`, or `None` past the end.
pub fn u64_at(bytes: &[u8], off: usize) -> Option<u64> {
    let b = bytes.get(off..off.checked_add(8)?)?;
    let mut a = [0u8; 8];
    a.copy_from_slice(b);
    Some(u64::from_le_bytes(a))
}
