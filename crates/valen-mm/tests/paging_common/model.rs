//! A simple model of an address space (disjoint extents of virtual memory,
//! each mapped linearly with one set of flags) and random actions on it.

#![allow(dead_code)]

use super::*;
use proptest::prelude::*;
use std::collections::BTreeMap;
use valen_mm::hosted::FramePool;
use valen_mm::paging::{PageFlags, PageSize, PagingError};

/// Where the random ranges live: 4 GiB in each canonical half.
pub const BASES: [u64; 2] = [0, 0xffff_ff00_0000_0000];
/// Pages in each 4 GiB universe.
pub const UNIVERSE_PAGES: u64 = 1 << 20;

/// A mapped extent: `len` bytes at a virtual start, from `phys` on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Seg {
    pub len: u64,
    pub phys: u64,
    pub flags: PageFlags,
}

/// What the address space should hold.
#[derive(Default, Debug)]
pub struct Model {
    pub segs: BTreeMap<u64, Seg>,
}

impl Model {
    /// The segment holding `v`, with its start.
    pub fn seg_at(&self, v: u64) -> Option<(u64, Seg)> {
        let (&s, &seg) = self.segs.range(..=v).next_back()?;
        (v - s < seg.len).then_some((s, seg))
    }

    /// The physical address and flags `v` translates to.
    pub fn lookup(&self, v: u64) -> Option<(u64, PageFlags)> {
        self.seg_at(v)
            .map(|(s, seg)| (seg.phys + (v - s), seg.flags))
    }

    /// The first mapped address of `[v, v + len)`.
    pub fn first_mapped(&self, v: u64, len: u64) -> Option<u64> {
        if self.seg_at(v).is_some() {
            return Some(v);
        }
        self.segs.range(v..v + len).next().map(|(&s, _)| s)
    }

    /// The first unmapped address of `[v, v + len)`.
    pub fn first_unmapped(&self, v: u64, len: u64) -> Option<u64> {
        let mut cur = v;
        while cur < v + len {
            let Some((s, seg)) = self.seg_at(cur) else {
                return Some(cur);
            };
            cur = s + seg.len;
        }
        None
    }

    /// Cuts segments so that one starts at `v` (if `v` is inside one).
    fn cut(&mut self, v: u64) {
        if let Some((s, seg)) = self.seg_at(v) {
            if s != v {
                let head = v - s;
                self.segs.insert(s, Seg { len: head, ..seg });
                self.segs.insert(
                    v,
                    Seg {
                        len: seg.len - head,
                        phys: seg.phys + head,
                        ..seg
                    },
                );
            }
        }
    }

    pub fn insert(&mut self, v: u64, len: u64, phys: u64, flags: PageFlags) {
        self.segs.insert(v, Seg { len, phys, flags });
    }

    pub fn remove(&mut self, v: u64, len: u64) {
        self.cut(v);
        self.cut(v + len);
        let keys: Vec<u64> = self.segs.range(v..v + len).map(|(&k, _)| k).collect();
        for k in keys {
            self.segs.remove(&k);
        }
    }

    pub fn protect(&mut self, v: u64, len: u64, flags: PageFlags) {
        self.cut(v);
        self.cut(v + len);
        for (_, seg) in self.segs.range_mut(v..v + len) {
            seg.flags = flags;
        }
    }

    /// Addresses worth probing: both ends and the middle of each segment and
    /// of each gap, plus `extra`.
    pub fn probes(&self, extra: &[u64]) -> Vec<u64> {
        let mut out = extra.to_vec();
        for (&s, seg) in &self.segs {
            let e = s + seg.len;
            out.extend([s, s + seg.len / 2 + 8, e - 8, e, s.wrapping_sub(8)]);
        }
        for base in BASES {
            out.extend([base, base + (UNIVERSE_PAGES << 12) - 8]);
        }
        out.retain(|&v| valen_mm::VirtAddr::new(v).is_ok());
        out
    }
}

/// One random step.
#[derive(Clone, Debug)]
pub enum Action {
    Map {
        v: u64,
        p: u64,
        flags: PageFlags,
    },
    MapRange {
        v: u64,
        p: u64,
        pages: u64,
        flags: PageFlags,
        largest: PageSize,
    },
    /// `seg` picks an existing segment (modulo their number); `lo`/`hi`
    /// pick a sub-range of it in 1/256ths, rounded to pages.
    UnmapSeg {
        seg: usize,
        lo: u8,
        hi: u8,
    },
    UnmapAny {
        v: u64,
        pages: u64,
    },
    ProtectSeg {
        seg: usize,
        lo: u8,
        hi: u8,
        flags: PageFlags,
    },
    /// `unmap` of one page: inside an existing segment, or anywhere.
    UnmapOne {
        seg: usize,
        at: u8,
        anywhere: Option<u64>,
    },
    Budget(Option<u16>),
}

