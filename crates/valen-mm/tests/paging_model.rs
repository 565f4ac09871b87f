//! Property test: random map / map_range / unmap / protect sequences (with a
//! frame pool that sometimes runs dry) against a model. After every step,
//! every probed address translates as the model says, no frame leaks and no
//! empty table is left.

mod paging_common;

use paging_common::model::{action, check, step, Action, Model};
use paging_common::*;
use proptest::prelude::*;

fn cases() -> u32 {
    if cfg!(debug_assertions) {
        48
    } else {
        256
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    #[test]
    fn paging_matches_the_model(
        has_1g in any::<bool>(),
        actions in proptest::collection::vec(action(), 1..40),
        extra in proptest::collection::vec(0..1u64 << 32, 8),
    ) {
        let (ram, mmu, mut pool) = rig(has_1g);
        let mut s = space(&ram, &mmu, &mut pool);
        let mut m = Model::default();
        for a in &actions {
            step(&mut s, &mut pool, &mut m, a);
            check(&s, &pool, &m, &extra);
        }
        // Unmapping everything leaves only the PML4.
        pool.set_budget(None);
        let segs: Vec<(u64, u64)> = m.segs.iter().map(|(&v, g)| (v, g.len)).collect();
        for (v, len) in segs {
            step(&mut s, &mut pool, &mut m, &Action::UnmapAny { v, pages: len / KB4 });
        }
        check(&s, &pool, &m, &extra);
    }
}
