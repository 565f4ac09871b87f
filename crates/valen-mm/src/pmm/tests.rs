//! Unit tests of the PMM as a whole: constructors, placement, the spec's
//! calls and their statistics.

use super::*;
use crate::addr::{PhysAddr, VirtAddr};
use crate::hosted::{HostedMachine, Preset};
use crate::memmap::RegionKind;

const MIB: u64 = 1 << 20;

fn pa(a: u64) -> PhysAddr {
    PhysAddr::new(a).unwrap()
}

#[test]
fn from_map_places_the_bitmap_above_16_mib_and_protects_it() {
    let mut m = HostedMachine::preset(Preset::Pc128M).unwrap();
    m.map
        .reserve(2 * MIB, 4 * MIB, RegionKind::KernelImage)
        .unwrap();
    // SAFETY: fresh hosted RAM, used only by this PMM.
    let mut p = unsafe { Pmm::from_map(&m.map, &m.ram) }.unwrap();
    let place = p.placement();
    assert_eq!(place.phys, Some(pa(16 * MIB)));
    assert_eq!(place.frames, 0x7fe0000 / 4096);
    assert_eq!(place.bytes, bitmap_bytes(0x7fe0000));
    assert_eq!(place.virt.as_u64(), m.ram.base() as u64 + 16 * MIB);
    // Totals count usable RAM (the kernel image is not usable any more).
    assert_eq!(p.total_kb(), m.map.usable_bytes() / 1024);
    let bitmap_frames = place.bytes.div_ceil(4096);
    let below_2m = 0x9f000 / 4096 + (2 * MIB - MIB) / 4096;
    assert_eq!(p.used_frames(), below_2m + bitmap_frames);
    assert_eq!(p.is_free(pa(16 * MIB)), Ok(false));
    assert_eq!(
        p.free_page(pa(16 * MIB)),
        Err(PmmError::Reserved { addr: 16 * MIB })
    );
    // The first frames handed out are right after the kernel image.
    assert_eq!(p.alloc_page().unwrap().start(), pa(4 * MIB));
    assert_eq!(p.check(), Ok(()));
}

#[test]
fn small_machines_place_the_bitmap_above_2_mib() {
    let m = HostedMachine::preset(Preset::Pc10M).unwrap();
    // SAFETY: fresh hosted RAM, used only by this PMM.
    let p = unsafe { Pmm::from_map(&m.map, &m.ram) }.unwrap();
    assert_eq!(p.placement().phys, Some(pa(2 * MIB)));
    assert_eq!(p.check(), Ok(()));
}

#[test]
fn spec_init_at_an_address_frees_everything_from_2_mib() {
    let mut store = vec![0u64; storage_words(32 * MIB / 4096) as usize];
    let v = VirtAddr::from_ptr(store.as_mut_ptr());
    // SAFETY: `store` is big enough, aligned, outlives `p` and is not used
    // while `p` lives.
    let mut p = unsafe { Pmm::init(v, 32 * MIB) }.unwrap();
    assert_eq!(p.total_kb(), 32 * 1024);
    assert_eq!(p.used_kb(), 2 * 1024);
    assert_eq!(p.placement().phys, None);
    assert_eq!(p.alloc_page().unwrap().start(), pa(2 * MIB));
    // The caller marks what the spec's init cannot know about.
    p.mark_used_range(pa(3 * MIB), 16).unwrap();
    assert_eq!(p.used_kb(), 2 * 1024 + 4 + 64);
    assert_eq!(p.check(), Ok(()));
}

#[test]
fn spec_free_page_on_a_run_frees_only_its_first_frame() {
    let mut store = vec![0u64; storage_words(32 * MIB / 4096) as usize];
    let mut p = Pmm::new_in(&mut store, &Preset::Pc32M.map()).unwrap();
    let used = p.used_frames();
    let run = p.alloc_pages(4).unwrap().unwrap();
    p.free_page(run.start()).unwrap();
    assert_eq!(p.used_frames(), used + 3, "the other three stay allocated");
    p.free_pages(pa(run.start().as_u64() + 4096), 3).unwrap();
    assert_eq!(p.used_frames(), used);
}

