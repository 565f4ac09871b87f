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
//!
//! Built with the `capi` feature it is the C API boot instead ([`capi`]):
//! after the GDT/IDT it hands memory management to a C file linked with
//! the C API's static library, and has no memory manager of its own.

#![no_std]
#![no_main]
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]
// The C API boot uses the boot, CPU and console code but not what only the
// Rust memory manager and the test suite call (the memory bars, CR0/EFER
// readers, execute probes...): those are dead in that build only.
#![cfg_attr(feature = "capi", allow(dead_code))]

extern crate alloc;

mod boot;
mod bootlog;
#[cfg(feature = "capi")]
mod capi;
mod cpu;
#[cfg(not(feature = "capi"))]
mod crash;
mod exit;
#[cfg(not(feature = "capi"))]
mod mm;
mod serial;
#[cfg(not(feature = "capi"))]
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
    #[cfg(feature = "capi")]
    capi_boot(&boot);
    #[cfg(not(feature = "capi"))]
    test_boot(&boot);
}

/// The test kernel: valen-mm's tiers in Rust, then the in-kernel tests.
#[cfg(not(feature = "capi"))]
fn test_boot(boot: &boot::BootInfo) -> ! {
    if let Err(e) = mm::init(boot) {
        kprintln!("valen: memory manager bring-up failed: {e}");
        exit_qemu(FAILURE);
    }
    bootlog::bars(&boot.map, mm::bitmap_range());
    kprintln!();
    crash::maybe_crash(boot);
    mm::report("after bring-up");
    let summary = tests::run(boot);
    mm::report("after the tests");
    if summary.failed == 0 {
        kprintln!("valen: all tests passed");
        exit_qemu(SUCCESS)
    } else {
        kprintln!("valen: {} test(s) failed", summary.failed);
        exit_qemu(FAILURE)
    }
}

/// The C API boot: memory management and the spec's examples in C.
#[cfg(feature = "capi")]
fn capi_boot(boot: &boot::BootInfo) -> ! {
    match capi::run(boot) {
        Ok((passed, failed)) => {
            kprintln!();
            kprintln!("{passed} passed, {failed} failed");
            exit_qemu(if failed == 0 { SUCCESS } else { FAILURE })
        }
        Err(e) => {
            kprintln!("valen: the C API boot cannot start: {e}");
            exit_qemu(FAILURE)
        }
    }
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    serial::emergency(format_args!("\n!! kernel panic: {info}\n"));
    exit_qemu(FAILURE)
}
