/*
 * valen/vmm.h - the virtual memory manager: the kernel's virtual windows.
 *
 *   0xFFFFFFFF80000000 - 0xFFFFFFFFB0000000  kernel image
 *   0xFFFFFFFFB0000000 - 0xFFFFFFFFC0000000  heap window: vmm_alloc, the heap
 *   0xFFFFFFFFC0000000 - 0xFFFFFFFFFF000000  device window: vmm_map_device
 *
 * Part of valen-mm's C API (the Rust library valen-mm-c). The page flags and
 * address macros come from valen/paging.h. Thread-safe.
 *
 * Hosted build: the windows exist in the simulated page tables only; reach a
 * vmm_alloc block's bytes through PHYS_TO_VIRT(vmm_get_phys(addr)). Mappings
 * of lower-half addresses (vmm_map, vmm_map_range) are also made real in the
 * host process, so C code can use the address it mapped.
 */
#ifndef VALEN_VMM_H
#define VALEN_VMM_H

#include <stdint.h>
#include <valen/paging.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Start of the heap / vmm_alloc window. */
#define VMM_HEAP_WINDOW_START 0xFFFFFFFFB0000000ULL
/* End (exclusive) of the heap / vmm_alloc window. */
#define VMM_HEAP_WINDOW_END 0xFFFFFFFFC0000000ULL
/* Start of the device window. */
#define VMM_DEVICE_WINDOW_START 0xFFFFFFFFC0000000ULL
/* End (exclusive) of the device window. */
#define VMM_DEVICE_WINDOW_END 0xFFFFFFFFFF000000ULL

/* ---- The spec's functions ---- */

/* Starts the VMM (after paging_init). */
void vmm_init(void);
/* Maps the page holding virt to the frame holding phys. Inside a window the
 * range is reserved there so no allocation lands on it. The frame stays the
 * caller's. */
void vmm_map(uintptr_t virt, uintptr_t phys, uint64_t flags);
/* Maps [virt, virt + size) to [phys, ...): every page the range touches;
 * virt and phys must share their offset into the page. All or nothing. */
void vmm_map_range(uintptr_t virt, uintptr_t phys, uint64_t size, uint64_t flags);
/* pages zeroed pages in the heap window, physically contiguous when the PMM
 * has such a run, followed by an unmapped guard page; NULL on failure (zero
 * pages, flags without PAGE_PRESENT or with PAGE_HUGE, out of memory). */
void *vmm_alloc(uint64_t pages, uint64_t flags);
/* The physical address virtual_addr leads to, or 0 if it is not mapped. */
uintptr_t vmm_get_phys(uintptr_t virtual_addr);

/* ---- Additions ---- */

/* vmm_init that reports: VALEN_ENOTINIT (no paging_init), VALEN_EALREADY. */
int vmm_init_checked(void);
/* vmm_map that reports (VALEN_EEXIST: mapped or reserved already). */
int vmm_map_checked(uintptr_t virt, uintptr_t phys, uint64_t flags);
/* vmm_map_range that reports. */
int vmm_map_range_checked(uintptr_t virt, uintptr_t phys, uint64_t size, uint64_t flags);
/* Removes exactly one earlier vmm_map / vmm_map_range mapping (VALEN_ENOENT
 * otherwise). The frames stay the caller's. */
int vmm_unmap(uintptr_t virt, uint64_t size);
/* Frees a vmm_alloc block: unmaps it, gives its frames back to the PMM and
 * its addresses back to the window (VALEN_ENOENT if virt is not one). */
int vmm_free(void *virt);
/* Maps device registers [phys, phys + size) uncached (PAGE_PCD), writable,
 * not executable, at an address the VMM picks in the device window; returns
 * the address of phys itself, or NULL. */
void *vmm_map_device(uintptr_t phys, uint64_t size);
/* Removes a vmm_map_device mapping, given an address in its first page. */
int vmm_unmap_device(void *virt);
/* 4 KiB pages mapped through the VMM (allocations, maps, devices). */
uint64_t vmm_get_mapped_pages(void);
/* Live vmm_alloc blocks. */
uint64_t vmm_get_allocations(void);

#ifdef __cplusplus
}
#endif

#endif /* VALEN_VMM_H */
