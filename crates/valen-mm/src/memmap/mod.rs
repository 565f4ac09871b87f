//! The firmware memory map: which physical ranges are RAM and which are not.
//!
//! Firmware (e820, PVH `hvm_start_info`, multiboot2) hands the kernel a list of
//! ranges that may be unsorted, overlapping and unaligned. [`MemoryMap`] holds
//! such a list without allocating and [`MemoryMap::normalize`] turns it into
//! one the allocators can trust:
//!
//! ```text
//!  raw:        [ usable ......................... ]
//!                        [ reserved ]   [ kernel ]
//!  normalized: [ usable ][ reserved ][u][ kernel ][usable]
//!              sorted, no overlaps (the stronger kind wins), neighbours of
//!              one kind merged, usable ranges shrunk inward to 4 KiB
//! ```

mod normalize;

use crate::addr::{PhysAddr, PAGE_SIZE};
use core::fmt;

/// Most regions a [`MemoryMap`] holds (real firmware gives a few dozen).
pub const MAX_REGIONS: usize = 256;

/// What a physical range is used for.
///
/// The order is the precedence where ranges overlap: a later kind wins over an
/// earlier one, so anything that is not plain RAM wins over `Usable`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RegionKind {
    /// RAM free for the allocators (e820 type 1).
    Usable,
    /// ACPI tables; RAM again once the OS has read them (e820 type 3).
    AcpiReclaimable,
    /// Boot modules and boot data (boot info, the map itself, initrd).
    BootData,
    /// The kernel image as loaded.
    KernelImage,
    /// Anything the firmware reserves (e820 type 2 and unknown types).
    Reserved,
    /// ACPI non-volatile storage (e820 type 4).
    AcpiNvs,
    /// Defective RAM (e820 type 5).
    Bad,
}

impl RegionKind {
    /// The kind an e820 / PVH / multiboot2 type number stands for.
    pub const fn from_e820(ty: u32) -> Self {
        match ty {
            1 => Self::Usable,
            3 => Self::AcpiReclaimable,
            4 => Self::AcpiNvs,
            5 => Self::Bad,
            _ => Self::Reserved,
        }
    }

    /// A short lowercase name for tables and logs.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Usable => "usable",
            Self::AcpiReclaimable => "acpi-reclaimable",
            Self::BootData => "boot-data",
            Self::KernelImage => "kernel",
            Self::Reserved => "reserved",
            Self::AcpiNvs => "acpi-nvs",
            Self::Bad => "bad",
        }
    }
}

/// A physical range `[start, end)` of one kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Region {
    /// First byte.
    pub start: PhysAddr,
    /// One past the last byte.
    pub end: PhysAddr,
    /// What the range is.
    pub kind: RegionKind,
}

impl Region {
    /// Length in bytes.
    pub const fn len(&self) -> u64 {
        self.end.as_u64() - self.start.as_u64()
    }

    /// Whether the region holds no byte.
    pub const fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl fmt::Display for Region {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "[{:#014x}, {:#014x}) {}",
            self.start.as_u64(),
            self.end.as_u64(),
            self.kind.name()
        )
    }
}

/// Why a range could not be added to a map.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MemoryMapError {
    /// `end` is not above `start`.
    EmptyOrInverted {
        /// The rejected start.
        start: u64,
        /// The rejected end.
        end: u64,
    },
    /// The range reaches past 2^52.
    BeyondPhysLimit {
        /// The rejected end.
        end: u64,
    },
    /// The map already holds [`MAX_REGIONS`] regions (or normalizing would need more).
    Full,
}

impl fmt::Display for MemoryMapError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::EmptyOrInverted { start, end } => {
                write!(f, "range [{start:#x}, {end:#x}) is empty or inverted")
            }
            Self::BeyondPhysLimit { end } => write!(f, "range end {end:#x} is above 2^52"),
            Self::Full => write!(f, "memory map is full ({MAX_REGIONS} regions)"),
        }
    }
}

/// A fixed-capacity list of physical regions; no allocation needed.
#[derive(Clone)]
pub struct MemoryMap {
    regions: [Region; MAX_REGIONS],
    len: usize,
}

impl Default for MemoryMap {
    fn default() -> Self {
        Self::new()
    }
}

