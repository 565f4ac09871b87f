//! From the boot loader to a [`BootInfo`] the rest of the kernel can trust.
//!
//! ```text
//!  entry.s  32-bit entry (PVH or multiboot2) -> long mode -> kmain(protocol, info)
//!  pvh.rs / multiboot2.rs   parse the loader's structures (pure, over byte slices)
//!  this file                copy them out of loader memory, reserve the kernel
//!                           image and the boot data in the memory map
//! ```
//!
//! The loader's structures live in RAM the firmware map calls usable. They
//! are copied into [`BootInfo`] (a static, inside the kernel image) before
//! anything can allocate, so nothing later depends on that RAM staying intact.

mod image;
pub mod multiboot2;
mod pvh;
mod read;

pub use image::KernelImage;

use core::fmt;
use valen_mm::memmap::MemoryMapError;
use valen_mm::{MemoryMap, RegionKind};

core::arch::global_asm!(include_str!("entry.s"), options(att_syntax));

/// How the kernel was started (the value `entry.s` passes to `kmain`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protocol {
    /// QEMU `-kernel` through the PVH note (`hvm_start_info`).
    Pvh,
    /// A multiboot2 loader such as GRUB.
    Multiboot2,
}

impl Protocol {
    /// The name shown in logs.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Pvh => "PVH",
            Self::Multiboot2 => "multiboot2",
        }
    }
}

/// Most boot-data ranges remembered (info block, map, command line, modules).
pub const MAX_BOOT_DATA: usize = 16;
/// Longest command line kept.
pub const MAX_CMDLINE: usize = 256;

/// Everything the kernel keeps from its boot loader.
pub struct BootInfo {
    /// How the kernel was started.
    pub protocol: Protocol,
    /// The firmware's map as given (normalized), before any reservation.
    pub firmware_map: MemoryMap,
    /// The map the allocators use: firmware map with kernel image and boot data reserved.
    pub map: MemoryMap,
    /// Where the kernel image was loaded.
    pub image: KernelImage,
    /// Physical ranges `[start, end)` the loader's structures occupied.
    boot_data: [(u64, u64); MAX_BOOT_DATA],
    boot_data_len: usize,
    cmdline: [u8; MAX_CMDLINE],
    cmdline_len: usize,
}

impl BootInfo {
    /// Nothing known yet (the loader's structures are read into it).
    pub fn empty(protocol: Protocol) -> Self {
        Self {
            protocol,
            firmware_map: MemoryMap::new(),
            map: MemoryMap::new(),
            image: KernelImage::get(),
            boot_data: [(0, 0); MAX_BOOT_DATA],
            boot_data_len: 0,
            cmdline: [0; MAX_CMDLINE],
            cmdline_len: 0,
        }
    }

    /// The boot-data ranges that were reserved.
    pub fn boot_data(&self) -> &[(u64, u64)] {
        &self.boot_data[..self.boot_data_len]
    }

    /// The kernel command line (empty if none or not UTF-8).
    pub fn cmdline(&self) -> &str {
        core::str::from_utf8(&self.cmdline[..self.cmdline_len]).unwrap_or("")
    }

    /// The value of `key=value` on the command line.
    pub fn cmdline_value(&self, key: &str) -> Option<&str> {
        self.cmdline()
            .split_ascii_whitespace()
            .filter_map(|w| w.split_once('='))
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v)
    }

    fn add_boot_data(&mut self, start: u64, len: u64) -> Result<(), BootError> {
        if len == 0 {
            return Ok(());
        }
        if self.boot_data_len == MAX_BOOT_DATA {
            return Err(BootError::TooMuchBootData);
        }
        self.boot_data[self.boot_data_len] = (start, start.saturating_add(len));
        self.boot_data_len += 1;
        Ok(())
    }

    fn set_cmdline(&mut self, bytes: &[u8]) {
        let n = bytes.len().min(MAX_CMDLINE);
        self.cmdline[..n].copy_from_slice(&bytes[..n]);
        self.cmdline_len = n;
    }

    fn push_firmware(&mut self, start: u64, len: u64, ty: u32) -> Result<(), BootError> {
        let end = start
            .checked_add(len)
            .ok_or(BootError::RegionOverflow { start, len })?;
        self.firmware_map
            .push(start, end, RegionKind::from_e820(ty))
            .map_err(BootError::Map)
    }

    /// Normalizes the firmware map and derives the allocators' map from it.
    fn finish(&mut self) -> Result<(), BootError> {
        if self.firmware_map.regions().is_empty() {
            return Err(BootError::NoMemoryMap);
        }
        self.firmware_map.normalize().map_err(BootError::Map)?;
        self.map = self.firmware_map.clone();
        let (start, end) = (self.image.phys_start(), self.image.phys_end());
        self.map
            .reserve(start, end, RegionKind::KernelImage)
            .map_err(BootError::Map)?;
        for i in 0..self.boot_data_len {
            let (s, e) = self.boot_data[i];
            self.map
                .reserve(s, e, RegionKind::BootData)
                .map_err(BootError::Map)?;
        }
        Ok(())
    }
}

