//! The frames the PMM may hand out: a sorted, fixed-capacity list of
//! `[start, end)` frame ranges, merged where they touch.
//!
//! The bitmap alone cannot tell "allocated" from "never allocatable" (both
//! are 1 bits), so frees and `mark_*` calls are checked against this list:
//! a binary search over a few dozen entries. No allocation; pure code.

use crate::memmap::MAX_REGIONS;

/// Most ranges: every usable region of a map, split once more by the bitmap.
pub(crate) const MAX_RANGES: usize = MAX_REGIONS + 2;

/// Sorted, disjoint, non-touching frame ranges.
#[derive(Clone)]
pub(crate) struct FrameRanges {
    ranges: [(u64, u64); MAX_RANGES],
    len: usize,
}

impl Default for FrameRanges {
    fn default() -> Self {
        Self::new()
    }
}

impl FrameRanges {
    /// No ranges.
    pub const fn new() -> Self {
        Self {
            ranges: [(0, 0); MAX_RANGES],
            len: 0,
        }
    }

    /// Appends `[start, end)`, which must not lie below the last range; merges
    /// it into the last range when they touch. Empty ranges are ignored.
    /// `false` (and nothing changed) when full or out of order.
    pub fn push(&mut self, start: u64, end: u64) -> bool {
        if start >= end {
            return true;
        }
        if let Some(last) = self.ranges[..self.len].last_mut() {
            if start < last.1 {
                return false;
            }
            if start == last.1 {
                last.1 = end;
                return true;
            }
        }
        if self.len == MAX_RANGES {
            return false;
        }
        self.ranges[self.len] = (start, end);
        self.len += 1;
        true
    }

    /// Removes `[start, end)` from every range (splitting at most one).
    /// `false` (and nothing changed) when a split would overflow.
    pub fn remove(&mut self, start: u64, end: u64) -> bool {
        let mut out = Self::new();
        for &(s, e) in self.as_slice() {
            let ok = out.push(s, e.min(start)) && out.push(s.max(end), e);
            if !ok {
                return false;
            }
        }
        *self = out;
        true
    }

    /// The ranges.
    #[inline]
    pub fn as_slice(&self) -> &[(u64, u64)] {
        &self.ranges[..self.len]
    }

    /// Whether some range holds `frame`: a binary search that compiles to
    /// conditional moves, so random frames cost no mispredicted branch.
    #[inline]
    pub fn contains(&self, frame: u64) -> bool {
        self.containing(frame).is_some()
    }

    /// The range holding `frame`, if any.
    #[inline]
    pub fn containing(&self, frame: u64) -> Option<(u64, u64)> {
        let r = self.as_slice();
        let i = r.partition_point(|&(_, e)| e <= frame);
        r.get(i).copied().filter(|&(s, _)| s <= frame)
    }

    /// The first frame of `[start, end)` outside every range.
    #[inline]
    pub fn first_outside(&self, start: u64, end: u64) -> Option<u64> {
        match self.containing(start) {
            None => Some(start),
            Some((_, e)) if e < end => Some(e),
            Some(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn push_merge_remove_lookup() {
        let mut r = FrameRanges::new();
        assert!(r.push(10, 20) && r.push(20, 30) && r.push(40, 50) && r.push(60, 60));
        assert!(!r.push(45, 55));
        assert_eq!(r.as_slice(), &[(10, 30), (40, 50)]);
        assert!(r.remove(15, 18));
        assert_eq!(r.as_slice(), &[(10, 15), (18, 30), (40, 50)]);
        assert_eq!(r.containing(14), Some((10, 15)));
        assert_eq!(r.containing(15), None);
        assert_eq!(r.containing(49), Some((40, 50)));
        assert_eq!(r.containing(50), None);
        assert_eq!(r.first_outside(18, 30), None);
        assert_eq!(r.first_outside(18, 31), Some(30));
        assert_eq!(r.first_outside(16, 20), Some(16));
    }
}
