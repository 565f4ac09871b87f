//! `unmap`, `unmap_range` and `protect`: changing what is already mapped.
//!
//! Each runs in three steps, so that a failure changes nothing:
//!
//! ```text
//!  1. check    read-only walk: every page of the range is mapped
//!  2. split    huge pages cut by either end of the range are split
//!              (at most two frames per end, obtained before any write;
//!              if the second end fails, the first end's splits are undone)
//!  3. change   one walk: clear or rewrite the leaves, free emptied tables;
//!              cannot fail, since every leaf now lies wholly inside
//! ```
//!
//! Steps 1 and 2 live in [`split`](super::split).
//! Flushes are batched ([`FlushBatch`]); emptied tables are freed only after
//! the flush, so no CPU can still walk through them.

use super::entry::{index, span, Entry};
use super::error::{Mapping, PagingError};
use super::flags::PageFlags;
use super::flush::FlushBatch;
use super::space::{check_virt_range, intermediate_flags, leaf_mapping, AddressSpace};
use super::table::{FrameStack, Table};
use crate::addr::{VirtAddr, PAGE_SIZE};
use crate::arch::{Mmu, PhysMapper};
use crate::frame_alloc::FrameAllocator;

/// What `unmap_range` removed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct UnmapSummary {
    /// Leaf mappings removed (each reported to the callback).
    pub leaves: u64,
    /// Page-table frames given back to the allocator.
    pub tables_freed: u64,
}

/// The change applied to each leaf of a range.
#[derive(Clone, Copy)]
enum Op {
    Unmap,
    Protect(PageFlags),
}

struct ChangeWalk<R: FnMut(Mapping)> {
    op: Op,
    flush: FlushBatch,
    freed: FrameStack,
    leaves: u64,
    report: R,
}

impl<P: PhysMapper, M: Mmu> AddressSpace<P, M> {
    /// Unmaps the 4 KiB page at `virt` (splitting a huge page around it) and
    /// returns what it mapped. `frames` provides split tables and takes back
    /// emptied ones.
    ///
    /// Errors: [`PagingError::UnalignedVirt`], [`PagingError::NotMapped`],
    /// [`PagingError::OutOfFrames`] (only when a huge page must be split).
    pub fn unmap<F: FrameAllocator + ?Sized>(
        &mut self,
        virt: VirtAddr,
        frames: &mut F,
    ) -> Result<Mapping, PagingError> {
        if !virt.is_aligned(PAGE_SIZE) {
            return Err(PagingError::UnalignedVirt(virt));
        }
        if let Some(m) = self.unmap_small(virt, frames)? {
            return Ok(m);
        }
        // A huge page holds it: the range path splits it.
        let mut last = None;
        self.unmap_range(virt, PAGE_SIZE, frames, |m| last = Some(m))?;
        last.ok_or(PagingError::NotMapped { virt })
    }

    /// `unmap` in one walk when a 4 KiB leaf maps `virt`: clears it, then
    /// walks back up while tables empty. `Ok(None)` if a huge page maps it.
    fn unmap_small<F: FrameAllocator + ?Sized>(
        &mut self,
        virt: VirtAddr,
        frames: &mut F,
    ) -> Result<Option<Mapping>, PagingError> {
        let v = virt.as_u64();
        let root = self.table(self.root.start().as_u64());
        // path[l] = (level-l table, index of `v` in it, that table's frame).
        let mut path = [(root, 0usize, self.root.start().as_u64()); 5];
        let mut level = 4u8;
        let leaf = loop {
            let (t, _, frame) = path[usize::from(level)];
            let i = index(v, level);
            path[usize::from(level)] = (t, i, frame);
            let e = t.get(i);
            if !e.is_present() {
                return Err(PagingError::NotMapped { virt });
            }
            if let Some(m) = leaf_mapping(e, level, v) {
                if level > 1 {
                    return Ok(None);
                }
                break m;
            }
            level -= 1;
            path[usize::from(level)] = (self.table(e.addr()), 0, e.addr());
        };
        let mut freed = FrameStack::new();
        let (t, i, _) = path[1];
        t.set(i, Entry::EMPTY);
        // The level-`l` table lost an entry; its count is in the entry above.
        let mut l = 1usize;
        while l < 4 {
            let (pt, pi, _) = path[l + 1];
            let pe = pt.get(pi);
            let c = pe.count() - 1;
            if c > 0 {
                pt.set(pi, pe.with_count(c));
                break;
            }
            pt.set(pi, Entry::EMPTY);
            // SAFETY: a table of this space that no entry references now.
            unsafe { freed.push(&self.phys, path[l].2) };
            l += 1;
        }
        if l == 4 {
            self.root_count -= 1;
        }
        self.mmu.flush_page(virt);
        // SAFETY: tables of this space, from `frames`, flushed and unreferenced.
        unsafe { freed.release(&self.phys, frames) };
        Ok(Some(leaf))
    }

