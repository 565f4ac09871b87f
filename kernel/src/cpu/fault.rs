//! The page-fault handler, and probes that fault on purpose and come back.
//!
//! An unexpected page fault is reported (address from CR2, the error code
//! spelled out, which window of the address space the address is in, and
//! whether it is a guard page) and fails the run.
//!
//! A test that wants a fault calls [`probe`]: it arms the "expect a fault on
//! this page" slot and touches the address from a small assembly routine.
//! If the fault comes (on that page, from that routine), the handler records
//! it, disarms the slot and resumes at the routine's fixup label, which
//! returns 1 to the caller:
//!
//! ```text
//!  probe(addr, Write) ─ arm(page) ─ probe_write_u8: mov [rdi], sil ──► #PF
//!                                       │ no fault: return 0         │
//!                                       ▼                            ▼
//!                                    Ok(())      handler: page matches, rip in
//!                                                probes -> rip = probe_fixup
//!                                                -> return 1 -> Err(Fault)
//! ```
//! The probes never touch the stack between entry and the faulting access,
//! so the fixup's `ret` returns to the caller in every case, also for an
//! execute probe (which jumps to the target with the caller's return address
//! on the stack; a target page holding `ret` returns on its own).

use super::idt::InterruptFrame;
use crate::exit::{exit_qemu, FAILURE};
use core::sync::atomic::{AtomicU64, Ordering};
use valen_mm::layout::Window;
use valen_mm::VirtAddr;

core::arch::global_asm!(
    ".pushsection .text.probes, \"ax\"",
    ".global probe_start",
    "probe_start:",
    "probe_read_u8:",
    "    movzx eax, byte ptr [rdi]",
    "    xor eax, eax",
    "    ret",
    "probe_write_u8:",
    "    mov byte ptr [rdi], sil",
    "    xor eax, eax",
    "    ret",
    "probe_exec:",
    "    xor eax, eax",
    "    jmp rdi",
    "probe_fixup:",
    "    mov eax, 1",
    "    ret",
    "probe_end:",
    ".popsection",
);

extern "C" {
    fn probe_read_u8(addr: u64) -> u64;
    fn probe_write_u8(addr: u64, value: u8) -> u64;
    fn probe_exec(addr: u64) -> u64;
    static probe_start: u8;
    static probe_fixup: u8;
    static probe_end: u8;
}

/// The page a fault is expected on (0: none).
static EXPECT_PAGE: AtomicU64 = AtomicU64::new(0);
static LAST_ADDR: AtomicU64 = AtomicU64::new(0);
static LAST_ERROR: AtomicU64 = AtomicU64::new(0);
/// How many expected faults were recovered since boot.
pub static RECOVERED: AtomicU64 = AtomicU64::new(0);

/// A hook that names the address if it is a guard page (set once the VMM is up).
static GUARD_CHECK: AtomicU64 = AtomicU64::new(0);

/// Page-fault error code bits.
pub mod error {
    /// Set: protection violation on a present page. Clear: page not present.
    pub const PRESENT: u64 = 1 << 0;
    /// The access was a write.
    pub const WRITE: u64 = 1 << 1;
    /// The access came from ring 3.
    pub const USER: u64 = 1 << 2;
    /// A reserved bit was set in a table entry.
    pub const RESERVED: u64 = 1 << 3;
    /// The access was an instruction fetch.
    pub const FETCH: u64 = 1 << 4;
}

/// How a probe touches its address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Read one byte.
    Read,
    /// Write one byte (the value given).
    Write(u8),
    /// Jump to the address (the page must hold `ret` to come back on its own).
    Execute,
}

/// A page fault a probe caught.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fault {
    /// The faulting address (CR2).
    pub addr: u64,
    /// The error code (see [`error`]).
    pub error: u64,
}

impl Fault {
    /// Whether the fault hit a present page (a protection violation).
    pub fn was_protection(&self) -> bool {
        self.error & error::PRESENT != 0
    }
}

