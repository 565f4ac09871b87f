//! `map_range`: one walk that maps a whole range with the largest pages
//! that alignment allows, and undoes itself precisely if it fails.
//!
//! ```text
//!  virt  |4K|4K|...|   2 MiB   |        1 GiB        |   2 MiB   |4K|
//!  each level's table is visited once; a chunk becomes a leaf at the
//!  highest level where virt, phys and the remaining length all line up.
//! ```
//!
//! All-or-nothing without a planning pass: tables are allocated as the walk
//! needs them and each new table is hooked in only once it is filled. If a
//! page is found already mapped or the allocator runs dry, the prefix mapped
//! so far is unmapped again, which frees exactly the tables this call
//! created (tables that existed before still hold their old entries, so they
//! are never empty). `USER` is granted to existing parent entries only after
//! success, so a failure leaves every entry bit as it was.

use super::entry::{index, span, Entry, PageSize};
use super::error::PagingError;
use super::flags::PageFlags;
use super::space::{
    check_phys_range, check_virt_range, intermediate_flags, leaf_mapping, AddressSpace,
};
use super::table::Table;
use crate::addr::{PhysAddr, VirtAddr};
use crate::arch::{Mmu, PhysMapper};
use crate::frame_alloc::FrameAllocator;

/// State of one `map_range` walk.
struct MapWalk<'f, F: ?Sized> {
    flags: PageFlags,
    inter: PageFlags,
    largest: u8,
    frames: &'f mut F,
    /// Bytes mapped so far from the start of the range.
    done: u64,
    /// Table frames obtained so far.
    obtained: u64,
}

/// The page size of a leaf at `level` (1, 2 or 3).
const fn leaf_size(level: u8) -> PageSize {
    match level {
        1 => PageSize::Size4K,
        2 => PageSize::Size2M,
        _ => PageSize::Size1G,
    }
}

impl<P: PhysMapper, M: Mmu> AddressSpace<P, M> {
    /// Maps `[virt, virt + size)` to `[phys, phys + size)` (the spec's
    /// `paging_map_range`) with 1 GiB pages (where the CPU has them), 2 MiB
    /// pages and 4 KiB pages, the largest that alignment and the remaining
    /// length allow at each point. Maps everything or nothing.
    ///
    /// Errors: [`PagingError::ZeroSize`], [`PagingError::UnalignedSize`],
    /// [`PagingError::UnalignedVirt`], [`PagingError::UnalignedPhys`],
    /// [`PagingError::NonCanonical`], [`PagingError::PhysOverflow`],
    /// [`PagingError::BadFlags`], [`PagingError::AlreadyMapped`],
    /// [`PagingError::HugePageInTheWay`], [`PagingError::OutOfFrames`].
    pub fn map_range<F: FrameAllocator + ?Sized>(
        &mut self,
        virt: VirtAddr,
        phys: PhysAddr,
        size: u64,
        flags: PageFlags,
        frames: &mut F,
    ) -> Result<(), PagingError> {
        self.map_range_max(virt, phys, size, flags, PageSize::Size1G, frames)
    }

    /// [`map_range`](Self::map_range) with pages no larger than `largest`
    /// (for example 4 KiB, so that each page can be unmapped on its own).
    pub fn map_range_max<F: FrameAllocator + ?Sized>(
        &mut self,
        virt: VirtAddr,
        phys: PhysAddr,
        size: u64,
        flags: PageFlags,
        largest: PageSize,
        frames: &mut F,
    ) -> Result<(), PagingError> {
        let flags = self.check_flags(flags)?;
        check_virt_range(virt, size)?;
        check_phys_range(phys, size)?;
        let largest = if largest == PageSize::Size1G && !self.mmu.has_1g_pages() {
            PageSize::Size2M
        } else {
            largest
        };
        let mut walk = MapWalk {
            flags,
            inter: intermediate_flags(flags),
            largest: largest.level(),
            frames,
            done: 0,
            obtained: 0,
        };
        let root = self.table(self.root.start().as_u64());
        let mut count = self.root_count;
        let result = self.map_in(
            root,
            4,
            virt.as_u64(),
            phys.as_u64(),
            size,
            &mut walk,
            &mut count,
        );
        self.root_count = count;
        match result {
            Ok(()) => {
                if flags.contains(PageFlags::USER) {
                    self.grant_user(root, 4, virt.as_u64(), size);
                }
                Ok(())
            }
            Err(e) => {
                let done = walk.done;
                if done > 0 {
                    self.remove_range(virt.as_u64(), done, walk.frames, |_| {});
                }
                Err(e)
            }
        }
    }

