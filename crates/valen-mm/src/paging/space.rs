//! The address space: a PML4 and the tables under it, with single-page
//! operations (`map`, `translate`) and the checks every operation shares.
//!
//! ```text
//!  virt: | sign | PML4 idx | PDPT idx | PD idx | PT idx | offset |
//!          63-48   47-39      38-30     29-21    20-12    11-0
//!  root (CR3) -> PML4 -> PDPT -[PS: 1 GiB]-> PD -[PS: 2 MiB]-> PT -> 4 KiB
//! ```
//!
//! Range operations live in [`range`](super::range) and
//! [`change`](super::change).

use super::entry::{index, Entry, PageSize};
use super::error::{FlagProblem, Mapping, PagingError, Translation};
use super::flags::PageFlags;
use super::table::Table;
use crate::addr::{Frame, PhysAddr, VirtAddr, PAGE_SIZE};
use crate::arch::{Mmu, PhysMapper};
use crate::frame_alloc::FrameAllocator;

/// A 4-level page-table hierarchy rooted at one PML4 frame.
///
/// Table frames come from the [`FrameAllocator`] passed to each call, and
/// tables that empty are given back to it: pass the same allocator (the PMM)
/// to every call on one space. Mapped frames themselves are never allocated
/// or freed here; `unmap_range` reports them so the caller can free them.
///
/// Invariants: every table reachable from the root is a frame that `phys`
/// reaches and that belongs to this address space alone; the entry pointing
/// at a table holds its count of present entries; no table but the root is
/// empty; a leaf's address is aligned to its page size.
pub struct AddressSpace<P: PhysMapper, M: Mmu> {
    pub(crate) phys: P,
    pub(crate) mmu: M,
    pub(crate) root: Frame,
    pub(crate) root_count: u16,
}

impl<P: PhysMapper, M: Mmu> AddressSpace<P, M> {
    /// A new, empty address space: one zeroed PML4 from `frames`.
    ///
    /// Errors: [`PagingError::OutOfFrames`].
    pub fn new<F: FrameAllocator + ?Sized>(
        phys: P,
        mmu: M,
        frames: &mut F,
    ) -> Result<Self, PagingError> {
        let root = frames
            .allocate_frame()
            .ok_or(PagingError::OutOfFrames { obtained: 0 })?;
        let space = Self {
            phys,
            mmu,
            root,
            root_count: 0,
        };
        space.table(root.start().as_u64()).zero();
        Ok(space)
    }

    /// Adopts the hierarchy rooted at `root` (for example the bootloader's),
    /// recounting each table's present entries once.
    ///
    /// # Safety
    /// 1. `root` and every table under it are valid x86_64 page tables that
    ///    `phys` reaches, and nothing else modifies them from now on.
    /// 2. Every table frame under `root` may be given back to the frame
    ///    allocator later passed to `unmap`/`unmap_range` when it empties.
    pub unsafe fn from_root(phys: P, mmu: M, root: Frame) -> Self {
        let mut space = Self {
            phys,
            mmu,
            root,
            root_count: 0,
        };
        space.root_count = space.recount(root.start().as_u64(), 4);
        space
    }

    fn recount(&self, frame: u64, level: u8) -> u16 {
        let t = self.table(frame);
        let mut count = 0;
        for i in 0..512 {
            let e = t.get(i);
            if !e.is_present() {
                continue;
            }
            count += 1;
            if !e.is_leaf(level) {
                let c = self.recount(e.addr(), level - 1);
                t.set(i, e.with_count(c));
            }
        }
        count
    }

    /// The PML4 frame (what CR3 holds when this space is active).
    pub fn root(&self) -> Frame {
        self.root
    }

    /// The MMU this space flushes through.
    pub fn mmu(&self) -> &M {
        &self.mmu
    }

    /// The mapper through which the tables are reached.
    pub fn phys(&self) -> &P {
        &self.phys
    }

