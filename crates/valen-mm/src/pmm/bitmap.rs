//! The frame bitmap: one bit per 4 KiB frame (1 = used, as in the spec), the
//! single source of truth, plus two summary trees kept in step with it.
//!
//! ```text
//!  frames   0 ........ 63 | 64 ...... 127 | 128 ..... 191 | ...
//!  bitmap   [1111 1111 ..] [1011 0000 ..]  [0000 0000 ..]     1 bit per frame
//!  has-free [0             1               1           ...]   1 bit per word ┐ + levels
//!  empty    [0             0               1           ...]   1 bit per word ┘ above
//! ```
//!
//! "has-free" finds a word with a free frame after any position in a few
//! steps, so single-frame allocation never scans; "empty" finds entirely free
//! words, so searches for long runs skip partly used regions wholesale. Both
//! cost 1/64 bit per frame (plus 1/4096 for the levels above). A last map,
//! one bit per chunk of 64 frames (one bitmap word), says which chunks are
//! entirely allocatable, so the PMM checks most frees with one load, indexed
//! by the same word number as the bitmap. About 1.047 bits per frame in all.
//! Frames are plain numbers here (frame = address / 4 KiB); the PMM around
//! it deals in typed addresses. Pure code but for one thing: the
//! single-frame calls the PMM makes on its hot path
//! ([`FrameBitmap::take_if_free`], [`FrameBitmap::release_one`],
//! [`FrameBitmap::is_free_unchecked`]) skip the bounds check on the bitmap
//! word; they are `unsafe fn`s whose callers prove the frame lies inside.

use super::error::Corruption;
use super::tree::{level_sizes, Tree};

/// Frames per "allocatable chunk" (one bitmap word, 256 KiB): see
/// [`FrameBitmap::in_free_chunk`].
pub(crate) const CHUNK_FRAMES: u64 = 64;

/// Words of storage a bitmap over `frames` frames needs (bitmap, summaries
/// and the chunk map).
pub const fn storage_words(frames: u64) -> u64 {
    let words = words_for(frames);
    let (sizes, depth) = level_sizes(words);
    let mut tree = 0;
    let mut i = 0;
    while i < depth {
        tree += sizes[i];
        i += 1;
    }
    words + 2 * tree + chunk_words(frames)
}

/// Words of the chunk map: one bit per chunk of [`CHUNK_FRAMES`] frames.
const fn chunk_words(frames: u64) -> u64 {
    frames.div_ceil(CHUNK_FRAMES).div_ceil(64)
}

/// Bitmap words for `frames` frames (at least one).
const fn words_for(frames: u64) -> u64 {
    if frames == 0 {
        1
    } else {
        frames.div_ceil(64)
    }
}

/// The bitmap and its summaries over caller-provided storage.
pub(crate) struct FrameBitmap<'a> {
    pub(super) words: &'a mut [u64],
    frames: u64,
    pub(super) has_free: Tree<'a>,
    pub(super) empty: Tree<'a>,
    /// One bit per chunk of [`CHUNK_FRAMES`] frames: set when every frame of the chunk lies in
    /// the ranges the bitmap was created with (the allocatable ones).
    chunks: &'a mut [u64],
    /// Free frames, but for the single-frame operations, which count in
    /// `taken` and `released` instead: two counters, each changed by one
    /// kind of operation, so that an allocation and a free do not wait for
    /// each other's update of one shared count. Wrapping like them: frames
    /// freed one at a time and taken back by a range update leave it below
    /// the true count.
    pub(super) free: u64,
    /// Frames taken by [`alloc_one`](Self::alloc_one) (wrapping).
    taken: u64,
    /// Frames freed by [`release_one`](Self::release_one) (wrapping).
    released: u64,
    /// Word where the last single-frame allocation succeeded (next fit).
    hint: usize,
    /// Per run-size class (log2 of the count): where to search next.
    pub(super) run_hints: [u64; 16],
}

