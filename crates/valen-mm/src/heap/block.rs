//! Block headers and boundary tags: the only code that reads or writes the
//! heap's own metadata inside the managed memory.
//!
//! Every block starts on a 16-byte boundary and is a multiple of 16 bytes:
//!
//! ```text
//!  block + 0  : prev_size  u64   size of the previous block; valid only when
//!                                 that block is free (PREV_FREE), otherwise it
//!                                 is the last word of the previous payload
//!  block + 8  : tag        u64   low 32 bits HEAP_MAGIC, high 32 bits
//!                                 size | FREE | PREV_FREE | END | QUICK
//!  block + 16 : payload (used) or next_free, prev_free links (free)
//!  ...
//!  block + size : the next block (its prev_size word ends this payload)
//! ```
//!
//! A used block of size `s` therefore gives `s - 8` usable bytes: 8 bytes of
//! overhead per block. Each region ends in a 16-byte `END` sentinel that is
//! never free, so every block has a next block and no merge runs off a region.

use super::HEAP_MAGIC;
use core::ptr;

/// Distance from the block start to its payload.
pub const HEADER: usize = 16;
/// Smallest block: header plus the two free-list links.
pub const MIN_BLOCK: usize = 32;
/// Bytes a used block loses to metadata (its tag word).
pub const OVERHEAD: usize = 8;
/// Block sizes and addresses are multiples of this.
pub const GRANULE: usize = 16;

/// The block is free (in a free list).
pub const FREE: u32 = 1;
/// The previous block is free; `prev_size` is valid.
pub const PREV_FREE: u32 = 2;
/// The region's end sentinel.
pub const END: u32 = 4;
/// The block waits in the quick cache (see `quick.rs`): used to its
/// neighbours, free to its owner.
pub const QUICK: u32 = 8;
/// All flag bits.
pub const FLAGS: u32 = 0xF;

/// A header word, decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tag(pub u64);

impl Tag {
    /// A tag with the magic number.
    #[inline]
    pub const fn new(size: usize, flags: u32) -> Self {
        Self((((size as u64) | flags as u64) << 32) | HEAP_MAGIC as u64)
    }
    /// Whether the low half holds the magic number.
    #[inline]
    pub const fn magic_ok(self) -> bool {
        self.0 as u32 == HEAP_MAGIC
    }
    /// The magic half as found.
    #[inline]
    pub const fn magic(self) -> u32 {
        self.0 as u32
    }
    /// Block size in bytes.
    #[inline]
    pub const fn size(self) -> usize {
        ((self.0 >> 32) as u32 & !FLAGS) as usize
    }
    /// Flag bits.
    #[inline]
    pub const fn flags(self) -> u32 {
        (self.0 >> 32) as u32 & FLAGS
    }
    /// Whether `flag` is set.
    #[inline]
    pub const fn has(self, flag: u32) -> bool {
        self.flags() & flag != 0
    }
}

/// A block, by the address of its first byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Block(pub *mut u8);

impl Block {
    /// Its payload.
    #[inline]
    pub fn payload(self) -> *mut u8 {
        self.0.wrapping_add(HEADER)
    }
    /// Its address as a number.
    #[inline]
    pub fn addr(self) -> usize {
        self.0 as usize
    }
    /// The block `bytes` further on.
    #[inline]
    pub fn offset(self, bytes: usize) -> Self {
        Self(self.0.wrapping_add(bytes))
    }
    /// The block `bytes` before.
    #[inline]
    pub fn back(self, bytes: usize) -> Self {
        Self(self.0.wrapping_sub(bytes))
    }

