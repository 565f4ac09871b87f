//! A recording MMU: remembers every flush and root change.

use crate::addr::{PhysAddr, VirtAddr};
use crate::arch::Mmu;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;

/// One TLB invalidation the code under test asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flush {
    /// `invlpg` of the page holding this address.
    Page(VirtAddr),
    /// A full flush (CR3 reload).
    All,
}

/// An [`Mmu`] for the host: records flushes and CR3 writes.
#[derive(Debug)]
pub struct RecordingMmu {
    flushes: Mutex<Vec<Flush>>,
    root: AtomicU64,
    root_writes: AtomicU64,
    has_1g: AtomicBool,
}

impl RecordingMmu {
    /// A fresh MMU; `has_1g_pages` says whether it claims 1 GiB page support.
    pub fn new(has_1g_pages: bool) -> Self {
        Self {
            flushes: Mutex::new(Vec::new()),
            root: AtomicU64::new(0),
            root_writes: AtomicU64::new(0),
            has_1g: AtomicBool::new(has_1g_pages),
        }
    }

    /// Turns 1 GiB page support on or off (as if CPUID said so).
    pub fn set_1g_pages(&self, on: bool) {
        self.has_1g.store(on, Ordering::Relaxed);
    }

    /// The flushes recorded since the last call, oldest first.
    pub fn take_flushes(&self) -> Vec<Flush> {
        core::mem::take(&mut *self.flushes.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// How many times CR3 was written.
    pub fn root_writes(&self) -> u64 {
        self.root_writes.load(Ordering::Relaxed)
    }

    fn record(&self, f: Flush) {
        self.flushes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(f);
    }
}

impl Mmu for RecordingMmu {
    fn flush_page(&self, addr: VirtAddr) {
        self.record(Flush::Page(addr.align_down(4096)));
    }

    fn flush_all(&self) {
        self.record(Flush::All);
    }

    fn root(&self) -> PhysAddr {
        PhysAddr::new_truncate(self.root.load(Ordering::Relaxed))
    }

    unsafe fn set_root(&self, pml4: PhysAddr) {
        self.root.store(pml4.as_u64(), Ordering::Relaxed);
        self.root_writes.fetch_add(1, Ordering::Relaxed);
        self.record(Flush::All);
    }

    fn has_1g_pages(&self) -> bool {
        self.has_1g.load(Ordering::Relaxed)
    }

    fn has_nx(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_in_order() {
        let mmu = RecordingMmu::new(false);
        mmu.flush_page(VirtAddr::new(0x1234).unwrap());
        mmu.flush_all();
        // SAFETY: the recording MMU has no real tables to break.
        unsafe { mmu.set_root(PhysAddr::new(0x5000).unwrap()) };
        assert_eq!(
            mmu.take_flushes(),
            vec![
                Flush::Page(VirtAddr::new(0x1000).unwrap()),
                Flush::All,
                Flush::All
            ]
        );
        assert!(mmu.take_flushes().is_empty());
        assert_eq!(mmu.root().as_u64(), 0x5000);
        assert_eq!(mmu.root_writes(), 1);
        assert!(!mmu.has_1g_pages());
    }
}
