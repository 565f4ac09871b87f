//! The frames freed most recently one at a time, newest first: where the next
//! single-frame allocation looks before it searches the bitmap. A frame just
//! freed sits in a cache line the CPU touched a moment ago (its bitmap word,
//! and often the frame itself), so handing it out again costs one word
//! update and no search.
//!
//! ```text
//!  free_page(f)   clear f's bit (the bitmap stays the truth), then push f
//!  alloc_page()   pop f; if f's bit is still clear, set it and return f;
//!                 else f is stale (taken meanwhile by a run, a mark or a
//!                 limited allocation): drop it and pop the next
//! ```
//!
//! A fixed stack of [`RECENT_SLOTS`] frame numbers, kept to their low 32
//! bits: a number known to fit 32 bits spares the caller a range check when
//! it turns it into an address, and the entries take 128 bytes. Above 16 TiB
//! of RAM an entry may name a lower frame than the one freed; that is just
//! another hint (below the freed frame, so inside the bitmap), taken if that
//! frame is free and skipped if not, like a stale one. A free that finds the
//! stack full is not recorded: the frame is free in the bitmap all the same,
//! and the next-fit search finds it. Entries are hints, never promises:
//! nothing here says a frame is free, so double-free detection, statistics
//! and every other call read the bitmap as before. Pure code: no `unsafe`.

/// Frame numbers the stack holds.
pub(crate) const RECENT_SLOTS: usize = 32;

/// A LIFO of recently freed frame numbers.
pub(crate) struct Recent {
    /// Entries held, at most [`RECENT_SLOTS`]; the newest is `slots[len - 1]`.
    len: usize,
    slots: [u32; RECENT_SLOTS],
}

impl Recent {
    /// An empty stack.
    pub(crate) const fn new() -> Self {
        Self {
            len: 0,
            slots: [0; RECENT_SLOTS],
        }
    }

    /// Records `frame` (its low 32 bits) as the newest entry, unless the
    /// stack is full.
    #[inline]
    pub(crate) fn push(&mut self, frame: u64) {
        if let Some(slot) = self.slots.get_mut(self.len) {
            *slot = frame as u32;
            self.len += 1;
        }
    }

    /// Removes and returns the newest entry.
    #[inline]
    pub(crate) fn pop(&mut self) -> Option<u32> {
        // An empty stack wraps `len - 1` past the end: one comparison
        // answers both "empty?" and "in bounds?".
        let top = self.len.wrapping_sub(1);
        let frame = *self.slots.get(top)?;
        self.len = top;
        Some(frame)
    }

    /// Whether the stack holds no entry.
    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Entries held (stale ones included).
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.len
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn newest_first() {
        let mut r = Recent::new();
        assert_eq!(r.pop(), None);
        r.push(7);
        r.push(9);
        assert_eq!(r.pop(), Some(9));
        r.push(11);
        assert_eq!(r.pop(), Some(11));
        assert_eq!(r.pop(), Some(7));
        assert_eq!(r.pop(), None);
        assert_eq!(r.len(), 0);
    }

    #[test]
    fn a_full_stack_keeps_what_it_has() {
        let mut r = Recent::new();
        for f in 0..RECENT_SLOTS as u64 + 5 {
            r.push(100 + f);
        }
        assert_eq!(r.len(), RECENT_SLOTS);
        for f in (0..RECENT_SLOTS as u32).rev() {
            assert_eq!(r.pop(), Some(100 + f));
        }
        assert_eq!(r.pop(), None);
        assert_eq!(r.len(), 0);
    }

    #[test]
    fn frames_past_32_bits_keep_their_low_bits() {
        let mut r = Recent::new();
        r.push((1 << 32) + 5);
        assert_eq!(r.pop(), Some(5));
    }
}