    /// Loads this space into CR3 (the spec's `paging_init`).
    ///
    /// # Safety
    /// The space must map the running code, its stack and every address in
    /// use, as [`Mmu::set_root`] requires.
    pub unsafe fn activate(&self) {
        // SAFETY: forwarded to the caller.
        unsafe { self.mmu.set_root(self.root.start()) }
    }

    /// The table in `frame`, which must be a table of this space.
    #[inline]
    pub(crate) fn table(&self, frame: u64) -> Table {
        // SAFETY: callers pass only the root or frames read from entries of
        // this space's tables, which the struct invariant makes tables that
        // `self.phys` reaches and that only this space accesses; `&self`
        // keeps `phys` alive for the use.
        unsafe { Table::at(&self.phys, frame) }
    }

    /// Where `virt` leads: the physical byte, the leaf's flags and page size.
    ///
    /// Errors: [`PagingError::NotMapped`].
    pub fn translate(&self, virt: VirtAddr) -> Result<Translation, PagingError> {
        let v = virt.as_u64();
        let mut t = self.table(self.root.start().as_u64());
        let mut level = 4;
        loop {
            let e = t.get(index(v, level));
            if !e.is_present() {
                return Err(PagingError::NotMapped { virt });
            }
            if let (true, Some(size)) = (e.is_leaf(level), PageSize::at_level(level)) {
                let offset = v & (size.bytes() - 1);
                return Ok(Translation {
                    phys: PhysAddr::new_truncate(e.leaf_addr(size) | offset),
                    flags: e.flags(),
                    size,
                });
            }
            t = self.table(e.addr());
            level -= 1;
        }
    }

    /// Maps the 4 KiB page at `virt` to the frame at `phys` (the spec's
    /// `paging_map` / `paging_map_page`), creating tables as needed.
    ///
    /// Errors: [`PagingError::UnalignedVirt`], [`PagingError::UnalignedPhys`],
    /// [`PagingError::BadFlags`], [`PagingError::AlreadyMapped`],
    /// [`PagingError::HugePageInTheWay`], [`PagingError::OutOfFrames`].
    pub fn map<F: FrameAllocator + ?Sized>(
        &mut self,
        virt: VirtAddr,
        phys: PhysAddr,
        flags: PageFlags,
        frames: &mut F,
    ) -> Result<(), PagingError> {
        let flags = self.check_flags(flags)?;
        if !virt.is_aligned(PAGE_SIZE) {
            return Err(PagingError::UnalignedVirt(virt));
        }
        if !phys.is_aligned(PAGE_SIZE) {
            return Err(PagingError::UnalignedPhys(phys));
        }
        let v = virt.as_u64();
        // Walk down as far as tables exist; path[l] = (level-l table, index).
        let root = self.table(self.root.start().as_u64());
        let mut path = [(root, 0usize); 5];
        let mut level = 4u8;
        let mut t = root;
        loop {
            let i = index(v, level);
            path[level as usize] = (t, i);
            let e = t.get(i);
            if !e.is_present() {
                break;
            }
            if let Some(m) = leaf_mapping(e, level, v) {
                return Err(if level == 1 {
                    PagingError::AlreadyMapped { virt, existing: m }
                } else {
                    PagingError::HugePageInTheWay { virt, huge: m }
                });
            }
            t = self.table(e.addr());
            level -= 1;
        }
        // Tables for levels level-1 .. 1 are missing: get them all first.
        let mut new = [0u64; 3];
        for k in 0..usize::from(level - 1) {
            match frames.allocate_frame() {
                Some(f) => new[k] = f.start().as_u64(),
                None => {
                    for &f in &new[..k] {
                        // SAFETY: just allocated from `frames`, never used.
                        unsafe { frames.deallocate_frame(frame_at(f)) };
                    }
                    return Err(PagingError::OutOfFrames { obtained: k as u64 });
                }
            }
        }
        // Build the missing chain bottom-up, then hook it in with one write.
        let inter = intermediate_flags(flags);
        let mut e = Entry::leaf(phys.as_u64(), flags, PageSize::Size4K);
        for l in 1..level {
            let frame = new[usize::from(l - 1)];
            let nt = self.table(frame);
            nt.zero();
            nt.set(index(v, l), e);
            e = Entry::table(frame, inter, 1);
        }
        let (t, i) = path[level as usize];
        t.set(i, e);
        self.bump_count(&path, level);
        if flags.contains(PageFlags::USER) {
            for &(t, i) in &path[usize::from(level) + 1..] {
                t.set(i, t.get(i).with_flags(PageFlags::USER));
            }
        }
        Ok(())
    }

