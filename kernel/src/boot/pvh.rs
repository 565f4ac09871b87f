//! The PVH boot protocol: QEMU `-kernel` enters at the address in the
//! `.note.Xen` note (see `entry.s`) with EBX pointing at `hvm_start_info`:
//!
//! ```text
//!  off  field            off  field
//!   0   magic 0x336ec578  24  cmdline_paddr
//!   4   version           32  rsdp_paddr
//!   8   flags             40  memmap_paddr   -> entries of 24 bytes:
//!  12   nr_modules        48  memmap_entries    addr u64, size u64, type u32, pad
//!  16   modlist_paddr     -> entries of 32 bytes: paddr, size, cmdline, pad
//! ```

use super::read::{phys_cstr, phys_slice, u32_at, u64_at};
use super::{BootError, BootInfo, MAX_CMDLINE};

const MAGIC: u32 = 0x336e_c578;
const START_INFO_SIZE: u64 = 56;
const MEMMAP_ENTRY: u64 = 24;
const MODLIST_ENTRY: u64 = 32;

/// Copies the start info at `phys` into `info`.
///
/// # Safety
/// `phys` must be the `hvm_start_info` the loader passed; see [`super::read`].
pub unsafe fn read(phys: u64, info: &mut BootInfo) -> Result<(), BootError> {
    // SAFETY: the loader's start info, in memory it handed over.
    let si = unsafe { phys_slice(phys, START_INFO_SIZE)? };
    let field32 = |off| u32_at(si, off).unwrap_or(0);
    let field64 = |off| u64_at(si, off).unwrap_or(0);
    if field32(0) != MAGIC {
        return Err(BootError::PvhMagic(field32(0)));
    }
    if field32(4) < 1 {
        return Err(BootError::PvhVersion(field32(4)));
    }
    info.add_boot_data(phys, START_INFO_SIZE)?;

    let (map_phys, entries) = (field64(40), u64::from(field32(48)));
    if entries == 0 {
        return Err(BootError::NoMemoryMap);
    }
    // SAFETY: the loader's memory map array, as the start info describes it.
    let map = unsafe { phys_slice(map_phys, entries * MEMMAP_ENTRY)? };
    info.add_boot_data(map_phys, entries * MEMMAP_ENTRY)?;
    for e in map.chunks_exact(MEMMAP_ENTRY as usize) {
        let (addr, size, ty) = (
            u64_at(e, 0).unwrap_or(0),
            u64_at(e, 8).unwrap_or(0),
            u32_at(e, 16).unwrap_or(0),
        );
        info.push_firmware(addr, size, ty)?;
    }

    let cmdline = field64(24);
    if cmdline != 0 {
        // SAFETY: the loader's command line string.
        let s = unsafe { phys_cstr(cmdline, MAX_CMDLINE)? };
        info.set_cmdline(s);
        info.add_boot_data(cmdline, s.len() as u64 + 1)?;
    }

    let (mods, nr) = (field64(16), u64::from(field32(12)));
    if nr != 0 {
        // SAFETY: the loader's module list, as the start info describes it.
        let list = unsafe { phys_slice(mods, nr * MODLIST_ENTRY)? };
        info.add_boot_data(mods, nr * MODLIST_ENTRY)?;
        for m in list.chunks_exact(MODLIST_ENTRY as usize) {
            info.add_boot_data(u64_at(m, 0).unwrap_or(0), u64_at(m, 8).unwrap_or(0))?;
        }
    }
    Ok(())
}
