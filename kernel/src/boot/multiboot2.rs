//! The multiboot2 boot protocol (GRUB): EAX = 0x36d76289, EBX = the boot
//! information block, a list of 8-byte-aligned tags:
//!
//! ```text
//!  total_size u32 | reserved u32 | tag | tag | ... | end tag (type 0)
//!  tag: type u32, size u32, payload
//!   1 command line (string)      3 module: start u32, end u32, string
//!   6 memory map: entry_size u32, entry_version u32,
//!                 entries: base u64, length u64, type u32, reserved u32
//! ```

use super::read::{phys_slice, u32_at, u64_at};
use super::{BootError, BootInfo};

const TAG_END: u32 = 0;
const TAG_CMDLINE: u32 = 1;
const TAG_MODULE: u32 = 3;
const TAG_MMAP: u32 = 6;

/// Copies the multiboot2 information block at `phys` into `info`.
///
/// # Safety
/// `phys` must be the block the loader passed; see [`super::read`].
pub unsafe fn read(phys: u64, info: &mut BootInfo) -> Result<(), BootError> {
    // SAFETY: the block's fixed header, in memory the loader handed over.
    let head = unsafe { phys_slice(phys, 8)? };
    let total = u64::from(u32_at(head, 0).unwrap_or(0));
    // SAFETY: the whole block, as long as its header says.
    let block = unsafe { phys_slice(phys, total.max(8))? };
    info.add_boot_data(phys, total)?;
    parse(block, info)
}

/// Walks the tags of a copied block.
pub fn parse(block: &[u8], info: &mut BootInfo) -> Result<(), BootError> {
    let mut off = 8;
    let mut saw_map = false;
    while off + 8 <= block.len() {
        let (ty, size) = (
            u32_at(block, off).unwrap_or(0),
            u32_at(block, off + 4).unwrap_or(0) as usize,
        );
        if ty == TAG_END {
            break;
        }
        let tag = block
            .get(off..off.saturating_add(size))
            .filter(|_| size >= 8)
            .ok_or(BootError::Multiboot2Truncated { offset: off })?;
        match ty {
            TAG_CMDLINE => {
                let s = &tag[8..];
                let len = s.iter().position(|&b| b == 0).unwrap_or(s.len());
                info.set_cmdline(&s[..len]);
            }
            TAG_MODULE => {
                let start = u64::from(u32_at(tag, 8).unwrap_or(0));
                let end = u64::from(u32_at(tag, 12).unwrap_or(0));
                info.add_boot_data(start, end.saturating_sub(start))?;
            }
            TAG_MMAP => {
                saw_map = true;
                let esize = u32_at(tag, 8).unwrap_or(0);
                if esize < 24 {
                    return Err(BootError::Multiboot2EntrySize(esize));
                }
                for e in tag[16..].chunks_exact(esize as usize) {
                    let (base, len, kind) = (
                        u64_at(e, 0).unwrap_or(0),
                        u64_at(e, 8).unwrap_or(0),
                        u32_at(e, 16).unwrap_or(0),
                    );
                    info.push_firmware(base, len, kind)?;
                }
            }
            _ => {}
        }
        off += (size + 7) & !7;
    }
    if saw_map {
        Ok(())
    } else {
        Err(BootError::NoMemoryMap)
    }
}
