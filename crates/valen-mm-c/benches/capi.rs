//! The C API's `malloc` family against the C library's own (glibc), in one
//! process: the hosted build exports `malloc`, so the system allocator is
//! reached through `dlsym(RTLD_NEXT, ...)`. Traces come from fixed seeds and
//! are generated before timing; both allocators run the same trace.

#[path = "../../valen-mm/benches/common/mod.rs"]
mod common;

use common::{median_ns_per_op, print_table, Rng, Row};
use core::ffi::c_void;

type MallocFn = unsafe extern "C" fn(usize) -> *mut c_void;
type FreeFn = unsafe extern "C" fn(*mut c_void);
type ReallocFn = unsafe extern "C" fn(*mut c_void, usize) -> *mut c_void;

/// One allocator's entry points.
#[derive(Clone, Copy)]
struct Api {
    malloc: MallocFn,
    free: FreeFn,
    realloc: ReallocFn,
}

unsafe extern "C" fn ours_malloc(n: usize) -> *mut c_void {
    valen_mm_c::api::heap::malloc(n as u64)
}

fn ours() -> Api {
    Api {
        malloc: ours_malloc,
        free: valen_mm_c::api::heap::free,
        realloc: valen_mm_c::api::heap::realloc,
    }
}

fn system() -> Api {
    let sym = |name: &core::ffi::CStr| {
        // SAFETY: looks a symbol up in the libraries after this executable.
        let p = unsafe { libc::dlsym(libc::RTLD_NEXT, name.as_ptr()) };
        assert!(!p.is_null(), "no system {name:?}");
        p
    };
    // SAFETY: glibc's malloc, free and realloc have these C signatures.
    unsafe {
        Api {
            malloc: core::mem::transmute::<*mut c_void, MallocFn>(sym(c"malloc")),
            free: core::mem::transmute::<*mut c_void, FreeFn>(sym(c"free")),
            realloc: core::mem::transmute::<*mut c_void, ReallocFn>(sym(c"realloc")),
        }
    }
}

#[derive(Clone, Copy)]
enum Op {
    Alloc(usize, usize),
    Free(usize),
    Grow(usize, usize),
}

/// `ops` operations over `slots` live blocks, sizes log-uniform in `[lo, hi]`.
fn trace(seed: u64, ops: usize, slots: usize, lo: u64, hi: u64, grow: bool) -> Vec<Op> {
    let mut rng = Rng::new(seed);
    let mut live = vec![false; slots];
    (0..ops)
        .map(|_| {
            let s = rng.below(slots as u64) as usize;
            let size = rng.log_uniform(lo, hi) as usize;
            let op = match (live[s], grow && rng.chance(0.5)) {
                (false, _) => Op::Alloc(s, size),
                (true, true) => Op::Grow(s, size),
                (true, false) => Op::Free(s),
            };
            live[s] = !matches!(op, Op::Free(_));
            op
        })
        .collect()
}

fn run(api: Api, ops: &[Op], slots: usize) -> (u64, usize) {
    let mut ptrs = vec![core::ptr::null_mut::<c_void>(); slots];
    let mut touched = 0;
    for &op in ops {
        // SAFETY: each slot holds null or a live block of `api`.
        unsafe {
            match op {
                Op::Alloc(s, n) => {
                    let p = (api.malloc)(n);
                    p.cast::<u8>().write(1);
                    ptrs[s] = p;
                }
                Op::Grow(s, n) => ptrs[s] = (api.realloc)(ptrs[s], n),
                Op::Free(s) => {
                    (api.free)(ptrs[s]);
                    ptrs[s] = core::ptr::null_mut();
                }
            }
        }
        touched += 1;
    }
    for p in ptrs {
        // SAFETY: null or a live block of `api`.
        unsafe { (api.free)(p) };
    }
    (ops.len() as u64, touched)
}

fn main() {
    let (ours, sys) = (ours(), system());
    let workloads = [
        (
            "small 16-256 B, 100 live",
            trace(1, 200_000, 100, 16, 256, false),
            100,
        ),
        (
            "mixed 16 B-4 KiB, 10k live",
            trace(2, 200_000, 10_000, 16, 4096, false),
            10_000,
        ),
        (
            "large 4-256 KiB, 200 live",
            trace(3, 50_000, 200, 4096, 262_144, false),
            200,
        ),
        (
            "realloc growth 16 B-16 KiB",
            trace(4, 200_000, 1_000, 16, 16_384, true),
            1_000,
        ),
    ];
    let mut rows = Vec::new();
    for (name, ops, slots) in &workloads {
        // Warm both heaps to their peak first, so that growth is not timed.
        run(ours, ops, *slots);
        run(sys, ops, *slots);
        let a = median_ns_per_op(9, || (), |_| run(ours, ops, *slots));
        let b = median_ns_per_op(9, || (), |_| run(sys, ops, *slots));
        rows.push(Row {
            name: name.to_string(),
            values: vec![("valen-mm C API".into(), a), ("glibc malloc".into(), b)],
        });
    }
    print_table("malloc / free / realloc through the C API", "ns/op", &rows);
}
