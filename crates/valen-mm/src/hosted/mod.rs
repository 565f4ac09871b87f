//! The hosted machine: a simulated x86_64 PC for tests, benchmarks and demos.
//!
//! - [`HostedRam`]: physical RAM as one anonymous `MAP_NORESERVE` mapping, so a
//!   16 GiB machine costs only the pages a test touches. It implements
//!   [`PhysMapper`](crate::arch::PhysMapper) the way the kernel's direct map does.
//! - [`qemu_map`] and [`Preset`]: the memory maps QEMU 7.2 really hands a
//!   kernel on the `pc` and `q35` machines, from 10 MiB to 16 GiB and beyond.
//! - [`synthetic_map`]: maps with many holes, up to 1 TiB and more, for scale tests.
//! - [`FramePool`]: frames from a slice of that RAM, with a budget and a
//!   leak count, for the tiers above the PMM.
//! - [`RecordingMmu`]: an [`Mmu`](crate::arch::Mmu) that records every TLB
//!   flush and CR3 write so tests can assert them.
//!
//! Everything here is a value, not a global, so tests run in parallel.

mod frames;
mod maps;
mod mmu;
mod ram;

pub use frames::{FramePool, FramePoolError};
pub use maps::{qemu_map, synthetic_map, Preset, QemuMachine};
pub use mmu::{Flush, RecordingMmu};
pub use ram::{HostedRam, HostedRamError};

use crate::memmap::MemoryMap;

/// The flags of every reservation the hosted machine makes: private,
/// anonymous and, natively, `MAP_NORESERVE`, so untouched pages cost
/// nothing. Miri models only private anonymous mappings (and allocates them
/// whole), so under it the reservation is an ordinary one.
pub(crate) const RESERVE_FLAGS: libc::c_int = if cfg!(miri) {
    libc::MAP_PRIVATE | libc::MAP_ANONYMOUS
} else {
    libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE
};

/// A whole simulated machine: RAM, its firmware memory map and an MMU.
pub struct HostedMachine {
    /// Physical memory, covering every usable byte of `map`.
    pub ram: HostedRam,
    /// The normalized firmware memory map.
    pub map: MemoryMap,
    /// The recording MMU.
    pub mmu: RecordingMmu,
}

impl HostedMachine {
    /// A machine with `map`, RAM sized to its highest usable byte.
    pub fn new(map: MemoryMap) -> Result<Self, HostedRamError> {
        let ram = HostedRam::new(map.highest_usable_end().as_u64())?;
        Ok(Self {
            ram,
            map,
            mmu: RecordingMmu::new(true),
        })
    }

    /// A machine with one of the QEMU presets.
    pub fn preset(preset: Preset) -> Result<Self, HostedRamError> {
        Self::new(preset.map())
    }
}