    /// Adds one to the count of the level-`level` table on `path`.
    fn bump_count(&mut self, path: &[(Table, usize); 5], level: u8) {
        if level == 4 {
            self.root_count += 1;
        } else {
            let (pt, pi) = path[usize::from(level) + 1];
            let pe = pt.get(pi);
            pt.set(pi, pe.with_count(pe.count() + 1));
        }
    }

    /// Checks leaf flags for mapping or protecting.
    pub(crate) fn check_flags(&self, flags: PageFlags) -> Result<PageFlags, PagingError> {
        let problem = if !flags.contains(PageFlags::PRESENT) {
            FlagProblem::NotPresent
        } else if flags.contains(PageFlags::HUGE) {
            FlagProblem::Huge
        } else if flags.contains(PageFlags::NO_EXECUTE) && !self.mmu.has_nx() {
            FlagProblem::NoExecuteUnsupported
        } else {
            return Ok(flags);
        };
        Err(PagingError::BadFlags { flags, problem })
    }
}

/// The flags of a table entry above leaves with `leaf` flags: permissive,
/// so the leaf alone decides (`USER` only where a user leaf needs it).
pub(crate) const fn intermediate_flags(leaf: PageFlags) -> PageFlags {
    let user = if leaf.contains(PageFlags::USER) {
        PageFlags::USER
    } else {
        PageFlags::EMPTY
    };
    PageFlags::PRESENT.union(PageFlags::WRITE).union(user)
}

/// The mapping a leaf entry `e` of a level-`level` table makes, where `v` is
/// any address inside it; `None` if `e` is not a leaf.
pub(crate) fn leaf_mapping(e: Entry, level: u8, v: u64) -> Option<Mapping> {
    let size = PageSize::at_level(level)?;
    if !e.is_leaf(level) {
        return None;
    }
    Some(Mapping {
        virt: VirtAddr::new_truncate(v & !(size.bytes() - 1)),
        phys: PhysAddr::new_truncate(e.leaf_addr(size)),
        size,
        flags: e.flags(),
    })
}

/// The frame starting at `addr` (an entry's or allocator's aligned address).
pub(crate) fn frame_at(addr: u64) -> Frame {
    Frame::containing(PhysAddr::new_truncate(addr))
}

/// Checks `[virt, virt + size)`: aligned, non-empty, inside one canonical half.
pub(crate) fn check_virt_range(virt: VirtAddr, size: u64) -> Result<(), PagingError> {
    if size == 0 {
        return Err(PagingError::ZeroSize);
    }
    if size % PAGE_SIZE != 0 {
        return Err(PagingError::UnalignedSize(size));
    }
    if !virt.is_aligned(PAGE_SIZE) {
        return Err(PagingError::UnalignedVirt(virt));
    }
    let start = virt.as_u64();
    match start.checked_add(size - 1) {
        Some(last) if VirtAddr::new(last).is_ok() && last >> 47 == start >> 47 => Ok(()),
        _ => Err(PagingError::NonCanonical { start: virt, size }),
    }
}

/// Checks that `[phys, phys + size)` is aligned and below 2^52.
pub(crate) fn check_phys_range(phys: PhysAddr, size: u64) -> Result<(), PagingError> {
    if !phys.is_aligned(PAGE_SIZE) {
        return Err(PagingError::UnalignedPhys(phys));
    }
    match phys.checked_add(size) {
        Some(_) => Ok(()),
        None => Err(PagingError::PhysOverflow { start: phys, size }),
    }
}