    /// Unmaps `[virt, virt + size)`, which must be wholly mapped; calls
    /// `on_unmapped` with each leaf removed, after the change (so a VMM can
    /// free the frames). Huge pages cut by either end are split first.
    /// Unmaps everything or nothing.
    ///
    /// Errors: [`PagingError::ZeroSize`], [`PagingError::UnalignedSize`],
    /// [`PagingError::UnalignedVirt`], [`PagingError::NonCanonical`],
    /// [`PagingError::NotMapped`], [`PagingError::OutOfFrames`].
    pub fn unmap_range<F: FrameAllocator + ?Sized>(
        &mut self,
        virt: VirtAddr,
        size: u64,
        frames: &mut F,
        on_unmapped: impl FnMut(Mapping),
    ) -> Result<UnmapSummary, PagingError> {
        check_virt_range(virt, size)?;
        self.prepare(virt, size, frames)?;
        Ok(self.remove_range(virt.as_u64(), size, frames, on_unmapped))
    }

    /// Gives every leaf of `[virt, virt + size)` the flags `flags` (the
    /// accessed and dirty bits included). The range must be wholly mapped;
    /// huge pages cut by either end are split first. All or nothing.
    ///
    /// Errors: those of [`unmap_range`](Self::unmap_range), and
    /// [`PagingError::BadFlags`].
    pub fn protect<F: FrameAllocator + ?Sized>(
        &mut self,
        virt: VirtAddr,
        size: u64,
        flags: PageFlags,
        frames: &mut F,
    ) -> Result<(), PagingError> {
        let flags = self.check_flags(flags)?;
        check_virt_range(virt, size)?;
        self.prepare(virt, size, frames)?;
        let mut w = ChangeWalk {
            op: Op::Protect(flags),
            flush: FlushBatch::new(),
            freed: FrameStack::new(),
            leaves: 0,
            report: |_| {},
        };
        self.change_root(virt.as_u64(), size, &mut w);
        w.flush.finish(&self.mmu);
        Ok(())
    }

    /// Step 3 for unmapping (also the undo of a failed `map_range`):
    /// removes every leaf of `[v, v + len)`, which lie wholly inside it.
    pub(crate) fn remove_range<F: FrameAllocator + ?Sized>(
        &mut self,
        v: u64,
        len: u64,
        frames: &mut F,
        report: impl FnMut(Mapping),
    ) -> UnmapSummary {
        let mut w = ChangeWalk {
            op: Op::Unmap,
            flush: FlushBatch::new(),
            freed: FrameStack::new(),
            leaves: 0,
            report,
        };
        self.change_root(v, len, &mut w);
        w.flush.finish(&self.mmu);
        let tables_freed = w.freed.len();
        // SAFETY: the stack holds tables of this space, which came from the
        // allocator every operation is given, and nothing references them.
        unsafe { w.freed.release(&self.phys, frames) };
        UnmapSummary {
            leaves: w.leaves,
            tables_freed,
        }
    }

    fn change_root(&mut self, v: u64, len: u64, w: &mut ChangeWalk<impl FnMut(Mapping)>) {
        let root = self.table(self.root.start().as_u64());
        let mut count = self.root_count;
        self.change_in(root, 4, v, len, w, &mut count);
        self.root_count = count;
    }

    fn change_in(
        &self,
        t: Table,
        level: u8,
        mut v: u64,
        mut len: u64,
        w: &mut ChangeWalk<impl FnMut(Mapping)>,
        count: &mut u16,
    ) {
        let mut i = index(v, level);
        if level == 1 {
            // The innermost loop: every entry is a 4 KiB leaf or empty.
            let n = ((len / PAGE_SIZE) as usize).min(512 - i);
            for k in 0..n {
                let e = t.get(i + k);
                let vk = v.wrapping_add(k as u64 * PAGE_SIZE);
                if let Some(m) = leaf_mapping(e, 1, vk) {
                    self.change_leaf(t, i + k, e, m, w, count);
                }
            }
            return;
        }
        let span = span(level);
        while len > 0 {
            let chunk = (span - (v & (span - 1))).min(len);
            let e = t.get(i);
            if let Some(m) = leaf_mapping(e, level, v) {
                // After `prepare` every leaf met lies wholly inside the range.
                if chunk == span {
                    self.change_leaf(t, i, e, m, w, count);
                }
            } else if e.is_present() {
                let mut e = e;
                if let Op::Protect(f) = w.op {
                    e = e.with_flags(intermediate_flags(f));
                }
                let mut c = e.count();
                self.change_in(self.table(e.addr()), level - 1, v, chunk, w, &mut c);
                if c == 0 {
                    t.set(i, Entry::EMPTY);
                    *count -= 1;
                    // SAFETY: the table is a frame of this space that `phys`
                    // reaches, and no entry references it any more.
                    unsafe { w.freed.push(&self.phys, e.addr()) };
                } else {
                    t.set(i, e.with_count(c));
                }
            }
            v = v.wrapping_add(chunk);
            len -= chunk;
            i += 1;
        }
    }

    fn change_leaf(
        &self,
        t: Table,
        i: usize,
        e: Entry,
        m: Mapping,
        w: &mut ChangeWalk<impl FnMut(Mapping)>,
        count: &mut u16,
    ) {
        w.leaves += 1;
        match w.op {
            Op::Unmap => {
                t.set(i, Entry::EMPTY);
                *count -= 1;
                w.flush.add(m.virt.as_u64());
                (w.report)(m);
            }
            Op::Protect(flags) => {
                let new = Entry::leaf(m.phys.as_u64(), flags, m.size);
                if new != e {
                    t.set(i, new);
                    w.flush.add(m.virt.as_u64());
                }
            }
        }
    }
}
