//! Reading and writing runs of frames in the bitmap with the summaries in
//! step: the checks a free or a mark needs ("is every frame of this run
//! used?") and the updates themselves.
//!
//! ```text
//!  run      [...... start ............................ end)
//!  words    | edge  | whole | whole | whole |  edge  |
//!             masked  compared / filled whole  masked
//!  summary  one read-modify-write per 64 words for "has-free", one for "empty"
//! ```
//!
//! Pure code: no `unsafe`.

use super::bitmap::FrameBitmap;

impl FrameBitmap<'_> {
    /// The first frame in `[start, end)` whose bit equals `used`.
    #[inline]
    pub fn first_with(&self, start: u64, end: u64, used: bool) -> Option<u64> {
        let mut pos = start;
        while pos < end {
            let w = (pos / 64) as usize;
            let word = if used { self.words[w] } else { !self.words[w] };
            let mut m = word & (!0u64 << (pos % 64));
            let word_end = (w as u64 + 1) * 64;
            if end < word_end {
                m &= !0u64 >> (word_end - end);
            }
            if m != 0 {
                return Some(w as u64 * 64 + m.trailing_zeros() as u64);
            }
            pos = word_end;
        }
        None
    }

    /// Whether every frame of `[start, end)` (inside the bitmap) is `used`:
    /// the edge words masked, the words between compared whole.
    #[inline]
    pub fn all_are(&self, start: u64, end: u64, used: bool) -> bool {
        if start >= end {
            return true;
        }
        let (first, last) = ((start / 64) as usize, ((end - 1) / 64) as usize);
        let lo = !0u64 << (start % 64);
        let hi = !0u64 >> (63 - (end - 1) % 64);
        // Bits that disagree with `used`.
        let wrong = |w: u64| if used { !w } else { w };
        if first == last {
            return wrong(self.words[first]) & lo & hi == 0;
        }
        wrong(self.words[first]) & lo == 0
            && wrong(self.words[last]) & hi == 0
            && self.words[first + 1..last].iter().all(|&w| wrong(w) == 0)
    }

    /// Sets the bits of `[start, end)` to `used`, keeping the summaries and
    /// the free count in step. Word by word, but the summary bits of all the
    /// words under one summary word are gathered into masks and written once.
    /// The caller has checked the range: inside the bitmap, and every bit in
    /// it currently `!used`.
    #[inline]
    pub fn set_range(&mut self, start: u64, end: u64, used: bool) {
        if start >= end {
            return;
        }
        let (first, last) = ((start / 64) as usize, ((end - 1) / 64) as usize);
        if first / 64 != last / 64 {
            return self.set_range_across(start, end, used);
        }
        // The run lies under one summary word (any run of up to 4096
        // frames mostly does): its edge words one by one, the whole words
        // between them in bulk, every summary bit in one write.
        let lo = !0u64 << (start % 64);
        let hi = !0u64 >> (63 - (end - 1) % 64);
        let (fullness, emptiness) = if first == last {
            self.set_edge(first, lo & hi, used)
        } else {
            let (f1, e1) = self.set_edge(first, lo, used);
            let (f2, e2) = self.set_edge(last, hi, used);
            // Whole words: every one was entirely free (allocating) or
            // entirely used (freeing), and flips to the other state.
            let inner = ((1u64 << (last % 64)) - 1) & !((2u64 << (first % 64)) - 1);
            for x in &mut self.words[first + 1..last] {
                *x = if used { !0 } else { 0 };
            }
            (f1 | f2 | inner, e1 | e2 | inner)
        };
        self.apply_summary(first / 64, fullness, emptiness, used);
        if used {
            self.free = self.free.wrapping_sub(end - start);
        } else {
            self.free = self.free.wrapping_add(end - start);
        }
    }

    /// Sets (`used`) or clears the bits `m` of word `w`; returns its summary
    /// bits as [`set_range`](Self::set_range) gathers them.
    #[inline]
    fn set_edge(&mut self, w: usize, m: u64, used: bool) -> (u64, u64) {
        let old = self.words[w];
        let bit = 1u64 << (w % 64);
        if used {
            let new = old | m;
            self.words[w] = new;
            (((new == !0) as u64) * bit, ((old == 0) as u64) * bit)
        } else {
            let new = old & !m;
            self.words[w] = new;
            (bit, ((new == 0) as u64) * bit)
        }
    }

    /// [`set_range`](Self::set_range) for a run under several summary words.
    fn set_range_across(&mut self, start: u64, end: u64, used: bool) {
        let (first, last) = ((start / 64) as usize, ((end - 1) / 64) as usize);
        let mut group = first / 64;
        // Allocating: words that became full, words that were empty.
        // Freeing: words that now have a free frame, words that became empty.
        let (mut fullness, mut emptiness) = (0u64, 0u64);
        for w in first..=last {
            if w / 64 != group {
                self.apply_summary(group, fullness, emptiness, used);
                (group, fullness, emptiness) = (w / 64, 0, 0);
            }
            let mut m = !0u64;
            if w == first {
                m &= !0u64 << (start % 64);
            }
            if w == last {
                m &= !0u64 >> (63 - (end - 1) % 64);
            }
            let old = self.words[w];
            let bit = 1u64 << (w % 64);
            if used {
                let new = old | m;
                self.words[w] = new;
                fullness |= ((new == !0) as u64) * bit;
                emptiness |= ((old == 0) as u64) * bit;
            } else {
                let new = old & !m;
                self.words[w] = new;
                fullness |= bit;
                emptiness |= ((new == 0) as u64) * bit;
            }
        }
        self.apply_summary(group, fullness, emptiness, used);
        if used {
            self.free = self.free.wrapping_sub(end - start);
        } else {
            self.free = self.free.wrapping_add(end - start);
        }
    }

    /// Writes the summary masks [`set_range`](Self::set_range) gathered for
    /// the 64 words of `group`.
    #[inline]
    fn apply_summary(&mut self, group: usize, fullness: u64, emptiness: u64, used: bool) {
        if used {
            self.has_free.update_level0(group, |x| x & !fullness);
            self.empty.update_level0(group, |x| x & !emptiness);
        } else {
            self.has_free.update_level0(group, |x| x | fullness);
            self.empty.update_level0(group, |x| x | emptiness);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::bitmap::storage_words;
    use super::*;

    #[test]
    fn range_updates_after_single_frame_frees_keep_the_count() {
        // Frames freed one at a time count in `released`; range updates
        // that take them back again and again drive `free` below zero,
        // which must wrap, not overflow.
        let frames = 64;
        let mut mem = vec![0u64; storage_words(frames) as usize];
        let mut b = FrameBitmap::new(&mut mem, frames, [(0, frames)].into_iter()).unwrap();
        for _ in 0..3 {
            b.set_range(0, frames, true);
            assert_eq!(b.free_frames(), 0);
            for f in 0..frames {
                // SAFETY: `f < frames`.
                assert!(unsafe { b.release_one(f) });
            }
            assert_eq!(b.free_frames(), frames);
        }
        assert_eq!(b.check(), Ok(()));
    }

    #[test]
    fn all_are_agrees_with_every_bit() {
        let frames = 9000;
        let mut mem = vec![0u64; storage_words(frames) as usize];
        let mut b = FrameBitmap::new(&mut mem, frames, [(0, frames)].into_iter()).unwrap();
        b.set_range(100, 700, true);
        b.set_range(4000, 4100, true);
        b.set_range(4050, 4051, false);
        for (s, e) in [
            (100, 700),
            (99, 700),
            (100, 701),
            (130, 140),
            (64, 128),
            (4000, 4100),
            (4000, 4050),
            (5000, 8999),
            (690, 4000),
        ] {
            for used in [true, false] {
                let want = (s..e).all(|f| b.is_free(f) != used);
                assert_eq!(b.all_are(s, e, used), want, "[{s}, {e}) used {used}");
            }
        }
        assert_eq!(b.check(), Ok(()));
    }
}