#[test]
fn aligned_runs_and_limits() {
    let map = Preset::Pc4G.map();
    let mut store = vec![0u64; bitmap_bytes(map.highest_usable_end().as_u64()) as usize / 8];
    let mut p = Pmm::new_in(&mut store, &map).unwrap();
    p.alloc_page().unwrap();
    let big = p.alloc_contiguous(512, 512).unwrap().unwrap();
    assert_eq!(big.start().as_u64() % (2 * MIB), 0);
    let odd = p.alloc_contiguous(3, 1).unwrap().unwrap();
    assert_eq!(
        odd.start().as_u64(),
        2 * MIB + 4096,
        "no rounding up, first fit"
    );
    let isa = p.alloc_page_below(ISA_DMA_LIMIT).unwrap();
    assert!(isa.start() < ISA_DMA_LIMIT);
    let dma = p
        .alloc_contiguous_below(100, 4, ISA_DMA_LIMIT)
        .unwrap()
        .unwrap();
    assert!(dma.start().as_u64() + 100 * 4096 <= 16 * MIB);
    let high = p
        .alloc_contiguous_below(1000, 1, DMA32_LIMIT)
        .unwrap()
        .unwrap();
    assert!(high.start().as_u64() + 1000 * 4096 <= 4 << 30);
    // Nothing is free below 2 MiB.
    assert_eq!(p.alloc_page_below(PhysAddr::new(2 * MIB).unwrap()), None);
    assert_eq!(p.alloc_contiguous_below(1, 1, pa(2 * MIB)), Ok(None));
    assert_eq!(p.check(), Ok(()));
}

#[test]
fn locked_pmm_offers_the_spec_names() {
    let mut store = vec![0u64; storage_words(128 * MIB / 4096) as usize];
    let p = LockedPmm::new(Pmm::new_in(&mut store, &Preset::Pc128M.map()).unwrap());
    let f = p.alloc_page().unwrap();
    assert_eq!(p.get_used_kb() + p.get_free_kb(), p.get_total_kb());
    p.free_page(f.start()).unwrap();
    assert_eq!(
        p.free_page(f.start()),
        Err(PmmError::DoubleFree {
            addr: f.start().as_u64()
        })
    );
    assert_eq!(p.into_inner().check(), Ok(()));
}

#[test]
fn frame_allocator_trait_hands_out_runs_given_back_frame_by_frame() {
    use crate::frame_alloc::FrameAllocator;
    let mut store = vec![0u64; storage_words(32 * MIB / 4096) as usize];
    let mut p = Pmm::new_in(&mut store, &Preset::Pc32M.map()).unwrap();
    let used = p.used_frames();
    let run = p.allocate_contiguous(3).unwrap();
    let one = p.allocate_frame().unwrap();
    assert_eq!(p.used_frames(), used + 4);
    for i in 0..3 {
        let f = crate::addr::Frame::from_number(run.number() + i).unwrap();
        // SAFETY: part of the run allocated above, no longer used.
        unsafe { p.deallocate_frame(f) };
    }
    // SAFETY: allocated above, no longer used.
    unsafe { p.deallocate_frame(one) };
    assert_eq!(p.used_frames(), used);
    assert_eq!(p.allocate_contiguous(0), None);
}

#[test]
fn single_frames_come_back_newest_first_and_stale_ones_are_skipped() {
    let mut store = vec![0u64; storage_words(32 * MIB / 4096) as usize];
    let mut p = Pmm::new_in(&mut store, &Preset::Pc32M.map()).unwrap();
    let [a, b, c, d] = [(); 4].map(|_| p.alloc_page().unwrap().start());
    let free = p.free_frames();
    for x in [a, b, c, d] {
        p.free_page(x).unwrap();
    }
    assert_eq!(p.recent.len(), 4);
    assert_eq!(p.free_frames(), free + 4);
    // Behind the list's back: `d` and `c` are marked used, `a` is taken by
    // a run below a limit (the lowest free frame); then `a` is freed again.
    p.mark_used(d).unwrap();
    let run = p
        .alloc_contiguous_below(1, 1, pa(c.as_u64() + 4096))
        .unwrap();
    assert_eq!(
        run.map(|f| f.start()),
        Some(a),
        "lowest first below a limit"
    );
    p.mark_used(c).unwrap();
    p.free_page(a).unwrap();
    // The list is a b c d a (newest last): a, then d and c are stale, then b.
    assert_eq!(p.alloc_page().map(|f| f.start()), Some(a));
    assert_eq!(p.alloc_page().map(|f| f.start()), Some(b));
    assert_eq!(p.recent.len(), 1);
    assert_eq!(p.used_frames(), p.total_frames() - free);
    assert_eq!(p.check(), Ok(()));
    // The last entry (the first `a`) is stale too; then the next-fit search.
    let e = p.alloc_page().unwrap().start();
    assert!(![a, b, c, d].contains(&e));
    assert_eq!(p.recent.len(), 0);
    assert_eq!(p.free_frames(), free - 1);
    assert_eq!(p.check(), Ok(()));
}

