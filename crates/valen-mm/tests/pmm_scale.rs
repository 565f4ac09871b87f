//! Scale: a PMM over a 1 TiB synthetic map with many holes, and over the AMD
//! preset whose reserved range near 1 TiB must not size the bitmap. Touches
//! only the bitmap and the frames it hands out.

use valen_mm::hosted::{synthetic_map, HostedRam, Preset};
use valen_mm::pmm::{bitmap_bytes, Pmm};
use valen_mm::{PhysAddr, RegionKind};

const TIB: u64 = 1 << 40;

#[test]
fn one_tebibyte_inits_and_allocates() {
    let map = synthetic_map(42, TIB, 120);
    let end = map.highest_usable_end().as_u64();
    assert!(end > TIB / 2);
    let ram = HostedRam::new(end).unwrap();
    // SAFETY: fresh hosted RAM, used only by this PMM.
    let mut p = unsafe { Pmm::from_map(&map, &ram) }.unwrap();
    assert_eq!(p.total_frames(), map.usable_bytes() / 4096);
    assert_eq!(p.placement().bytes, bitmap_bytes(end));
    // About 1.05 bits per frame: 34 MiB of bitmap for 1 TiB.
    assert!(p.placement().bytes * 8 <= end / 4096 * 11 / 10);

    let mut got = Vec::new();
    for _ in 0..10_000 {
        got.push(p.alloc_page().unwrap());
    }
    let run = p.alloc_contiguous(512 * 512, 512 * 512).unwrap().unwrap(); // 1 GiB, 1 GiB aligned
    assert_eq!(run.start().as_u64() % (1 << 30), 0);
    let high = p.alloc_contiguous(300, 512).unwrap().unwrap();
    for f in got.iter().chain([&run, &high]) {
        assert_eq!(
            map.kind_at(f.start()),
            Some(RegionKind::Usable),
            "{f:?} is not usable RAM"
        );
    }
    let used = p.used_frames();
    for f in &got {
        p.free_page(f.start()).unwrap();
    }
    p.free_pages(run.start(), 512 * 512).unwrap();
    p.free_pages(high.start(), 300).unwrap();
    assert_eq!(p.used_frames(), used - 10_000 - 512 * 512 - 300);
}

#[test]
fn amd_hole_near_one_tebibyte_does_not_size_the_bitmap() {
    let map = Preset::Pc16GAmd.map();
    let ram = HostedRam::new(map.highest_usable_end().as_u64()).unwrap();
    // SAFETY: fresh hosted RAM, used only by this PMM.
    let p = unsafe { Pmm::from_map(&map, &ram) }.unwrap();
    assert_eq!(p.ram_end().as_u64(), 0x4_4000_0000);
    assert_eq!(p.total_kb(), map.usable_bytes() / 1024);
    assert!(p.placement().bytes <= bitmap_bytes(0x4_4000_0000));
    let beyond = PhysAddr::new(0xfd_0000_0000).unwrap();
    assert!(p.is_free(beyond).is_err());
}
