//! A summary tree over the words of the frame bitmap: one bit per word at
//! level 0, one bit per level-0 word at level 1, and so on up to a single word.
//!
//! ```text
//!  level 2          [1.......]                 1 word
//!  level 1          [0 1 0 ... ]               one bit per level-0 word
//!  level 0   [....][....][..1.][....] ...      one bit per bitmap word
//!  bitmap    64 frames per word ...
//! ```
//!
//! A bit is set when the thing it summarises "qualifies" (for level 0 that is
//! decided by the owner: the word has a free frame, or is entirely free; above
//! level 0 it means "the word below is not zero"). Finding the next
//! qualifying word after any position climbs at most a few levels and comes
//! back down with `trailing_zeros`: six levels cover 2^40 frames (4 PiB).
//! Pure code: no `unsafe`.

/// Most levels a tree has (enough for 2^40 frames).
pub(crate) const MAX_LEVELS: usize = 6;

/// The level sizes, in words, of a tree over `items` bits at level 0.
/// Returns the sizes and the number of levels (the last has one word).
pub(crate) const fn level_sizes(items: u64) -> ([u64; MAX_LEVELS], usize) {
    let mut sizes = [0u64; MAX_LEVELS];
    let mut n = if items == 0 { 1 } else { items };
    let mut depth = 0;
    loop {
        let words = n.div_ceil(64);
        sizes[depth] = words;
        depth += 1;
        if words == 1 || depth == MAX_LEVELS {
            return (sizes, depth);
        }
        n = words;
    }
}

/// The summary levels, each a slice of the PMM's storage.
pub(crate) struct Tree<'a> {
    levels: [&'a mut [u64]; MAX_LEVELS],
    depth: usize,
}