    /// Maps `[v, v + len)` (inside this level-`level` table's reach) to `p`.
    #[allow(clippy::too_many_arguments)]
    fn map_in<F: FrameAllocator + ?Sized>(
        &self,
        t: Table,
        level: u8,
        mut v: u64,
        mut p: u64,
        mut len: u64,
        w: &mut MapWalk<'_, F>,
        count: &mut u16,
    ) -> Result<(), PagingError> {
        let mut i = index(v, level);
        if level == 1 {
            return self.map_pt(t, v, p, len, w, count);
        }
        let span = span(level);
        while len > 0 {
            let off = v & (span - 1);
            let chunk = (span - off).min(len);
            let e = t.get(i);
            if level <= w.largest && off == 0 && p & (span - 1) == 0 && chunk == span {
                if e.is_present() {
                    return Err(self.conflict(e, level, v));
                }
                t.set(i, Entry::leaf(p, w.flags, leaf_size(level)));
                *count += 1;
                w.done += chunk;
            } else if e.is_present() {
                if let Some(huge) = leaf_mapping(e, level, v) {
                    let virt = VirtAddr::new_truncate(v);
                    return Err(PagingError::HugePageInTheWay { virt, huge });
                }
                let mut c = e.count();
                let r = self.map_in(self.table(e.addr()), level - 1, v, p, chunk, w, &mut c);
                t.set(i, e.with_count(c));
                r?;
            } else {
                let Some(frame) = w.frames.allocate_frame() else {
                    return Err(PagingError::OutOfFrames {
                        obtained: w.obtained,
                    });
                };
                w.obtained += 1;
                let f = frame.start().as_u64();
                let nt = self.table(f);
                nt.zero();
                let mut c = 0;
                let r = self.map_in(nt, level - 1, v, p, chunk, w, &mut c);
                if c == 0 {
                    // Nothing went in (it failed at once): never hook it in.
                    // SAFETY: just allocated from `w.frames`, referenced nowhere.
                    unsafe { w.frames.deallocate_frame(frame) };
                } else {
                    t.set(i, Entry::table(f, w.inter, c));
                    *count += 1;
                }
                r?;
            }
            v = v.wrapping_add(chunk);
            p += chunk;
            len -= chunk;
            i += 1;
        }
        Ok(())
    }

    /// The innermost loop: 4 KiB leaves into one page table, from `v` on.
    fn map_pt<F: FrameAllocator + ?Sized>(
        &self,
        t: Table,
        v: u64,
        p: u64,
        len: u64,
        w: &mut MapWalk<'_, F>,
        count: &mut u16,
    ) -> Result<(), PagingError> {
        let i = index(v, 1);
        let n = ((len / 4096) as usize).min(512 - i);
        let base = Entry::leaf(0, w.flags, PageSize::Size4K).raw();
        for k in 0..n {
            let e = t.get(i + k);
            if e.is_present() {
                *count += k as u16;
                w.done += k as u64 * 4096;
                return Err(self.conflict(e, 1, v.wrapping_add(k as u64 * 4096)));
            }
            t.set(i + k, Entry::from_raw(base | (p + k as u64 * 4096)));
        }
        *count += n as u16;
        w.done += n as u64 * 4096;
        Ok(())
    }

    /// The error for finding `e` where a leaf for `v` was to go.
    fn conflict(&self, e: Entry, level: u8, v: u64) -> PagingError {
        let virt = VirtAddr::new_truncate(v);
        match leaf_mapping(e, level, v) {
            Some(existing) => PagingError::AlreadyMapped { virt, existing },
            None => match self.first_leaf(e.addr(), level - 1, v) {
                Some(existing) => PagingError::AlreadyMapped {
                    virt: existing.virt,
                    existing,
                },
                // An empty table breaks an invariant; report the slot itself.
                None => PagingError::NotMapped { virt },
            },
        }
    }

    /// Sets `USER` on every table entry above `[v, v + len)`.
    fn grant_user(&self, t: Table, level: u8, mut v: u64, mut len: u64) {
        let span = span(level);
        let mut i = index(v, level);
        while len > 0 {
            let chunk = (span - (v & (span - 1))).min(len);
            let e = t.get(i);
            if e.is_present() && !e.is_leaf(level) {
                if !e.flags().contains(PageFlags::USER) {
                    t.set(i, e.with_flags(PageFlags::USER));
                }
                if level > 2 {
                    self.grant_user(self.table(e.addr()), level - 1, v, chunk);
                }
            }
            v = v.wrapping_add(chunk);
            len -= chunk;
            i += 1;
        }
    }
}
