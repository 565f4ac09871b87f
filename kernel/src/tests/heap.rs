//! The kernel heap on the real MMU: the spec's example, Rust collections
//! through `#[global_allocator]`, growth through the VMM far past the 16 KiB
//! initial heap, and misuse reported without harm.

use super::{Ctx, Done, Outcome, Test};
use crate::mm::heap::{growth, HEAP};
use crate::{check, fail, out};
use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec::Vec;
use core::ptr::NonNull;
use valen_mm::heap::BlockError;
use valen_mm::layout::Window;
use valen_mm::VirtAddr;

/// The heap tests.
pub const TESTS: &[Test] = &[
    Test {
        name: "spec::heap_example",
        run: heap_example,
    },
    Test {
        name: "heap::memory_in_heap_window",
        run: memory_in_heap_window,
    },
    Test {
        name: "heap::rust_collections",
        run: rust_collections,
    },
    Test {
        name: "heap::calloc_realloc_aligned",
        run: calloc_realloc_aligned,
    },
    Test {
        name: "heap::churn_grows_through_vmm",
        run: churn_grows_through_vmm,
    },
    Test {
        name: "heap::misuse_reported",
        run: misuse_reported,
    },
    Test {
        name: "heap::memory_not_executable",
        run: memory_not_executable,
    },
];

fn heap_example(_: &Ctx<'_>) -> Outcome {
    let Some(buffer) = HEAP.malloc(256) else {
        fail!("malloc(256) returned NULL");
    };
    let text = b"Hello from heap!\0";
    // SAFETY: 256 writable bytes were just allocated.
    let bytes = unsafe {
        core::ptr::copy_nonoverlapping(text.as_ptr(), buffer.as_ptr(), text.len());
        core::slice::from_raw_parts(buffer.as_ptr(), text.len() - 1)
    };
    let s = core::str::from_utf8(bytes).unwrap_or("<not UTF-8>");
    out!("Heap buffer: {s}");
    check!(s == "Hello from heap!", "the buffer holds {s:?}");
    // SAFETY: the block is not used any more.
    let r = unsafe { HEAP.free(buffer.as_ptr()) };
    check!(r.is_ok(), "free: {r:?}");
    Ok(Done::Pass)
}

fn memory_in_heap_window(_: &Ctx<'_>) -> Outcome {
    let v: Vec<u8> = Vec::with_capacity(100);
    let a = VirtAddr::from_ptr(v.as_ptr());
    check!(
        Window::of(a) == Window::Heap,
        "a Vec's buffer is at {a}, in the {:?} window",
        Window::of(a)
    );
    check!(a.as_u64().is_multiple_of(16), "{a} is not 16-byte aligned");
    let (chunks, _) = growth();
    check!(chunks >= 1, "the heap took no memory from the VMM");
    Ok(Done::Pass)
}

fn rust_collections(_: &Ctx<'_>) -> Outcome {
    let v: Vec<u64> = (0..20_000).collect();
    let sum: u64 = v.iter().sum();
    check!(sum == 20_000 * 19_999 / 2, "Vec sum {sum}");
    let mut s = String::new();
    for i in 0..500 {
        s.push_str(if i % 2 == 0 { "valen" } else { "-mm " });
    }
    check!(s.len() == 250 * 5 + 250 * 4, "String length {}", s.len());
    let mut m = BTreeMap::new();
    for i in 0..2_000u64 {
        m.insert(i * 7 % 2_000, i);
    }
    check!(m.len() == 2_000, "BTreeMap holds {} keys", m.len());
    check!(m.get(&7) == Some(&1), "m[7] = {:?}", m.get(&7));
    drop((v, s, m));
    let r = HEAP.check();
    check!(r.is_ok(), "heap integrity: {r:?}");
    Ok(Done::Pass)
}

fn calloc_realloc_aligned(_: &Ctx<'_>) -> Outcome {
    let Some(z) = HEAP.calloc(100, 40) else {
        fail!("calloc(100, 40) returned NULL");
    };
    // SAFETY: 4000 bytes were just allocated.
    let zeroed = unsafe { core::slice::from_raw_parts(z.as_ptr(), 4000) }
        .iter()
        .all(|&b| b == 0);
    check!(zeroed, "calloc memory is not zeroed");
    // SAFETY: filling the block just allocated.
    unsafe { core::ptr::write_bytes(z.as_ptr(), 0x7E, 4000) };
    // SAFETY: `z` is a live block of this heap, not used after the call.
    let grown = unsafe { HEAP.realloc_aligned(z.as_ptr(), 100_000, 16) };
    let Ok(g) = grown else {
        fail!("realloc to 100000: {grown:?}");
    };
    // SAFETY: the first 4000 bytes carried over.
    let kept = unsafe { core::slice::from_raw_parts(g.as_ptr(), 4000) }
        .iter()
        .all(|&b| b == 0x7E);
    check!(kept, "realloc lost the contents");
    // SAFETY: done with it.
    let r = unsafe { HEAP.free(g.as_ptr()) };
    check!(r.is_ok(), "free: {r:?}");
    for align in [32, 256, 4096, 16384] {
        let Some(p) = HEAP.malloc_aligned(100, align) else {
            fail!("malloc_aligned(100, {align}) returned NULL");
        };
        check!(
            (p.as_ptr() as usize).is_multiple_of(align),
            "{:p} is not {align}-aligned",
            p.as_ptr()
        );
        // SAFETY: done with it.
        let r = unsafe { HEAP.free(p.as_ptr()) };
        check!(r.is_ok(), "free: {r:?}");
    }
    Ok(Done::Pass)
}

