//! Where the kernel image sits, from the symbols of `linker.ld`.

use valen_mm::KERNEL_VIRT_OFFSET;

extern "C" {
    static __kernel_phys_start: u8;
    static __text_start: u8;
    static __text_end: u8;
    static __rodata_start: u8;
    static __rodata_end: u8;
    static __data_start: u8;
    static __data_end: u8;
}

/// The kernel image's sections, as virtual addresses (physical = virtual -
/// `KERNEL_VIRT_OFFSET`, except the boot part, which is linked at its
/// physical address).
#[derive(Clone, Copy, Debug)]
pub struct KernelImage {
    /// First byte of the image (the boot part), physical.
    pub boot_start: u64,
    /// Executable code.
    pub text: (u64, u64),
    /// Read-only data.
    pub rodata: (u64, u64),
    /// Data and bss (writable).
    pub data: (u64, u64),
}

impl KernelImage {
    /// The linker's answer.
    pub fn get() -> Self {
        let a = |p: *const u8| p as u64;
        Self {
            boot_start: a(&raw const __kernel_phys_start),
            text: (a(&raw const __text_start), a(&raw const __text_end)),
            rodata: (a(&raw const __rodata_start), a(&raw const __rodata_end)),
            data: (a(&raw const __data_start), a(&raw const __data_end)),
        }
    }

    /// Physical start of the whole image.
    pub fn phys_start(&self) -> u64 {
        self.boot_start
    }

    /// Physical end (exclusive) of the whole image.
    pub fn phys_end(&self) -> u64 {
        self.data.1 - KERNEL_VIRT_OFFSET
    }
}
