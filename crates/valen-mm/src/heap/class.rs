//! Size classes: the two-level index of the TLSF free lists (pure
//! arithmetic, and a table of it for the common sizes).
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
//! Both take block sizes, multiples of 16.

/// Bits of the second level: 16 lists per power of two.
pub const SL_BITS: u32 = 4;
/// Lists per first level.
pub const SL_COUNT: usize = 1 << SL_BITS;
/// Block sizes below this are indexed linearly (first level 0).
pub const SMALL_LIMIT: usize = 1 << (SL_BITS + 4);
/// First levels: block sizes up to 2^32 - 16.
pub const FL_COUNT: usize = 32 - (SL_BITS as usize + 4) + 1;
/// Lists that can hold blocks: numbers `0..LISTS`.
pub const LISTS: usize = FL_COUNT * SL_COUNT;
/// Slots per table indexed by list number: a power of two above
/// [`LISTS`] (the search for the largest sizes may name list `LISTS`, which
/// stays empty), so masking a number proves it in bounds.
pub const LIST_SLOTS: usize = 512;
/// Largest block size (it must fit in the 32-bit size field of a header).
pub const MAX_BLOCK: usize = 0xFFFF_FFF0;

/// A list, by its number `fl * 16 + sl`: lists are numbered in size order,
/// so "the next list" is the next number and one bit scan over a bitmap
/// word finds the first non-empty list at or after any list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Class(pub usize);

impl Class {
    /// Its number masked into `0..LIST_SLOTS` (a proof of bounds for tables).
    #[inline(always)]
    pub const fn slot(self) -> usize {
        self.0 & (LIST_SLOTS - 1)
    }
    /// First level (power-of-two range).
    #[inline(always)]
    pub const fn fl(self) -> usize {
        self.0 >> SL_BITS
    }
    /// Second level (sub-range inside it).
    #[inline(always)]
    pub const fn sl(self) -> usize {
        self.0 & (SL_COUNT - 1)
    }
}

/// The power of two of a size, clamped up to the linear range's (8), and the
/// bits below its second-level index (`g - 4`). The clamp is an OR: below
/// 512 the top bit of `size | 511` is bit 8, above it the size's own.
#[inline(always)]
const fn level(size: usize) -> (u32, u32) {
    // `ilog2` of a non-zero value: one `bsr`, no zero case.
    let g = (size | (2 * SMALL_LIMIT - 1)).ilog2();
    (g, g - SL_BITS)
}

/// Block sizes below this find their list in a table (one load: the
/// common sizes of a kernel heap) rather than by the arithmetic of
/// [`class_of_arith`] and [`search_class_arith`], which costs a `bsr` and
/// six more instructions each time; a block is allocated, split and freed
/// with two to four of them. The table is one byte per 16-byte size step:
/// 4 KiB. (Tables of 1 KiB, 64-byte steps from 1 KiB on, miss the
/// first-level cache less but cost four more instructions a lookup; in the
/// benchmark's H2 they were no faster.)
const TABLE_LIMIT: usize = 64 << 10;

/// [`class_of`] of every block size below [`TABLE_LIMIT`], by size / 16.
/// The searches read it too (see [`search_class`]): one table, not one
/// each, leaves the first-level cache another 4 KiB.
static CLASS_TABLE: [u8; TABLE_LIMIT / 16] = table();

/// The table, worked out by the arithmetic at compile time.
const fn table() -> [u8; TABLE_LIMIT / 16] {
    let mut t = [0u8; TABLE_LIMIT / 16];
    let mut i = 0;
    while i < t.len() {
        let c = class_of_arith(i * 16).0;
        assert!(c <= u8::MAX as usize);
        t[i] = c as u8;
        i += 1;
    }
    t
}

/// The list a free block of `size` bytes belongs in (`size <= MAX_BLOCK`):
/// from the table below [`TABLE_LIMIT`], else [`class_of_arith`].
#[inline(always)]
pub fn class_of(size: usize) -> Class {
    if size < TABLE_LIMIT {
        Class(CLASS_TABLE[size / 16] as usize)
    } else {
        class_of_arith(size)
    }
}

/// The first list whose every block holds `size` bytes, or `None` past
/// [`MAX_BLOCK`]: from the table up to [`TABLE_LIMIT`], else
/// [`search_class_arith`].
///
/// A list holds only blocks of `size` or more when its smallest size is
/// above `size - 16` (sizes are multiples of 16): it is the list after
/// the one `size - 16` belongs in, so the class table answers the search
/// too.
#[inline(always)]
pub fn search_class(size: usize) -> Option<Class> {
    // `size - 16` wraps for 0, which then takes the arithmetic.
    let below = size.wrapping_sub(16);
    if below < TABLE_LIMIT {
        Some(Class(CLASS_TABLE[below / 16] as usize + 1))
    } else {
        search_class_arith(size)
    }
}