/// Block sizes from 16 B to 64 KiB, spread without a random generator.
fn size_of_block(i: usize) -> usize {
    16 << (i * 7 % 13)
}

fn churn_grows_through_vmm(_: &Ctx<'_>) -> Outcome {
    const N: usize = 256;
    let before = HEAP.stats();
    let (chunks_before, _) = growth();
    let mut blocks: [(usize, usize); N] = [(0, 0); N];
    for round in 0..4 {
        for (i, b) in blocks.iter_mut().enumerate() {
            if b.0 != 0 && (i + round) % 3 != 0 {
                continue;
            }
            if b.0 != 0 {
                // SAFETY: a live block of this heap, dropped from the table here.
                let r = unsafe { HEAP.free(b.0 as *mut u8) };
                check!(r.is_ok(), "free: {r:?}");
            }
            let size = size_of_block(i + round);
            let Some(p) = HEAP.malloc(size) else {
                fail!("malloc({size}) returned NULL in round {round}");
            };
            // SAFETY: `size` bytes were just allocated.
            unsafe { core::ptr::write_bytes(p.as_ptr(), (i ^ round) as u8, size) };
            *b = (p.as_ptr() as usize, size);
        }
        for (i, &(p, size)) in blocks.iter().enumerate() {
            // SAFETY: live blocks, filled when allocated.
            let bytes = unsafe { core::slice::from_raw_parts(p as *const u8, size) };
            let want = bytes[0];
            check!(
                bytes.iter().all(|&x| x == want),
                "block {i} ({size} B at {p:#x}) was overwritten"
            );
        }
        let r = HEAP.check();
        check!(r.is_ok(), "heap integrity after round {round}: {r:?}");
    }
    let peak = HEAP.stats();
    for &(p, _) in &blocks {
        // SAFETY: each block once.
        let r = unsafe { HEAP.free(p as *mut u8) };
        check!(r.is_ok(), "free: {r:?}");
    }
    let after = HEAP.stats();
    let (chunks, pages) = growth();
    out!(
        "heap grew from {} KiB to {} KiB in {} chunk(s) from the VMM ({} pages in all)",
        before.total_bytes / 1024,
        peak.total_bytes / 1024,
        chunks - chunks_before,
        pages
    );
    check!(
        peak.total_bytes >= 1 << 20,
        "the heap only reached {} bytes",
        peak.total_bytes
    );
    check!(
        chunks > chunks_before,
        "the heap did not grow through the VMM"
    );
    check!(
        after.used_bytes == before.used_bytes,
        "{} bytes used after freeing all, {} before",
        after.used_bytes,
        before.used_bytes
    );
    let r = HEAP.check();
    check!(r.is_ok(), "heap integrity: {r:?}");
    Ok(Done::Pass)
}

fn misuse_reported(_: &Ctx<'_>) -> Outcome {
    let Some(p) = HEAP.malloc(64) else {
        fail!("malloc(64) returned NULL");
    };
    // SAFETY: a live block, not used any more.
    let r = unsafe { HEAP.free(p.as_ptr()) };
    check!(r.is_ok(), "first free: {r:?}");
    // SAFETY: a double free: the heap must refuse it and change nothing.
    let r = unsafe { HEAP.free(p.as_ptr()) };
    check!(
        matches!(r, Err(BlockError::DoubleFree { .. })),
        "double free: {r:?}"
    );
    let local = [0u128; 4];
    let foreign = NonNull::from(&local[1]).cast::<u8>();
    // SAFETY: a pointer that is not from the heap: refused, nothing touched.
    let r = unsafe { HEAP.free(foreign.as_ptr()) };
    check!(
        matches!(r, Err(BlockError::ForeignPointer { .. })),
        "foreign pointer: {r:?}"
    );
    let r = HEAP.check();
    check!(r.is_ok(), "heap integrity after the refusals: {r:?}");
    let v: Vec<u32> = (0..1000).collect();
    check!(v.iter().sum::<u32>() == 499_500, "the heap no longer works");
    Ok(Done::Pass)
}

/// Code cannot run from the heap: `ret` written into a `malloc` block
/// faults on the instruction fetch, and the handler recovers.
fn memory_not_executable(_: &Ctx<'_>) -> Outcome {
    use crate::cpu::fault::{error, probe, Access};
    use valen_mm::arch::x86_64::X86Mmu;
    use valen_mm::arch::Mmu;
    if !X86Mmu.has_nx() {
        return Ok(Done::Skip("the CPU has no NX bit"));
    }
    let Some(p) = HEAP.malloc(16) else {
        fail!("malloc(16) returned NULL");
    };
    // SAFETY: 16 bytes were just allocated.
    unsafe { p.as_ptr().write_volatile(0xC3) };
    // SAFETY: jumps to a `ret` written into a heap block this test owns.
    let f = unsafe { probe(VirtAddr::from_ptr(p.as_ptr()), Access::Execute) };
    // SAFETY: not used any more.
    let r = unsafe { HEAP.free(p.as_ptr()) };
    check!(
        matches!(f, Err(e) if e.was_protection() && e.error & error::FETCH != 0),
        "executing heap memory at {:p}: {f:?}",
        p.as_ptr()
    );
    check!(r.is_ok(), "free: {r:?}");
    Ok(Done::Pass)
}