impl<'a> FrameBitmap<'a> {
    /// A bitmap over `frames` frames in `storage` (at least
    /// [`storage_words`]`(frames)` words, contents ignored) in which exactly the
    /// frames of `free_ranges` (sorted, disjoint `[start, end)` frame
    /// numbers, clamped to `frames`) are free. `None` if `storage` is too small.
    pub fn new(
        storage: &'a mut [u64],
        frames: u64,
        free_ranges: impl Iterator<Item = (u64, u64)>,
    ) -> Option<Self> {
        if (storage.len() as u64) < storage_words(frames) {
            return None;
        }
        let nwords = words_for(frames) as usize;
        let (words, rest) = storage.split_at_mut(nwords);
        let (mut has_free, rest) = Tree::carve(rest, nwords as u64);
        let (mut empty, rest) = Tree::carve(rest, nwords as u64);
        let (chunks, _) = rest.split_at_mut(chunk_words(frames) as usize);
        chunks.fill(0);

        // One pass over the bitmap: used gaps and free ranges alternately,
        // each bit written once (a memset in all but the edge words).
        let mut fill = Fill {
            words: &mut *words,
            has_free: &mut has_free,
            empty: &mut empty,
            chunks: &mut *chunks,
            cursor: 0,
            free: 0,
        };
        let mut pending: Option<(u64, u64)> = None;
        for (s, e) in free_ranges.map(|(s, e)| (s.min(frames), e.min(frames))) {
            if s >= e {
                continue;
            }
            pending = match pending {
                Some((ps, pe)) if s <= pe => Some((ps, pe.max(e))),
                Some(p) => {
                    fill.free_range(p);
                    Some((s, e))
                }
                None => Some((s, e)),
            };
        }
        if let Some(p) = pending {
            fill.free_range(p);
        }
        let (cursor, free) = (fill.cursor, fill.free);
        fill_bits(words, cursor, nwords as u64 * 64, true);
        has_free.rebuild_upper();
        empty.rebuild_upper();
        Some(Self {
            words,
            frames,
            has_free,
            empty,
            chunks,
            free,
            taken: 0,
            released: 0,
            hint: 0,
            run_hints: [0; 16],
        })
    }

    /// Frames the bitmap covers.
    #[inline]
    pub fn frames(&self) -> u64 {
        self.frames
    }

    /// Free frames.
    #[inline]
    pub fn free_frames(&self) -> u64 {
        self.free
            .wrapping_add(self.released)
            .wrapping_sub(self.taken)
    }

    /// Whether `frame` (below [`frames`](Self::frames)) is free.
    #[inline]
    pub fn is_free(&self, frame: u64) -> bool {
        self.words[(frame / 64) as usize] & (1 << (frame % 64)) == 0
    }

    /// [`is_free`](Self::is_free) without the bounds check, for the PMM's
    /// single-frame free.
    ///
    /// # Safety
    ///
    /// `frame < self.frames()`.
    #[inline]
    pub unsafe fn is_free_unchecked(&self, frame: u64) -> bool {
        debug_assert!(frame < self.frames);
        // SAFETY: `frame < frames` (the caller's promise), so the word index
        // is below `words_for(frames)`, the length of `words`.
        let word = unsafe { *self.words.get_unchecked((frame / 64) as usize) };
        word & (1 << (frame % 64)) == 0
    }

    /// Takes one free frame: the first one in the word where the last one
    /// was found (next fit), else in the next word with a free frame, found
    /// through the summary, never by a scan. The common case reads and
    /// writes one bitmap word; the summaries change only when the word turns
    /// full (or stops being entirely free).
    #[inline]
    pub fn alloc_one(&mut self) -> Option<u64> {
        let w = self.hint;
        match self.words.get(w) {
            Some(&word) if word != !0 => Some(self.take_lowest(w, word)),
            _ => self.alloc_one_further(),
        }
    }

    /// [`alloc_one`](Self::alloc_one) when the hint's word is full: the next
    /// word with a free frame after it, wrapping around once.
    #[inline(never)]
    fn alloc_one_further(&mut self) -> Option<u64> {
        let w = match self.has_free.next_set(self.hint + 1) {
            Some(w) => w,
            None => self.has_free.next_set(0)?,
        };
        self.hint = w;
        let word = self.words[w];
        Some(self.take_lowest(w, word))
    }

    /// Sets the lowest clear bit of word `w`, whose value is `word` (not
    /// full), keeping the summaries and the free count in step; its frame.
    #[inline]
    fn take_lowest(&mut self, w: usize, word: u64) -> u64 {
        let bit = (!word).trailing_zeros();
        let new = word | 1 << bit;
        self.words[w] = new;
        self.taken = self.taken.wrapping_add(1);
        if new == !0 {
            self.has_free.clear(w);
            // Move the hint on to the next word of this 64-word group with a
            // free frame, found in the summary word just written.
            let ahead = self.has_free.level0_word(w / 64) & (!0u64 << (w % 64));
            if ahead != 0 {
                self.hint = (w & !63) + ahead.trailing_zeros() as usize;
            }
        }
        if word == 0 {
            self.empty.clear(w);
        }
        w as u64 * 64 + bit as u64
    }

