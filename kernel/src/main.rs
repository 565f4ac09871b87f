//! The Valen test kernel.
//!
//! Booted by QEMU `-kernel` (PVH) or by GRUB (multiboot2), it reads the
//! firmware memory map, installs its GDT/IDT and page-fault handler, brings
//! up valen-mm's tiers, prints a boot log and runs the in-kernel test suite
//! on the real (emulated) MMU. It leaves QEMU through the debug-exit device:
//! status 33 when every test passed, anything else otherwise.
//!
//! ```text
//!  entry.s ─► kmain ─► serial ─► boot info (copied) ─► GDT/IDT ─► boot log
//!                                                                 │
//!                        exit(SUCCESS | FAILURE) ◄─ tests::run ◄──┘
//! ```

#![no_std]
#![no_main]
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]

extern crate alloc;

mod boot;
mod bootlog;
mod cpu;
mod crash;
mod exit;
mod mm;
mod serial;
mod tests;

use exit::{exit_qemu, FAILURE, SUCCESS};

/// The Rust entry point, called by `entry.s` in long mode on the kernel stack.
#[no_mangle]
extern "C" fn kmain(protocol: u32, info_phys: u32) -> ! {
    serial::init();
    kprintln!("valen: kernel entered in long mode");
    // SAFETY: first thing after entry: the early tables are active and
    // `info_phys` is what the loader passed.
    let boot = match unsafe { boot::read(protocol, info_phys) } {
        Ok(b) => b,
        Err(e) => {
            kprintln!("valen: cannot read the boot information: {e}");
            exit_qemu(FAILURE);
        }
    };
    cpu::init();
    bootlog::print(&boot);
    if let Err(e) = mm::init(&boot) {
        kprintln!("valen: memory manager bring-up failed: {e}");
        exit_qemu(FAILURE);
    }
    bootlog::bars(&boot.map, mm::bitmap_range());
    kprintln!();
    crash::maybe_crash(&boot);
    mm::report("after bring-up");
    let summary = tests::run(&boot);
    mm::report("after the tests");
    if summary.failed == 0 {
        kprintln!("valen: all tests passed");
        exit_qemu(SUCCESS)
    } else {
        kprintln!("valen: {} test(s) failed", summary.failed);
        exit_qemu(FAILURE)
    }
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    serial::emergency(format_args!("\n!! kernel panic: {info}\n"));
    exit_qemu(FAILURE)
}
