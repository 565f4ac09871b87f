//! Text output on COM1, the kernel's only console.
//!
//! `kprint!` / `kprintln!` write through a lock. Code that may run while the
//! lock is held (the panic handler, a fault taken in the middle of a print)
//! uses [`emergency`], which writes to the port without taking it.

use core::fmt::{self, Write};
use uart_16550::backend::PioBackend;
use uart_16550::{Config, Uart16550, Uart16550Tty};
use valen_mm::sync::SpinLock;

/// The I/O port of COM1.
const COM1: u16 = 0x3F8;

static SERIAL: SpinLock<Option<Uart16550Tty<PioBackend>>> = SpinLock::new(None);

/// Initializes COM1 (115200 8N1). Output before this, or without a UART, is dropped.
pub fn init() {
    // SAFETY: COM1's eight ports belong to this driver alone for the kernel's life.
    let uart = unsafe { Uart16550Tty::new_port(COM1, Config::default()) };
    *SERIAL.lock() = uart.ok();
}

/// Writes formatted text to the serial console (used by the print macros).
pub fn print(args: fmt::Arguments<'_>) {
    if let Some(uart) = SERIAL.lock().as_mut() {
        let _ = uart.write_fmt(args);
    }
}

/// Writes without taking the console lock, for the panic and fault paths.
pub fn emergency(args: fmt::Arguments<'_>) {
    // SAFETY: the port is COM1, set up by `init`; a write racing another
    // writer can only interleave characters.
    let Ok(raw) = (unsafe { Uart16550::new_port(COM1) }) else {
        return;
    };
    let _ = Uart16550Tty::from_inner(raw).write_fmt(args);
}

/// Prints to the serial console.
#[macro_export]
macro_rules! kprint {
    ($($arg:tt)*) => { $crate::serial::print(format_args!($($arg)*)) };
}

/// Prints a line to the serial console.
#[macro_export]
macro_rules! kprintln {
    () => { $crate::kprint!("\n") };
    ($($arg:tt)*) => { $crate::serial::print(format_args!("{}\n", format_args!($($arg)*))) };
}
