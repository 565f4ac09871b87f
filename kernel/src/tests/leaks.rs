//! Runs last: everything the tests took must be back.

use super::{Ctx, Done, Outcome, Test};
use crate::mm::{free_frames, MM};
use crate::{check, fail};

/// The closing checks.
pub const TESTS: &[Test] = &[Test {
    name: "mm::nothing_leaked",
    run: nothing_leaked,
}];

fn nothing_leaked(_: &Ctx<'_>) -> Outcome {
    let mut mm = MM.lock();
    let baseline = mm.baseline_free;
    let Some((vmm, space, frames)) = mm.parts() else {
        fail!("the memory manager is not up");
    };
    let s = vmm.stats();
    check!(
        s.allocations == 0 && s.pages_mapped == 0,
        "the VMM still holds {s:?}"
    );
    check!(
        s.heap_window_bytes == 0 && s.device_window_bytes == 0,
        "windows still in use: {s:?}"
    );
    let r = space.check_invariants();
    check!(r.is_ok(), "page-table invariants: {r:?}");
    let free = free_frames(frames);
    check!(
        free == baseline,
        "{free} frames free, {baseline} after bring-up"
    );
    Ok(Done::Pass)
}
