use super::*;
use proptest::prelude::*;
use std::collections::BTreeMap;

const BASE: u64 = 0xFFFF_FFFF_B000_0000;

fn va(page: u64) -> VirtAddr {
    VirtAddr::new(BASE + page * PAGE_SIZE).unwrap()
}

/// Built at compile time, as a kernel's static windows are.
static BUILT: Option<RangeAllocator<1024>> =
    RangeAllocator::new(VirtAddr::new_truncate(BASE), 65536);

#[test]
fn const_construction() {
    let r = BUILT.clone().unwrap();
    assert_eq!((r.free_pages(), r.largest_free()), (65536, 65536));
    r.check().unwrap();
}

#[test]
fn helpers() {
    assert_eq!(longest_run(0), 0);
    assert_eq!(longest_run(u64::MAX), 64);
    assert_eq!(longest_run(0b1110_1101_1111), 5);
    assert_eq!(run_starts(0b1110_1111, 3), 0b0010_0011);
    assert_eq!(run_starts(u64::MAX, 64), 1);
    assert_eq!(run_starts(u64::MAX >> 1, 64), 0);
}

#[test]
fn first_fit_and_coalescing() {
    let mut r = RangeAllocator::<4>::new(va(0), 200).unwrap();
    assert_eq!(r.largest_free(), 200);
    let a = r.alloc(10).unwrap();
    let b = r.alloc(100).unwrap();
    let c = r.alloc(20).unwrap();
    assert_eq!((a, b, c), (va(0), va(10), va(110)));
    assert_eq!(r.free(b), Ok(100));
    // The hole left by `b` is the lowest fit again.
    assert_eq!(r.alloc(64).unwrap(), va(10));
    assert_eq!(r.free(va(10)), Ok(64));
    assert_eq!(r.free(a), Ok(10));
    // a and b's holes merged: 110 pages from 0.
    assert_eq!(r.alloc(110).unwrap(), va(0));
    assert_eq!(r.alloc(71), None, "only 70 pages are left after c");
    assert_eq!(r.alloc(70).unwrap(), va(130));
    r.check().unwrap();
    assert_eq!(r.free_pages(), 0);
}

#[test]
fn errors_change_nothing() {
    let mut r = RangeAllocator::<2>::new(va(0), 100).unwrap();
    let a = r.alloc(5).unwrap();
    let before = (r.free, r.starts, r.free_pages);
    assert_eq!(r.free(va(1)), Err(RangeError::NotAllocated(va(1))));
    assert_eq!(r.free(va(50)), Err(RangeError::NotAllocated(va(50))));
    let odd = VirtAddr::new(BASE + 3).unwrap();
    assert_eq!(r.free(odd), Err(RangeError::Unaligned(odd)));
    assert_eq!(
        r.free(va(100)),
        Err(RangeError::OutsideWindow {
            addr: va(100),
            pages: 1
        })
    );
    assert_eq!(
        r.reserve(va(3), 4),
        Err(RangeError::InUse { first_used: va(3) })
    );
    assert_eq!(r.reserve(va(10), 0), Err(RangeError::ZeroPages));
    assert_eq!(
        r.reserve(va(90), 11),
        Err(RangeError::OutsideWindow {
            addr: va(90),
            pages: 11
        })
    );
    assert_eq!(r.alloc(0), None);
    assert_eq!(before, (r.free, r.starts, r.free_pages));
    assert_eq!(r.free(a), Ok(5));
    assert_eq!(r.free(a), Err(RangeError::NotAllocated(a)), "double free");
}

#[test]
fn reserve_and_lookup() {
    let mut r = RangeAllocator::<2>::new(va(0), 128).unwrap();
    r.reserve(va(60), 10).unwrap();
    assert_eq!(r.len_of(va(60)), Some(10));
    assert_eq!(r.len_of(va(61)), None);
    assert_eq!(r.allocation_containing(va(69)), Some((va(60), 10)));
    assert_eq!(r.allocation_containing(va(70)), None);
    assert_eq!(
        r.alloc(61),
        None,
        "58 pages after the reserved range, 60 before"
    );
    assert_eq!(r.alloc(60).unwrap(), va(0));
    assert_eq!(r.alloc(58).unwrap(), va(70));
    assert_eq!(r.allocation_containing(va(59)), Some((va(0), 60)));
    r.check().unwrap();
}

