//! Steps 1 and 2 of `unmap_range` and `protect` (see
//! [`change`](super::change)): check that the whole range is mapped, then
//! split the huge pages that either end of the range cuts.
//!
//! ```text
//!   range:          [=============================)
//!   before:  |      1 GiB page       |      1 GiB page       |
//!   after:   |2M|2M|..|4K..4K|2M|..2M|2M|..|2M|4K..4K|2M|..2M|
//!                      ^ start                  ^ end
//! ```
//!
//! Each end needs at most two new tables (1 GiB -> 2 MiB -> 4 KiB), all
//! obtained before that end's first write. If the second end runs out of
//! frames, the first end's splits are put back, so nothing changes.

use super::entry::{index, span, Entry, PageSize};
use super::error::PagingError;
use super::flush::FlushBatch;
use super::space::{frame_at, intermediate_flags, AddressSpace};
use super::table::Table;
use crate::addr::{VirtAddr, PAGE_SIZE};
use crate::arch::{Mmu, PhysMapper};
use crate::frame_alloc::FrameAllocator;

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
    /// Steps 1 and 2: checks that the range is mapped, splits its ends.
    pub(crate) fn prepare<F: FrameAllocator + ?Sized>(
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
        let mut i = index(v, level);
        if level == 1 {
            let n = ((len / PAGE_SIZE) as usize).min(512 - i);
            return match (0..n).find(|&k| !t.get(i + k).is_present()) {
                Some(k) => Err(PagingError::NotMapped {
                    virt: VirtAddr::new_truncate(v.wrapping_add(k as u64 * PAGE_SIZE)),
                }),
                None => Ok(()),
            };
        }
        let span = span(level);
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
        if level == 2 && p % span(2) == 0 {
            return Ok(());
        }
        // A 1 GiB page always splits (`p` is not 1 GiB aligned); the 2 MiB
        // page holding `p` then splits too unless `p` is 2 MiB aligned.
        let need = if level == 3 {
            1 + usize::from(p % span(2) != 0)
        } else {
            1
        };
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
}
