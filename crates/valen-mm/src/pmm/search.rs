//! Finding and taking runs of free frames with an alignment.
//!
//! Three searches, picked by the shape of the request, all skipping full
//! regions through the summaries:
//!
//! ```text
//!  count <= align <= 64      inside one bitmap word: bit tricks on each word
//!                            that has a free frame ("has-free" summary)
//!  64 <= count <= align      whole free words: bit tricks on the "empty"
//!      (align <= 4096)       summary, 64 words (4096 frames) per step
//!  anything else             next free frame, align up, check the run,
//!                            restart past the first used frame in it
//! ```
//!
//! Each run-size class (log2 of the count) keeps its own next-fit hint, so
//! a search resumes where the last one of that size succeeded instead of
//! crossing the crowded start of memory again. Pure code: no `unsafe`.

use super::bitmap::FrameBitmap;

/// Bit `p` set, for `p` a multiple of `width`, where bits `p .. p + count`
/// of `used` are all clear (`1 <= count <= width <= 64`, `width` a power of
/// two). No loop: each `width`-bit field is tested at once with the exact
/// "field is zero" trick (add `0111..1` to each field without its top bit:
/// the top bit ends up set iff some lower bit was).
fn field_starts(used: u64, count: u32, width: u32) -> u64 {
    let starts = align_mask(width as u64);
    let tops = starts << (width - 1);
    let x = used & starts.wrapping_mul(low_bits(count as u64));
    let y = (x & !tops).wrapping_add(!tops);
    (!(y | x) & tops) >> (width - 1)
}

/// Bits at the multiples of `align` (a power of two up to 64).
fn align_mask(align: u64) -> u64 {
    const MASKS: [u64; 7] = [
        !0,
        0x5555_5555_5555_5555,
        0x1111_1111_1111_1111,
        0x0101_0101_0101_0101,
        0x0001_0001_0001_0001,
        0x0000_0001_0000_0001,
        1,
    ];
    MASKS[(align.trailing_zeros() as usize).min(6)]
}

/// Mask of the low `n` bits (`n <= 64`).
fn low_bits(n: u64) -> u64 {
    if n >= 64 {
        !0
    } else {
        (1u64 << n) - 1
    }
}

