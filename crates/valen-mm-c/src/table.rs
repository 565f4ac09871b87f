//! The C API as data: every exported function's C prototype (exactly as the
//! headers spell it) with its Rust type, and every constant with its value.
//!
//! ```text
//!   include/valen/*.h  --(tests/headers.rs parses)-->  compared with C_FUNCTIONS / C_CONSTANTS
//!   C_FUNCTIONS        --(c_api! type-checks)------->  the #[no_mangle] functions
//! ```
//!
//! The `c_api!` macro assigns each function to a pointer of the Rust type
//! written in its entry, so the compiler rejects an entry that disagrees with
//! the export; the header test then checks that the header prototype, read
//! through the C-to-Rust type table, is that same type. Drift anywhere fails
//! a build or a test.

use crate::api::{heap::*, paging::*, pmm::*, vmm::*};
use core::ffi::c_void;

/// One exported function.
#[derive(Clone, Copy, Debug)]
pub struct CFunction {
    /// Header it is declared in (`pmm.h`...).
    pub header: &'static str,
    /// Whether the specification shows it (else it is an addition).
    pub spec: bool,
    /// The prototype as the header spells it, without the `;`.
    pub prototype: &'static str,
    /// Its Rust type, `fn(...) -> ...` as written in the table.
    pub rust_type: &'static str,
}

macro_rules! c_api {
    ($($header:literal $spec:literal $proto:literal => $name:ident : fn($($arg:ty),*) $(-> $ret:ty)?;)*) => {
        /// Every exported function (hosted-only ones are in [`HOSTED_FUNCTIONS`]).
        pub const C_FUNCTIONS: &[CFunction] = &[$(CFunction {
            header: $header,
            spec: $spec,
            prototype: $proto,
            rust_type: stringify!(fn($($arg),*) $(-> $ret)?),
        }),*];
        const _: () = {$(
            let _: unsafe extern "C" fn($($arg),*) $(-> $ret)? = $name;
        )*};
    };
}

