//! Leaving QEMU with a status through the `isa-debug-exit` device.
//!
//! QEMU is started with `-device isa-debug-exit,iobase=0xf4,iosize=0x04`;
//! writing `v` to port 0xF4 makes it exit with status `(v << 1) | 1`. Only
//! [`SUCCESS`] (status 33) means success: a triple fault under `-no-reboot`
//! exits 0 and a killed QEMU has no status, so neither can pass by accident.

/// Everything ran and every test passed: QEMU exits with 33.
pub const SUCCESS: u8 = 0x10;
/// A test failed, or the kernel panicked: QEMU exits with 35.
pub const FAILURE: u8 = 0x11;
// 0x12 (status 37): the CPU has no long mode, written by the boot code.

const EXIT_PORT: u16 = 0xF4;

/// Exits QEMU with `code` ([`SUCCESS`] or [`FAILURE`]); halts if there is no
/// exit device (real hardware).
pub fn exit_qemu(code: u8) -> ! {
    // SAFETY: port 0xF4 is QEMU's debug-exit device, or unused on real hardware.
    unsafe {
        core::arch::asm!("out dx, al", in("dx") EXIT_PORT, in("al") code, options(nomem, nostack));
    }
    halt_forever()
}

/// Stops the CPU for good.
pub fn halt_forever() -> ! {
    loop {
        // SAFETY: `cli; hlt` stops the CPU; nothing wakes it but NMI.
        unsafe { core::arch::asm!("cli", "hlt", options(nomem, nostack)) };
    }
}