/// Touches `addr` as `access` says. `Ok(())` if the access went through,
/// `Err(fault)` if it page-faulted (and was recovered).
///
/// # Safety
/// Should the access not fault, it really happens: `addr` must then be a
/// byte the caller may read (`Read`), overwrite with `v` (`Write(v)`), or
/// code that returns at once (`Execute`, such as a `ret` the caller placed).
pub unsafe fn probe(addr: VirtAddr, access: Access) -> Result<(), Fault> {
    let a = addr.as_u64();
    EXPECT_PAGE.store(a & !0xFFF | 1, Ordering::SeqCst);
    // SAFETY: the probes touch one byte at `addr` (or jump there); a fault
    // there is recovered by the handler because the slot is armed; an access
    // that does not fault is one the caller allowed (this function's contract).
    let faulted = unsafe {
        match access {
            Access::Read => probe_read_u8(a),
            Access::Write(v) => probe_write_u8(a, v),
            Access::Execute => probe_exec(a),
        }
    };
    EXPECT_PAGE.store(0, Ordering::SeqCst);
    if faulted == 0 {
        Ok(())
    } else {
        Err(Fault {
            addr: LAST_ADDR.load(Ordering::SeqCst),
            error: LAST_ERROR.load(Ordering::SeqCst),
        })
    }
}

/// Installs a function that says whether an address is a guard page.
pub fn set_guard_check(check: fn(u64) -> bool) {
    GUARD_CHECK.store(check as usize as u64, Ordering::SeqCst);
}

fn is_guard(addr: u64) -> bool {
    let f = GUARD_CHECK.load(Ordering::SeqCst);
    if f == 0 {
        return false;
    }
    // SAFETY: the only non-zero value ever stored is a `fn(u64) -> bool`.
    let check: fn(u64) -> bool = unsafe { core::mem::transmute(f as usize) };
    check(addr)
}

/// What kind of address the fault hit, for the report.
pub fn describe(addr: u64, error_code: u64) -> (&'static str, &'static str) {
    let window = Window::of(VirtAddr::new_truncate(addr)).name();
    let what = if is_guard(addr) {
        "guard page"
    } else if error_code & error::RESERVED != 0 {
        "reserved bit set in a table entry"
    } else if error_code & error::PRESENT != 0 {
        "protection violation"
    } else {
        "not mapped"
    };
    (window, what)
}

/// The #PF handler (vector 14).
pub fn page_fault(frame: &mut InterruptFrame) {
    let addr = super::read_cr2();
    let armed = EXPECT_PAGE.load(Ordering::SeqCst);
    let start = &raw const probe_start as u64;
    let end = &raw const probe_end as u64;
    let from_probe = (start..end).contains(&frame.rip) || frame.rip == addr;
    if armed != 0 && armed & !0xFFF == addr & !0xFFF && from_probe {
        LAST_ADDR.store(addr, Ordering::SeqCst);
        LAST_ERROR.store(frame.error_code, Ordering::SeqCst);
        RECOVERED.fetch_add(1, Ordering::SeqCst);
        EXPECT_PAGE.store(0, Ordering::SeqCst);
        frame.rip = &raw const probe_fixup as u64;
        return;
    }
    let e = frame.error_code;
    let (window, what) = describe(addr, e);
    crate::serial::emergency(format_args!(
        "\n!! page fault at {addr:#x} ({window}, {what})\n   error code {e:#x}: {} {}{}, rip {:#x}, rsp {:#x}\n",
        if e & error::FETCH != 0 {
            "instruction fetch"
        } else if e & error::WRITE != 0 {
            "write"
        } else {
            "read"
        },
        if e & error::PRESENT != 0 { "on a present page" } else { "on a missing page" },
        if e & error::USER != 0 { ", user mode" } else { "" },
        frame.rip,
        frame.rsp,
    ));
    exit_qemu(FAILURE);
}