const EMPTY_REGION: Region = Region {
    start: PhysAddr::ZERO,
    end: PhysAddr::ZERO,
    kind: RegionKind::Reserved,
};

impl MemoryMap {
    /// An empty map.
    pub const fn new() -> Self {
        Self {
            regions: [EMPTY_REGION; MAX_REGIONS],
            len: 0,
        }
    }

    /// Appends `[start, end)` as given (call [`normalize`](Self::normalize) after).
    /// A zero-length range is accepted and ignored, as firmware sometimes sends them.
    pub fn push(&mut self, start: u64, end: u64, kind: RegionKind) -> Result<(), MemoryMapError> {
        if end < start {
            return Err(MemoryMapError::EmptyOrInverted { start, end });
        }
        if end > PhysAddr::LIMIT {
            return Err(MemoryMapError::BeyondPhysLimit { end });
        }
        if end == start {
            return Ok(());
        }
        if self.len == MAX_REGIONS {
            return Err(MemoryMapError::Full);
        }
        self.regions[self.len] = Region {
            start: bound(start),
            end: bound(end),
            kind,
        };
        self.len += 1;
        Ok(())
    }

    /// Marks `[start, end)` as `kind` on top of what is there and normalizes.
    /// Used to carve the kernel image, boot data or the PMM bitmap out of RAM.
    /// On error the map is unchanged.
    pub fn reserve(
        &mut self,
        start: u64,
        end: u64,
        kind: RegionKind,
    ) -> Result<(), MemoryMapError> {
        let saved_len = self.len;
        self.push(start, end, kind)?;
        if let Err(e) = self.normalize() {
            self.len = saved_len;
            return Err(e);
        }
        Ok(())
    }

    /// The regions, in the order they are held.
    pub fn regions(&self) -> &[Region] {
        &self.regions[..self.len]
    }

    /// The regions of one kind.
    pub fn of_kind(&self, kind: RegionKind) -> impl Iterator<Item = &Region> {
        self.regions().iter().filter(move |r| r.kind == kind)
    }

    /// Total bytes of usable RAM (not the highest address).
    pub fn usable_bytes(&self) -> u64 {
        self.of_kind(RegionKind::Usable).map(Region::len).sum()
    }

    /// One past the highest usable byte: what a frame bitmap must cover.
    /// Reserved ranges above the last RAM (such as AMD's near 1 TiB) do not count.
    pub fn highest_usable_end(&self) -> PhysAddr {
        self.of_kind(RegionKind::Usable)
            .map(|r| r.end)
            .max()
            .unwrap_or(PhysAddr::ZERO)
    }

    /// The kind of the byte at `addr`, or `None` where the map says nothing.
    pub fn kind_at(&self, addr: PhysAddr) -> Option<RegionKind> {
        self.regions()
            .iter()
            .filter(|r| r.start <= addr && addr < r.end)
            .map(|r| r.kind)
            .max()
    }

    /// Whether every byte of `[start, end)` lies in one usable region.
    pub fn is_usable(&self, start: PhysAddr, end: PhysAddr) -> bool {
        self.of_kind(RegionKind::Usable)
            .any(|r| r.start <= start && end <= r.end)
    }

    /// Sorts, resolves overlaps (the stronger kind wins, see [`RegionKind`]),
    /// merges touching regions of the same kind and shrinks usable regions
    /// inward to 4 KiB boundaries, dropping those that become empty.
    /// On error (more pieces than [`MAX_REGIONS`]) the map is unchanged.
    pub fn normalize(&mut self) -> Result<(), MemoryMapError> {
        let mut out = [EMPTY_REGION; MAX_REGIONS];
        let n = normalize::normalize(self.regions(), &mut out, PAGE_SIZE)?;
        self.regions[..n].copy_from_slice(&out[..n]);
        self.len = n;
        Ok(())
    }
}

impl fmt::Debug for MemoryMap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.regions()).finish()
    }
}

/// A region bound: any number up to and including 2^52 (an exclusive end may be the limit).
fn bound(v: u64) -> PhysAddr {
    PhysAddr::ZERO
        .checked_add(v.min(PhysAddr::LIMIT))
        .unwrap_or(PhysAddr::ZERO)
}

#[cfg(test)]
mod tests;
