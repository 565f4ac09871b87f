//! VMM benchmark: `alloc` + `free` of 1..=64 pages while 0, 1,000 or 10,000
//! other allocations are live (fragmenting the heap window). The per-call
//! cost must not grow with the number of live allocations: the range
//! allocator's first fit is O(log n), never a walk over allocations.

mod common;

use common::{median_ns_per_op, print_table, Rng, Row};
use valen_mm::hosted::{FramePool, HostedRam, RecordingMmu};
use valen_mm::paging::{AddressSpace, PageFlags};
use valen_mm::vmm::Vmm;
use valen_mm::{PhysAddr, VirtAddr};

const RAM: u64 = 512 << 20;
const PAIRS: usize = 20_000;

fn main() {
    let ram = HostedRam::new(RAM).unwrap();
    let mmu = RecordingMmu::new(true);
    let flags = PageFlags::PRESENT | PageFlags::WRITE;
    let mut rng = Rng::new(0x5eed_0004);
    let sizes: Vec<u64> = (0..PAIRS).map(|_| rng.range(1, 64)).collect();

    let mut rows = Vec::new();
    for live in [0usize, 1_000, 10_000] {
        let ns = median_ns_per_op(
            5,
            || {
                let mut pool = FramePool::new(
                    &ram,
                    PhysAddr::new(1 << 20).unwrap(),
                    PhysAddr::new(RAM).unwrap(),
                )
                .unwrap();
                let mut space = AddressSpace::new(&ram, &mmu, &mut pool).unwrap();
                let mut vmm = Box::new(Vmm::new());
                // 2 * live single pages, every other one freed: `live`
                // allocations with a hole between each pair.
                let all: Vec<VirtAddr> = (0..2 * live)
                    .map(|_| vmm.alloc(&mut space, &mut pool, 1, flags).unwrap())
                    .collect();
                for v in all.iter().step_by(2) {
                    vmm.free(&mut space, &mut pool, *v).unwrap();
                }
                (pool, space, vmm)
            },
            |(mut pool, mut space, mut vmm)| {
                for &n in &sizes {
                    let v = vmm.alloc(&mut space, &mut pool, n, flags).unwrap();
                    vmm.free(&mut space, &mut pool, v).unwrap();
                }
                mmu.take_flushes();
                (PAIRS as u64, vmm.stats())
            },
        );
        rows.push(Row {
            name: format!("alloc+free 1..=64 pages, {live} live"),
            values: vec![("valen-mm".into(), ns)],
        });
    }
    print_table("VMM: vmm_alloc + vmm_free (ns per pair)", "ns", &rows);
}
