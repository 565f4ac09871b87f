//! valen-mm-c: the Valen kernel's memory-management C API over valen-mm.
//!
//! ```text
//!   C kernel / C program
//!        |   #include <valen/pmm.h> <valen/paging.h> <valen/vmm.h> <valen/heap.h>
//!        v
//!   api/{pmm,paging,vmm,heap}.rs   #[no_mangle] extern "C", the spec's names and signatures
//!        v
//!   state.rs                       the one global state: PMM, address space + VMM, heap
//!        v                         (two backends: kernel direct map + X86Mmu, or hosted)
//!   valen_mm                       the tiers themselves
//! ```
//!
//! Builds:
//! - kernel: `cargo build -p valen-mm-c --no-default-features --features
//!   panic-handler --target x86_64-unknown-none` gives `libvalen_mm_c.a`, which
//!   a C kernel links. It expects all RAM mapped at `DIRECT_MAP_BASE` and CR3
//!   holding valid tables before `paging_init`. With `--profile kernel-lib`
//!   (fat LTO) its only global symbols are the C functions, so it also links
//!   into a kernel with Rust code of its own (the test kernel's C API boot).
//! - hosted (default feature `hosted`): the same API over a simulated machine
//!   ([`hosted`]): `libvalen_mm_c.a` for C tests, `libvalen_mm_c.so` to
//!   `LD_PRELOAD` as the allocator of any Linux program.
//!
//! Design decisions:
//! - The spec's `void` functions stay `void`; each has an `int *_checked`
//!   twin returning 0 or a negative `VALEN_E*` code ([`error`]). Additions
//!   have their own names (`pmm_free_pages`, `vmm_free`, `paging_unmap`, ...).
//! - `PHYS_TO_VIRT` keeps its name with the corrected meaning: the direct
//!   map (`DIRECT_MAP_BASE + phys`), which reaches all RAM, not the spec's
//!   `+ KERNEL_VIRT_OFFSET`, which stops at 2 GiB; on the hosted build, the
//!   simulated RAM's base. `VIRT_TO_PHYS` undoes both that and the
//!   kernel-image offset.
//! - `pmm_init(start, size)` also marks 2 MiB up to the bitmap's end used:
//!   the spec puts the bitmap right after the kernel image, so that is the
//!   kernel and the bitmap, which the spec says are protected.
//! - The header prototypes and constants are checked against [`table`] by a
//!   test, and [`table`] against the exports by the compiler.
//! - Hosted: simulated RAM (1 GiB) is a memfd at the fixed address
//!   `0x4000_0000`, so `PHYS_TO_VIRT` is a constant offset there too, and
//!   lower-half mappings are mirrored into the process so the spec's device
//!   example can write through its mapping ([`hosted`]). The heap hands out
//!   `PHYS_TO_VIRT` of physically contiguous `vmm_alloc` chunks (heap-window
//!   addresses are not real in a Linux process); the first `malloc` brings
//!   the tiers up by itself, because a C runtime allocates before `main`.
//! - Nothing on the `malloc` path allocates through anything else (the
//!   simulated MMU counts instead of recording into a `Vec`), so the hosted
//!   library can replace the C library's allocator, `LD_PRELOAD` or linked in.
//!   Rust test binaries of this crate run on it too.

#![cfg_attr(not(feature = "hosted"), no_std)]
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]

#[cfg(all(not(feature = "hosted"), not(target_os = "none")))]
compile_error!(
    "without the `hosted` feature valen-mm-c is the kernel build: use --target x86_64-unknown-none"
);

pub mod api;
pub mod error;
#[cfg(feature = "hosted")]
pub mod hosted;
pub mod state;
pub mod table;

#[cfg(all(feature = "panic-handler", not(feature = "hosted")))]
#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    loop {
        core::hint::spin_loop();
    }
}
