//! A virtual range allocator: first fit in O(log n), coalescing for free.
//!
//! A window of `pages` 4 KiB pages is tracked by one bit per page (1 = free),
//! grouped in 64-page words, with a segment tree above the words. Each tree
//! node summarises its segment by three numbers:
//!
//! ```text
//!   segment:  [ free free used used free free free used ]
//!   prefix = 2  (free pages at the start)
//!   suffix = 0  (free pages at the end)
//!   max    = 3  (the longest free run anywhere inside)
//! ```
//!
//! Two neighbours combine in O(1) (`max = max(l.max, r.max, l.suffix +
//! r.prefix)`), so the lowest run of `n` free pages is found by one descent from
//! the root, and marking a range updates only the words it covers and their
//! ancestors. Freed ranges merge with free neighbours by construction: there
//! is no list of ranges to coalesce. A second bitmap marks the first page of
//! every allocation, so `free(start)` checks that `start` really began an
//! allocation and finds its length without any record kept elsewhere.
//!
//! Storage is fixed at compile time by `W`, the number of 64-page words (a
//! power of two): `W = 1024` covers 256 MiB (the heap window) in 28 KiB.

use crate::addr::{VirtAddr, PAGE_SIZE};
use core::fmt;

/// Summary of one segment of pages.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Node {
    prefix: u32,
    suffix: u32,
    max: u32,
}

impl Node {
    const fn of_word(w: u64) -> Self {
        Self {
            prefix: w.trailing_ones(),
            suffix: w.leading_ones(),
            max: longest_run(w),
        }
    }

    const fn combine(l: Self, r: Self, half: u32) -> Self {
        let cross = l.suffix + r.prefix;
        let max = if l.max > r.max { l.max } else { r.max };
        Self {
            prefix: if l.prefix == half {
                half + r.prefix
            } else {
                l.prefix
            },
            suffix: if r.suffix == half {
                half + l.suffix
            } else {
                r.suffix
            },
            max: if cross > max { cross } else { max },
        }
    }
}

/// Length of the longest run of one bits in `w`.
const fn longest_run(mut w: u64) -> u32 {
    let mut n = 0;
    while w != 0 {
        w &= w << 1;
        n += 1;
    }
    n
}

/// Bit mask of the positions in `w` where a run of at least `n` ones starts
/// (`1 <= n <= 64`).
fn run_starts(w: u64, n: u32) -> u64 {
    // After the loop bit i is set iff bits i..i+len are all ones; `len` grows
    // by doubling, then by the remainder, so this takes O(log n) steps.
    let mut m = w;
    let mut len = 1;
    while len < n {
        let step = len.min(n - len);
        m &= m >> step;
        len += step;
    }
    m
}

/// Why a range operation was refused. Nothing changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RangeError {
    /// A request for zero pages.
    ZeroPages,
    /// The address is not 4 KiB aligned.
    Unaligned(VirtAddr),
    /// The range does not lie inside the window.
    OutsideWindow {
        /// Start of the rejected range.
        addr: VirtAddr,
        /// Its length in pages.
        pages: u64,
    },
    /// `free` of an address that does not start an allocation.
    NotAllocated(VirtAddr),
    /// `reserve` of a range that is partly in use; `first_used` is the first
    /// page already taken.
    InUse {
        /// The first page of the range that is not free.
        first_used: VirtAddr,
    },
}

impl fmt::Display for RangeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ZeroPages => write!(f, "a range of zero pages"),
            Self::Unaligned(a) => write!(f, "address {a} is not page aligned"),
            Self::OutsideWindow { addr, pages } => {
                write!(f, "{pages} pages at {addr} do not fit in the window")
            }
            Self::NotAllocated(a) => write!(f, "{a} does not start an allocation"),
            Self::InUse { first_used } => write!(f, "page {first_used} is already in use"),
        }
    }
}

/// First-fit allocator of page ranges inside one virtual window.
#[derive(Clone)]
pub struct RangeAllocator<const W: usize> {
    base: VirtAddr,
    pages: u64,
    free_pages: u64,
    /// One bit per page, 1 = free. Bits past `pages` stay 0.
    free: [u64; W],
    /// One bit per page, 1 = first page of an allocation.
    starts: [u64; W],
    /// Internal nodes of the segment tree, heap order, index 1 is the root;
    /// the children of node `i` are `2i` and `2i + 1`, and index `W + k`
    /// stands for word `k` (computed from the bitmap, not stored).
    tree: [Node; W],
}

impl<const W: usize> RangeAllocator<W> {
    /// Most pages a window of this type can hold.
    pub const CAPACITY: u64 = 64 * W as u64;