    /// Takes `frame` if it is free, keeping the summaries and the free
    /// count in step as [`alloc_one`](Self::alloc_one) does; `false` and
    /// nothing changed if it is used.
    ///
    /// # Safety
    ///
    /// `frame < self.frames()`, or `frame == 0` (the bitmap always has a
    /// word). The word is read without a bounds check: this is the PMM's
    /// single-frame hot path, whose caller knows the frame is inside.
    #[inline]
    pub unsafe fn take_if_free(&mut self, frame: u64) -> bool {
        debug_assert!(frame < self.frames || frame == 0);
        let w = (frame / 64) as usize;
        let m = 1u64 << (frame % 64);
        // SAFETY: `frame < frames` or `frame == 0` (the caller's promise), so
        // `w` is below `words_for(frames)`, the length of `words` (at least 1).
        let word = unsafe { self.words.get_unchecked_mut(w) };
        let old = *word;
        let new = old | m;
        if new == old {
            return false;
        }
        *word = new;
        self.taken = self.taken.wrapping_add(1);
        if new == !0 || old == 0 {
            self.summaries_after_take(w, old, new);
        }
        true
    }

    /// The summary updates after word `w` went from `old` to `new` by a
    /// single-frame take that made it full or had found it empty: rare, out
    /// of line.
    #[cold]
    #[inline(never)]
    fn summaries_after_take(&mut self, w: usize, old: u64, new: u64) {
        if new == !0 {
            self.has_free.clear(w);
        }
        if old == 0 {
            self.empty.clear(w);
        }
    }

    /// Whether `frame` lies in a chunk made only of frames the bitmap was
    /// created free (allocatable ones): a one-load fast path for the PMM's
    /// checks of frees. `false` says nothing.
    #[inline]
    pub fn in_free_chunk(&self, frame: u64) -> bool {
        let c = frame / CHUNK_FRAMES;
        self.chunks
            .get((c / 64) as usize)
            .is_some_and(|&w| w & (1 << (c % 64)) != 0)
    }

    /// Whether every frame of `[start, end)` (`start < end`) lies in chunks
    /// made only of allocatable frames, for runs whose chunks' bits lie in
    /// at most two words of the map (any run of up to 4096 frames): two
    /// loads. `false` says nothing.
    #[inline]
    pub fn in_free_chunks(&self, start: u64, end: u64) -> bool {
        let (c0, c1) = (start / CHUNK_FRAMES, (end - 1) / CHUNK_FRAMES);
        let (w0, w1) = ((c0 / 64) as usize, (c1 / 64) as usize);
        let lo = !0u64 << (c0 % 64);
        let hi = !0u64 >> (63 - c1 % 64);
        match (self.chunks.get(w0), self.chunks.get(w1)) {
            (Some(&a), Some(_)) if w0 == w1 => a & lo & hi == lo & hi,
            (Some(&a), Some(&b)) if w1 == w0 + 1 => a & lo == lo && b & hi == hi,
            _ => false,
        }
    }

    /// Frees one used frame; `false` and nothing changed if it is already
    /// free. The summaries change only when the word stops being full (or
    /// turns entirely free), which a free from a random place in memory
    /// rarely does even when memory is 95% used.
    ///
    /// # Safety
    ///
    /// `frame < self.frames()`. The word is read without a bounds check:
    /// the PMM has just checked the frame against the chunk map or the
    /// allocatable ranges, which both lie inside.
    #[inline]
    pub unsafe fn release_one(&mut self, frame: u64) -> bool {
        debug_assert!(frame < self.frames);
        let w = (frame / 64) as usize;
        let m = 1u64 << (frame % 64);
        // SAFETY: `frame < frames` (the caller's promise), so `w` is below
        // `words_for(frames)`, the length of `words`.
        let word = unsafe { self.words.get_unchecked_mut(w) };
        let old = *word;
        let new = old & !m;
        if new == old {
            return false;
        }
        *word = new;
        self.released = self.released.wrapping_add(1);
        if old == !0 || new == 0 {
            self.summaries_after_release(w, old, new);
        }
        true
    }

    /// The summary updates after word `w` went from `old` to `new` by a
    /// single-frame release that found it full or made it empty: rare, out
    /// of line.
    #[cold]
    #[inline(never)]
    fn summaries_after_release(&mut self, w: usize, old: u64, new: u64) {
        if old == !0 {
            self.has_free.set(w);
        }
        if new == 0 {
            self.empty.set(w);
        }
    }

    /// Takes the lowest free frame, if it lies below frame `limit`.
    #[inline]
    pub fn alloc_one_below(&mut self, limit: u64) -> Option<u64> {
        let frame = self.next_free(0)?;
        if frame >= limit {
            return None;
        }
        self.set_range(frame, frame + 1, true);
        Some(frame)
    }