    /// Reads the tag word.
    ///
    /// # Safety
    /// `self` lies 16-aligned inside a region of the heap, at least 16 bytes
    /// before its end, and the heap is not accessed concurrently.
    #[inline]
    pub unsafe fn tag(self) -> Tag {
        // SAFETY: inside a region by the caller's contract, 8-aligned.
        Tag(unsafe { ptr::read(self.0.add(8).cast::<u64>()) })
    }
    /// Writes the tag word.
    ///
    /// # Safety
    /// As for [`Block::tag`]; the caller owns the block's metadata.
    #[inline]
    pub unsafe fn set_tag(self, tag: Tag) {
        // SAFETY: as for `tag`.
        unsafe { ptr::write(self.0.add(8).cast::<u64>(), tag.0) }
    }
    /// Reads the `prev_size` word (meaningful only under `PREV_FREE`).
    ///
    /// # Safety
    /// As for [`Block::tag`].
    #[inline]
    pub unsafe fn prev_size(self) -> usize {
        // SAFETY: as for `tag`.
        unsafe { ptr::read(self.0.cast::<u64>()) as usize }
    }
    /// Writes the `prev_size` word.
    ///
    /// # Safety
    /// As for [`Block::set_tag`]; the previous block is free.
    #[inline]
    pub unsafe fn set_prev_size(self, size: usize) {
        // SAFETY: as for `tag`.
        unsafe { ptr::write(self.0.cast::<u64>(), size as u64) }
    }
    /// Sets or clears `PREV_FREE` without touching the rest of the tag.
    ///
    /// # Safety
    /// As for [`Block::set_tag`].
    #[inline]
    pub unsafe fn set_prev_free(self, on: bool) {
        // SAFETY: as for `tag`.
        let t = unsafe { self.tag() };
        let flags = if on {
            t.flags() | PREV_FREE
        } else {
            t.flags() & !PREV_FREE
        };
        // SAFETY: as for `tag`.
        unsafe { self.set_tag(Tag::new(t.size(), flags)) }
    }
    /// Clears `PREV_FREE` with one masked write (the used-block fast path).
    ///
    /// # Safety
    /// As for [`Block::set_tag`].
    #[inline]
    pub unsafe fn clear_prev_free(self) {
        // SAFETY: as for `tag`.
        unsafe {
            let t = self.tag();
            self.set_tag(Tag(t.0 & !((PREV_FREE as u64) << 32)));
        }
    }
    /// The free-list links `(next, prev)` of a free block.
    ///
    /// # Safety
    /// `self` is a free block (at least [`MIN_BLOCK`] bytes) of the heap.
    #[inline]
    pub unsafe fn links(self) -> (*mut u8, *mut u8) {
        // SAFETY: a free block has 16 bytes of link space after its header.
        unsafe {
            let p = self.0.add(HEADER).cast::<*mut u8>();
            (ptr::read(p), ptr::read(p.add(1)))
        }
    }
    /// Reads the `next` link of a free or cached block (the first word of
    /// its payload). A cached block has only this link: the word after it
    /// is whatever its last owner left there, perhaps never written, so it
    /// is not read.
    ///
    /// # Safety
    /// `self` is a free or cached block (at least [`MIN_BLOCK`] bytes) of
    /// the heap.
    #[inline]
    pub unsafe fn next_link(self) -> *mut u8 {
        // SAFETY: such a block has its link word after its header.
        unsafe { ptr::read(self.0.add(HEADER).cast::<*mut u8>()) }
    }
    /// Sets the `next` link of a free block.
    ///
    /// # Safety
    /// As for [`Block::links`].
    #[inline]
    pub unsafe fn set_next(self, next: *mut u8) {
        // SAFETY: as for `links`.
        unsafe { ptr::write(self.0.add(HEADER).cast::<*mut u8>(), next) }
    }
    /// Sets the `prev` link of a free block.
    ///
    /// # Safety
    /// As for [`Block::links`].
    #[inline]
    pub unsafe fn set_prev(self, prev: *mut u8) {
        // SAFETY: as for `links`.
        unsafe { ptr::write(self.0.add(HEADER + 8).cast::<*mut u8>(), prev) }
    }
}

/// Block size for a request of `size` payload bytes, or `None` past `max`.
#[inline]
pub const fn block_size(size: usize) -> Option<usize> {
    // One compare rules out both an overflow and a block past the largest
    // (`MAX_BLOCK` is a multiple of 16, so this is the largest size whose
    // block fits).
    if size > super::class::MAX_BLOCK - OVERHEAD {
        return None;
    }
    let s = (size + OVERHEAD + GRANULE - 1) & !(GRANULE - 1);
    if s < MIN_BLOCK {
        Some(MIN_BLOCK)
    } else {
        Some(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_round_trip() {
        let t = Tag::new(0x1230, FREE | END);
        assert!(t.magic_ok());
        assert_eq!(t.size(), 0x1230);
        assert!(t.has(FREE) && t.has(END) && !t.has(PREV_FREE));
        assert!(!Tag(0x1230 << 32).magic_ok());
    }

    #[test]
    fn block_sizes() {
        assert_eq!(block_size(0), Some(32));
        assert_eq!(block_size(24), Some(32));
        assert_eq!(block_size(25), Some(48));
        assert_eq!(block_size(usize::MAX), None);
        assert_eq!(block_size(1 << 40), None);
        let max = super::super::class::MAX_BLOCK;
        assert_eq!(block_size(max - OVERHEAD), Some(max));
        assert_eq!(block_size(max - OVERHEAD + 1), None);
    }
}
