//! The kernel's virtual address space and the spec's address macros.
//!
//! ```text
//! 0xFFFF_8000_0000_0000 ┬ direct map: every physical byte at DIRECT_MAP_BASE + phys
//!                       │ (huge pages, no-execute; reaches up to 64 TiB of RAM)
//!                       ┆
//! 0xFFFF_FFFF_8000_0000 ┼ kernel image (KERNEL_VIRT_OFFSET + phys): text RX,
//!                       │ rodata R, data/bss RW+NX
//! 0xFFFF_FFFF_B000_0000 ┼ kernel heap and vmm_alloc window
//! 0xFFFF_FFFF_C000_0000 ┼ device mappings
//! 0xFFFF_FFFF_FEFF_FFFF ┴
//! ```
//!
//! The specification's `PHYS_TO_VIRT(p) = p + 0xFFFFFFFF80000000` only reaches
//! the first 2 GiB of physical memory before it wraps out of the address space,
//! so it cannot serve a 15 GiB machine. Here `KERNEL_VIRT_OFFSET` keeps its value
//! and is used for the kernel image only; [`phys_to_virt`] (the C macro
//! `PHYS_TO_VIRT`) goes through the direct map, which covers all RAM.

use crate::addr::{PhysAddr, VirtAddr};

/// Where the kernel image is linked: virtual = physical + this (the spec's value).
pub const KERNEL_VIRT_OFFSET: u64 = 0xFFFF_FFFF_8000_0000;
/// Base of the direct map of all physical memory.
pub const DIRECT_MAP_BASE: u64 = 0xFFFF_8000_0000_0000;
/// Most physical memory the direct map can reach (64 TiB, half the higher half).
pub const DIRECT_MAP_SIZE: u64 = 0x4000_0000_0000;
/// Start of the kernel image window.
pub const KERNEL_WINDOW_START: u64 = KERNEL_VIRT_OFFSET;
/// End of the kernel image window (exclusive).
pub const KERNEL_WINDOW_END: u64 = 0xFFFF_FFFF_B000_0000;
/// Start of the heap and `vmm_alloc` window.
pub const HEAP_WINDOW_START: u64 = 0xFFFF_FFFF_B000_0000;
/// End of the heap and `vmm_alloc` window (exclusive).
pub const HEAP_WINDOW_END: u64 = 0xFFFF_FFFF_C000_0000;
/// Start of the device-mapping window.
pub const DEVICE_WINDOW_START: u64 = 0xFFFF_FFFF_C000_0000;
/// End of the device-mapping window (exclusive; the spec's last byte is 0xFFFFFFFFFEFFFFFF).
pub const DEVICE_WINDOW_END: u64 = 0xFFFF_FFFF_FF00_0000;

/// Which part of the kernel's address space an address falls in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Window {
    /// Lower half (user space, or identity mappings during boot).
    Lower,
    /// The direct map of physical memory.
    DirectMap,
    /// The kernel image.
    Kernel,
    /// The heap and `vmm_alloc` window.
    Heap,
    /// The device window.
    Device,
    /// A higher-half address outside every window.
    Unassigned,
}

impl Window {
    /// The window that holds `addr`.
    pub const fn of(addr: VirtAddr) -> Self {
        let a = addr.as_u64();
        if a < 0x0000_8000_0000_0000 {
            Self::Lower
        } else if a >= DIRECT_MAP_BASE && a - DIRECT_MAP_BASE < DIRECT_MAP_SIZE {
            Self::DirectMap
        } else if a >= KERNEL_WINDOW_START && a < KERNEL_WINDOW_END {
            Self::Kernel
        } else if a >= HEAP_WINDOW_START && a < HEAP_WINDOW_END {
            Self::Heap
        } else if a >= DEVICE_WINDOW_START && a < DEVICE_WINDOW_END {
            Self::Device
        } else {
            Self::Unassigned
        }
    }

    /// A short name for logs.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Lower => "lower half",
            Self::DirectMap => "direct map",
            Self::Kernel => "kernel image",
            Self::Heap => "heap window",
            Self::Device => "device window",
            Self::Unassigned => "unassigned",
        }
    }
}

/// The direct-map address of `phys` (the corrected `PHYS_TO_VIRT`), or `None`
/// beyond the 64 TiB the direct map covers.
pub const fn phys_to_virt(phys: PhysAddr) -> Option<VirtAddr> {
    if phys.as_u64() < DIRECT_MAP_SIZE {
        Some(VirtAddr::new_truncate(DIRECT_MAP_BASE + phys.as_u64()))
    } else {
        None
    }
}

/// The physical address behind a direct-map or kernel-image address (the
/// spec's `VIRT_TO_PHYS`, which it uses on `_kernel_end`), or `None` for an
/// address in neither window: those need a page-table walk.
pub const fn virt_to_phys(virt: VirtAddr) -> Option<PhysAddr> {
    match Window::of(virt) {
        Window::DirectMap => Some(PhysAddr::new_truncate(virt.as_u64() - DIRECT_MAP_BASE)),
        Window::Kernel => Some(PhysAddr::new_truncate(virt.as_u64() - KERNEL_VIRT_OFFSET)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_match_the_spec() {
        let w = |a: u64| Window::of(VirtAddr::new(a).unwrap());
        assert_eq!(w(0xF000_0000), Window::Lower);
        assert_eq!(w(0xFFFF_8000_0000_0000), Window::DirectMap);
        assert_eq!(w(0xFFFF_FFFF_8000_0000), Window::Kernel);
        assert_eq!(w(0xFFFF_FFFF_AFFF_FFFF), Window::Kernel);
        assert_eq!(w(0xFFFF_FFFF_B000_0000), Window::Heap);
        assert_eq!(w(0xFFFF_FFFF_C000_0000), Window::Device);
        assert_eq!(w(0xFFFF_FFFF_FEFF_FFFF), Window::Device);
        assert_eq!(w(0xFFFF_FFFF_FF00_0000), Window::Unassigned);
    }

    #[test]
    fn direct_map_reaches_15_gib_and_round_trips() {
        let p = PhysAddr::new(15 << 30).unwrap();
        let v = phys_to_virt(p).unwrap();
        assert_eq!(v.as_u64(), 0xFFFF_8003_C000_0000);
        assert_eq!(virt_to_phys(v), Some(p));
        let k = VirtAddr::new(KERNEL_VIRT_OFFSET + 0x20_0000).unwrap();
        assert_eq!(virt_to_phys(k), Some(PhysAddr::new(0x20_0000).unwrap()));
        assert_eq!(phys_to_virt(PhysAddr::new(DIRECT_MAP_SIZE).unwrap()), None);
    }
}
