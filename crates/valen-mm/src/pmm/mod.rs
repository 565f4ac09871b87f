//! The physical memory manager (PMM): which 4 KiB frames of RAM are free.
//!
//! ```text
//!   LockedPmm      SpinLock<Pmm>: the same calls through &self (locked.rs)
//!     Pmm          typed addresses, checks every argument, statistics (pmm.rs);
//!                  constructors and bitmap placement (init.rs)
//!       Recent       the frames freed last, which single-frame allocation
//!                    takes first: the newest held back with its bit still
//!                    set, older ones while still free (recent.rs)
//!       FrameBitmap  1 bit per frame + "has-free" / "empty" summaries and a
//!                    map of entirely allocatable 64-frame chunks (bitmap.rs)
//!         Tree         the summary levels (tree.rs); run searches (search.rs);
//!                      run checks and updates (update.rs)
//!       FrameRanges  the frames it may ever hand out (ranges.rs)
//! ```
//!
//! Costs: single-frame allocation and free are a handful of word operations
//! (a free followed by an allocation reads one bitmap word and writes none:
//! the frame freed last is held back and handed out again; else a recently
//! freed frame if it is still free, else next fit through the summary,
//! never a scan from the start); a run search skips full words and,
//! for long runs, whole 4096-frame groups without an entirely free word;
//! bitmap, summaries and chunk map take about 1.047 bits per frame, and the
//! list of recently freed frames a fixed 144 bytes inside the `Pmm`.
//!
//! Everything the spec's PMM does (`pmm_init`, `pmm_alloc_page`,
//! `pmm_alloc_pages`, `pmm_free_page`, `pmm_mark_free`, `pmm_mark_used`,
//! `pmm_get_*_kb`), plus init straight from a memory map, aligned runs,
//! allocation below a limit, frees of runs, range versions of the marks, and
//! errors that say what was wrong. Frames below 2 MiB, the kernel image, boot
//! data, the bitmap itself and anything the map does not call usable are
//! never handed out.

mod bitmap;
mod error;
mod init;
mod locked;
#[allow(clippy::module_inception)]
mod pmm;
mod ranges;
mod recent;
mod search;
mod tree;
mod update;

pub use bitmap::storage_words;
pub use error::{Corruption, PmmError, PmmInitError};
pub use init::{bitmap_bytes, BitmapPlacement};
pub use locked::LockedPmm;
pub use pmm::{Pmm, DMA32_LIMIT, ISA_DMA_LIMIT, MIN_ALLOC_ADDR};

/// The first frame the PMM ever hands out (2 MiB / 4 KiB).
pub(crate) const FIRST_FRAME: u64 = MIN_ALLOC_ADDR / crate::addr::PAGE_SIZE;

#[cfg(all(test, feature = "hosted"))]
mod tests;