#[test]
fn rejects_bad_windows() {
    assert!(RangeAllocator::<3>::new(va(0), 10).is_none());
    assert!(RangeAllocator::<2>::new(va(0), 129).is_none());
    assert!(RangeAllocator::<2>::new(VirtAddr::new(BASE + 8).unwrap(), 10).is_none());
    let top = VirtAddr::new(0xFFFF_FFFF_FFFF_F000).unwrap();
    assert!(RangeAllocator::<2>::new(top, 1).is_some());
    assert!(RangeAllocator::<2>::new(top, 2).is_none());
    assert!(RangeAllocator::<2>::new(va(0), 0).is_none());
}

/// The simple model: a vector of page states and a map of allocations.
struct Model {
    free: Vec<bool>,
    allocs: BTreeMap<u64, u64>,
}

impl Model {
    fn first_fit(&self, n: u64) -> Option<u64> {
        let mut run = 0;
        for (i, &f) in self.free.iter().enumerate() {
            run = if f { run + 1 } else { 0 };
            if run == n {
                return Some(i as u64 + 1 - n);
            }
        }
        None
    }
    fn take(&mut self, s: u64, n: u64) {
        for p in s..s + n {
            self.free[p as usize] = false;
        }
        self.allocs.insert(s, n);
    }
}

#[derive(Debug, Clone)]
enum Op {
    Alloc(u64),
    Reserve(u64, u64),
    Free(usize),
    FreeRandom(u64),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (1u64..150).prop_map(Op::Alloc),
        1 => (0u64..520, 1u64..40).prop_map(|(a, n)| Op::Reserve(a, n)),
        4 => any::<usize>().prop_map(Op::Free),
        1 => (0u64..520).prop_map(Op::FreeRandom),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(if cfg!(debug_assertions) { 64 } else { 512 }))]
    #[test]
    fn agrees_with_a_model(pages in 1u64..=512, ops in prop::collection::vec(op(), 1..200)) {
        let mut r = RangeAllocator::<8>::new(va(0), pages).unwrap();
        let mut m = Model { free: vec![true; pages as usize], allocs: BTreeMap::new() };
        for op in ops {
            match op {
                Op::Alloc(n) => {
                    let want = m.first_fit(n);
                    prop_assert_eq!(r.alloc(n), want.map(va));
                    if let Some(s) = want { m.take(s, n) }
                }
                Op::Reserve(a, n) => {
                    let fits = a + n <= pages;
                    let free = fits && (a..a + n).all(|p| m.free[p as usize]);
                    prop_assert_eq!(r.reserve(va(a), n).is_ok(), free);
                    if free { m.take(a, n) }
                }
                Op::Free(k) => {
                    if m.allocs.is_empty() { continue }
                    let (&s, &n) = m.allocs.iter().nth(k % m.allocs.len()).unwrap();
                    prop_assert_eq!(r.allocation_containing(va(s + n - 1)), Some((va(s), n)));
                    prop_assert_eq!(r.free(va(s)), Ok(n));
                    m.allocs.remove(&s);
                    for p in s..s + n { m.free[p as usize] = true; }
                }
                Op::FreeRandom(a) => {
                    let res = r.free(va(a));
                    match m.allocs.remove(&a) {
                        Some(n) => {
                            prop_assert_eq!(res, Ok(n));
                            for p in a..a + n { m.free[p as usize] = true; }
                        }
                        None => prop_assert!(res.is_err()),
                    }
                }
            }
            prop_assert_eq!(r.check(), Ok(()));
            prop_assert_eq!(r.free_pages(), m.free.iter().filter(|&&f| f).count() as u64);
        }
    }
}
