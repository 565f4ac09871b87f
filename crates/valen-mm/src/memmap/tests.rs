use super::*;

fn map(entries: &[(u64, u64, RegionKind)]) -> MemoryMap {
    let mut m = MemoryMap::new();
    for &(s, e, k) in entries {
        m.push(s, e, k).unwrap();
    }
    m
}

fn triples(m: &MemoryMap) -> Vec<(u64, u64, RegionKind)> {
    m.regions()
        .iter()
        .map(|r| (r.start.as_u64(), r.end.as_u64(), r.kind))
        .collect()
}

use RegionKind::*;

#[test]
fn sorts_and_merges_neighbours() {
    let mut m = map(&[
        (0x20_0000, 0x30_0000, Usable),
        (0x10_0000, 0x20_0000, Usable),
        (0x0, 0x9fc00, Usable),
    ]);
    m.normalize().unwrap();
    assert_eq!(
        triples(&m),
        vec![(0x0, 0x9f000, Usable), (0x10_0000, 0x30_0000, Usable)]
    );
}

#[test]
fn reserved_wins_over_usable() {
    let mut m = map(&[
        (0x10_0000, 0x100_0000, Usable),
        (0x20_0000, 0x30_0000, Reserved),
        (0x80_0000, 0x90_0000, KernelImage),
    ]);
    m.normalize().unwrap();
    assert_eq!(
        triples(&m),
        vec![
            (0x10_0000, 0x20_0000, Usable),
            (0x20_0000, 0x30_0000, Reserved),
            (0x30_0000, 0x80_0000, Usable),
            (0x80_0000, 0x90_0000, KernelImage),
            (0x90_0000, 0x100_0000, Usable),
        ]
    );
    assert_eq!(
        m.kind_at(PhysAddr::new(0x80_0123).unwrap()),
        Some(KernelImage)
    );
    assert_eq!(m.kind_at(PhysAddr::new(0x200_0000).unwrap()), None);
}

#[test]
fn stronger_non_usable_kind_wins() {
    let mut m = map(&[(0x1000, 0x5000, Reserved), (0x2000, 0x3000, Bad)]);
    m.normalize().unwrap();
    assert_eq!(
        triples(&m),
        vec![
            (0x1000, 0x2000, Reserved),
            (0x2000, 0x3000, Bad),
            (0x3000, 0x5000, Reserved)
        ]
    );
}

#[test]
fn usable_shrinks_inward_and_tiny_pieces_vanish() {
    let mut m = map(&[(0x1800, 0x3800, Usable), (0x5100, 0x5f00, Usable)]);
    m.normalize().unwrap();
    assert_eq!(triples(&m), vec![(0x2000, 0x3000, Usable)]);
}

#[test]
fn usable_neighbour_of_reserved_is_trimmed_not_reserved() {
    // QEMU's [0, 0x9fc00) RAM next to reserved [0x9fc00, 0xa0000).
    let mut m = map(&[(0, 0x9fc00, Usable), (0x9fc00, 0xa0000, Reserved)]);
    m.normalize().unwrap();
    assert_eq!(
        triples(&m),
        vec![(0, 0x9f000, Usable), (0x9fc00, 0xa0000, Reserved)]
    );
}

#[test]
fn totals_use_usable_ram_not_highest_entry() {
    let mut m = map(&[
        (0x10_0000, 0x200_0000, Usable),
        (0xfd_0000_0000, 0x100_0000_0000, Reserved),
    ]);
    m.normalize().unwrap();
    assert_eq!(m.usable_bytes(), 0x1f0_0000);
    assert_eq!(m.highest_usable_end().as_u64(), 0x200_0000);
}

#[test]
fn bad_input_is_rejected_and_changes_nothing() {
    let mut m = map(&[(0x1000, 0x2000, Usable)]);
    assert_eq!(
        m.push(0x3000, 0x2000, Usable),
        Err(MemoryMapError::EmptyOrInverted {
            start: 0x3000,
            end: 0x2000
        })
    );
    assert_eq!(
        m.push(0, 1 << 53, Usable),
        Err(MemoryMapError::BeyondPhysLimit { end: 1 << 53 })
    );
    assert_eq!(m.regions().len(), 1);
    m.push(0x5000, 0x5000, Usable).unwrap(); // empty: ignored
    assert_eq!(m.regions().len(), 1);
}

#[test]
fn full_map_is_reported() {
    let mut m = MemoryMap::new();
    for i in 0..MAX_REGIONS as u64 {
        m.push(i * 0x2000, i * 0x2000 + 0x1000, Usable).unwrap();
    }
    assert_eq!(
        m.push(0x1_0000_0000, 0x1_0000_1000, Usable),
        Err(MemoryMapError::Full)
    );
    let before = triples(&m);
    assert_eq!(m.reserve(0x0, 0x1000, Reserved), Err(MemoryMapError::Full));
    assert_eq!(triples(&m), before);
}

#[test]
fn reserve_carves_a_hole() {
    let mut m = map(&[(0x10_0000, 0x100_0000, Usable)]);
    m.normalize().unwrap();
    m.reserve(0x20_0000, 0x20_1000, BootData).unwrap();
    assert_eq!(
        triples(&m),
        vec![
            (0x10_0000, 0x20_0000, Usable),
            (0x20_0000, 0x20_1000, BootData),
            (0x20_1000, 0x100_0000, Usable),
        ]
    );
    assert!(m.is_usable(
        PhysAddr::new(0x30_0000).unwrap(),
        PhysAddr::new(0x40_0000).unwrap()
    ));
    assert!(!m.is_usable(
        PhysAddr::new(0x1f_0000).unwrap(),
        PhysAddr::new(0x20_1000).unwrap()
    ));
}