c_api! {
    "pmm.h" true "void pmm_init(uintptr_t start, uint64_t size)" => pmm_init: fn(usize, u64);
    "pmm.h" false "int pmm_init_checked(uintptr_t start, uint64_t size)" => pmm_init_checked: fn(usize, u64) -> i32;
    "pmm.h" true "void *pmm_alloc_page(void)" => pmm_alloc_page: fn() -> *mut c_void;
    "pmm.h" true "void *pmm_alloc_pages(uint64_t count)" => pmm_alloc_pages: fn(u64) -> *mut c_void;
    "pmm.h" false "void *pmm_alloc_pages_aligned(uint64_t count, uint64_t align)" => pmm_alloc_pages_aligned: fn(u64, u64) -> *mut c_void;
    "pmm.h" true "void pmm_free_page(void *addr)" => pmm_free_page: fn(*mut c_void);
    "pmm.h" false "int pmm_free_page_checked(void *addr)" => pmm_free_page_checked: fn(*mut c_void) -> i32;
    "pmm.h" false "void pmm_free_pages(void *addr, uint64_t count)" => pmm_free_pages: fn(*mut c_void, u64);
    "pmm.h" false "int pmm_free_pages_checked(void *addr, uint64_t count)" => pmm_free_pages_checked: fn(*mut c_void, u64) -> i32;
    "pmm.h" true "void pmm_mark_free(uintptr_t addr)" => pmm_mark_free: fn(usize);
    "pmm.h" false "int pmm_mark_free_checked(uintptr_t addr)" => pmm_mark_free_checked: fn(usize) -> i32;
    "pmm.h" true "void pmm_mark_used(uintptr_t addr)" => pmm_mark_used: fn(usize);
    "pmm.h" false "int pmm_mark_used_checked(uintptr_t addr)" => pmm_mark_used_checked: fn(usize) -> i32;
    "pmm.h" true "uint64_t pmm_get_total_kb(void)" => pmm_get_total_kb: fn() -> u64;
    "pmm.h" true "uint64_t pmm_get_used_kb(void)" => pmm_get_used_kb: fn() -> u64;
    "pmm.h" true "uint64_t pmm_get_free_kb(void)" => pmm_get_free_kb: fn() -> u64;
    "pmm.h" false "uint64_t pmm_bitmap_bytes(uint64_t size)" => pmm_bitmap_bytes: fn(u64) -> u64;
    "paging.h" true "void paging_init(void)" => paging_init: fn();
    "paging.h" false "int paging_init_checked(void)" => paging_init_checked: fn() -> i32;
    "paging.h" true "void paging_map(uint64_t virt, uint64_t phys, uint64_t flags)" => paging_map: fn(u64, u64, u64);
    "paging.h" false "int paging_map_checked(uint64_t virt, uint64_t phys, uint64_t flags)" => paging_map_checked: fn(u64, u64, u64) -> i32;
    "paging.h" true "void paging_map_range(uint64_t virt, uint64_t phys, uint64_t size, uint64_t flags)" => paging_map_range: fn(u64, u64, u64, u64);
    "paging.h" false "int paging_map_range_checked(uint64_t virt, uint64_t phys, uint64_t size, uint64_t flags)" => paging_map_range_checked: fn(u64, u64, u64, u64) -> i32;
    "paging.h" true "void paging_map_page(uint64_t virt, uint64_t phys, uint64_t flags)" => paging_map_page: fn(u64, u64, u64);
    "paging.h" false "int paging_map_page_checked(uint64_t virt, uint64_t phys, uint64_t flags)" => paging_map_page_checked: fn(u64, u64, u64) -> i32;
    "paging.h" false "int paging_unmap(uint64_t virt, uint64_t size)" => paging_unmap: fn(u64, u64) -> i32;
    "paging.h" false "int paging_translate(uint64_t virt, uint64_t *phys, uint64_t *flags)" => paging_translate: fn(u64, *mut u64, *mut u64) -> i32;
    "vmm.h" true "void vmm_init(void)" => vmm_init: fn();
    "vmm.h" false "int vmm_init_checked(void)" => vmm_init_checked: fn() -> i32;
    "vmm.h" true "void vmm_map(uintptr_t virt, uintptr_t phys, uint64_t flags)" => vmm_map: fn(usize, usize, u64);
    "vmm.h" false "int vmm_map_checked(uintptr_t virt, uintptr_t phys, uint64_t flags)" => vmm_map_checked: fn(usize, usize, u64) -> i32;
    "vmm.h" true "void vmm_map_range(uintptr_t virt, uintptr_t phys, uint64_t size, uint64_t flags)" => vmm_map_range: fn(usize, usize, u64, u64);
    "vmm.h" false "int vmm_map_range_checked(uintptr_t virt, uintptr_t phys, uint64_t size, uint64_t flags)" => vmm_map_range_checked: fn(usize, usize, u64, u64) -> i32;
    "vmm.h" false "int vmm_unmap(uintptr_t virt, uint64_t size)" => vmm_unmap: fn(usize, u64) -> i32;
    "vmm.h" true "void *vmm_alloc(uint64_t pages, uint64_t flags)" => vmm_alloc: fn(u64, u64) -> *mut c_void;
    "vmm.h" false "int vmm_free(void *virt)" => vmm_free: fn(*mut c_void) -> i32;
    "vmm.h" false "void *vmm_map_device(uintptr_t phys, uint64_t size)" => vmm_map_device: fn(usize, u64) -> *mut c_void;
    "vmm.h" false "int vmm_unmap_device(void *virt)" => vmm_unmap_device: fn(*mut c_void) -> i32;
    "vmm.h" true "uintptr_t vmm_get_phys(uintptr_t virtual_addr)" => vmm_get_phys: fn(usize) -> usize;
    "vmm.h" false "uint64_t vmm_get_mapped_pages(void)" => vmm_get_mapped_pages: fn() -> u64;
    "vmm.h" false "uint64_t vmm_get_allocations(void)" => vmm_get_allocations: fn() -> u64;
    "heap.h" true "void heap_init(void)" => heap_init: fn();
    "heap.h" false "int heap_init_checked(void)" => heap_init_checked: fn() -> i32;
    "heap.h" true "void *malloc(uint64_t size)" => malloc: fn(u64) -> *mut c_void;
    "heap.h" true "void free(void *ptr)" => free: fn(*mut c_void);
    "heap.h" false "int heap_free_checked(void *ptr)" => heap_free_checked: fn(*mut c_void) -> i32;
    "heap.h" false "void *calloc(size_t count, size_t size)" => calloc: fn(usize, usize) -> *mut c_void;
    "heap.h" false "void *realloc(void *ptr, size_t size)" => realloc: fn(*mut c_void, usize) -> *mut c_void;
    "heap.h" false "void *aligned_alloc(size_t align, size_t size)" => aligned_alloc: fn(usize, usize) -> *mut c_void;
    "heap.h" false "void *memalign(size_t align, size_t size)" => memalign: fn(usize, usize) -> *mut c_void;
    "heap.h" false "void *valloc(size_t size)" => valloc: fn(usize) -> *mut c_void;
    "heap.h" false "void *pvalloc(size_t size)" => pvalloc: fn(usize) -> *mut c_void;
    "heap.h" false "int posix_memalign(void **out, size_t align, size_t size)" => posix_memalign: fn(*mut *mut c_void, usize, usize) -> i32;
    "heap.h" false "size_t malloc_usable_size(void *ptr)" => malloc_usable_size: fn(*mut c_void) -> usize;
    "heap.h" false "uint64_t heap_get_total_bytes(void)" => heap_get_total_bytes: fn() -> u64;
    "heap.h" false "uint64_t heap_get_used_bytes(void)" => heap_get_used_bytes: fn() -> u64;
    "heap.h" false "uint64_t heap_get_free_bytes(void)" => heap_get_free_bytes: fn() -> u64;
    "heap.h" false "uint64_t heap_get_refused(void)" => heap_get_refused: fn() -> u64;
    "heap.h" false "int heap_check(void)" => heap_check: fn() -> i32;
    "heap.h" false "uint64_t heap_flush_cache(void)" => heap_flush_cache: fn() -> u64;
    "heap.h" false "void heap_set_cache_depth(uint32_t depth)" => heap_set_cache_depth: fn(u32);
}