    /// An allocator for `pages` pages from `base`, all free. `None` if `W` is
    /// not a power of two of at least 2, `base` is unaligned, the window is
    /// larger than [`CAPACITY`](Self::CAPACITY), or it leaves the address space.
    pub const fn new(base: VirtAddr, pages: u64) -> Option<Self> {
        if !W.is_power_of_two() || W < 2 || pages == 0 || pages > Self::CAPACITY {
            return None;
        }
        if !base.is_aligned(PAGE_SIZE) || base.checked_add(pages * PAGE_SIZE - 1).is_none() {
            return None;
        }
        let mut a = Self {
            base,
            pages,
            free_pages: 0,
            free: [0; W],
            starts: [0; W],
            tree: [Node {
                prefix: 0,
                suffix: 0,
                max: 0,
            }; W],
        };
        a.set_range(0, pages, true);
        a.free_pages = pages;
        Some(a)
    }

    /// First address of the window.
    pub fn base(&self) -> VirtAddr {
        self.base
    }

    /// Pages in the window.
    pub fn pages(&self) -> u64 {
        self.pages
    }

    /// Pages not allocated.
    pub fn free_pages(&self) -> u64 {
        self.free_pages
    }

    /// Whether `addr` lies inside the window.
    pub fn contains(&self, addr: VirtAddr) -> bool {
        addr.checked_sub_addr(self.base)
            .is_some_and(|off| off / PAGE_SIZE < self.pages)
    }

    /// The longest run of free pages.
    pub fn largest_free(&self) -> u64 {
        u64::from(self.node(1).max)
    }

    /// Allocates the lowest run of `pages` free pages; `None` if no run fits.
    pub fn alloc(&mut self, pages: u64) -> Option<VirtAddr> {
        if pages == 0 || pages > u64::from(self.node(1).max) {
            return None;
        }
        let start = self.find(pages as u32);
        self.mark_allocated(start, pages);
        Some(self.addr_of(start))
    }

    /// Allocates exactly `[addr, addr + pages * 4 KiB)`, which must be free.
    pub fn reserve(&mut self, addr: VirtAddr, pages: u64) -> Result<(), RangeError> {
        let start = self.index_of(addr, pages)?;
        if let Some(used) = self.first_used(start, pages) {
            return Err(RangeError::InUse {
                first_used: self.addr_of(used),
            });
        }
        self.mark_allocated(start, pages);
        Ok(())
    }

    /// Frees the allocation that starts at `addr`, returning its length in pages.
    pub fn free(&mut self, addr: VirtAddr) -> Result<u64, RangeError> {
        let start = self.index_of(addr, 1)?;
        let pages = self
            .allocation_len(start)
            .ok_or(RangeError::NotAllocated(addr))?;
        self.starts[(start / 64) as usize] &= !(1 << (start % 64));
        self.set_range(start, pages, true);
        self.free_pages += pages;
        Ok(pages)
    }

    /// Length in pages of the allocation that starts at `addr`, if one does.
    pub fn len_of(&self, addr: VirtAddr) -> Option<u64> {
        let start = self.index_of(addr, 1).ok()?;
        self.allocation_len(start)
    }

    /// The allocation that contains `addr`: its start and length in pages.
    pub fn allocation_containing(&self, addr: VirtAddr) -> Option<(VirtAddr, u64)> {
        let page = self.index_of(addr.align_down(PAGE_SIZE), 1).ok()?;
        if self.bit(&self.free, page) {
            return None;
        }
        // Walk back to the nearest start bit: words at a time.
        let mut w = (page / 64) as usize;
        let mut mask = self.starts[w] & (u64::MAX >> (63 - page % 64));
        while mask == 0 {
            w = w.checked_sub(1)?;
            mask = self.starts[w];
        }
        let start = w as u64 * 64 + 63 - u64::from(mask.leading_zeros());
        let len = self.allocation_len(start)?;
        (page < start + len).then(|| (self.addr_of(start), len))
    }

