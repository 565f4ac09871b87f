//! The C API boot (feature `capi`, `cargo xtask run --capi`): the kernel
//! sets up only the CPU and the boot page tables, then hands memory
//! management to C, as Valen's C kernel would.
//!
//! ```text
//!  kmain: serial, boot info, GDT/IDT, fault handler
//!    -> boot tables: the direct map extended past the first GiB to all RAM
//!       (2 MiB pages, page directories in the kernel image), identity map dropped
//!    -> valen_c_kernel(boot info)        c/capi_boot.c, compiled by the system cc
//!         Quick Start: pmm_init (bitmap after the kernel image), paging_init
//!         (adopts these tables), vmm_init, heap_init; then every spec example
//!         calls into libvalen_mm_c.a  (the C API's kernel static library)
//!    <- passed / failed
//!    -> a Rust allocation through the C heap (the global allocator below)
//!    -> "N passed, N failed", exit
//! ```
//!
//! One memory manager: in this build the kernel has no PMM, tables, VMM or
//! heap of its own (`mm` is not compiled in). Its `#[global_allocator]`
//! forwards to the C API's `malloc` / `free`, so the little Rust allocation
//! left (none before the hand-over) uses the same heap as C.
//!
//! Linking: the library is the C API's kernel staticlib built with fat LTO
//! (cargo profile `kernel-lib`): one object whose only global symbols are
//! the C functions; valen-mm, core and its panic handler are internal to it,
//! so it sits beside this kernel's own core and valen-mm without a clash.
//! It needs only `memcpy` and `memset`; the archive's other members are
//! `compiler_builtins`, the same sysroot build as the kernel's, so the linker
//! takes each intrinsic once, from either copy. A panic
//! inside the library stops in its own handler (a loop); the run then ends
//! at the runner's time limit and fails.

use crate::boot::BootInfo;
use crate::cpu::fault::{probe, Access};
use crate::kprintln;
use core::alloc::{GlobalAlloc, Layout};
use core::cell::UnsafeCell;
use core::ffi::c_void;
use valen_mm::arch::x86_64::X86Mmu;
use valen_mm::arch::Mmu;
use valen_mm::layout::DIRECT_MAP_BASE;
use valen_mm::{RegionKind, VirtAddr, KERNEL_VIRT_OFFSET};

/// Most regions handed to C (the C side's `VALEN_MAX_REGIONS`).
const MAX_REGIONS: usize = 64;
/// How much of physical memory the boot tables map at the direct map
/// (`entry.s`: one page directory of 2 MiB pages).
const BOOT_DIRECT_MAP: u64 = 1 << 30;
/// Page directories that extend the direct map, one per GiB after the first.
const EXTRA_PDS: usize = 31;
/// The most physical memory the C boot's direct map reaches: 32 GiB.
const DIRECT_MAP_LIMIT: u64 = BOOT_DIRECT_MAP * (EXTRA_PDS as u64 + 1);
/// Entry bits: present, writable, and (in a page directory) a 2 MiB page.
const PRESENT_WRITE: u64 = 0x3;
const HUGE: u64 = 0x80;
const NO_EXECUTE: u64 = 1 << 63;
/// The address bits of a table entry.
const ENTRY_ADDR: u64 = 0x000F_FFFF_FFFF_F000;

/// The page directories of the direct map past the first GiB, in the
/// kernel image (so the PMM never hands their frames out).
#[repr(C, align(4096))]
struct DirectMapTables(UnsafeCell<[[u64; 512]; EXTRA_PDS]>);

// SAFETY: written only by `extend_direct_map`, on the one CPU, before the
// hand-over; after that only the MMU (and the C API's page walks) read them.
unsafe impl Sync for DirectMapTables {}

static DIRECT_MAP_PDS: DirectMapTables = DirectMapTables(UnsafeCell::new([[0; 512]; EXTRA_PDS]));

