//! The normalization sweep behind [`MemoryMap::normalize`](super::MemoryMap::normalize).
//!
//! Every region start and end is a boundary. Between two neighbouring
//! boundaries the kind is constant: the strongest kind among the regions that
//! cover that piece. The sweep walks the pieces in order and emits them,
//! merging a piece into the previous one when they touch and agree.

use super::{bound, MemoryMapError, Region, RegionKind, MAX_REGIONS};

/// Writes the normalized form of `input` into `out` and returns its length.
pub(super) fn normalize(
    input: &[Region],
    out: &mut [Region; MAX_REGIONS],
    align: u64,
) -> Result<usize, MemoryMapError> {
    let mut bounds = [0u64; 2 * MAX_REGIONS];
    let mut nb = 0;
    for r in input {
        bounds[nb] = r.start.as_u64();
        bounds[nb + 1] = r.end.as_u64();
        nb += 2;
    }
    let bounds = &mut bounds[..nb];
    bounds.sort_unstable();

    let mut n = 0usize;
    let mut i = 0;
    while i + 1 < bounds.len() {
        let (lo, hi) = (bounds[i], bounds[i + 1]);
        i += 1;
        if lo == hi {
            continue;
        }
        let Some(kind) = input
            .iter()
            .filter(|r| r.start.as_u64() <= lo && hi <= r.end.as_u64())
            .map(|r| r.kind)
            .max()
        else {
            continue; // a hole: nothing covers it
        };
        if n > 0 && out[n - 1].kind == kind && out[n - 1].end.as_u64() == lo {
            out[n - 1].end = bound(hi);
            continue;
        }
        if n == MAX_REGIONS {
            return Err(MemoryMapError::Full);
        }
        out[n] = Region {
            start: bound(lo),
            end: bound(hi),
            kind,
        };
        n += 1;
    }
    // Shrink usable regions inward to `align` and drop the empty ones.
    let mut kept = 0;
    for j in 0..n {
        let mut r = out[j];
        if r.kind == RegionKind::Usable {
            let start = r.start.align_up(align);
            let end = r.end.align_down(align);
            match start {
                Some(s) if s < end => {
                    r.start = s;
                    r.end = end;
                }
                _ => continue,
            }
        }
        out[kept] = r;
        kept += 1;
    }
    Ok(kept)
}
