//! Disabling interrupts around a critical section.
//!
//! In a kernel a spinlock that an interrupt handler may also take must be
//! held with interrupts off, or the handler spins forever on its own CPU.
//! On the host there are no interrupts and these are no-ops.

/// Disables interrupts and returns whether they were enabled before.
#[inline]
pub fn disable() -> bool {
    #[cfg(all(target_arch = "x86_64", target_os = "none"))]
    {
        let rflags: u64;
        // SAFETY: reading RFLAGS through the stack and clearing IF touch no
        // memory the compiler knows about; `cli` is allowed at CPL 0.
        unsafe {
            core::arch::asm!("pushfq", "pop {}", "cli", out(reg) rflags, options(nomem, preserves_flags));
        }
        rflags & (1 << 9) != 0
    }
    #[cfg(not(all(target_arch = "x86_64", target_os = "none")))]
    {
        false
    }
}

/// Re-enables interrupts if `were_enabled` (the value [`disable`] returned).
#[inline]
pub fn restore(were_enabled: bool) {
    #[cfg(all(target_arch = "x86_64", target_os = "none"))]
    if were_enabled {
        // SAFETY: `sti` only sets IF; the caller disabled it with `disable`.
        unsafe { core::arch::asm!("sti", options(nomem, nostack)) };
    }
    #[cfg(not(all(target_arch = "x86_64", target_os = "none")))]
    let _ = were_enabled;
}