/// The list a free block of `size` bytes belongs in (`size <= MAX_BLOCK`).
///
/// For `2^g <= size < 2^(g+1)` (`g >= 8`) the list is
/// `(size >> (g - 4)) + 16 * (g - 8)`: the shifted size is 16..32, its low
/// four bits the second level. Below 256 it is `size >> 4`. Branch-free:
/// random request sizes must not cost a mispredicted branch.
#[inline(always)]
pub const fn class_of_arith(size: usize) -> Class {
    let (g, shift) = level(size);
    Class((size >> shift) + (((g - SMALL_LIMIT.trailing_zeros()) as usize) << SL_BITS))
}

/// The first list whose every block holds `size` bytes, or `None` past
/// [`MAX_BLOCK`]. For sizes whose round-up passes the last list it is list
/// [`LISTS`], which never holds a block.
///
/// One `log2`: the size is rounded up to the next list boundary in the same
/// shift (a size on a boundary stays in its own list; a carry moves to the
/// next power of two, which is the next list number too).
#[inline(always)]
pub const fn search_class_arith(size: usize) -> Option<Class> {
    if size > MAX_BLOCK {
        return None;
    }
    let (g, shift) = level(size);
    let up = (size + (1 << shift) - 1) >> shift;
    Some(Class(
        up + (((g - SMALL_LIMIT.trailing_zeros()) as usize) << SL_BITS),
    ))
}

/// The smallest block size that belongs to `class`.
#[cfg(test)]
pub const fn class_floor(class: Class) -> usize {
    if class.fl() == 0 {
        class.sl() << 4
    } else {
        let f = class.fl() + SL_BITS as usize + 3;
        (1 << f) + (class.sl() << (f - SL_BITS as usize))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_sizes_are_exact() {
        assert_eq!(class_of(32), Class(2));
        assert_eq!(class_of(240), Class(15));
        assert_eq!(search_class(240), Some(Class(15)));
    }

    #[test]
    fn large_sizes_split_in_sixteen() {
        assert_eq!(class_of(256), Class(16));
        assert_eq!(class_of(272), Class(17));
        assert_eq!(class_of(511), Class(31));
        assert_eq!(class_of(512), Class(32));
        assert_eq!((class_of(512).fl(), class_of(512).sl()), (2, 0));
        assert_eq!(class_of(MAX_BLOCK).fl(), FL_COUNT - 1);
        assert_eq!(class_of(MAX_BLOCK).0, LISTS - 1);
        // Past the last list: a list that never holds a block.
        assert_eq!(search_class(MAX_BLOCK), Some(Class(LISTS)));
        assert_eq!(search_class(MAX_BLOCK + 1), None);
    }

    /// `floor(log2(size))` for `size >= 1` (`size | 1` keeps 0 defined).
    fn log2(size: usize) -> u32 {
        usize::BITS - 1 - (size | 1).leading_zeros()
    }

    /// The old two-step formulas (round up with a second `log2`, then map),
    /// as a model of the one-step ones.
    fn model_class(size: usize) -> Class {
        let f = log2(size);
        let shift = if f > 8 { f - 4 } else { 4 };
        Class(f.saturating_sub(7) as usize * 16 + ((size >> shift) & 15))
    }

    fn model_search(size: usize) -> Option<Class> {
        let f = log2(size);
        let rounded = size + (1 << (if f > 8 { f - 4 } else { 4 })) - 1;
        if size > MAX_BLOCK {
            None
        } else if rounded > MAX_BLOCK {
            Some(Class(LISTS))
        } else {
            Some(model_class(rounded))
        }
    }

    #[test]
    fn one_step_matches_the_model() {
        let mut sizes: Vec<usize> = (0..1 << 14).map(|k| k * 16).collect();
        for f in 14..32 {
            for d in [0usize, 16, 32] {
                sizes.push((1 << f) - d);
                sizes.push((1 << f) + d);
                sizes.push((1 << f) + (1 << (f - 4)) - d);
                sizes.push((1 << f) + (1 << (f - 4)) + d);
            }
        }
        sizes.push(MAX_BLOCK);
        for s in sizes.into_iter().filter(|&s| s <= MAX_BLOCK) {
            assert_eq!(class_of(s), model_class(s), "class_of({s})");
            assert_eq!(search_class(s), model_search(s), "search_class({s})");
            // Below the table limit the tables answer; the arithmetic must
            // agree there too (it built them).
            assert_eq!(class_of_arith(s), model_class(s), "class_of_arith({s})");
            assert_eq!(search_class_arith(s), model_search(s), "search({s})");
        }
        assert_eq!(search_class(MAX_BLOCK + 16), None);
        assert_eq!(search_class(usize::MAX / 2), None);
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
