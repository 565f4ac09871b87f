//! Size classes: the two-level index of the TLSF free lists (pure arithmetic).
//!
//! A block size `s` (a multiple of 16, at least 32) maps to a first level
//! `fl` (its power of two) and a second level `sl` (the next four bits), so
//! each power-of-two range is cut into 16 lists of equal width:
//!
//! ```text
//!   fl = 0 : sizes 0..256 in steps of 16 (one exact size per list)
//!   fl = 1 : 256..512   in steps of 16      sl = (s >> 4) & 15
//!   fl = 2 : 512..1024  in steps of 32      sl = (s >> 5) & 15
//!   ...
//!   fl = f - 7 : 2^f..2^(f+1) in steps of 2^(f-4)
//! ```
//!
//! A free block goes into the list of [`class_of`] its size. A request looks
//! in [`search_class`]: its size rounded up to the next list boundary, so every
//! block found there fits without walking the list (good fit in O(1)).

/// Bits of the second level: 16 lists per power of two.
pub const SL_BITS: u32 = 4;
/// Lists per first level.
pub const SL_COUNT: usize = 1 << SL_BITS;
/// Block sizes below this are indexed linearly (first level 0).
pub const SMALL_LIMIT: usize = 1 << (SL_BITS + 4);
/// First levels: block sizes up to 2^32 - 16.
pub const FL_COUNT: usize = 32 - (SL_BITS as usize + 4) + 1;
/// Slots per table indexed by first level: a power of two at least
/// [`FL_COUNT`], so masking an index proves it in bounds.
pub const FL_SLOTS: usize = 32;
/// Largest block size (it must fit in the 32-bit size field of a header).
pub const MAX_BLOCK: usize = 0xFFFF_FFF0;

/// A list index: first level, second level.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Class {
    /// First level (power-of-two range).
    pub fl: usize,
    /// Second level (sub-range inside it).
    pub sl: usize,
}

/// `floor(log2(size))` for `size >= 1` (`size | 1` keeps 0 defined).
#[inline(always)]
const fn log2(size: usize) -> u32 {
    usize::BITS - 1 - (size | 1).leading_zeros()
}

/// Bits below the second-level index for a size with `log2 == f`: 4 in the
/// linear range, `f - 4` above it.
#[inline(always)]
const fn shift(f: u32) -> u32 {
    let small = SMALL_LIMIT.trailing_zeros();
    let f = if f > small { f } else { small };
    f - SL_BITS
}

/// The list a free block of `size` bytes belongs in (`size <= MAX_BLOCK`).
///
/// Branch-free: random request sizes must not cost a mispredicted branch.
#[inline(always)]
pub const fn class_of(size: usize) -> Class {
    let f = log2(size);
    Class {
        fl: f.saturating_sub(SL_BITS + 3) as usize & (FL_SLOTS - 1),
        sl: (size >> shift(f)) & (SL_COUNT - 1),
    }
}

/// The first list whose every block holds `size` bytes, or `None` past
/// [`MAX_BLOCK`].
#[inline(always)]
pub const fn search_class(size: usize) -> Option<Class> {
    // Sizes are multiples of 16, so in the linear range the rounding adds
    // nothing; above it, it moves to the next list unless on a boundary.
    let rounded = size + (1 << shift(log2(size))) - 1;
    if rounded > MAX_BLOCK {
        return None;
    }
    Some(class_of(rounded))
}

/// The smallest block size that belongs to `class`.
#[cfg(test)]
pub const fn class_floor(class: Class) -> usize {
    if class.fl == 0 {
        class.sl << 4
    } else {
        let f = class.fl + SL_BITS as usize + 3;
        (1 << f) + (class.sl << (f - SL_BITS as usize))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_sizes_are_exact() {
        assert_eq!(class_of(32), Class { fl: 0, sl: 2 });
        assert_eq!(class_of(240), Class { fl: 0, sl: 15 });
        assert_eq!(search_class(240), Some(Class { fl: 0, sl: 15 }));
    }

    #[test]
    fn large_sizes_split_in_sixteen() {
        assert_eq!(class_of(256), Class { fl: 1, sl: 0 });
        assert_eq!(class_of(272), Class { fl: 1, sl: 1 });
        assert_eq!(class_of(511), Class { fl: 1, sl: 15 });
        assert_eq!(class_of(512), Class { fl: 2, sl: 0 });
        assert_eq!(class_of(MAX_BLOCK).fl, FL_COUNT - 1);
        assert_eq!(search_class(MAX_BLOCK), None);
    }

    #[test]
    fn search_class_always_fits() {
        let mut s = 32;
        while s < (1 << 22) {
            let c = search_class(s).unwrap();
            assert!(class_floor(c) >= s, "size {s} class {c:?}");
            let own = class_of(s);
            assert!(class_floor(own) <= s);
            // The search class is the own class or the next one.
            assert!(c == own || class_floor(c) > class_floor(own));
            s += 16;
        }
    }
}
