//! Creating a PMM: from the spec's `pmm_init(bitmap, size)`, from storage the
//! caller owns, or straight from the firmware memory map.
//!
//! ```text
//!  0      2 MiB   kernel   16 MiB  bitmap              highest usable end
//!  |  never |  image  |  ...  |########| usable ... hole ... usable |
//!           ^ reserved in the map first (kernel, boot data)
//!                             ^ from_map puts the bitmap in the first usable
//!                               place at or above 16 MiB (keeping ISA DMA
//!                               memory free), else above 2 MiB
//! ```

use super::bitmap::{storage_words, FrameBitmap};
use super::error::PmmInitError;
use super::ranges::FrameRanges;
use super::recent::Recent;
use super::{Pmm, FIRST_FRAME};
use crate::addr::{PhysAddr, VirtAddr, PAGE_SIZE};
use crate::arch::PhysMapper;
use crate::memmap::{MemoryMap, RegionKind};

/// Where a PMM keeps its bitmap.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BitmapPlacement {
    /// Physical address, when the PMM placed it itself ([`Pmm::from_map`]).
    pub phys: Option<PhysAddr>,
    /// Virtual address the PMM reaches it through.
    pub virt: VirtAddr,
    /// Bytes of bitmap and summaries.
    pub bytes: u64,
    /// Frames the bitmap covers (up to the highest usable address).
    pub frames: u64,
}

/// Bytes a PMM's bitmap (with its summaries) needs for RAM up to `ram_end` bytes.
pub const fn bitmap_bytes(ram_end: u64) -> u64 {
    storage_words(ram_end / PAGE_SIZE) * 8
}

/// The first frame of the 16 MiB ISA DMA window's end.
const ABOVE_ISA: u64 = (16 << 20) / PAGE_SIZE;

impl<'a> Pmm<'a> {
    /// The spec's `pmm_init(start, size)`: the bitmap at virtual address
    /// `bitmap`, covering `ram_size` bytes of RAM from address 0. Like the
    /// spec, every frame from 2 MiB up is free afterwards: the caller then
    /// marks the kernel image, the bitmap itself ([`bitmap_bytes`] long) and
    /// every hole used. Prefer [`from_map`](Self::from_map), which does all that.
    ///
    /// # Safety
    /// 1. `bitmap` points to [`bitmap_bytes`]`(ram_size)` writable bytes,
    ///    valid for `'a`.
    /// 2. Nothing else reads or writes those bytes while the PMM lives.
    pub unsafe fn init(bitmap: VirtAddr, ram_size: u64) -> Result<Self, PmmInitError> {
        if ram_size > PhysAddr::LIMIT {
            return Err(PmmInitError::TooMuchRam { bytes: ram_size });
        }
        if !bitmap.is_aligned(8) {
            return Err(PmmInitError::MisalignedBitmap {
                addr: bitmap.as_u64(),
            });
        }
        let frames = ram_size / PAGE_SIZE;
        let words = storage_words(frames) as usize;
        // SAFETY: by 1. the bytes are valid and writable for 'a and (checked
        // above) aligned for u64; by 2. this is the only reference to them.
        let storage = unsafe { core::slice::from_raw_parts_mut(bitmap.as_mut_ptr(), words) };
        let mut ranges = FrameRanges::new();
        ranges.push(FIRST_FRAME, frames);
        Self::build(storage, frames, ranges, frames)
    }

    /// A PMM over `map` (normalized here) whose bitmap lives in `storage`,
    /// which the caller owns (at least [`bitmap_bytes`]`(highest usable end)`
    /// bytes). Frames below 2 MiB and everything the map does not call usable
    /// are never handed out.
    pub fn new_in(storage: &'a mut [u64], map: &MemoryMap) -> Result<Self, PmmInitError> {
        let (frames, usable, total) = usable_frames(map)?;
        Self::build(storage, frames, usable, total)
    }