/// `struct valen_region` of `c/env.h`.
#[repr(C)]
#[derive(Clone, Copy)]
struct CRegion {
    start: u64,
    end: u64,
    usable: u32,
    reserved: u32,
}

/// `struct valen_boot` of `c/env.h`.
#[repr(C)]
struct CBoot {
    max_physical_addr: u64,
    region_count: u64,
    regions: [CRegion; MAX_REGIONS],
}

extern "C" {
    fn valen_c_kernel(info: *const CBoot, passed: *mut u32, failed: *mut u32);
    fn malloc(size: u64) -> *mut c_void;
    fn free(ptr: *mut c_void);
    fn aligned_alloc(align: usize, size: usize) -> *mut c_void;
    fn realloc(ptr: *mut c_void, size: usize) -> *mut c_void;
    fn heap_get_used_bytes() -> u64;
}

/// The kernel's allocator in this build: the C API's heap.
struct CHeap;

/// `malloc`'s alignment (`HEAP_MIN_ALIGN`).
const C_ALIGN: usize = 16;

// SAFETY: malloc / aligned_alloc return NULL or a block of at least `size`
// bytes with at least the asked alignment, free / realloc take those blocks.
unsafe impl GlobalAlloc for CHeap {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if layout.align() <= C_ALIGN {
            // SAFETY: plain C call; the heap checks its argument.
            unsafe { malloc(layout.size() as u64).cast() }
        } else {
            // SAFETY: as above; the alignment is a power of two.
            unsafe { aligned_alloc(layout.align(), layout.size()).cast() }
        }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, _layout: Layout) {
        // SAFETY: `ptr` came from `alloc` (the trait's contract).
        unsafe { free(ptr.cast()) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if layout.align() <= C_ALIGN {
            // SAFETY: `ptr` came from `alloc` with this alignment; realloc
            // keeps malloc's 16-byte alignment.
            return unsafe { realloc(ptr.cast(), new_size).cast() };
        }
        // SAFETY: a fresh block for the new layout (valid: the trait's contract).
        let new =
            unsafe { self.alloc(Layout::from_size_align_unchecked(new_size, layout.align())) };
        if !new.is_null() {
            // SAFETY: both blocks hold at least min(old, new) bytes and are distinct.
            unsafe { core::ptr::copy_nonoverlapping(ptr, new, layout.size().min(new_size)) };
            // SAFETY: `ptr` came from `alloc` and is not used after.
            unsafe { self.dealloc(ptr, layout) };
        }
        new
    }
}

#[global_allocator]
static ALLOCATOR: CHeap = CHeap;

/// C's serial output.
#[no_mangle]
extern "C" fn kernel_write(s: *const u8, len: usize) {
    if s.is_null() {
        return;
    }
    // SAFETY: C passes `len` readable bytes at `s`.
    let bytes = unsafe { core::slice::from_raw_parts(s, len) };
    crate::kprint!("{}", core::str::from_utf8(bytes).unwrap_or("<not UTF-8>"));
}

/// For C: 1 if reading (`write == 0`) or writing (`write != 0`) the byte at
/// `addr` page-faults, 0 if not, -1 for a non-canonical address. The write
/// stores the byte that is already there, so it changes nothing.
#[no_mangle]
extern "C" fn kernel_probe(addr: u64, write: i32) -> i32 {
    let Ok(virt) = VirtAddr::new(addr) else {
        return -1;
    };
    // SAFETY: a read that does not fault reads one byte, which is harmless.
    if unsafe { probe(virt, Access::Read) }.is_err() {
        return 1;
    }
    if write == 0 {
        return 0;
    }
    // SAFETY: the read above went through, so the byte is mapped.
    let old = unsafe { (addr as *const u8).read_volatile() };
    // SAFETY: if it does not fault, the write stores the byte already there.
    i32::from(unsafe { probe(virt, Access::Write(old)) }.is_err())
}

