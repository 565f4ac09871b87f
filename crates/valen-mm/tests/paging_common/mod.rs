//! Shared by the paging test binaries: a hosted rig (RAM, recording MMU,
//! frame pool) and a dump of every table entry, to compare before/after.

#![allow(dead_code)]

use valen_mm::hosted::{FramePool, HostedRam, RecordingMmu};
use valen_mm::paging::{AddressSpace, Entry, PageFlags};
use valen_mm::{PhysAddr, VirtAddr};

pub mod model;

/// Table frames come from `[POOL_START, POOL_END)` of the simulated RAM.
pub const POOL_START: u64 = 1 << 20;
/// End of the pool (and of the RAM).
pub const POOL_END: u64 = 64 << 20;

pub const KB4: u64 = 4096;
pub const MB2: u64 = 2 << 20;
pub const GB1: u64 = 1 << 30;

/// Simulated RAM, a recording MMU and a pool of table frames.
pub fn rig(has_1g: bool) -> (HostedRam, RecordingMmu, FramePool) {
    let ram = HostedRam::new(POOL_END).unwrap();
    let pool = FramePool::new(&ram, pa(POOL_START), pa(POOL_END)).unwrap();
    (ram, RecordingMmu::new(has_1g), pool)
}

pub type Space<'a> = AddressSpace<&'a HostedRam, &'a RecordingMmu>;

/// A fresh, empty space.
pub fn space<'a>(ram: &'a HostedRam, mmu: &'a RecordingMmu, pool: &mut FramePool) -> Space<'a> {
    AddressSpace::new(ram, mmu, pool).unwrap()
}

pub fn pa(a: u64) -> PhysAddr {
    PhysAddr::new(a).unwrap()
}

pub fn va(a: u64) -> VirtAddr {
    VirtAddr::new(a).unwrap()
}

pub fn rw() -> PageFlags {
    PageFlags::PRESENT | PageFlags::WRITE
}

/// Every present entry of every table: (table, index, raw entry), in walk
/// order, read straight from simulated RAM.
pub fn dump(ram: &HostedRam, root: PhysAddr) -> Vec<(u64, usize, u64)> {
    let mut out = Vec::new();
    dump_table(ram, root.as_u64(), 4, &mut out);
    out
}

fn dump_table(ram: &HostedRam, table: u64, level: u8, out: &mut Vec<(u64, usize, u64)>) {
    for i in 0..512 {
        let raw = ram.read_u64(pa(table + 8 * i as u64)).unwrap();
        let e = Entry::from_raw(raw);
        if !e.is_present() {
            continue;
        }
        out.push((table, i, raw));
        if level > 1 && !e.is_leaf(level) {
            dump_table(ram, e.addr(), level - 1, out);
        }
    }
}

/// The frames of every table of the hierarchy, the root included.
pub fn table_frames(ram: &HostedRam, root: PhysAddr) -> Vec<u64> {
    let mut out = vec![root.as_u64()];
    let mut i = 0;
    let mut levels = vec![4u8];
    while i < out.len() {
        let (table, level) = (out[i], levels[i]);
        for k in 0..512 {
            let e = Entry::from_raw(ram.read_u64(pa(table + 8 * k)).unwrap());
            if level > 1 && e.is_present() && !e.is_leaf(level) {
                out.push(e.addr());
                levels.push(level - 1);
            }
        }
        i += 1;
    }
    out
}