impl FrameBitmap<'_> {
    /// Takes `count` free frames in a row, starting at a multiple of `align`
    /// (a power of two), lying inside `[lo, hi)`; returns the first frame.
    /// Next fit per size class, wrapping around once.
    pub fn alloc_run(&mut self, count: u64, align: u64, lo: u64, hi: u64) -> Option<u64> {
        let hi = hi.min(self.frames());
        if count == 0 || lo >= hi || count > hi - lo {
            return None;
        }
        let class = (63 - count.leading_zeros() as usize).min(15);
        let hint = self.run_hints[class].clamp(lo, hi);
        let start = self
            .find_run(count, align, hint, hi)
            .or_else(|| self.find_run(count, align, lo, hi))?;
        self.set_range(start, start + count, true);
        self.run_hints[class] = start + count;
        Some(start)
    }

    /// The first aligned free run of `count` starting at or after `from` and
    /// ending by `to`.
    pub fn find_run(&self, count: u64, align: u64, from: u64, to: u64) -> Option<u64> {
        if from >= to || count > to - from {
            return None;
        }
        if count <= align && align <= 64 {
            self.find_in_words(count, align, from, to)
        } else if 64 <= count && count <= align && align <= 4096 {
            self.find_whole_words(count, align, from, to)
        } else {
            self.find_generic(count, align, from, to)
        }
    }

    /// Runs that fit inside one word (`count <= align <= 64`).
    fn find_in_words(&self, count: u64, align: u64, from: u64, to: u64) -> Option<u64> {
        let mut w = (from / 64) as usize;
        let mut low = !0u64 << (from % 64);
        loop {
            let base = w as u64 * 64;
            if base + count > to {
                return None;
            }
            let starts = field_starts(self.words[w] | !low, count as u32, align as u32);
            // Starts whose run would end past `to`.
            let last = to - count - base; // >= 0 by the check above
            let starts = starts & low_bits(last + 1);
            if starts != 0 {
                return Some(base + starts.trailing_zeros() as u64);
            }
            w = self.has_free.next_set(w + 1)?;
            low = !0;
        }
    }

    /// Runs of whole free words plus a tail (`64 <= count <= align <= 4096`):
    /// the run starts on a word boundary and never crosses a 64-word group.
    fn find_whole_words(&self, count: u64, align: u64, from: u64, to: u64) -> Option<u64> {
        let step = align / 64; // alignment in words
        let full = (count / 64) as u32;
        let tail = count % 64;
        let first = from.div_ceil(align) * align / 64; // first candidate word
        let mut g = (first / 64) as usize; // group of 64 words: one "empty" word
        let mut low = !0u64 << (first % 64);
        loop {
            if g as u64 * 4096 + count > to {
                return None;
            }
            let group = self.empty_group(g)?;
            let starts = field_starts(!(group & low), full, step as u32);
            // Which candidates have a tail that fits: all their tail words are
            // read before any is judged, so the loads overlap instead of
            // each waiting behind a mispredicted branch on the one before.
            let fits = if tail == 0 {
                starts
            } else {
                let (mut ok, mut c) = (0u64, starts);
                while c != 0 {
                    let b = c.trailing_zeros();
                    let w = g * 64 + b as usize + full as usize;
                    let x = self.words.get(w).copied().unwrap_or(!0);
                    ok |= ((x & low_bits(tail) == 0) as u64) << b;
                    c &= c - 1;
                }
                starts & ok
            };
            if fits != 0 {
                let start = (g * 64 + fits.trailing_zeros() as usize) as u64 * 64;
                return (start + count <= to).then_some(start);
            }
            g = self.empty.next_set_at(1, g + 1)?;
            low = !0;
        }
    }

    /// Word `g` of the "empty" summary's level 0, if it exists.
    fn empty_group(&self, g: usize) -> Option<u64> {
        if g < self.words.len().div_ceil(64) {
            Some(self.empty.level0_word(g))
        } else {
            None
        }
    }

    /// Any count and alignment: candidate at the next free frame (aligned
    /// up), verified, restarted past the first used frame inside it. Runs of
    /// 128 frames or more contain a whole free word, so they jump from one
    /// free word to the next through the "empty" summary.
    fn find_generic(&self, count: u64, align: u64, from: u64, to: u64) -> Option<u64> {
        let mut pos = from;
        loop {
            if count >= 128 {
                let w = self.empty.next_set(pos.div_ceil(64) as usize)? as u64;
                pos = pos.max((w * 64).saturating_sub(63));
            }
            let free = self.next_free(pos)?;
            let start = free.checked_add(align - 1)? & !(align - 1);
            if start.checked_add(count)? > to {
                return None;
            }
            match self.first_with(start, start + count, true) {
                None => return Some(start),
                Some(used) => pos = used + 1,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::bitmap::storage_words;
    use super::*;

    /// Bit `p` set where bits `p .. p + n` of `free` are all set (`1 <= n <= 64`).
    fn run_starts(free: u64, n: u32) -> u64 {
        let (mut s, mut have) = (free, 1);
        while have < n {
            let sh = have.min(n - have);
            s &= s >> sh;
            have += sh;
        }
        s
    }

    #[test]
    fn field_starts_is_run_starts_at_aligned_places() {
        let mut x = 0x1234_5678_9abc_def1u64;
        for _ in 0..2000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            // Sparse and dense patterns alike.
            for used in [x, x & (x >> 3), x | (x << 5), x & (x >> 1) & (x >> 2)] {
                for width in [1u32, 2, 4, 8, 16, 32, 64] {
                    for count in 1..=width {
                        let want = run_starts(!used, count) & align_mask(width as u64);
                        assert_eq!(
                            field_starts(used, count, width),
                            want,
                            "{used:#x} {count} {width}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn bit_tricks() {
        assert_eq!(run_starts(0b1110_1111, 3), 0b0010_0011);
        assert_eq!(run_starts(!0, 64), 1);
        assert_eq!(run_starts(!0 >> 1, 64), 0);
        assert_eq!(align_mask(1), !0);
        assert_eq!(align_mask(4), 0x1111_1111_1111_1111);
        assert_eq!(align_mask(64), 1);
    }

    fn naive(b: &FrameBitmap<'_>, count: u64, align: u64, from: u64, to: u64) -> Option<u64> {
        let mut s = from.div_ceil(align) * align;
        while s + count <= to {
            if (s..s + count).all(|f| b.is_free(f)) {
                return Some(s);
            }
            s += align;
        }
        None
    }

    #[test]
    fn every_search_agrees_with_the_naive_one() {
        let frames = 20_000;
        let mut mem = vec![0; storage_words(frames) as usize];
        let mut b = FrameBitmap::new(&mut mem, frames, [(0, frames)].into_iter()).unwrap();
        // A fixed, irregular pattern: used runs of varying length.
        let mut x = 12345u64;
        let mut f = 0;
        while f < frames {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let len = (x >> 33) % 700;
            let end = (f + len).min(frames);
            if (x >> 20) & 1 == 1 {
                b.set_range(f, end, true);
            }
            f = end + 1;
        }
        for count in [1, 2, 3, 7, 8, 30, 64, 65, 100, 128, 300, 512, 513, 1000] {
            for align in [1, 2, 8, 64, 128, 512, 1024, 4096] {
                for (from, to) in [(0, frames), (777, 15_000), (5000, 5100)] {
                    assert_eq!(
                        b.find_run(count, align, from, to),
                        naive(&b, count, align, from, to),
                        "count {count} align {align} in [{from}, {to})"
                    );
                }
            }
        }
    }
}
