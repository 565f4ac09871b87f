//! The hosted C API, in process, against a simple model: random sequences of
//! `pmm_alloc_pages` / `pmm_free_pages`, `vmm_alloc` / `vmm_free` and
//! `malloc` / `realloc` / `free`. Whatever the order: no two live blocks or
//! frames overlap, heap contents survive, every block and frame can be freed
//! exactly once, and the counters agree with the model.
//!
//! The C API has one global state per process, so this file holds a single
//! test (the runner runs its cases one after another); each case frees what
//! it allocated. This test binary's own allocator is the API's `malloc`.

use core::ffi::c_void;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use valen_mm_c::api::{heap::*, pmm::*, vmm::*};
use valen_mm_c::error::{VALEN_ENOENT, VALEN_OK};

#[derive(Clone, Debug)]
enum Op {
    Pages(u64),
    FreePages(usize),
    VmmAlloc(u64),
    VmmFree(usize),
    Malloc(usize),
    Realloc(usize, usize),
    Free(usize),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (1u64..9).prop_map(Op::Pages),
        any::<usize>().prop_map(Op::FreePages),
        (1u64..9).prop_map(Op::VmmAlloc),
        any::<usize>().prop_map(Op::VmmFree),
        (0usize..6000).prop_map(Op::Malloc),
        (any::<usize>(), 0usize..9000).prop_map(|(i, n)| Op::Realloc(i, n)),
        any::<usize>().prop_map(Op::Free),
    ]
}

/// Live things the model knows about.
#[derive(Default)]
struct Model {
    runs: Vec<(u64, u64)>,
    vmm: Vec<(usize, u64)>,
    blocks: Vec<(usize, usize, u8)>,
}

fn overlaps(a: (u64, u64), b: (u64, u64)) -> bool {
    a.0 < b.0 + b.1 && b.0 < a.0 + a.1
}

impl Model {
    /// Physical ranges in use by the model's runs and vmm pages.
    fn phys(&self) -> Vec<(u64, u64)> {
        let mut v: Vec<(u64, u64)> = self.runs.iter().map(|&(a, n)| (a, n * 4096)).collect();
        for &(virt, pages) in &self.vmm {
            for i in 0..pages as usize {
                v.push((vmm_get_phys(virt + i * 4096) as u64, 4096));
            }
        }
        v
    }

    fn check_disjoint(&self) -> Result<(), TestCaseError> {
        let phys = self.phys();
        for (i, a) in phys.iter().enumerate() {
            prop_assert!(a.0 >= 0x20_0000, "frame {a:x?} below 2 MiB");
            for b in &phys[i + 1..] {
                prop_assert!(!overlaps(*a, *b), "{a:x?} and {b:x?} overlap");
            }
        }
        for (i, a) in self.blocks.iter().enumerate() {
            for b in &self.blocks[i + 1..] {
                let (x, y) = (
                    (a.0 as u64, a.1.max(1) as u64),
                    (b.0 as u64, b.1.max(1) as u64),
                );
                prop_assert!(!overlaps(x, y), "heap blocks {x:x?} and {y:x?} overlap");
            }
        }
        Ok(())
    }
}

fn fill(p: usize, n: usize, byte: u8) {
    // SAFETY: a live malloc block of at least `n` bytes.
    unsafe { core::ptr::write_bytes(p as *mut u8, byte, n) };
}

fn intact(p: usize, n: usize, byte: u8) -> bool {
    // SAFETY: a live malloc block of at least `n` bytes.
    unsafe { core::slice::from_raw_parts(p as *const u8, n) }
        .iter()
        .all(|&b| b == byte)
}

