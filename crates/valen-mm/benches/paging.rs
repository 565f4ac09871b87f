//! Paging benchmark: our address space against the `x86_64` crate's
//! `OffsetPageTable`, both walking tables in the same simulated RAM and
//! taking table frames from the same kind of pool.
//!
//! - map 1 GiB as 262,144 single-page `map` calls vs a `map_to` loop;
//! - map the same 1 GiB as one 4 KiB-granular `map_range` vs that loop;
//! - `translate` of random mapped addresses vs `translate_addr`;
//! - the 16 GiB direct map with `map_range` (1 GiB pages) vs a `map_to`
//!   loop over 1 GiB pages, and ours again without 1 GiB support (2 MiB).
//!
//! Targets: per-page `map` no slower than x86_64's; `map_range` at least 3x
//! faster than its loop; `translate` at least as fast.

mod common;

use common::{median_ns_per_op, print_table, Rng, Row};
use std::hint::black_box;
use valen_mm::hosted::{FramePool, HostedRam, RecordingMmu};
use valen_mm::layout::DIRECT_MAP_BASE;
use valen_mm::paging::{AddressSpace, PageFlags, PageSize};
use valen_mm::{FrameAllocator, PhysAddr, VirtAddr};
use x86_64::structures::paging::{
    mapper::CleanUp, FrameAllocator as PeerAllocator, FrameDeallocator, Mapper, OffsetPageTable,
    Page, PageTable, PageTableFlags, PhysFrame, Size1GiB, Size2MiB, Size4KiB, Translate,
};

const KIB4: u64 = 4096;
const GIB: u64 = 1 << 30;
const PAGES_1G: u64 = GIB / KIB4;
/// Table frames come from here; RAM ends at `POOL_END`.
const POOL_START: u64 = 1 << 20;
const POOL_END: u64 = 16 << 20;
/// Where the 1 GiB workloads are mapped, and from which physical address.
const VIRT: u64 = 0xffff_ffff_0000_0000 - 4 * GIB;
const PHYS: u64 = 4 * GIB;
const REPS: usize = 11;

/// The pool, as the x86_64 crate's allocator trait wants it.
struct Peer<'a>(&'a mut FramePool);

// SAFETY: every frame handed out is unused and 4 KiB aligned (the pool's own
// guarantee), and is never handed out twice.
unsafe impl PeerAllocator<Size4KiB> for Peer<'_> {
    fn allocate_frame(&mut self) -> Option<PhysFrame<Size4KiB>> {
        let f = self.0.allocate_frame()?;
        Some(PhysFrame::containing_address(x86_64::PhysAddr::new(
            f.start().as_u64(),
        )))
    }
}

impl FrameDeallocator<Size4KiB> for Peer<'_> {
    unsafe fn deallocate_frame(&mut self, frame: PhysFrame<Size4KiB>) {
        let f = valen_mm::Frame::containing(PhysAddr::new(frame.start_address().as_u64()).unwrap());
        // SAFETY: the crate gives back only table frames it got from us.
        unsafe { self.0.deallocate_frame(f) };
    }
}

/// An MMU that flushes nothing, as the crate's `MapperFlush::ignore` does,
/// so unmapping is compared without the recording MMU's bookkeeping.
struct NullMmu;

impl valen_mm::arch::Mmu for NullMmu {
    fn flush_page(&self, _: VirtAddr) {}
    fn flush_all(&self) {}
    fn root(&self) -> PhysAddr {
        PhysAddr::ZERO
    }
    unsafe fn set_root(&self, _: PhysAddr) {}
    fn has_1g_pages(&self) -> bool {
        true
    }
    fn has_nx(&self) -> bool {
        true
    }
}

fn pool(ram: &HostedRam) -> FramePool {
    FramePool::new(
        ram,
        PhysAddr::new(POOL_START).unwrap(),
        PhysAddr::new(POOL_END).unwrap(),
    )
    .unwrap()
}

/// A zeroed PML4 from `pool` and the crate's mapper over it.
fn peer_table<'a>(ram: &'a HostedRam, pool: &mut FramePool) -> OffsetPageTable<'a> {
    let root = pool.allocate_frame().unwrap().start().as_u64() as usize;
    // SAFETY: the frame is inside the simulated RAM, aligned, and ours alone.
    let pml4 = unsafe { &mut *ram.base().add(root).cast::<PageTable>() };
    pml4.zero();
    // SAFETY: all simulated RAM is mapped at `base()`; tables stay inside it.
    unsafe { OffsetPageTable::new(pml4, x86_64::VirtAddr::new(ram.base() as u64)) }
}