fn addr() -> impl Strategy<Value = u64> {
    (0..2usize, 0..UNIVERSE_PAGES, 0..3u8).prop_map(|(b, page, align)| {
        let a = page << 12;
        let a = match align {
            0 => a,
            1 => a & !(MB2 - 1),
            _ => a & !(GB1 - 1),
        };
        BASES[b] + a
    })
}

fn phys_for(v: u64) -> impl Strategy<Value = u64> {
    prop_oneof![
        Just(v & 0xf_ffff_ffff),
        Just((v & 0xf_ffff_ffff) + KB4),
        (0..1u64 << 28).prop_map(|p| p << 12)
    ]
}

fn flags() -> impl Strategy<Value = PageFlags> {
    (any::<bool>(), any::<bool>(), any::<bool>(), any::<bool>()).prop_map(|(w, u, nx, g)| {
        let mut f = PageFlags::PRESENT;
        if w {
            f |= PageFlags::WRITE;
        }
        if u {
            f |= PageFlags::USER;
        }
        if nx {
            f |= PageFlags::NO_EXECUTE;
        }
        if g {
            f |= PageFlags::PCD;
        }
        f
    })
}

fn pages() -> impl Strategy<Value = u64> {
    prop_oneof![4 => 1..16u64, 3 => 1..2048u64, 1 => 256..(1u64 << 18) + 1024]
}

pub fn action() -> impl Strategy<Value = Action> {
    let largest = prop_oneof![
        Just(PageSize::Size1G),
        Just(PageSize::Size2M),
        Just(PageSize::Size4K)
    ];
    prop_oneof![
        2 => addr().prop_flat_map(|v| (Just(v), phys_for(v), flags()))
            .prop_map(|(v, p, flags)| Action::Map { v, p, flags }),
        5 => addr().prop_flat_map(move |v| (Just(v), phys_for(v), pages(), flags(), largest.clone()))
            .prop_map(|(v, p, pages, flags, largest)| Action::MapRange { v, p, pages, flags, largest }),
        3 => (any::<usize>(), any::<u8>(), any::<u8>()).prop_map(|(seg, lo, hi)| Action::UnmapSeg { seg, lo, hi }),
        1 => (addr(), pages()).prop_map(|(v, pages)| Action::UnmapAny { v, pages }),
        2 => (any::<usize>(), any::<u8>(), proptest::option::weighted(0.2, addr()))
            .prop_map(|(seg, at, anywhere)| Action::UnmapOne { seg, at, anywhere }),
        2 => (any::<usize>(), any::<u8>(), any::<u8>(), flags())
            .prop_map(|(seg, lo, hi, flags)| Action::ProtectSeg { seg, lo, hi, flags }),
        1 => proptest::option::of(0..600u16).prop_map(Action::Budget),
    ]
}

/// Applies `a` to the space and the model; checks the outcome agrees.
/// Checks a map or map_range result against the model and records a
/// success: it must succeed where the model has nothing mapped, name the
/// first conflicting address otherwise, or have run out of frames.
fn expect_map(
    m: &mut Model,
    v: u64,
    len: u64,
    p: u64,
    flags: PageFlags,
    r: &Result<(), PagingError>,
    what: &str,
) {
    match (m.first_mapped(v, len), r) {
        (None, Ok(())) => m.insert(v, len, p, flags),
        (_, Err(PagingError::OutOfFrames { .. })) => {}
        (
            Some(c),
            Err(
                PagingError::AlreadyMapped { virt, .. }
                | PagingError::HugePageInTheWay { virt, .. },
            ),
        ) => assert_eq!(virt.as_u64(), c),
        (c, r) => panic!("{what} {v:#x}+{len:#x}: model says {c:x?}, got {r:?}"),
    }
}