fn run_case(ops: &[Op]) -> Result<(), TestCaseError> {
    let mut m = Model::default();
    // vmm_alloc blocks that are not the model's: the heap's own chunks,
    // which change only when the heap grows.
    let mut others = vmm_get_allocations();
    let mut heap_total = heap_get_total_bytes();
    for (k, op) in ops.iter().enumerate() {
        let tag = k as u8;
        match *op {
            Op::Pages(n) => {
                let p = pmm_alloc_pages(n) as u64;
                prop_assert!(p != 0 && p % 4096 == 0);
                m.runs.push((p, n));
            }
            Op::FreePages(i) if !m.runs.is_empty() => {
                let (p, n) = m.runs.swap_remove(i % m.runs.len());
                prop_assert_eq!(pmm_free_pages_checked(p as *mut c_void, n), VALEN_OK);
                prop_assert_eq!(pmm_free_page_checked(p as *mut c_void), VALEN_ENOENT);
            }
            Op::VmmAlloc(n) => {
                let v = vmm_alloc(n, 0x3) as usize;
                prop_assert!(v != 0);
                m.vmm.push((v, n));
            }
            Op::VmmFree(i) if !m.vmm.is_empty() => {
                let (v, _) = m.vmm.swap_remove(i % m.vmm.len());
                prop_assert_eq!(vmm_free(v as *mut c_void), VALEN_OK);
                prop_assert_eq!(vmm_get_phys(v), 0);
            }
            Op::Malloc(n) => {
                let p = malloc(n as u64) as usize;
                prop_assert!(p != 0 && p % 16 == 0);
                prop_assert!(malloc_usable_size(p as *mut c_void) >= n);
                fill(p, n, tag);
                m.blocks.push((p, n, tag));
            }
            Op::Realloc(i, n) if !m.blocks.is_empty() => {
                let i = i % m.blocks.len();
                let (p, old, t) = m.blocks[i];
                // SAFETY: a live block of this heap.
                let q = unsafe { realloc(p as *mut c_void, n) } as usize;
                if n == 0 {
                    prop_assert_eq!(q, 0);
                    m.blocks.swap_remove(i);
                } else {
                    prop_assert!(q != 0 && intact(q, old.min(n), t));
                    fill(q, n, t);
                    m.blocks[i] = (q, n, t);
                }
            }
            Op::Free(i) if !m.blocks.is_empty() => {
                let (p, n, t) = m.blocks.swap_remove(i % m.blocks.len());
                prop_assert!(intact(p, n, t), "block {p:#x} changed under its owner");
                // SAFETY: a live block of this heap.
                prop_assert_eq!(unsafe { heap_free_checked(p as *mut c_void) }, VALEN_OK);
            }
            _ => {}
        }
        m.check_disjoint()?;
        let now = vmm_get_allocations() - m.vmm.len() as u64;
        if heap_get_total_bytes() == heap_total {
            prop_assert_eq!(now, others, "a vmm_alloc block appeared or vanished");
        }
        prop_assert!(now >= others);
        (others, heap_total) = (now, heap_get_total_bytes());
    }
    for (p, n, t) in m.blocks.drain(..) {
        prop_assert!(intact(p, n, t));
        // SAFETY: a live block of this heap.
        prop_assert_eq!(unsafe { heap_free_checked(p as *mut c_void) }, VALEN_OK);
    }
    for (p, n) in m.runs.drain(..) {
        prop_assert_eq!(pmm_free_pages_checked(p as *mut c_void, n), VALEN_OK);
    }
    for (v, _) in m.vmm.drain(..) {
        prop_assert_eq!(vmm_free(v as *mut c_void), VALEN_OK);
    }
    prop_assert_eq!(heap_check(), VALEN_OK);
    prop_assert_eq!(pmm_get_used_kb() + pmm_get_free_kb(), pmm_get_total_kb());
    Ok(())
}

#[test]
fn the_c_api_agrees_with_the_model() {
    // The harness itself allocates through `malloc`, which brought every tier up.
    drop(vec![0u8; 64]);
    assert!(pmm_get_total_kb() > 0, "the hosted machine did not come up");
    let cases = if cfg!(debug_assertions) { 256 } else { 1024 };
    let mut runner = TestRunner::new(Config::with_cases(cases));
    let used = pmm_get_used_kb();
    let heap_total = heap_get_total_bytes();
    runner
        .run(&proptest::collection::vec(op(), 1..120), |ops| {
            run_case(&ops)
        })
        .unwrap();
    // Everything came back but what the heap grew by (it keeps its memory)
    // and the page tables over it.
    let grown_kb = (heap_get_total_bytes() - heap_total) / 1024;
    let used_now = pmm_get_used_kb();
    assert!(
        used_now >= used + grown_kb,
        "{used_now} < {used} + {grown_kb}"
    );
    assert!(
        used_now <= used + grown_kb + 64,
        "{used_now} KiB used, {used} + {grown_kb} expected"
    );
}
