//! Interrupt entry stubs, written with `naked_asm!` (the `x86-interrupt`
//! ABI is not stable).
//!
//! Each stub makes the stack look the same whether or not the CPU pushed an
//! error code, pushes its vector and jumps to [`common_entry`], which saves
//! the general registers and calls `idt::dispatch` with a pointer to the
//! whole frame. The handler may change the frame (a recovered fault resumes
//! elsewhere); `iretq` then returns to whatever the frame says.
//!
//! ```text
//!  high  ss, rsp, rflags, cs, rip     pushed by the CPU
//!        error code (or 0)            CPU, or the stub
//!        vector                       stub
//!  low   rax ... r15                  common_entry  <- rsp = &InterruptFrame
//! ```

use super::idt::{dispatch, InterruptFrame};

/// Saves registers, calls `dispatch(&mut frame)`, restores them and returns.
#[unsafe(naked)]
extern "C" fn common_entry() {
    // The CPU aligns RSP to 16 before pushing its 5 words; with the error
    // code, the vector and 15 registers (22 words) RSP is 16-aligned again
    // at the call, as the C ABI wants.
    core::arch::naked_asm!(
        "push rax", "push rbx", "push rcx", "push rdx", "push rsi", "push rdi", "push rbp",
        "push r8", "push r9", "push r10", "push r11", "push r12", "push r13", "push r14", "push r15",
        "mov rdi, rsp",
        "cld",
        "call {dispatch}",
        "pop r15", "pop r14", "pop r13", "pop r12", "pop r11", "pop r10", "pop r9", "pop r8",
        "pop rbp", "pop rdi", "pop rsi", "pop rdx", "pop rcx", "pop rbx", "pop rax",
        "add rsp, 16",
        "iretq",
        dispatch = sym dispatch_entry,
    );
}

extern "C" fn dispatch_entry(frame: &mut InterruptFrame) {
    dispatch(frame);
}

// A vector with a CPU error code gets `nop` where the others push a zero.
macro_rules! stubs {
    ($($name:ident = $vector:literal, $push:literal;)*) => {
        $(
            #[unsafe(naked)]
            extern "C" fn $name() {
                core::arch::naked_asm!(
                    $push,
                    "push {vector}",
                    "jmp {common}",
                    vector = const $vector,
                    common = sym common_entry,
                );
            }
        )*
        /// The entry stub of each exception vector 0..32.
        pub const EXCEPTION_STUBS: [extern "C" fn(); 32] = [$($name),*];
    };
}

stubs! {
    divide_error = 0, "push 0";
    debug = 1, "push 0";
    nmi = 2, "push 0";
    breakpoint = 3, "push 0";
    overflow = 4, "push 0";
    bound_range = 5, "push 0";
    invalid_opcode = 6, "push 0";
    device_not_available = 7, "push 0";
    double_fault = 8, "nop";
    coprocessor_overrun = 9, "push 0";
    invalid_tss = 10, "nop";
    segment_not_present = 11, "nop";
    stack_fault = 12, "nop";
    general_protection = 13, "nop";
    page_fault = 14, "nop";
    reserved_15 = 15, "push 0";
    x87_floating_point = 16, "push 0";
    alignment_check = 17, "nop";
    machine_check = 18, "push 0";
    simd_floating_point = 19, "push 0";
    virtualization = 20, "push 0";
    control_protection = 21, "nop";
    reserved_22 = 22, "push 0";
    reserved_23 = 23, "push 0";
    reserved_24 = 24, "push 0";
    reserved_25 = 25, "push 0";
    reserved_26 = 26, "push 0";
    reserved_27 = 27, "push 0";
    hypervisor_injection = 28, "push 0";
    vmm_communication = 29, "nop";
    security = 30, "nop";
    reserved_31 = 31, "push 0";
}
