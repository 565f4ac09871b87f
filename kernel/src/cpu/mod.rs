//! The CPU's tables and exception handling.
//!
//! - [`gdt`]: the kernel's GDT and TSS (an IST stack for double faults);
//! - [`idt`]: the IDT, entry stubs and the dispatcher;
//! - [`fault`]: the page-fault handler and the probes that let a test
//!   provoke a fault on purpose and get control back.

pub mod fault;
pub mod gdt;
pub mod idt;
mod stubs;

/// Loads the GDT, TSS and IDT. Call once, early, before anything can fault.
pub fn init() {
    gdt::init();
    idt::init();
}

/// Reads CR2, the address of the last page fault.
pub fn read_cr2() -> u64 {
    let v: u64;
    // SAFETY: reading CR2 has no side effects.
    unsafe {
        core::arch::asm!("mov {}, cr2", out(reg) v, options(nomem, nostack, preserves_flags))
    };
    v
}

/// Reads the EFER model-specific register.
pub fn read_efer() -> u64 {
    let (lo, hi): (u32, u32);
    // SAFETY: EFER (0xC0000080) exists on every x86_64 CPU; reading it has no side effects.
    unsafe {
        core::arch::asm!("rdmsr", in("ecx") 0xC000_0080u32, out("eax") lo, out("edx") hi,
            options(nomem, nostack, preserves_flags));
    }
    (u64::from(hi) << 32) | u64::from(lo)
}

/// Reads CR0.
pub fn read_cr0() -> u64 {
    let v: u64;
    // SAFETY: reading CR0 has no side effects.
    unsafe {
        core::arch::asm!("mov {}, cr0", out(reg) v, options(nomem, nostack, preserves_flags))
    };
    v
}