/// The hosted-only functions of `hosted.h`, checked the same way.
#[cfg(feature = "hosted")]
pub const HOSTED_FUNCTIONS: &[CFunction] = {
    use crate::api::hosted::*;
    let _: extern "C" fn() -> i32 = valen_hosted_boot;
    let _: extern "C" fn() -> u64 = valen_hosted_mirror_failures;
    let _: extern "C" fn() -> u64 = valen_hosted_tlb_flushes;
    &[
        CFunction {
            header: "hosted.h",
            spec: false,
            prototype: "int valen_hosted_boot(void)",
            rust_type: "fn() -> i32",
        },
        CFunction {
            header: "hosted.h",
            spec: false,
            prototype: "uint64_t valen_hosted_mirror_failures(void)",
            rust_type: "fn() -> u64",
        },
        CFunction {
            header: "hosted.h",
            spec: false,
            prototype: "uint64_t valen_hosted_tlb_flushes(void)",
            rust_type: "fn() -> u64",
        },
    ]
};

/// One `#define` of the headers: its name and value in each build (`None`:
/// not defined in that build).
#[derive(Clone, Copy, Debug)]
pub struct CConstant {
    /// Header it is defined in.
    pub header: &'static str,
    /// The macro's name.
    pub name: &'static str,
    /// Its value in the hosted build (`-DVALEN_HOSTED`).
    pub hosted: Option<i128>,
    /// Its value in the kernel build.
    pub kernel: Option<i128>,
}

const fn both(header: &'static str, name: &'static str, v: u64) -> CConstant {
    CConstant {
        header,
        name,
        hosted: Some(v as i128),
        kernel: Some(v as i128),
    }
}

const fn code(name: &'static str, v: i32) -> CConstant {
    CConstant {
        header: "pmm.h",
        name,
        hosted: Some(v as i128),
        kernel: Some(v as i128),
    }
}

