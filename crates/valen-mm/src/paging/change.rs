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
//! Flushes are batched ([`FlushBatch`]); emptied tables are freed only after
//! the flush, so no CPU can still walk through them.

use super::entry::{index, span, Entry, PageSize};
use super::error::{Mapping, PagingError};
use super::flags::PageFlags;
use super::flush::FlushBatch;
use super::space::{check_virt_range, frame_at, intermediate_flags, leaf_mapping, AddressSpace};
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

struct ChangeWalk<'r> {
    op: Op,
    flush: FlushBatch,
    freed: FrameStack,
    leaves: u64,
    report: &'r mut dyn FnMut(Mapping),
}

/// One huge page replaced by a table: enough to put it back.
#[derive(Clone, Copy)]
struct Split {
    /// The table holding the entry, and the entry's index.
    table: Table,
    index: usize,
    /// The huge leaf that was there.
    old: Entry,
    /// The frame of the new table.
    frame: u64,
    /// The huge page's first address.
    virt: u64,
}

/// The huge pages split by one operation (at most two per end), to undo
/// them if it fails.
struct SplitLog {
    done: [Option<Split>; 4],
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
        let mut last = None;
        self.unmap_range(virt, PAGE_SIZE, frames, |m| last = Some(m))?;
        last.ok_or(PagingError::NotMapped { virt })
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
        mut on_unmapped: impl FnMut(Mapping),
    ) -> Result<UnmapSummary, PagingError> {
        check_virt_range(virt, size)?;
        self.prepare(virt, size, frames)?;
        Ok(self.remove_range(virt.as_u64(), size, frames, &mut on_unmapped))
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
            report: &mut |_| {},
        };
        self.change_root(virt.as_u64(), size, &mut w);
        w.flush.finish(&self.mmu);
        Ok(())
    }

    /// Steps 1 and 2: checks that the range is mapped, splits its ends.
    fn prepare<F: FrameAllocator + ?Sized>(
        &mut self,
        virt: VirtAddr,
        size: u64,
        frames: &mut F,
    ) -> Result<(), PagingError> {
        let root = self.table(self.root.start().as_u64());
        self.check_mapped(root, 4, virt.as_u64(), size)?;
        let mut log = SplitLog { done: [None; 4] };
        let mut flush = FlushBatch::new();
        let end = virt.as_u64().wrapping_add(size);
        let r = self
            .split_at(virt.as_u64(), frames, &mut log, &mut flush)
            .and_then(|()| self.split_at(end, frames, &mut log, &mut flush));
        if r.is_err() {
            // Put the huge pages back; the new tables may have been cached.
            for sp in log.done.iter().rev().flatten() {
                sp.table.set(sp.index, sp.old);
                flush.add(sp.virt);
            }
        }
        flush.finish(&self.mmu);
        if r.is_err() {
            for sp in log.done.iter().flatten() {
                // SAFETY: the split table came from `frames` in `split_at`
                // and is referenced nowhere since its entry was restored.
                unsafe { frames.deallocate_frame(frame_at(sp.frame)) };
            }
        }
        r
    }

    /// First unmapped address of `[v, v + len)` under a level-`level` table.
    fn check_mapped(
        &self,
        t: Table,
        level: u8,
        mut v: u64,
        mut len: u64,
    ) -> Result<(), PagingError> {
        let span = span(level);
        let mut i = index(v, level);
        while len > 0 {
            let chunk = (span - (v & (span - 1))).min(len);
            let e = t.get(i);
            if !e.is_present() {
                return Err(PagingError::NotMapped {
                    virt: VirtAddr::new_truncate(v),
                });
            }
            if !e.is_leaf(level) {
                self.check_mapped(self.table(e.addr()), level - 1, v, chunk)?;
            }
            v = v.wrapping_add(chunk);
            len -= chunk;
            i += 1;
        }
        Ok(())
    }

    /// Splits the huge pages that `p` falls strictly inside, down to 4 KiB
    /// if needed, getting every frame before the first write.
    fn split_at<F: FrameAllocator + ?Sized>(
        &mut self,
        p: u64,
        frames: &mut F,
        log: &mut SplitLog,
        flush: &mut FlushBatch,
    ) -> Result<(), PagingError> {
        if p % span(3) == 0 {
            return Ok(());
        }
        let mut t = self.table(self.root.start().as_u64());
        let mut level = 4;
        let (t, level) = loop {
            let e = t.get(index(p, level));
            if !e.is_present() || level == 1 {
                return Ok(());
            }
            if e.is_leaf(level) {
                break (t, level);
            }
            t = self.table(e.addr());
            level -= 1;
        };
        let need = if level == 3 {
            1 + usize::from(p % span(2) != 0)
        } else {
            1
        };
        if level == 2 && p % span(2) == 0 {
            return Ok(());
        }
        let mut got = [0u64; 2];
        for k in 0..need {
            match frames.allocate_frame() {
                Some(f) => got[k] = f.start().as_u64(),
                None => {
                    for &f in &got[..k] {
                        // SAFETY: just allocated from `frames`, never used.
                        unsafe { frames.deallocate_frame(frame_at(f)) };
                    }
                    return Err(PagingError::OutOfFrames { obtained: k as u64 });
                }
            }
        }
        let child = self.split(t, index(p, level), level, p, got[0], log, flush);
        if need == 2 {
            self.split(child, index(p, 2), 2, p, got[1], log, flush);
        }
        Ok(())
    }

    /// Replaces the huge leaf at `t[i]` (level `level`) by a table in `frame`
    /// of 512 leaves one level down with the same translation; returns it.
    #[allow(clippy::too_many_arguments)]
    fn split(
        &self,
        t: Table,
        i: usize,
        level: u8,
        p: u64,
        frame: u64,
        log: &mut SplitLog,
        flush: &mut FlushBatch,
    ) -> Table {
        let e = t.get(i);
        let size = if level == 3 {
            PageSize::Size1G
        } else {
            PageSize::Size2M
        };
        let child_size = if level == 3 {
            PageSize::Size2M
        } else {
            PageSize::Size4K
        };
        let base = e.leaf_addr(size);
        let nt = self.table(frame);
        for k in 0..512u64 {
            nt.set(
                k as usize,
                Entry::leaf(base + k * child_size.bytes(), e.flags(), child_size),
            );
        }
        t.set(i, Entry::table(frame, intermediate_flags(e.flags()), 512));
        let v = p & !(size.bytes() - 1);
        flush.add(v);
        if let Some(slot) = log.done.iter_mut().find(|s| s.is_none()) {
            *slot = Some(Split {
                table: t,
                index: i,
                old: e,
                frame,
                virt: v,
            });
        }
        nt
    }

    /// Step 3 for unmapping (also the undo of a failed `map_range`):
    /// removes every leaf of `[v, v + len)`, which lie wholly inside it.
    pub(crate) fn remove_range<F: FrameAllocator + ?Sized>(
        &mut self,
        v: u64,
        len: u64,
        frames: &mut F,
        report: &mut dyn FnMut(Mapping),
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

    fn change_root(&mut self, v: u64, len: u64, w: &mut ChangeWalk<'_>) {
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
        w: &mut ChangeWalk<'_>,
        count: &mut u16,
    ) {
        let span = span(level);
        let mut i = index(v, level);
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
        w: &mut ChangeWalk<'_>,
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