    /// The first free frame at or after `pos`.
    #[inline]
    pub fn next_free(&self, pos: u64) -> Option<u64> {
        let w = (pos / 64) as usize;
        let here = !*self.words.get(w)? & (!0u64 << (pos % 64));
        if here != 0 {
            return Some(w as u64 * 64 + here.trailing_zeros() as u64);
        }
        let w = self.has_free.next_set(w + 1)?;
        Some(w as u64 * 64 + (!self.words[w]).trailing_zeros() as u64)
    }

    /// The chunks marked entirely allocatable, as `[start, end)` frame ranges
    /// of one chunk each (for the invariant checker).
    pub fn free_chunks(&self) -> impl Iterator<Item = (u64, u64)> + '_ {
        self.chunks.iter().enumerate().flat_map(|(i, &w)| {
            (0..64u64)
                .filter(move |b| w & (1 << b) != 0)
                .map(move |b| (i as u64 * 64 + b) * CHUNK_FRAMES)
                .map(|s| (s, s + CHUNK_FRAMES))
        })
    }

    /// Checks the summaries and the free count against the bitmap, and that
    /// the padding bits past the last frame are used. Reads everything: O(n).
    pub fn check(&self) -> Result<(), Corruption> {
        let mut zeros = 0u64;
        for (w, &word) in self.words.iter().enumerate() {
            zeros += word.count_zeros() as u64;
            let bad = |tree: u8| Corruption::Summary {
                tree,
                level: 0,
                index: w as u64,
            };
            if self.has_free.get(w) != (word != !0) {
                return Err(bad(0));
            }
            if self.empty.get(w) != (word == 0) {
                return Err(bad(1));
            }
        }
        for (t, tree) in [&self.has_free, &self.empty].into_iter().enumerate() {
            // Level-0 bits past the last word must be clear.
            let last = tree.level0_word(self.words.len().div_ceil(64) - 1);
            let used_bits = self.words.len() % 64;
            if used_bits != 0 && last >> used_bits != 0 {
                return Err(Corruption::Summary {
                    tree: t as u8,
                    level: 0,
                    index: self.words.len() as u64,
                });
            }
            tree.check_upper()
                .map_err(|(level, index)| Corruption::Summary {
                    tree: t as u8,
                    level: level as u8,
                    index: index as u64,
                })?;
        }
        if zeros != self.free_frames() {
            return Err(Corruption::FreeCount {
                counted: self.free_frames(),
                actual: zeros,
            });
        }
        if let Some(frame) = self.first_with(self.frames, self.words.len() as u64 * 64, false) {
            return Err(Corruption::ReservedFree { frame });
        }
        Ok(())
    }
}

/// The state of the one-pass initialisation in [`FrameBitmap::new`].
struct Fill<'f, 'a> {
    words: &'f mut [u64],
    has_free: &'f mut Tree<'a>,
    empty: &'f mut Tree<'a>,
    chunks: &'f mut [u64],
    cursor: u64,
    free: u64,
}

impl Fill<'_, '_> {
    /// Marks the gap before `[s, e)` used and `[s, e)` free (`s < e`, sorted,
    /// merged with its neighbours).
    fn free_range(&mut self, (s, e): (u64, u64)) {
        fill_bits(self.words, self.cursor, s, true);
        fill_bits(self.words, s, e, false);
        // Level 0 of the summaries straight from the range: the words it
        // touches have a free frame; the words it covers entirely are empty.
        fill_bits(self.has_free.level0_mut(), s / 64, (e - 1) / 64 + 1, true);
        fill_bits(self.empty.level0_mut(), s.div_ceil(64), e / 64, true);
        let (cs, ce) = (s.div_ceil(CHUNK_FRAMES), e / CHUNK_FRAMES);
        fill_bits(self.chunks, cs, ce, true);
        self.free += e - s;
        self.cursor = e;
    }
}

