//! Runs last: everything the tests took must be back. What the heap took
//! from the VMM stays (the heap never gives memory back) and is counted.

use super::{Ctx, Done, Outcome, Test};
use crate::mm::heap::{growth, HEAP};
use crate::mm::{free_frames, MM};
use crate::{check, fail};

/// The closing checks.
pub const TESTS: &[Test] = &[Test {
    name: "mm::nothing_leaked",
    run: nothing_leaked,
}];

fn nothing_leaked(_: &Ctx<'_>) -> Outcome {
    let heap = HEAP.stats();
    let walk = HEAP.check();
    check!(walk.is_ok(), "heap integrity: {walk:?}");
    check!(
        heap.used_blocks == 0,
        "{} heap blocks still in use ({} bytes)",
        heap.used_blocks,
        heap.used_bytes
    );
    let (chunks, heap_pages) = growth();
    let mut mm = MM.lock();
    let (baseline, baseline_tables) = (mm.baseline_free, mm.baseline_tables);
    let Some((vmm, space, frames)) = mm.parts() else {
        fail!("the memory manager is not up");
    };
    let s = vmm.stats();
    check!(
        s.allocations == chunks && s.frames_owned == heap_pages && s.pages_mapped == heap_pages,
        "the VMM holds {s:?}; the heap's {chunks} chunk(s) of {heap_pages} pages account for it all?"
    );
    check!(
        s.device_window_bytes == 0,
        "the device window still holds {} bytes",
        s.device_window_bytes
    );
    let tables = match space.check_invariants() {
        Ok(t) => t.tables,
        Err(e) => fail!("page-table invariants: {e:?}"),
    };
    let free = free_frames(frames);
    let accounted = free + heap_pages + tables.saturating_sub(baseline_tables);
    check!(
        accounted == baseline,
        "{free} frames free + {heap_pages} heap + {} new tables = {accounted}, {baseline} free after bring-up",
        tables.saturating_sub(baseline_tables)
    );
    Ok(Done::Pass)
}
