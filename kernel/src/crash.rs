//! Deliberate failures, chosen with `crash=` on the command line, so the
//! runner can check that each way a kernel dies is seen as a failure:
//!
//! - `crash=pagefault`: reads an unmapped device-window address outside any
//!   probe; the handler must report it and exit with the failure code;
//! - `crash=stack`: recurses without end; the stack's guard page faults,
//!   the CPU cannot push the fault frame on that stack and double-faults
//!   onto its own IST stack, whose handler must report it;
//! - `crash=panic`: panics; the panic handler must exit with the failure code;
//! - `crash=triple`: loads an empty IDT and traps; the CPU triple-faults and
//!   QEMU (with `-no-reboot`) exits 0, which the runner must not take as success.

use crate::boot::BootInfo;
use crate::kprintln;

/// Crashes the way the command line asks, or returns if it asks for none.
pub fn maybe_crash(boot: &BootInfo) {
    match boot.cmdline_value("crash") {
        Some("pagefault") => {
            kprintln!("valen: crash=pagefault: reading an unmapped address");
            let p = valen_mm::layout::DEVICE_WINDOW_START as *const u64;
            // SAFETY: not safe on purpose: the address is unmapped and the
            // read faults; the handler ends the run.
            let v = unsafe { p.read_volatile() };
            kprintln!("valen: the read returned {v:#x}: no fault!");
        }
        Some("stack") => {
            kprintln!("valen: crash=stack: recursing into the stack guard page");
            kprintln!("valen: depth {}", recurse(0));
        }
        Some("panic") => {
            kprintln!("valen: crash=panic");
            panic!("deliberate panic (crash=panic)");
        }
        Some("triple") => {
            kprintln!("valen: crash=triple: empty IDT, then int3");
            let empty = crate::cpu::gdt::DescriptorPointer { limit: 0, base: 0 };
            // SAFETY: not safe on purpose: with no IDT the breakpoint
            // becomes a triple fault and the machine resets.
            unsafe { core::arch::asm!("lidt [{}]", "int3", in(reg) &empty) };
        }
        Some(other) => kprintln!("valen: unknown crash={other}, ignored"),
        None => {}
    }
}

/// Recursion that the optimizer cannot turn into a loop.
#[inline(never)]
#[allow(unconditional_recursion)] // it ends in the guard page, on purpose
fn recurse(depth: u64) -> u64 {
    let mut buf = [0u8; 512];
    // SAFETY: a volatile write to a local keeps the frame alive.
    unsafe { core::ptr::write_volatile(&mut buf[depth as usize % 512], 1) };
    let below = recurse(depth + 1);
    below + u64::from(core::hint::black_box(buf[0]))
}
