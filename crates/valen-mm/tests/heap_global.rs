//! The heap as the `#[global_allocator]` of this test binary (hosted `mmap`
//! growth): several threads build and drop `Vec`, `String`, `BTreeMap` and
//! `HashMap` workloads and check them with checksums.

use std::collections::{BTreeMap, HashMap};
use valen_mm::heap::{LockedHeap, MmapGrowth};

/// The growth reservation: 8 GiB of address space natively; Miri allocates
/// a reservation whole, so under it a smaller one.
const RESERVE: usize = if cfg!(miri) { 256 << 20 } else { 8 << 30 };
/// Rounds of each thread's workload, the spread of its collection sizes and
/// its boxes per round (smaller under Miri, which interprets every step).
const ROUNDS: u64 = if cfg!(miri) { 2 } else { 40 };
const SPREAD: u64 = if cfg!(miri) { 200 } else { 2000 };
const BOXES: usize = if cfg!(miri) { 8 } else { 64 };

#[global_allocator]
static HEAP: LockedHeap<MmapGrowth> = LockedHeap::new(MmapGrowth::new(RESERVE));

/// A small deterministic generator (one per thread).
fn step(x: &mut u64) -> u64 {
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    *x
}

fn workload(seed: u64) -> u64 {
    let mut x = seed | 1;
    let mut sum = 0u64;
    for round in 0..ROUNDS {
        let n = 100 + (step(&mut x) % SPREAD) as usize;
        let v: Vec<u64> = (0..n as u64).map(|i| i * seed + round).collect();
        let s: String = (0..n).map(|i| char::from(b'a' + (i % 26) as u8)).collect();
        let mut bt = BTreeMap::new();
        let mut hm = HashMap::new();
        for (i, &e) in v.iter().enumerate() {
            bt.insert(e, i);
            hm.insert(i, format!("{e:x}"));
        }
        let mut grow: Vec<Box<[u8]>> = Vec::new();
        for i in 0..BOXES {
            grow.push(vec![i as u8; 1 + (step(&mut x) % 5000) as usize].into_boxed_slice());
        }
        assert!(grow
            .iter()
            .enumerate()
            .all(|(i, b)| b.iter().all(|&c| c == i as u8)));
        let vs: u64 = v.iter().fold(0u64, |a, &e| a.wrapping_add(e));
        let bs: u64 = bt
            .iter()
            .fold(0u64, |a, (&k, &i)| a.wrapping_add(k ^ i as u64));
        let hs: u64 = (0..n).fold(0u64, |a, i| {
            let e = u64::from_str_radix(&hm[&i], 16).unwrap();
            a.wrapping_add(e ^ i as u64)
        });
        assert_eq!(
            vs,
            (0..n as u64)
                .map(|i| i * seed + round)
                .fold(0u64, u64::wrapping_add)
        );
        assert_eq!(bs, hs, "BTreeMap and HashMap disagree");
        assert_eq!(s.len(), n);
        sum = sum.wrapping_add(vs ^ bs ^ s.bytes().map(u64::from).sum::<u64>());
    }
    sum
}

#[test]
fn threads_share_the_global_heap() {
    let expected: Vec<u64> = (1..=4).map(workload).collect();
    let handles: Vec<_> = (1..=4u64)
        .map(|seed| std::thread::spawn(move || workload(seed)))
        .collect();
    let got: Vec<u64> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    assert_eq!(got, expected);
    HEAP.check().unwrap();
    let st = HEAP.stats();
    assert!(st.growth_events >= 2, "{st:?}");
    assert_eq!(HEAP.refused().0, 0);
}

#[test]
fn aligned_and_zeroed_through_global_alloc() {
    use std::alloc::{alloc_zeroed, dealloc, realloc, Layout};
    for shift in 4..=14 {
        let layout = Layout::from_size_align(3000, 1 << shift).unwrap();
        // SAFETY: a non-zero layout; freed below with the same layout.
        unsafe {
            let p = alloc_zeroed(layout);
            assert!(!p.is_null());
            assert_eq!(p as usize % (1 << shift), 0);
            assert!(std::slice::from_raw_parts(p, 3000).iter().all(|&b| b == 0));
            p.write_bytes(0x5A, 3000);
            let q = realloc(p, layout, 20_000);
            assert_eq!(q as usize % (1 << shift), 0);
            assert!(std::slice::from_raw_parts(q, 3000)
                .iter()
                .all(|&b| b == 0x5A));
            dealloc(q, Layout::from_size_align(20_000, 1 << shift).unwrap());
        }
    }
}