/// The boot information C gets (`struct valen_boot`), or why the C boot
/// cannot start.
fn prepare(boot: &BootInfo) -> Result<CBoot, &'static str> {
    let mut info = CBoot {
        max_physical_addr: 0,
        region_count: 0,
        regions: [CRegion {
            start: 0,
            end: 0,
            usable: 0,
            reserved: 0,
        }; MAX_REGIONS],
    };
    let regions = boot.firmware_map.regions();
    if regions.len() > MAX_REGIONS {
        return Err("the firmware map has more regions than the C boot takes");
    }
    for (slot, r) in info.regions.iter_mut().zip(regions) {
        let usable = r.kind == RegionKind::Usable;
        *slot = CRegion {
            start: r.start.as_u64(),
            end: r.end.as_u64(),
            usable: u32::from(usable),
            reserved: 0,
        };
        if usable {
            info.max_physical_addr = info.max_physical_addr.max(r.end.as_u64());
        }
    }
    info.region_count = regions.len() as u64;
    if regions
        .iter()
        .any(|r| is_ram(r.kind) && r.end.as_u64() > DIRECT_MAP_LIMIT)
    {
        return Err("RAM above 32 GiB: the C boot's direct map stops there");
    }
    Ok(info)
}

/// Whether the direct map covers a region of this kind (RAM of any use).
fn is_ram(kind: RegionKind) -> bool {
    !matches!(kind, RegionKind::Reserved | RegionKind::Bad)
}

/// Reads CR3: the physical address of the active PML4.
fn pml4_phys() -> u64 {
    let cr3: u64;
    // SAFETY: reading CR3 has no side effects.
    unsafe {
        core::arch::asm!("mov {}, cr3", out(reg) cr3, options(nomem, nostack, preserves_flags))
    };
    cr3 & ENTRY_ADDR
}

/// Reloads CR3, flushing every non-global translation.
///
/// # Safety
/// The active tables must map everything in use (code, stack, data).
unsafe fn reload_cr3() {
    let cr3 = pml4_phys();
    // SAFETY: the same tables again (the caller's promise covers them).
    unsafe { core::arch::asm!("mov cr3, {}", in(reg) cr3, options(nostack, preserves_flags)) };
}

/// The C API needs all RAM at the direct map; the boot tables map only the
/// first GiB there. Maps every 2 MiB that holds RAM past it (read-write,
/// no-execute where the CPU has NX) through page directories in the kernel
/// image, hung into the boot tables' direct-map PDPT. Returns how many
/// 2 MiB pages it added.
fn extend_direct_map(boot: &BootInfo) -> u64 {
    const TWO_MIB: u64 = 2 << 20;
    let nx = if X86Mmu.has_nx() { NO_EXECUTE } else { 0 };
    let pml4 = (DIRECT_MAP_BASE + pml4_phys()) as *const u64;
    // SAFETY: the boot tables' frames are below 1 GiB, which the direct map
    // reaches; entry 256 is the direct map's PDPT (`entry.s`).
    let pdpt_phys = unsafe { pml4.add(256).read_volatile() } & ENTRY_ADDR;
    let pdpt = (DIRECT_MAP_BASE + pdpt_phys) as *mut u64;
    let pds = DIRECT_MAP_PDS.0.get();
    let mut added = 0;
    for r in boot
        .firmware_map
        .regions()
        .iter()
        .filter(|r| is_ram(r.kind))
    {
        let start = (r.start.as_u64() / TWO_MIB * TWO_MIB).max(BOOT_DIRECT_MAP);
        let end = r.end.as_u64().div_ceil(TWO_MIB) * TWO_MIB;
        for chunk in (start..end.min(DIRECT_MAP_LIMIT)).step_by(TWO_MIB as usize) {
            let gib = (chunk / BOOT_DIRECT_MAP) as usize;
            let slot = ((chunk / TWO_MIB) % 512) as usize;
            // SAFETY: `gib` is 1..=EXTRA_PDS (the range stops at the limit);
            // nothing else touches these tables before the hand-over.
            let entry = unsafe { &mut (*pds)[gib - 1][slot] };
            if *entry == 0 {
                *entry = chunk | PRESENT_WRITE | HUGE | nx;
                added += 1;
            }
        }
    }
    for gib in 1..=EXTRA_PDS {
        // SAFETY: as above; a shared read of one table.
        let pd = unsafe { &(*pds)[gib - 1] };
        if pd.iter().any(|&e| e != 0) {
            let pd_phys = pd.as_ptr() as u64 - KERNEL_VIRT_OFFSET;
            // SAFETY: an empty slot of the direct map's PDPT (the boot
            // tables fill only slot 0), pointing at a complete table.
            unsafe { pdpt.add(gib).write_volatile(pd_phys | PRESENT_WRITE) };
        }
    }
    added
}

