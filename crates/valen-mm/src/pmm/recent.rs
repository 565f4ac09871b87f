//! The frames freed most recently one at a time, newest first: where the next
//! single-frame allocation looks before it searches the bitmap.
//!
//! ```text
//!  free_page(f)   check f is allocated, then hold f back: its bit stays set;
//!                 the frame held before it (if any) is settled: its bit is
//!                 cleared and it joins the stack of older entries
//!  alloc_page()   a held frame is handed out as it is (its bit is set
//!                 already); else take the newest older entry f; if f's bit
//!                 is still clear, set it and return f; else f is stale
//!                 (taken meanwhile by a run, a mark or a limited
//!                 allocation): drop it and try the next
//! ```
//!
//! The newest entry is "held": freed, but still marked used in the bitmap.
//! A free followed by an allocation (the common pattern) then leaves the
//! bitmap alone: a store and a load here, nothing else. The PMM counts the
//! held frame as free, calls it free, refuses to free it again, and settles
//! it (clears its bit) before any other call reads or writes the bitmap, so
//! nothing outside sees the difference (pmm.rs).
//!
//! Up to [`RECENT_SLOTS`] older entries wait in a stack behind the held
//! one. Their bits are clear: they are hints, never promises, so the
//! allocation checks each in the bitmap before it takes it. When the stack
//! is full, the entry a settled frame would add is dropped: that frame is
//! free in the bitmap all the same, and the next-fit search finds it.
//!
//! Older entries keep the low 32 bits of the frame number: a number known to
//! fit 32 bits spares the caller a range check when it turns it into an
//! address. Above 16 TiB of RAM an entry may name a lower frame than the one
//! freed; that is just another hint (below the freed frame, so inside the
//! bitmap), taken if that frame is free and skipped if not, like a stale
//! one. The held frame keeps its whole number: it is handed out unchecked.
//! A held frame of 0 means none. An older entry of 0 (a multiple of 2^32
//! above 16 TiB) names a frame below 2 MiB, which is never free: the
//! allocation that tries it finds it taken and moves on.
//!
//! Pure code: no `unsafe`.

/// Older entries the stack behind the held one holds.
pub(crate) const RECENT_SLOTS: usize = 32;

/// The frame held back by the last single-frame free and a LIFO of the
/// frame numbers freed before it.
pub(crate) struct Recent {
    /// The held frame (freed, bit still set in the bitmap), or 0 for none.
    held: u64,
    /// Older entries held, at most [`RECENT_SLOTS`]; the newest of them is
    /// `slots[len - 1]`.
    len: usize,
    slots: [u32; RECENT_SLOTS],
}

impl Recent {
    /// An empty list.
    pub(crate) const fn new() -> Self {
        Self {
            held: 0,
            len: 0,
            slots: [0; RECENT_SLOTS],
        }
    }

    /// The held frame, or 0 for none.
    #[inline]
    pub(crate) fn held(&self) -> u64 {
        self.held
    }

    /// Holds `frame` (not 0) back; returns the frame held before it, or 0
    /// for none, which the caller settles and then passes to
    /// [`push`](Self::push).
    #[inline]
    pub(crate) fn hold(&mut self, frame: u64) -> u64 {
        core::mem::replace(&mut self.held, frame)
    }

    /// Removes and returns the held frame: 0 if there is none (the stack
    /// may still hold older entries: see [`pop_older`](Self::pop_older)).
    #[inline]
    pub(crate) fn take_held(&mut self) -> u64 {
        core::mem::replace(&mut self.held, 0)
    }

    /// Records `frame` (its low 32 bits), whose bit is clear now, as the
    /// newest older entry, unless the stack is full.
    #[inline]
    pub(crate) fn push(&mut self, frame: u64) {
        if let Some(slot) = self.slots.get_mut(self.len) {
            *slot = frame as u32;
            self.len += 1;
        }
    }

    /// Removes and returns the newest older entry.
    #[inline]
    pub(crate) fn pop_older(&mut self) -> Option<u32> {
        // An empty stack wraps `len - 1` past the end: one comparison
        // answers both "empty?" and "in bounds?".
        let top = self.len.wrapping_sub(1);
        let frame = *self.slots.get(top)?;
        self.len = top;
        Some(frame)
    }

    /// Entries held (the held frame and stale ones included).
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.len + (self.held != 0) as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Records a free as the PMM does: hold `f`, settle the one before.
    fn free(r: &mut Recent, f: u64) {
        let older = r.hold(f);
        if older != 0 {
            r.push(older);
        }
    }

    /// Takes entries newest first, as `alloc_page` does.
    fn pop(r: &mut Recent) -> Option<u64> {
        match r.take_held() {
            0 => r.pop_older().map(u64::from),
            f => Some(f),
        }
    }

    #[test]
    fn newest_first() {
        let mut r = Recent::new();
        assert_eq!(pop(&mut r), None);
        free(&mut r, 7);
        free(&mut r, 9);
        assert_eq!(r.len(), 2);
        assert_eq!(r.held(), 9);
        assert_eq!(pop(&mut r), Some(9));
        assert_eq!(r.held(), 0);
        free(&mut r, 11);
        assert_eq!(pop(&mut r), Some(11));
        assert_eq!(pop(&mut r), Some(7));
        assert_eq!(pop(&mut r), None);
        assert_eq!(r.len(), 0);
    }

    #[test]
    fn a_full_stack_keeps_what_it_has() {
        let mut r = Recent::new();
        for f in 0..RECENT_SLOTS as u64 + 5 {
            free(&mut r, 100 + f);
        }
        assert_eq!(r.len(), RECENT_SLOTS + 1);
        // The held one, then the oldest 32 (the frees in between were dropped).
        assert_eq!(pop(&mut r), Some(100 + RECENT_SLOTS as u64 + 4));
        for f in (0..RECENT_SLOTS as u64).rev() {
            assert_eq!(pop(&mut r), Some(100 + f));
        }
        assert_eq!(pop(&mut r), None);
        assert_eq!(r.len(), 0);
    }

    #[test]
    fn older_frames_past_32_bits_keep_their_low_bits() {
        let mut r = Recent::new();
        // The held frame keeps its whole number; older entries do not.
        free(&mut r, (1 << 32) + 5);
        free(&mut r, (1 << 33) + 6);
        assert_eq!(pop(&mut r), Some((1 << 33) + 6));
        assert_eq!(pop(&mut r), Some(5));
        // An older entry that is a multiple of 2^32 reads as frame 0, which
        // is never free: the allocation tries it and moves on.
        r.push(1 << 32);
        assert_eq!(pop(&mut r), Some(0));
        assert_eq!(pop(&mut r), None);
    }
}