/// Why the boot information could not be read.
#[derive(Clone, Copy, Debug)]
pub enum BootError {
    /// `entry.s` saw neither PVH nor the multiboot2 magic.
    UnknownProtocol(u32),
    /// The PVH start info does not carry magic 0x336ec578.
    PvhMagic(u32),
    /// The PVH start info is version 0, which has no memory map.
    PvhVersion(u32),
    /// A multiboot2 tag runs past the end of the info block.
    Multiboot2Truncated {
        /// Offset of the bad tag inside the block.
        offset: usize,
    },
    /// A multiboot2 memory-map tag with an entry size below 24.
    Multiboot2EntrySize(u32),
    /// A loader structure outside the memory the early page tables reach.
    Unreachable {
        /// Physical address.
        phys: u64,
        /// Length in bytes.
        len: u64,
    },
    /// The loader gave no memory map.
    NoMemoryMap,
    /// A region whose end overflows.
    RegionOverflow {
        /// Region start.
        start: u64,
        /// Region length.
        len: u64,
    },
    /// More than [`MAX_BOOT_DATA`] loader structures.
    TooMuchBootData,
    /// The memory map rejected a region.
    Map(MemoryMapError),
}

impl fmt::Display for BootError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnknownProtocol(p) => {
                write!(f, "unknown boot protocol {p} (no PVH, no multiboot2 magic)")
            }
            Self::PvhMagic(m) => write!(f, "PVH start info magic is {m:#x}, expected 0x336ec578"),
            Self::PvhVersion(v) => write!(f, "PVH start info version {v} has no memory map"),
            Self::Multiboot2Truncated { offset } => {
                write!(
                    f,
                    "multiboot2 tag at offset {offset} runs past the info block"
                )
            }
            Self::Multiboot2EntrySize(s) => write!(f, "multiboot2 memory map entry size {s} < 24"),
            Self::Unreachable { phys, len } => {
                write!(
                    f,
                    "boot structure [{phys:#x}, +{len:#x}) is beyond the early mapping"
                )
            }
            Self::NoMemoryMap => write!(f, "the boot loader gave no memory map"),
            Self::RegionOverflow { start, len } => {
                write!(f, "memory region {start:#x} + {len:#x} overflows")
            }
            Self::TooMuchBootData => write!(f, "more than {MAX_BOOT_DATA} boot structures"),
            Self::Map(e) => write!(f, "memory map: {e}"),
        }
    }
}

/// Reads and copies the boot loader's information. `protocol` and
/// `info_phys` are the values `entry.s` saved.
///
/// # Safety
/// Must run once, early, while the early page tables map the first GiB at
/// the direct-map base and `info_phys` is what the loader passed in EBX.
pub unsafe fn read(protocol: u32, info_phys: u32) -> Result<BootInfo, BootError> {
    let info_phys = u64::from(info_phys);
    match protocol {
        1 => {
            let mut info = BootInfo::empty(Protocol::Pvh);
            // SAFETY: forwarded from our caller.
            unsafe { pvh::read(info_phys, &mut info)? };
            info.finish()?;
            Ok(info)
        }
        2 => {
            let mut info = BootInfo::empty(Protocol::Multiboot2);
            // SAFETY: forwarded from our caller.
            unsafe { multiboot2::read(info_phys, &mut info)? };
            info.finish()?;
            Ok(info)
        }
        p => Err(BootError::UnknownProtocol(p)),
    }
}