/// Sets (`value`) or clears bits `[start, end)` of `words`, whole words at a time.
pub(super) fn fill_bits(words: &mut [u64], start: u64, end: u64, value: bool) {
    if start >= end {
        return;
    }
    let (ws, we) = ((start / 64) as usize, ((end - 1) / 64) as usize);
    let lo = !0u64 << (start % 64);
    let hi = !0u64 >> (63 - (end - 1) % 64);
    let apply = |w: &mut u64, m: u64| *w = if value { *w | m } else { *w & !m };
    if ws == we {
        apply(&mut words[ws], lo & hi);
        return;
    }
    apply(&mut words[ws], lo);
    words[ws + 1..we].fill(if value { !0 } else { 0 });
    apply(&mut words[we], hi);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fill_bits_edges() {
        let mut w = [0u64; 3];
        fill_bits(&mut w, 3, 130, true);
        assert_eq!(w, [!0 << 3, !0, 0b11]);
        fill_bits(&mut w, 60, 70, false);
        assert_eq!(w[0], (!0 << 3) & !(0xf << 60));
        assert_eq!(w[1], !0 << 6);
        fill_bits(&mut w, 5, 5, false);
        assert_eq!(w[2], 0b11);
    }

    #[test]
    fn storage_is_about_1_05_bits_per_frame() {
        let frames = 4_194_304u64;
        let bits = storage_words(frames) * 64;
        assert!(bits as f64 / frames as f64 <= 1.05, "{bits}");
        assert_eq!(storage_words(0), 3);
    }

    #[test]
    fn init_alloc_free() {
        let mut mem = vec![0x5a5a_u64; storage_words(1000) as usize];
        let ranges = [(10u64, 20u64), (64, 200), (990, 2000)];
        let mut b = FrameBitmap::new(&mut mem, 1000, ranges.iter().copied()).unwrap();
        assert_eq!(b.free_frames(), 10 + 136 + 10);
        assert_eq!(b.check(), Ok(()));
        assert!(b.empty.get(1) && !b.empty.get(0) && !b.empty.get(3));
        assert_eq!(b.alloc_one(), Some(10));
        assert_eq!(b.next_free(20), Some(64));
        assert_eq!(b.first_with(0, 1000, false), Some(11));
        b.set_range(11, 20, true);
        assert_eq!(b.alloc_one(), Some(64));
        b.set_range(10, 11, false);
        assert_eq!(b.alloc_one_below(64), Some(10));
        assert_eq!(b.alloc_one_below(64), None);
        assert_eq!(b.check(), Ok(()));
        while b.alloc_one().is_some() {}
        assert_eq!(b.free_frames(), 0);
        assert_eq!(b.check(), Ok(()));
        b.set_range(128, 192, false);
        assert!(b.empty.get(2));
        assert_eq!(b.check(), Ok(()));
    }

    #[test]
    fn single_frames_are_next_fit_across_words() {
        let mut mem = vec![0u64; storage_words(4096 * 2) as usize];
        let mut b = FrameBitmap::new(&mut mem, 8192, [(0, 8192)].into_iter()).unwrap();
        b.set_range(130, 4100, true);
        for f in 0..130 {
            assert_eq!(b.alloc_one(), Some(f));
        }
        // Word 2 turned full after frame 129: the hint moved past the used
        // words, and a frame freed behind it waits for the wrap-around.
        // SAFETY: frame 5 is inside the 8192 frames.
        assert!(unsafe { b.release_one(5) });
        // SAFETY: as above.
        assert!(!unsafe { b.release_one(5) });
        assert_eq!(b.alloc_one(), Some(4100));
        assert_eq!(b.free_frames(), 8192 - 130 - 3970 - 1 + 1);
        assert_eq!(b.check(), Ok(()));
        while b.free_frames() > 1 {
            b.alloc_one().unwrap();
        }
        assert_eq!(b.alloc_one(), Some(5));
        assert_eq!(b.alloc_one(), None);
        assert_eq!(b.check(), Ok(()));
    }

    #[test]
    fn chunks_are_marked_only_when_entirely_allocatable() {
        let mut mem = vec![0u64; storage_words(10_000) as usize];
        let b = FrameBitmap::new(&mut mem, 10_000, [(70, 9000)].into_iter()).unwrap();
        // Chunk 1 (frames 64..128) holds 64..70, which are not allocatable;
        // chunk 140 (8960..9024) runs past 9000.
        assert!(!b.in_free_chunk(69) && !b.in_free_chunk(127));
        assert!(b.in_free_chunk(128) && b.in_free_chunk(8959));
        assert!(!b.in_free_chunk(8960) && !b.in_free_chunk(1 << 50));
        assert!(b.in_free_chunks(128, 4000));
        assert!(b.in_free_chunks(8000, 8960));
        assert!(b.in_free_chunks(4000, 4001));
        assert!(!b.in_free_chunks(127, 200));
        assert!(!b.in_free_chunks(8000, 8961));
        // Chunks 2..=129 span three words of the map: not answered.
        assert!(!b.in_free_chunks(128, 130 * 64));
        assert!(b.in_free_chunks(128, 128 * 64));
        assert_eq!(b.free_chunks().count(), 140 - 2);
    }

    #[test]
    fn storage_too_small() {
        let mut mem = [0u64; 2];
        assert!(FrameBitmap::new(&mut mem, 64, core::iter::empty()).is_none());
    }
}