fn peer_map_4k(t: &mut OffsetPageTable<'_>, pool: &mut FramePool, pages: u64) {
    let flags = PageTableFlags::PRESENT | PageTableFlags::WRITABLE;
    let mut alloc = Peer(pool);
    for i in 0..pages {
        let page = Page::<Size4KiB>::containing_address(x86_64::VirtAddr::new(VIRT + i * KIB4));
        let frame = PhysFrame::containing_address(x86_64::PhysAddr::new(PHYS + KIB4 + i * KIB4));
        // SAFETY: a fresh hierarchy in simulated RAM that no CPU uses; the
        // TLB flush is skipped because nothing is active.
        unsafe { t.map_to(page, frame, flags, &mut alloc) }
            .unwrap()
            .ignore();
    }
}

fn main() {
    let ram = HostedRam::new(POOL_END).unwrap();
    // Touch the pool once so no run pays the host's first-touch page faults.
    for a in (POOL_START..POOL_END).step_by(KIB4 as usize) {
        ram.write_u64(PhysAddr::new(a).unwrap(), 0);
    }
    let mmu = RecordingMmu::new(true);
    let no_1g = RecordingMmu::new(false);
    let rw = PageFlags::PRESENT | PageFlags::WRITE;
    let space = |pool: &mut FramePool| AddressSpace::new(&ram, &mmu, pool).unwrap();

    let mut rows = Vec::new();
    let ours = median_ns_per_op(
        REPS,
        || pool(&ram),
        |mut p| {
            let mut s = space(&mut p);
            for i in 0..PAGES_1G {
                let v = VirtAddr::new(VIRT + i * KIB4).unwrap();
                let f = PhysAddr::new(PHYS + KIB4 + i * KIB4).unwrap();
                s.map(v, f, rw, &mut p).unwrap();
            }
            (PAGES_1G, s.root())
        },
    );
    let peer = median_ns_per_op(
        REPS,
        || pool(&ram),
        |mut p| {
            let mut t = peer_table(&ram, &mut p);
            peer_map_4k(&mut t, &mut p, PAGES_1G);
            (PAGES_1G, p.outstanding())
        },
    );
    rows.push(row("1 GiB as 262,144 `map` calls", ours, peer));
    let ours = median_ns_per_op(
        REPS,
        || pool(&ram),
        |mut p| {
            let mut s = space(&mut p);
            let (v, f) = (
                VirtAddr::new(VIRT).unwrap(),
                PhysAddr::new(PHYS + KIB4).unwrap(),
            );
            s.map_range(v, f, GIB, rw, &mut p).unwrap();
            (PAGES_1G, s.root())
        },
    );
    rows.push(row("1 GiB as one `map_range` (4 KiB pages)", ours, peer));
    print_table("Mapping 1 GiB with 4 KiB pages", "ns/page", &rows);

    // Unmapping that GiB again and freeing its 513 tables (x86_64: `unmap`
    // loop, then its `clean_up` scan, since it keeps no counts).
    let null = NullMmu;
    let mapped = || {
        let mut p = pool(&ram);
        let mut s = AddressSpace::new(&ram, &null, &mut p).unwrap();
        let (v, f) = (
            VirtAddr::new(VIRT).unwrap(),
            PhysAddr::new(PHYS + KIB4).unwrap(),
        );
        s.map_range(v, f, GIB, rw, &mut p).unwrap();
        (p, s)
    };
    let ours_one = median_ns_per_op(REPS, mapped, |(mut p, mut s)| {
        for i in 0..PAGES_1G {
            s.unmap(VirtAddr::new(VIRT + i * KIB4).unwrap(), &mut p)
                .unwrap();
        }
        (PAGES_1G, p.outstanding())
    });
    let ours_range = median_ns_per_op(REPS, mapped, |(mut p, mut s)| {
        s.unmap_range(VirtAddr::new(VIRT).unwrap(), GIB, &mut p, |m| {
            black_box(m);
        })
        .unwrap();
        (PAGES_1G, p.outstanding())
    });
    let peer = median_ns_per_op(
        REPS,
        || {
            let mut p = pool(&ram);
            let mut t = peer_table(&ram, &mut p);
            peer_map_4k(&mut t, &mut p, PAGES_1G);
            (p, t)
        },
        |(mut p, mut t)| {
            for i in 0..PAGES_1G {
                let page =
                    Page::<Size4KiB>::containing_address(x86_64::VirtAddr::new(VIRT + i * KIB4));
                t.unmap(page).unwrap().1.ignore();
            }
            // SAFETY: no CPU uses these tables; emptied ones go back to the pool.
            unsafe { t.clean_up(&mut Peer(&mut p)) };
            (PAGES_1G, p.outstanding())
        },
    );
    print_table(
        "Unmapping 1 GiB of 4 KiB pages and freeing the tables",
        "ns/page",
        &[
            row(
                "262,144 `unmap` calls (x86_64: + `clean_up`)",
                ours_one,
                peer,
            ),
            row(
                "one `unmap_range` (x86_64: `unmap` loop + `clean_up`)",
                ours_range,
                peer,
            ),
        ],
    );

    // Translation: one 4 KiB-mapped GiB, read by both walkers.
    let mut p = pool(&ram);
    let mut s = space(&mut p);
    let (v, f) = (
        VirtAddr::new(VIRT).unwrap(),
        PhysAddr::new(PHYS + KIB4).unwrap(),
    );
    s.map_range_max(v, f, GIB, rw, PageSize::Size4K, &mut p)
        .unwrap();
    let mut rng = Rng::new(0x7a11_5a7e);
    let addrs: Vec<u64> = (0..1 << 20).map(|_| VIRT + rng.below(GIB)).collect();
    let ours_addrs: Vec<VirtAddr> = addrs.iter().map(|&a| VirtAddr::new(a).unwrap()).collect();
    let peer_addrs: Vec<x86_64::VirtAddr> =
        addrs.iter().map(|&a| x86_64::VirtAddr::new(a)).collect();
    let n = addrs.len() as u64;
    let ours = median_ns_per_op(
        REPS,
        || (),
        |()| {
            let sum = ours_addrs
                .iter()
                .map(|&a| s.translate(a).unwrap().phys.as_u64())
                .fold(0, u64::wrapping_add);
            (n, sum)
        },
    );
    let root = s.root().start().as_u64() as usize;
    // SAFETY: the PML4 is in simulated RAM; `s` changes nothing meanwhile.
    let pml4 = unsafe { &mut *ram.base().add(root).cast::<PageTable>() };
    // SAFETY: all simulated RAM is mapped at `base()`.
    let peer_t = unsafe { OffsetPageTable::new(pml4, x86_64::VirtAddr::new(ram.base() as u64)) };
    let peer = median_ns_per_op(
        REPS,
        || (),
        |()| {
            let sum = peer_addrs
                .iter()
                .map(|&a| peer_t.translate_addr(a).unwrap().as_u64())
                .fold(0, u64::wrapping_add);
            (n, sum)
        },
    );
    print_table(
        "Translating random mapped addresses",
        "ns/op",
        &[row("`translate` in 1 GiB of 4 KiB pages", ours, peer)],
    );
    black_box(&s);

    // The 16 GiB direct map.
    let dm = VirtAddr::new(DIRECT_MAP_BASE).unwrap();
    let nx = rw | PageFlags::NO_EXECUTE;
    let ours_1g = median_ns_per_op(
        REPS * 9,
        || pool(&ram),
        |mut p| {
            let mut s = space(&mut p);
            s.map_range(dm, PhysAddr::ZERO, 16 * GIB, nx, &mut p)
                .unwrap();
            (1, s.root())
        },
    );
    let ours_2m = median_ns_per_op(
        REPS,
        || pool(&ram),
        |mut p| {
            let mut s = AddressSpace::new(&ram, &no_1g, &mut p).unwrap();
            s.map_range(dm, PhysAddr::ZERO, 16 * GIB, nx, &mut p)
                .unwrap();
            (1, s.root())
        },
    );
    let flags = PageTableFlags::PRESENT | PageTableFlags::WRITABLE | PageTableFlags::NO_EXECUTE;
    let peer_1g = median_ns_per_op(
        REPS * 9,
        || pool(&ram),
        |mut p| {
            let mut t = peer_table(&ram, &mut p);
            let mut alloc = Peer(&mut p);
            for i in 0..16 {
                let page = Page::<Size1GiB>::containing_address(x86_64::VirtAddr::new(
                    DIRECT_MAP_BASE + i * GIB,
                ));
                let frame =
                    PhysFrame::<Size1GiB>::containing_address(x86_64::PhysAddr::new(i * GIB));
                // SAFETY: a fresh hierarchy that no CPU uses.
                unsafe { t.map_to(page, frame, flags, &mut alloc) }
                    .unwrap()
                    .ignore();
            }
            (1, alloc.0.outstanding())
        },
    );
    let peer_2m = median_ns_per_op(
        REPS,
        || pool(&ram),
        |mut p| {
            let mut t = peer_table(&ram, &mut p);
            let mut alloc = Peer(&mut p);
            let step = 2 << 20;
            for i in 0..(16 * GIB / step) {
                let page = Page::<Size2MiB>::containing_address(x86_64::VirtAddr::new(
                    DIRECT_MAP_BASE + i * step,
                ));
                let frame =
                    PhysFrame::<Size2MiB>::containing_address(x86_64::PhysAddr::new(i * step));
                // SAFETY: a fresh hierarchy that no CPU uses.
                unsafe { t.map_to(page, frame, flags, &mut alloc) }
                    .unwrap()
                    .ignore();
            }
            (1, alloc.0.outstanding())
        },
    );
    print_table(
        "The 16 GiB direct map (whole operation)",
        "ns",
        &[
            row(
                "16 x 1 GiB pages: `map_range` vs `map_to` loop",
                ours_1g,
                peer_1g,
            ),
            row("no 1 GiB support: 8,192 x 2 MiB pages", ours_2m, peer_2m),
        ],
    );
}

fn row(name: &str, ours: f64, peer: f64) -> Row {
    Row {
        name: name.into(),
        values: vec![("valen-mm".into(), ours), ("x86_64".into(), peer)],
    }
}
