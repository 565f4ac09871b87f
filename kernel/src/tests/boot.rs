//! The boot-information parsers, fed blocks built here (good and broken).

use super::{Ctx, Done, Outcome, Test};
use crate::boot::multiboot2::parse;
use crate::boot::{BootError, BootInfo, Protocol};
use crate::check;
use valen_mm::RegionKind;

/// The parser tests.
pub const TESTS: &[Test] = &[
    Test {
        name: "boot::multiboot2_tags_parsed",
        run: multiboot2_tags_parsed,
    },
    Test {
        name: "boot::multiboot2_truncated_tag_rejected",
        run: truncated_tag_rejected,
    },
    Test {
        name: "boot::multiboot2_short_entries_rejected",
        run: short_entries_rejected,
    },
    Test {
        name: "boot::multiboot2_without_map_rejected",
        run: without_map_rejected,
    },
];

/// A multiboot2 information block under construction.
struct Block {
    bytes: [u8; 256],
    len: usize,
}

impl Block {
    fn new() -> Self {
        Self {
            bytes: [0; 256],
            len: 8,
        }
    }
    fn u32(&mut self, v: u32) {
        self.bytes[self.len..self.len + 4].copy_from_slice(&v.to_le_bytes());
        self.len += 4;
    }
    fn u64(&mut self, v: u64) {
        self.bytes[self.len..self.len + 8].copy_from_slice(&v.to_le_bytes());
        self.len += 8;
    }
    fn raw(&mut self, b: &[u8]) {
        self.bytes[self.len..self.len + b.len()].copy_from_slice(b);
        self.len += b.len();
    }
    fn align(&mut self) {
        self.len = (self.len + 7) & !7;
    }
    fn cmdline(&mut self, s: &[u8]) {
        self.u32(1);
        self.u32(8 + s.len() as u32 + 1);
        self.raw(s);
        self.raw(&[0]);
        self.align();
    }
    fn mmap(&mut self, entry_size: u32, entries: &[(u64, u64, u32)]) {
        self.u32(6);
        self.u32(16 + entry_size * entries.len() as u32);
        self.u32(entry_size);
        self.u32(0);
        for &(base, len, ty) in entries {
            let start = self.len;
            self.u64(base);
            self.u64(len);
            self.u32(ty);
            self.len = start + entry_size as usize;
        }
        self.align();
    }
    fn finish(&mut self) -> &[u8] {
        self.u32(0);
        self.u32(8);
        let total = self.len as u32;
        self.bytes[..4].copy_from_slice(&total.to_le_bytes());
        &self.bytes[..self.len]
    }
}

fn multiboot2_tags_parsed(_: &Ctx<'_>) -> Outcome {
    let mut b = Block::new();
    b.cmdline(b"mem=1234 quiet");
    b.u32(3); // module [0x300000, 0x304000) "initrd"
    b.u32(16 + 7);
    b.u32(0x30_0000);
    b.u32(0x30_4000);
    b.raw(b"initrd\0");
    b.align();
    b.mmap(
        24,
        &[
            (0, 0x9_FC00, 1),
            (0x10_0000, 0x7F0_0000, 1),
            (0xFFFC_0000, 0x4_0000, 2),
        ],
    );
    let mut info = BootInfo::empty(Protocol::Multiboot2);
    let r = parse(b.finish(), &mut info);
    check!(r.is_ok(), "a good block was rejected: {:?}", r.err());
    check!(
        info.cmdline_value("mem") == Some("1234"),
        "cmdline {:?}",
        info.cmdline()
    );
    check!(
        info.boot_data() == [(0x30_0000, 0x30_4000)],
        "boot data {:?}",
        info.boot_data()
    );
    let regions = info.firmware_map.regions();
    check!(regions.len() == 3, "{} regions, expected 3", regions.len());
    check!(
        regions[1].start.as_u64() == 0x10_0000
            && regions[1].end.as_u64() == 0x800_0000
            && regions[1].kind == RegionKind::Usable,
        "region 1 is {}",
        regions[1]
    );
    check!(
        regions[2].kind == RegionKind::Reserved,
        "region 2 is {}",
        regions[2]
    );
    Ok(Done::Pass)
}

fn truncated_tag_rejected(_: &Ctx<'_>) -> Outcome {
    let mut b = Block::new();
    b.mmap(24, &[(0, 0x9_FC00, 1)]);
    b.u32(1); // a command-line tag claiming 200 bytes
    b.u32(200);
    let mut info = BootInfo::empty(Protocol::Multiboot2);
    let r = parse(b.finish(), &mut info);
    check!(
        matches!(r, Err(BootError::Multiboot2Truncated { offset: 48 })),
        "got {r:?}"
    );
    Ok(Done::Pass)
}

fn short_entries_rejected(_: &Ctx<'_>) -> Outcome {
    let mut b = Block::new();
    b.mmap(16, &[(0, 0x9_FC00, 1)]);
    let mut info = BootInfo::empty(Protocol::Multiboot2);
    let r = parse(b.finish(), &mut info);
    check!(
        matches!(r, Err(BootError::Multiboot2EntrySize(16))),
        "got {r:?}"
    );
    check!(info.firmware_map.regions().is_empty(), "a region was kept");
    Ok(Done::Pass)
}

fn without_map_rejected(_: &Ctx<'_>) -> Outcome {
    let mut b = Block::new();
    b.cmdline(b"x");
    let mut info = BootInfo::empty(Protocol::Multiboot2);
    let r = parse(b.finish(), &mut info);
    check!(matches!(r, Err(BootError::NoMemoryMap)), "got {r:?}");
    Ok(Done::Pass)
}
