//! Looking over a whole hierarchy: the invariant checker that tests run after
//! every step, the search for a conflicting mapping, and teardown.

use super::entry::span;
use super::error::Mapping;
use super::space::{frame_at, leaf_mapping, AddressSpace};
use crate::addr::PhysAddr;
use crate::arch::{Mmu, PhysMapper};
use crate::frame_alloc::FrameAllocator;

/// What a hierarchy holds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TableStats {
    /// Page-table frames, the PML4 included.
    pub tables: u64,
    /// Leaves per size: 4 KiB, 2 MiB, 1 GiB.
    pub leaves: [u64; 3],
}

/// A broken invariant found by [`AddressSpace::check_invariants`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InvariantError {
    /// The count kept for a table differs from its present entries.
    CountMismatch {
        /// The table.
        table: PhysAddr,
        /// Its level (4 = PML4).
        level: u8,
        /// The count stored.
        stored: u16,
        /// Present entries actually found.
        actual: u16,
    },
    /// A table other than the PML4 with no present entry.
    EmptyTable {
        /// The table.
        table: PhysAddr,
        /// Its level.
        level: u8,
    },
    /// A leaf whose physical address is not aligned to its page size.
    UnalignedLeaf(Mapping),
    /// A PML4 entry with the page-size bit set (reserved by the CPU).
    HugeInPml4 {
        /// The entry's index.
        index: usize,
    },
}

impl<P: PhysMapper, M: Mmu> AddressSpace<P, M> {
    /// Walks the whole hierarchy and checks the invariants: counts agree
    /// with the entries, no table but the PML4 is empty, leaves are aligned.
    pub fn check_invariants(&self) -> Result<TableStats, InvariantError> {
        let mut stats = TableStats::default();
        self.check_table(
            self.root.start().as_u64(),
            4,
            0,
            self.root_count,
            &mut stats,
        )?;
        Ok(stats)
    }

    fn check_table(
        &self,
        frame: u64,
        level: u8,
        base: u64,
        stored: u16,
        stats: &mut TableStats,
    ) -> Result<(), InvariantError> {
        stats.tables += 1;
        let t = self.table(frame);
        let mut actual = 0u16;
        for i in 0..512u64 {
            let e = t.get(i as usize);
            if !e.is_present() {
                continue;
            }
            actual += 1;
            let v = sign_extend(base + i * span(level));
            if level == 4 && e.flags().contains(super::flags::PageFlags::HUGE) {
                return Err(InvariantError::HugeInPml4 { index: i as usize });
            }
            if let Some(m) = leaf_mapping(e, level, v) {
                if e.addr() & (m.size.bytes() - 1) & !0x1000 != 0 {
                    return Err(InvariantError::UnalignedLeaf(m));
                }
                stats.leaves[usize::from(m.size.level() - 1)] += 1;
            } else {
                self.check_table(e.addr(), level - 1, v, e.count(), stats)?;
            }
        }
        let table = PhysAddr::new_truncate(frame);
        if actual != stored {
            return Err(InvariantError::CountMismatch {
                table,
                level,
                stored,
                actual,
            });
        }
        if actual == 0 && level != 4 {
            return Err(InvariantError::EmptyTable { table, level });
        }
        Ok(())
    }

    /// The first leaf under the level-`level` table in `frame`, whose
    /// first byte is at `base`.
    pub(crate) fn first_leaf(&self, frame: u64, level: u8, base: u64) -> Option<Mapping> {
        let t = self.table(frame);
        let base = base & !(span(level + 1) - 1);
        (0..512u64).find_map(|i| {
            let e = t.get(i as usize);
            let v = base + i * span(level);
            match leaf_mapping(e, level, v) {
                Some(m) => Some(m),
                None if e.is_present() && level > 1 => self.first_leaf(e.addr(), level - 1, v),
                None => None,
            }
        })
    }

    /// Gives every page-table frame, the PML4 included, back to `frames`
    /// and returns how many. The mapped frames themselves are not touched.
    ///
    /// # Safety
    /// The space must not be active (in CR3) on any CPU, and every table
    /// frame must have come from `frames`.
    pub unsafe fn free_tables<F: FrameAllocator + ?Sized>(self, frames: &mut F) -> u64 {
        let mut n = 0;
        self.free_under(self.root.start().as_u64(), 4, frames, &mut n);
        n
    }

    fn free_under<F: FrameAllocator + ?Sized>(
        &self,
        frame: u64,
        level: u8,
        frames: &mut F,
        n: &mut u64,
    ) {
        let t = self.table(frame);
        for i in 0..512 {
            let e = t.get(i);
            if e.is_present() && !e.is_leaf(level) && level > 1 {
                self.free_under(e.addr(), level - 1, frames, n);
            }
        }
        *n += 1;
        // SAFETY: the caller promises the frame came from `frames` and no
        // CPU uses the hierarchy; its parent is freed after it.
        unsafe { frames.deallocate_frame(frame_at(frame)) };
    }
}

/// Makes a 48-bit address canonical.
fn sign_extend(v: u64) -> u64 {
    crate::addr::VirtAddr::new_truncate(v).as_u64()
}
