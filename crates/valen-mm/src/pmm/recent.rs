//! The frames freed most recently one at a time, newest first: where the next
//! single-frame allocation looks before it searches the bitmap. A frame just
//! freed sits in a cache line the CPU touched a moment ago (its bitmap word,
//! and often the frame itself), so handing it out again costs one word
//! update and no search.
//!
//! ```text
//!  free_page(f)   clear f's bit (the bitmap stays the truth), then record f
//!  alloc_page()   take the newest entry f; if f's bit is still clear, set it
//!                 and return f; else f is stale (taken meanwhile by a run, a
//!                 mark or a limited allocation): drop it and try the next
//! ```
//!
//! The newest entry has a field of its own, so that a free followed by an
//! allocation (the common pattern) costs a store and a load; up to
//! [`RECENT_SLOTS`] older ones wait in a stack behind it. When the stack is
//! full, the entry a free pushes out of the newest field is dropped: that
//! frame is free in the bitmap all the same, and the next-fit search finds
//! it.
//!
//! Entries keep the low 32 bits of the frame number: a number known to fit
//! 32 bits spares the caller a range check when it turns it into an address.
//! Above 16 TiB of RAM an entry may name a lower frame than the one freed;
//! that is just another hint (below the freed frame, so inside the bitmap),
//! taken if that frame is free and skipped if not, like a stale one. Frame 0
//! means "no entry": it lies below 2 MiB and is never free, so a caller that
//! tries it anyway finds it taken and moves on.
//!
//! Entries are hints, never promises: nothing here says a frame is free, so
//! double-free detection, statistics and every other call read the bitmap as
//! before. Pure code: no `unsafe`.

/// Older entries the stack behind the newest one holds.
pub(crate) const RECENT_SLOTS: usize = 32;

/// A LIFO of recently freed frame numbers.
pub(crate) struct Recent {
    /// The newest entry, or 0 for none.
    newest: u32,
    /// Older entries held, at most [`RECENT_SLOTS`]; the newest of them is
    /// `slots[len - 1]`.
    len: usize,
    slots: [u32; RECENT_SLOTS],
}

impl Recent {
    /// An empty list.
    pub(crate) const fn new() -> Self {
        Self {
            newest: 0,
            len: 0,
            slots: [0; RECENT_SLOTS],
        }
    }

    /// Records `frame` (its low 32 bits) as the newest entry; the one it
    /// replaces joins the stack unless the stack is full.
    #[inline]
    pub(crate) fn push(&mut self, frame: u64) {
        let older = core::mem::replace(&mut self.newest, frame as u32);
        if older != 0 {
            if let Some(slot) = self.slots.get_mut(self.len) {
                *slot = older;
                self.len += 1;
            }
        }
    }

    /// Removes and returns the newest entry: 0 if there is none there (the
    /// stack may still hold older ones: see [`pop_older`](Self::pop_older)).
    #[inline]
    pub(crate) fn take_newest(&mut self) -> u32 {
        core::mem::replace(&mut self.newest, 0)
    }

    /// Removes and returns the newest entry of the stack behind the newest.
    #[inline]
    pub(crate) fn pop_older(&mut self) -> Option<u32> {
        // An empty stack wraps `len - 1` past the end: one comparison
        // answers both "empty?" and "in bounds?".
        let top = self.len.wrapping_sub(1);
        let frame = *self.slots.get(top)?;
        self.len = top;
        Some(frame)
    }

    /// Entries held (stale ones included).
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.len + (self.newest != 0) as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Takes entries newest first, as `alloc_page` does.
    fn pop(r: &mut Recent) -> Option<u32> {
        match r.take_newest() {
            0 => r.pop_older(),
            f => Some(f),
        }
    }

    #[test]
    fn newest_first() {
        let mut r = Recent::new();
        assert_eq!(pop(&mut r), None);
        r.push(7);
        r.push(9);
        assert_eq!(r.len(), 2);
        assert_eq!(pop(&mut r), Some(9));
        r.push(11);
        assert_eq!(pop(&mut r), Some(11));
        assert_eq!(pop(&mut r), Some(7));
        assert_eq!(pop(&mut r), None);
        assert_eq!(r.len(), 0);
    }

    #[test]
    fn a_full_stack_keeps_what_it_has() {
        let mut r = Recent::new();
        for f in 0..RECENT_SLOTS as u64 + 5 {
            r.push(100 + f);
        }
        assert_eq!(r.len(), RECENT_SLOTS + 1);
        // The newest, then the oldest 32 (the frees in between were dropped).
        assert_eq!(pop(&mut r), Some(100 + RECENT_SLOTS as u32 + 4));
        for f in (0..RECENT_SLOTS as u32).rev() {
            assert_eq!(pop(&mut r), Some(100 + f));
        }
        assert_eq!(pop(&mut r), None);
        assert_eq!(r.len(), 0);
    }

    #[test]
    fn frames_past_32_bits_keep_their_low_bits() {
        let mut r = Recent::new();
        r.push((1 << 32) + 5);
        assert_eq!(pop(&mut r), Some(5));
        // A multiple of 2^32 reads as "no entry".
        r.push(1 << 32);
        assert_eq!(pop(&mut r), None);
    }
}
