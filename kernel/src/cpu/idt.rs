//! The Interrupt Descriptor Table and the exception dispatcher.
//!
//! Vectors 0..32 (the CPU's exceptions) get interrupt gates to the stubs in
//! `stubs.rs`; the double fault runs on its own IST stack. A page fault goes
//! to [`super::fault`], which may recover; a breakpoint (`int3`) returns
//! after counting; every other exception is reported and fails the run.

use super::gdt::{DescriptorPointer, DOUBLE_FAULT_IST, KERNEL_CODE};
use super::stubs::EXCEPTION_STUBS;
use crate::exit::{exit_qemu, FAILURE};
use core::sync::atomic::{AtomicU64, Ordering};
use valen_mm::sync::SpinLock;

/// The state saved on an exception, in stack order (lowest address first).
#[repr(C)]
#[derive(Debug)]
#[allow(missing_docs)]
pub struct InterruptFrame {
    pub r15: u64,
    pub r14: u64,
    pub r13: u64,
    pub r12: u64,
    pub r11: u64,
    pub r10: u64,
    pub r9: u64,
    pub r8: u64,
    pub rbp: u64,
    pub rdi: u64,
    pub rsi: u64,
    pub rdx: u64,
    pub rcx: u64,
    pub rbx: u64,
    pub rax: u64,
    /// The vector number (pushed by the stub).
    pub vector: u64,
    /// The CPU's error code, or 0 for vectors without one.
    pub error_code: u64,
    pub rip: u64,
    pub cs: u64,
    pub rflags: u64,
    pub rsp: u64,
    pub ss: u64,
}

/// One 16-byte gate descriptor.
#[derive(Clone, Copy)]
#[repr(C)]
struct Gate {
    offset_low: u16,
    selector: u16,
    ist: u8,
    type_attr: u8,
    offset_mid: u16,
    offset_high: u32,
    reserved: u32,
}

impl Gate {
    const MISSING: Self = Self {
        offset_low: 0,
        selector: 0,
        ist: 0,
        type_attr: 0,
        offset_mid: 0,
        offset_high: 0,
        reserved: 0,
    };

    /// A present ring-0 interrupt gate (interrupts off in the handler).
    fn interrupt(handler: u64, ist: u8) -> Self {
        Self {
            offset_low: handler as u16,
            selector: KERNEL_CODE,
            ist,
            type_attr: 0x8E,
            offset_mid: (handler >> 16) as u16,
            offset_high: (handler >> 32) as u32,
            reserved: 0,
        }
    }
}

#[repr(C, align(16))]
struct Idt([Gate; 256]);

static IDT: SpinLock<Idt> = SpinLock::new(Idt([Gate::MISSING; 256]));

/// How many breakpoints (`int3`) were taken.
pub static BREAKPOINTS: AtomicU64 = AtomicU64::new(0);

/// Fills and loads the IDT.
pub fn init() {
    let mut idt = IDT.lock();
    for (vector, stub) in EXCEPTION_STUBS.iter().enumerate() {
        let ist = if vector == 8 { DOUBLE_FAULT_IST } else { 0 };
        idt.0[vector] = Gate::interrupt(*stub as usize as u64, ist);
    }
    let pointer = DescriptorPointer {
        limit: (core::mem::size_of::<Idt>() - 1) as u16,
        base: idt.0.as_ptr() as u64,
    };
    // SAFETY: the IDT lives in a static and every present gate points at a
    // stub that follows the frame layout `dispatch` expects.
    unsafe { core::arch::asm!("lidt [{}]", in(reg) &pointer, options(nostack)) };
}

/// The name of an exception vector.
pub const fn exception_name(vector: u64) -> &'static str {
    match vector {
        0 => "divide error",
        1 => "debug",
        2 => "NMI",
        3 => "breakpoint",
        4 => "overflow",
        5 => "bound range exceeded",
        6 => "invalid opcode",
        7 => "device not available",
        8 => "double fault",
        10 => "invalid TSS",
        11 => "segment not present",
        12 => "stack-segment fault",
        13 => "general protection fault",
        14 => "page fault",
        16 => "x87 floating point",
        17 => "alignment check",
        18 => "machine check",
        19 => "SIMD floating point",
        21 => "control protection",
        _ => "reserved exception",
    }
}

/// Called by the entry stubs with the saved frame.
pub fn dispatch(frame: &mut InterruptFrame) {
    match frame.vector {
        3 => {
            BREAKPOINTS.fetch_add(1, Ordering::SeqCst);
        }
        14 => super::fault::page_fault(frame),
        8 => {
            let (window, what) = super::fault::describe(super::read_cr2(), 0);
            crate::serial::emergency(format_args!(
                "\n!! double fault (on its own stack), rsp {:#x}, rip {:#x}; last page fault at {:#x} ({window}, {what}): kernel stack overflow?\n",
                frame.rsp,
                frame.rip,
                super::read_cr2(),
            ));
            exit_qemu(FAILURE);
        }
        v => {
            crate::serial::emergency(format_args!(
                "\n!! {} (vector {v}), error code {:#x}\n   rip {:#x} rsp {:#x} rflags {:#x} cs {:#x}\n",
                exception_name(v),
                frame.error_code,
                frame.rip,
                frame.rsp,
                frame.rflags,
                frame.cs
            ));
            exit_qemu(FAILURE);
        }
    }
}