    /// A PMM over `map` that places its own bitmap in usable RAM (first fit at
    /// or above 16 MiB, else above 2 MiB; never over the kernel image or
    /// boot data, which the map must mark), reached through `mapper`, and
    /// marks the bitmap's frames used. [`placement`](Self::placement) says
    /// where it went.
    ///
    /// # Safety
    /// 1. The RAM that `map` calls usable is not in use: nothing reads or
    ///    writes it while the PMM lives, except frames the PMM hands out.
    /// 2. `mapper` reaches every usable byte of `map`.
    pub unsafe fn from_map<M: PhysMapper>(
        map: &MemoryMap,
        mapper: &'a M,
    ) -> Result<Self, PmmInitError> {
        let (frames, mut usable, total) = usable_frames(map)?;
        let bytes = storage_words(frames) * 8;
        let need = bytes.div_ceil(PAGE_SIZE);
        let fits = |min: u64| {
            usable.as_slice().iter().find_map(|&(s, e)| {
                let s = s.max(min);
                (e > s && e - s >= need).then_some(s)
            })
        };
        let at = fits(ABOVE_ISA)
            .or_else(|| fits(FIRST_FRAME))
            .ok_or(PmmInitError::NoRoomForBitmap { bytes })?;
        let phys = PhysAddr::new_truncate(at * PAGE_SIZE);
        // Removing a piece from inside one range splits it at most once.
        if !usable.remove(at, at + need) {
            return Err(PmmInitError::NoRoomForBitmap { bytes });
        }
        let ptr = mapper.phys_to_ptr(phys).cast::<u64>();
        if !ptr.is_aligned() {
            return Err(PmmInitError::MisalignedBitmap {
                addr: ptr.addr() as u64,
            });
        }
        // SAFETY: by 2. and the `PhysMapper` contract the `bytes` bytes at
        // `phys` (inside one usable range) are valid and writable for 'a;
        // `ptr` is aligned (checked); by 1. nothing else touches them, and
        // they were just removed from what the PMM hands out.
        let storage = unsafe { core::slice::from_raw_parts_mut(ptr, (bytes / 8) as usize) };
        let mut pmm = Self::build(storage, frames, usable, total)?;
        pmm.placement.phys = Some(phys);
        Ok(pmm)
    }

    /// The common end of every constructor.
    fn build(
        storage: &'a mut [u64],
        frames: u64,
        allocatable: FrameRanges,
        total: u64,
    ) -> Result<Self, PmmInitError> {
        let virt = VirtAddr::from_ptr(storage.as_ptr());
        let given = storage.len() as u64;
        let needed = storage_words(frames);
        let bitmap = FrameBitmap::new(storage, frames, allocatable.as_slice().iter().copied())
            .ok_or(PmmInitError::StorageTooSmall { needed, given })?;
        Ok(Self {
            bitmap,
            allocatable,
            total_frames: total,
            placement: BitmapPlacement {
                phys: None,
                virt,
                bytes: needed * 8,
                frames,
            },
            recent: Recent::new(),
        })
    }
}

/// From a memory map: frames to cover, allocatable ranges (usable, from
/// 2 MiB up) and frames of usable RAM.
fn usable_frames(map: &MemoryMap) -> Result<(u64, FrameRanges, u64), PmmInitError> {
    let mut map = map.clone();
    map.normalize().map_err(PmmInitError::Map)?;
    let frames = map.highest_usable_end().as_u64() / PAGE_SIZE;
    if frames == 0 {
        return Err(PmmInitError::NoUsableRam);
    }
    let mut usable = FrameRanges::new();
    for r in map.of_kind(RegionKind::Usable) {
        let (s, e) = (r.start.as_u64() / PAGE_SIZE, r.end.as_u64() / PAGE_SIZE);
        // A normalized map is sorted and holds at most MAX_REGIONS regions.
        usable.push(s.max(FIRST_FRAME), e);
    }
    Ok((frames, usable, map.usable_bytes() / PAGE_SIZE))
}