pub fn step(s: &mut Space<'_>, pool: &mut FramePool, m: &mut Model, a: &Action) {
    let dry = |r: &Result<(), PagingError>| matches!(r, Err(PagingError::OutOfFrames { .. }));
    match *a {
        Action::Budget(b) => pool.set_budget(b.map(usize::from)),
        Action::Map { v, p, flags } => {
            let r = s.map(va(v), pa(p), flags, pool);
            expect_map(m, v, KB4, p, flags, &r, "map");
        }
        Action::MapRange {
            v,
            p,
            pages,
            flags,
            largest,
        } => {
            let len = pages * KB4;
            let r = s.map_range_max(va(v), pa(p), len, flags, largest, pool);
            expect_map(m, v, len, p, flags, &r, "map_range");
        }
        Action::UnmapSeg { seg, lo, hi } | Action::ProtectSeg { seg, lo, hi, .. } => {
            let Some((v, len)) = pick(m, seg, lo, hi) else {
                return;
            };
            let r = if let Action::ProtectSeg { flags, .. } = *a {
                s.protect(va(v), len, flags, pool)
                    .map(|()| m.protect(v, len, flags))
            } else {
                s.unmap_range(va(v), len, pool, |_| {})
                    .map(|_| m.remove(v, len))
            };
            assert!(r.is_ok() || dry(&r), "{a:?} on {v:#x}+{len:#x}: {r:?}");
        }
        Action::UnmapOne { seg, at, anywhere } => {
            let Some(v) = anywhere.or_else(|| pick(m, seg, at, at).map(|(v, _)| v)) else {
                return;
            };
            let r = s.unmap(va(v), pool);
            match (m.lookup(v), r) {
                (Some((p, f)), Ok(mp)) => {
                    assert_eq!(
                        (mp.virt.as_u64(), mp.phys.as_u64(), mp.size),
                        (v, p, PageSize::Size4K)
                    );
                    assert_eq!(mp.flags, f);
                    m.remove(v, KB4);
                }
                (_, Err(PagingError::OutOfFrames { .. })) => {}
                (None, Err(PagingError::NotMapped { virt })) => assert_eq!(virt.as_u64(), v),
                (want, got) => panic!("unmap {v:#x}: model {want:x?}, got {got:?}"),
            }
        }
        Action::UnmapAny { v, pages } => {
            let len = pages * KB4;
            let mut seen = 0;
            let r = s
                .unmap_range(va(v), len, pool, |mp| seen += mp.size.bytes())
                .map(|_| ());
            match (m.first_unmapped(v, len), &r) {
                (None, Ok(())) => {
                    assert_eq!(seen, len, "reported leaves cover the range");
                    m.remove(v, len)
                }
                (_, r) if dry(r) => {}
                (Some(u), Err(PagingError::NotMapped { virt })) => assert_eq!(virt.as_u64(), u),
                (u, r) => panic!("unmap {v:#x}+{len:#x}: model says {u:x?}, got {r:?}"),
            }
        }
    }
}

/// A sub-range of the `seg`-th segment (modulo their number).
fn pick(m: &Model, seg: usize, lo: u8, hi: u8) -> Option<(u64, u64)> {
    let n = m.segs.len();
    let (&s, g) = m.segs.iter().nth(seg.checked_rem(n)?)?;
    let pages = g.len / KB4;
    let (lo, hi) = (u64::from(lo.min(hi)), u64::from(lo.max(hi)) + 1);
    let first = pages * lo / 256;
    let last = (pages * hi / 256).max(first + 1).min(pages);
    Some((s + first * KB4, (last - first) * KB4))
}

/// Checks every probe translates as the model says, the invariants hold and
/// every frame the pool handed out is a table of the space.
pub fn check(s: &Space<'_>, pool: &FramePool, m: &Model, extra: &[u64]) {
    for v in m.probes(extra) {
        let got = s.translate(va(v));
        match (m.lookup(v), got) {
            (None, Err(PagingError::NotMapped { .. })) => {}
            (Some((p, f)), Ok(t)) => {
                assert_eq!(t.phys.as_u64(), p, "phys of {v:#x}");
                assert_eq!(t.flags.difference(PageFlags::HUGE), f, "flags of {v:#x}");
                assert_eq!(
                    t.flags.contains(PageFlags::HUGE),
                    t.size != PageSize::Size4K
                );
            }
            (want, got) => panic!("translate {v:#x}: model {want:x?}, got {got:?}"),
        }
    }
    let stats = s.check_invariants().unwrap();
    assert_eq!(pool.outstanding() as u64, stats.tables, "frames leaked");
    // ...and every table is a frame the pool handed out.
    let tables = table_frames(s.phys(), s.root().start());
    assert_eq!(tables.len() as u64, stats.tables);
    for t in tables {
        assert!(
            pool.is_allocated(valen_mm::Frame::containing(pa(t))),
            "table {t:#x} not allocated"
        );
    }
    assert_eq!(pool.bad_frees(), 0);
    if m.segs.is_empty() {
        assert_eq!(stats.tables, 1, "empty tables left behind");
    }
}