mod values {
    pub use crate::error::*;
    pub use valen_mm::heap::HEAP_MAGIC;
    pub use valen_mm::layout::*;
    pub use valen_mm::paging::flags::*;
    pub const HOSTED_RAM_BASE: u64 = 0x4000_0000;
    pub const HOSTED_RAM_SIZE: u64 = 1 << 30;
    pub const HOSTED_KERNEL_END: u64 = crate::state::HOSTED_KERNEL_END;
}
use values::*;

#[cfg(feature = "hosted")]
const _: () = assert!(HOSTED_RAM_BASE == crate::hosted::RAM_BASE);
#[cfg(feature = "hosted")]
const _: () = assert!(HOSTED_RAM_SIZE == crate::hosted::RAM_SIZE);

/// Every constant of the headers.
pub const C_CONSTANTS: &[CConstant] = &[
    both("paging.h", "PAGE_PRESENT", PAGE_PRESENT),
    both("paging.h", "PAGE_WRITE", PAGE_WRITE),
    both("paging.h", "PAGE_USER", PAGE_USER),
    both("paging.h", "PAGE_PWT", PAGE_PWT),
    both("paging.h", "PAGE_PCD", PAGE_PCD),
    both("paging.h", "PAGE_ACCESSED", PAGE_ACCESSED),
    both("paging.h", "PAGE_DIRTY", PAGE_DIRTY),
    both("paging.h", "PAGE_HUGE", PAGE_HUGE),
    both("paging.h", "PAGE_GLOBAL", PAGE_GLOBAL),
    both("paging.h", "PAGE_NO_EXECUTE", PAGE_NO_EXECUTE),
    both("paging.h", "PAGE_SIZE", valen_mm::PAGE_SIZE),
    both("paging.h", "KERNEL_VIRT_OFFSET", KERNEL_VIRT_OFFSET),
    both("paging.h", "VALEN_DIRECT_MAP_BASE", DIRECT_MAP_BASE),
    CConstant {
        header: "paging.h",
        name: "VALEN_PHYS_BASE",
        hosted: Some(HOSTED_RAM_BASE as i128),
        kernel: Some(DIRECT_MAP_BASE as i128),
    },
    both("vmm.h", "VMM_HEAP_WINDOW_START", HEAP_WINDOW_START),
    both("vmm.h", "VMM_HEAP_WINDOW_END", HEAP_WINDOW_END),
    both("vmm.h", "VMM_DEVICE_WINDOW_START", DEVICE_WINDOW_START),
    both("vmm.h", "VMM_DEVICE_WINDOW_END", DEVICE_WINDOW_END),
    both("heap.h", "HEAP_MAGIC", HEAP_MAGIC as u64),
    both(
        "heap.h",
        "HEAP_INITIAL_SIZE",
        valen_mm::heap::INITIAL_HEAP_SIZE as u64,
    ),
    both("heap.h", "HEAP_MIN_ALIGN", valen_mm::heap::MIN_ALIGN as u64),
    both("pmm.h", "PMM_MIN_ALLOC_ADDR", valen_mm::pmm::MIN_ALLOC_ADDR),
    code("VALEN_OK", VALEN_OK),
    code("VALEN_EINVAL", VALEN_EINVAL),
    code("VALEN_ENOMEM", VALEN_ENOMEM),
    code("VALEN_EEXIST", VALEN_EEXIST),
    code("VALEN_ENOENT", VALEN_ENOENT),
    code("VALEN_ENOTINIT", VALEN_ENOTINIT),
    code("VALEN_EALREADY", VALEN_EALREADY),
    code("VALEN_ECORRUPT", VALEN_ECORRUPT),
    CConstant {
        header: "hosted.h",
        name: "VALEN_HOSTED_RAM_BASE",
        hosted: Some(HOSTED_RAM_BASE as i128),
        kernel: None,
    },
    CConstant {
        header: "hosted.h",
        name: "VALEN_HOSTED_RAM_SIZE",
        hosted: Some(HOSTED_RAM_SIZE as i128),
        kernel: None,
    },
    CConstant {
        header: "hosted.h",
        name: "VALEN_HOSTED_KERNEL_END",
        hosted: Some(HOSTED_KERNEL_END as i128),
        kernel: None,
    },
];