/// Removes the boot tables' identity map of the first GiB (PML4 entry 0):
/// the C API then owns the lower half, where the spec's examples map at
/// 16 MiB, 32 MiB and 0xF0000000. The kernel runs in the higher half and
/// reaches RAM through the direct map, which stays.
fn drop_identity_map() {
    let cr3: u64;
    // SAFETY: reading CR3 has no side effects.
    unsafe {
        core::arch::asm!("mov {}, cr3", out(reg) cr3, options(nomem, nostack, preserves_flags))
    };
    let pml4 = (DIRECT_MAP_BASE + (cr3 & !0xFFF)) as *mut u64;
    // SAFETY: the boot tables map their own frames (below 2 MiB) at the
    // direct map; nothing runs from or reads through the identity map any
    // more (code, stack, GDT and IDT are in the higher half, the boot
    // information was copied); reloading CR3 flushes the old entries.
    unsafe {
        pml4.write_volatile(0);
        core::arch::asm!("mov cr3, {}", in(reg) cr3, options(nostack, preserves_flags));
    }
}

/// Checks that Rust's allocations go to the C heap.
fn rust_allocates_from_the_c_heap() -> bool {
    // SAFETY: plain C call.
    let before = unsafe { heap_get_used_bytes() };
    let v: alloc::vec::Vec<u64> = (0..1000).collect();
    // SAFETY: plain C call.
    let during = unsafe { heap_get_used_bytes() };
    let addr = v.as_ptr() as u64;
    let sum: u64 = v.iter().sum();
    drop(v);
    // SAFETY: plain C call.
    let after = unsafe { heap_get_used_bytes() };
    kprintln!(
        "rust: a Vec of 1000 u64 at {addr:#x}: C heap in use {before} -> {during} -> {after} bytes"
    );
    let window = valen_mm::layout::HEAP_WINDOW_START..valen_mm::layout::HEAP_WINDOW_END;
    sum == 499_500 && during >= before + 8000 && after == before && window.contains(&addr)
}

/// Hands memory management to C, runs the spec's examples there and
/// returns `(passed, failed)`.
pub fn run(boot: &BootInfo) -> Result<(u32, u32), &'static str> {
    let info = prepare(boot)?;
    let added = extend_direct_map(boot);
    drop_identity_map();
    kprintln!(
        "capi: boot tables: direct map of the first GiB plus {added} x 2 MiB, identity map removed"
    );
    kprintln!(
        "capi: handing memory management to C (usable RAM up to {:#x})",
        info.max_physical_addr
    );
    let (mut passed, mut failed) = (0u32, 0u32);
    // SAFETY: `info` lives across the call; the C boot's contract holds:
    // CR3 holds tables that map all RAM at the direct map and nothing in
    // the lower half, and nothing else manages memory.
    unsafe { valen_c_kernel(&info, &mut passed, &mut failed) };
    if rust_allocates_from_the_c_heap() {
        kprintln!("ok rust_global_alloc");
        passed += 1;
    } else {
        kprintln!("FAIL rust_global_alloc");
        failed += 1;
    }
    Ok((passed, failed))
}