    /// Checks the tree against the bitmap and the free count (tests, debug builds).
    pub fn check(&self) -> Result<(), &'static str> {
        for i in (1..W).rev() {
            let half = self.half_len(i);
            if self.tree[i] != Node::combine(self.node(2 * i), self.node(2 * i + 1), half) {
                return Err("segment tree disagrees with the bitmap");
            }
        }
        let free: u64 = self.free.iter().map(|w| u64::from(w.count_ones())).sum();
        if free != self.free_pages {
            return Err("free page count disagrees with the bitmap");
        }
        for k in 0..W {
            if self.starts[k] & self.free[k] != 0 {
                return Err("an allocation starts on a free page");
            }
        }
        Ok(())
    }

    // ---- internals: page indices are offsets from `base` in pages ----

    fn addr_of(&self, index: u64) -> VirtAddr {
        VirtAddr::new_truncate(self.base.as_u64() + index * PAGE_SIZE)
    }

    /// The page index of `addr`, checking that `pages` pages from it fit.
    fn index_of(&self, addr: VirtAddr, pages: u64) -> Result<u64, RangeError> {
        if pages == 0 {
            return Err(RangeError::ZeroPages);
        }
        if !addr.is_aligned(PAGE_SIZE) {
            return Err(RangeError::Unaligned(addr));
        }
        let outside = RangeError::OutsideWindow { addr, pages };
        let index = addr.checked_sub_addr(self.base).ok_or(outside)? / PAGE_SIZE;
        match index.checked_add(pages) {
            Some(end) if end <= self.pages => Ok(index),
            _ => Err(outside),
        }
    }

    fn bit(&self, map: &[u64; W], i: u64) -> bool {
        map[(i / 64) as usize] & (1 << (i % 64)) != 0
    }

    /// The length of the allocation starting at page `start`: up to the next
    /// free page, the next allocation's start or the window's end.
    fn allocation_len(&self, start: u64) -> Option<u64> {
        if !self.bit(&self.starts, start) {
            return None;
        }
        let mut i = start + 1;
        while i < self.pages {
            let w = (i / 64) as usize;
            let stop = (self.free[w] | self.starts[w]) >> (i % 64);
            if stop != 0 {
                return Some((i + u64::from(stop.trailing_zeros())).min(self.pages) - start);
            }
            i = (w as u64 + 1) * 64;
        }
        Some(self.pages - start)
    }

    /// The first page in `[start, start + pages)` that is not free.
    fn first_used(&self, start: u64, pages: u64) -> Option<u64> {
        let end = start + pages;
        let mut i = start;
        while i < end {
            let w = (i / 64) as usize;
            let used = !self.free[w] >> (i % 64);
            if used != 0 {
                let at = i + u64::from(used.trailing_zeros());
                return (at < end).then_some(at);
            }
            i = (w as u64 + 1) * 64;
        }
        None
    }

    fn mark_allocated(&mut self, start: u64, pages: u64) {
        self.set_range(start, pages, false);
        self.starts[(start / 64) as usize] |= 1 << (start % 64);
        self.free_pages -= pages;
    }

    /// Half the length of node `i`'s segment (the length of each child's).
    const fn half_len(&self, i: usize) -> u32 {
        // Node i sits at depth floor(log2 i); the root covers 64 * W pages.
        let depth = usize::BITS - 1 - i.leading_zeros();
        ((64 * W) >> (depth + 1)) as u32
    }

    const fn node(&self, i: usize) -> Node {
        if i >= W {
            Node::of_word(self.free[i - W])
        } else {
            self.tree[i]
        }
    }

    /// Lowest page index starting `n` free pages; the root's max is >= n.
    fn find(&self, n: u32) -> u64 {
        let mut i = 1;
        let mut base = 0u64;
        while i < W {
            let half = self.half_len(i);
            let (l, r) = (self.node(2 * i), self.node(2 * i + 1));
            if l.max >= n {
                i *= 2;
            } else if l.suffix + r.prefix >= n {
                return base + u64::from(half - l.suffix);
            } else {
                i = 2 * i + 1;
                base += u64::from(half);
            }
        }
        let word = self.free[i - W];
        base + u64::from(run_starts(word, n).trailing_zeros())
    }

    /// Sets pages `[start, start + pages)` free or used, then fixes the tree.
    const fn set_range(&mut self, start: u64, pages: u64, free: bool) {
        let end = start + pages;
        let (first, last) = ((start / 64) as usize, ((end - 1) / 64) as usize);
        let mut w = first;
        while w <= last {
            let lo = if w == first { start % 64 } else { 0 };
            let hi = if w == last { (end - 1) % 64 } else { 63 };
            let mask = (u64::MAX >> (63 - hi)) & (u64::MAX << lo);
            if free {
                self.free[w] |= mask;
            } else {
                self.free[w] &= !mask;
            }
            w += 1;
        }
        // Recompute the ancestors of the touched words, level by level.
        let (mut lo, mut hi) = ((W + first) / 2, (W + last) / 2);
        while lo >= 1 {
            let mut i = lo;
            while i <= hi {
                let half = self.half_len(i);
                self.tree[i] = Node::combine(self.node(2 * i), self.node(2 * i + 1), half);
                i += 1;
            }
            lo /= 2;
            hi /= 2;
        }
    }
}

#[cfg(test)]
mod tests;