impl<'a> Tree<'a> {
    /// Takes the tree's words from the front of `storage` (which must hold
    /// the sum of `level_sizes(items)`) and returns the rest. All bits clear.
    pub(crate) fn carve(storage: &'a mut [u64], items: u64) -> (Self, &'a mut [u64]) {
        let (sizes, depth) = level_sizes(items);
        let mut levels: [&'a mut [u64]; MAX_LEVELS] = Default::default();
        let mut rest = storage;
        for (level, &size) in levels.iter_mut().zip(&sizes[..depth]) {
            let (head, tail) = rest.split_at_mut(size as usize);
            head.fill(0);
            *level = head;
            rest = tail;
        }
        (Self { levels, depth }, rest)
    }

    /// Level 0, for bulk initialisation (call [`rebuild_upper`](Self::rebuild_upper) after).
    pub(crate) fn level0_mut(&mut self) -> &mut [u64] {
        self.levels[0]
    }

    /// Recomputes every level above 0 from the one below.
    pub(crate) fn rebuild_upper(&mut self) {
        for k in 1..self.depth {
            let (below, above) = self.levels.split_at_mut(k);
            let (below, above) = (&below[k - 1], &mut above[0]);
            above.fill(0);
            for (i, &w) in below.iter().enumerate() {
                if w != 0 {
                    above[i / 64] |= 1 << (i % 64);
                }
            }
        }
    }

    /// Whether bit `idx` of level 0 is set.
    #[inline]
    pub(crate) fn get(&self, idx: usize) -> bool {
        self.levels[0][idx / 64] & (1 << (idx % 64)) != 0
    }

    /// Sets bit `idx` of level 0 and the bits above it that become set.
    #[inline]
    pub(crate) fn set(&mut self, idx: usize) {
        // Level 0 inline (the common case stops there), the rest out of line.
        let w = &mut self.levels[0][idx / 64];
        let was = *w;
        *w = was | 1 << (idx % 64);
        if was == 0 {
            self.fix_from(1, idx / 64, true);
        }
    }

    /// Replaces level-0 word `j` by `f` of it and brings the levels above in
    /// step if its zero-ness changed.
    #[inline]
    pub(crate) fn update_level0(&mut self, j: usize, f: impl FnOnce(u64) -> u64) {
        let was = self.levels[0][j];
        self.store_level0(j, was, f(was));
    }

    /// Stores `now` into level-0 word `j`, whose value was `was`, and brings
    /// the levels above in step if its zero-ness changed.
    #[inline]
    pub(crate) fn store_level0(&mut self, j: usize, was: u64, now: u64) {
        self.levels[0][j] = now;
        if (was == 0) != (now == 0) {
            self.fix_from(1, j, now != 0);
        }
    }

    /// Makes bit `idx` of `level` equal `nonzero` and climbs while that
    /// changes whether its word is zero.
    fn fix_from(&mut self, level: usize, mut idx: usize, nonzero: bool) {
        for lv in self.levels[level.min(self.depth)..self.depth].iter_mut() {
            let w = &mut lv[idx / 64];
            let was = *w;
            if nonzero {
                *w |= 1 << (idx % 64);
                if was != 0 {
                    return;
                }
            } else {
                *w &= !(1 << (idx % 64));
                if *w != 0 || was == 0 {
                    return;
                }
            }
            idx /= 64;
        }
    }

    /// Clears bit `idx` of level 0 and the bits above it that become clear.
    #[inline]
    pub(crate) fn clear(&mut self, mut idx: usize) {
        for level in self.levels[..self.depth].iter_mut() {
            let w = &mut level[idx / 64];
            *w &= !(1 << (idx % 64));
            if *w != 0 {
                return;
            }
            idx /= 64;
        }
    }

    /// The first set bit at `level` with index `>= idx`, as an index at that level.
    #[inline]
    pub(crate) fn next_set_at(&self, level: usize, mut idx: usize) -> Option<usize> {
        let mut k = level;
        loop {
            if k >= self.depth {
                return None;
            }
            let w = idx / 64;
            let word = *self.levels[k].get(w)?;
            let masked = word & (!0u64 << (idx % 64));
            if masked != 0 {
                idx = w * 64 + masked.trailing_zeros() as usize;
                break;
            }
            idx = w + 1;
            k += 1;
        }
        while k > level {
            k -= 1;
            idx = idx * 64 + self.levels[k][idx].trailing_zeros() as usize;
        }
        Some(idx)
    }

    /// The first set level-0 bit with index `>= idx`.
    #[inline]
    pub(crate) fn next_set(&self, idx: usize) -> Option<usize> {
        self.next_set_at(0, idx)
    }

    /// Word `w` of level 0 (64 level-0 bits).
    #[inline]
    pub(crate) fn level0_word(&self, w: usize) -> u64 {
        self.levels[0][w]
    }

    /// Checks every level above 0 against the one below; the first bad
    /// `(level, index)` on failure.
    pub(crate) fn check_upper(&self) -> Result<(), (usize, usize)> {
        for k in 1..self.depth {
            let below = &self.levels[k - 1];
            for (i, &w) in self.levels[k].iter().enumerate() {
                for b in 0..64 {
                    let j = i * 64 + b;
                    let want = below.get(j).is_some_and(|&x| x != 0);
                    if (w >> b) & 1 != want as u64 {
                        return Err((k, j));
                    }
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(level_sizes(1), ([1, 0, 0, 0, 0, 0], 1));
        assert_eq!(level_sizes(64), ([1, 0, 0, 0, 0, 0], 1));
        assert_eq!(level_sizes(65), ([2, 1, 0, 0, 0, 0], 2));
        // 16 GiB: 65536 bitmap words.
        assert_eq!(level_sizes(65536), ([1024, 16, 1, 0, 0, 0], 3));
        assert_eq!(level_sizes(1 << 34).1, 6);
    }

    #[test]
    fn set_clear_and_search() {
        let mut mem = vec![0xdead_u64; 2000];
        let (mut t, rest) = Tree::carve(&mut mem, 100_000);
        assert_eq!(rest.len(), 2000 - 1563 - 25 - 1);
        assert_eq!(t.next_set(0), None);
        t.set(70_000);
        t.set(5);
        assert_eq!(t.next_set(0), Some(5));
        assert_eq!(t.next_set(6), Some(70_000));
        assert_eq!(t.next_set(70_001), None);
        t.clear(5);
        assert_eq!(t.next_set(0), Some(70_000));
        assert_eq!(t.next_set_at(1, 0), Some(70_000 / 64));
        assert!(t.get(70_000) && !t.get(5));
        assert_eq!(t.check_upper(), Ok(()));
        t.clear(70_000);
        assert_eq!(t.next_set(0), None);
        assert_eq!(t.check_upper(), Ok(()));
    }
}