#[test]
fn more_frees_than_the_list_holds() {
    let mut store = vec![0u64; storage_words(32 * MIB / 4096) as usize];
    let mut p = Pmm::new_in(&mut store, &Preset::Pc32M.map()).unwrap();
    let n = 3 * super::recent::RECENT_SLOTS;
    let frames: Vec<_> = (0..n).map(|_| p.alloc_page().unwrap()).collect();
    let free = p.free_frames();
    for f in &frames {
        p.free_page(f.start()).unwrap();
    }
    assert_eq!(p.free_frames(), free + n as u64);
    let mut again: Vec<_> = (0..n).map(|_| p.alloc_page().unwrap()).collect();
    assert_eq!(p.free_frames(), free);
    again.sort();
    again.dedup();
    assert_eq!(again.len(), n, "no frame handed out twice");
    assert_eq!(p.check(), Ok(()));
}

#[test]
fn the_held_frame_is_free_to_every_call() {
    let mut store = vec![0u64; storage_words(32 * MIB / 4096) as usize];
    let mut p = Pmm::new_in(&mut store, &Preset::Pc32M.map()).unwrap();
    let [a, b] = [(); 2].map(|_| p.alloc_page().unwrap().start());
    let free = p.free_frames();
    p.free_page(a).unwrap();
    // Held: its bit is still set, yet it is free to everyone outside.
    assert_eq!(p.recent.held(), a.as_u64() / 4096);
    assert_eq!(p.free_frames(), free + 1);
    assert_eq!(p.is_free(a), Ok(true));
    assert_eq!(p.check(), Ok(()));
    assert_eq!(
        p.free_page(a),
        Err(PmmError::DoubleFree { addr: a.as_u64() })
    );
    assert_eq!(
        p.mark_free(a),
        Err(PmmError::DoubleFree { addr: a.as_u64() })
    );
    assert_eq!(p.free_frames(), free + 1);
    // A free followed by an allocation hands the held frame back.
    assert_eq!(p.alloc_page().map(|f| f.start()), Some(a));
    assert_eq!(p.recent.held(), 0);
    assert_eq!(p.is_free(a), Ok(false));
    assert_eq!(p.free_frames(), free);
    assert_eq!(p.check(), Ok(()));
    // Any other call settles it first: marked used, it is gone for good.
    p.free_page(b).unwrap();
    p.mark_used(b).unwrap();
    assert_eq!(p.recent.held(), 0);
    assert_eq!(p.free_frames(), free);
    assert_eq!(p.check(), Ok(()));
    assert_ne!(p.alloc_page().map(|f| f.start()), Some(b));
    // Two frees in a row: the second settles the first.
    let free = p.free_frames();
    p.free_page(a).unwrap();
    p.free_page(b).unwrap();
    assert_eq!(p.recent.held(), b.as_u64() / 4096);
    assert_eq!((p.is_free(a), p.is_free(b)), (Ok(true), Ok(true)));
    assert_eq!(p.free_frames(), free + 2);
    assert_eq!(p.check(), Ok(()));
    assert_eq!(
        p.free_page(a),
        Err(PmmError::DoubleFree { addr: a.as_u64() })
    );
    assert_eq!(p.alloc_page().map(|f| f.start()), Some(b));
    assert_eq!(p.alloc_page().map(|f| f.start()), Some(a));
    assert_eq!(p.free_frames(), free);
    assert_eq!(p.check(), Ok(()));
}
