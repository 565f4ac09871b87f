/*
 * valen/paging.h - x86_64 4-level page tables (PML4, PDPT, PD, PT).
 *
 * Part of valen-mm's C API (the Rust library valen-mm-c). Every function the
 * Valen memory-management specification shows keeps its name and signature;
 * additions have their own names. The spec's void functions have an
 * `int ..._checked` twin returning VALEN_OK (0) or a negative VALEN_E* code
 * (see valen/pmm.h).
 *
 * Build the hosted library's users with -DVALEN_HOSTED (see valen/hosted.h).
 */
#ifndef VALEN_PAGING_H
#define VALEN_PAGING_H

#include <stdint.h>
#include <valen/pmm.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Page flags (the spec's values, plus the rest of the entry bits) ---- */

/* The page is present. */
#define PAGE_PRESENT (1ULL << 0)
/* The page is writable. */
#define PAGE_WRITE (1ULL << 1)
/* Accessible from user mode. */
#define PAGE_USER (1ULL << 2)
/* Page-level write-through. */
#define PAGE_PWT (1ULL << 3)
/* Page-level cache disable (use for MMIO). */
#define PAGE_PCD (1ULL << 4)
/* Set by the CPU when the page is accessed. */
#define PAGE_ACCESSED (1ULL << 5)
/* Set by the CPU when the page is written. */
#define PAGE_DIRTY (1ULL << 6)
/* 2 MiB / 1 GiB page. Only paging_map_page accepts it (one 2 MiB page);
 * paging_map_range picks huge pages itself where alignment allows. */
#define PAGE_HUGE (1ULL << 7)
/* The TLB entry survives CR3 reloads. */
#define PAGE_GLOBAL (1ULL << 8)
/* Instruction fetches fault. */
#define PAGE_NO_EXECUTE (1ULL << 63)

/* Bytes in a page. */
#define PAGE_SIZE 4096ULL

/* ---- Address macros ---- */

/* Where the kernel image is linked: virtual = physical + this (the spec's value).
 * Used for the kernel image only. */
#define KERNEL_VIRT_OFFSET 0xFFFFFFFF80000000ULL
/* Base of the direct map of all physical memory (kernel build). */
#define VALEN_DIRECT_MAP_BASE 0xFFFF800000000000ULL

/* What PHYS_TO_VIRT adds: the direct map in a kernel; on the hosted build the
 * host address of the simulated RAM (VALEN_HOSTED_RAM_BASE). */
#ifdef VALEN_HOSTED
#define VALEN_PHYS_BASE 0x40000000ULL
#else
#define VALEN_PHYS_BASE 0xFFFF800000000000ULL
#endif

/* PHYS_TO_VIRT(phys): a pointer through which physical memory is reached.
 * CORRECTED MEANING: the spec adds KERNEL_VIRT_OFFSET, which reaches only the
 * first 2 GiB of RAM before it leaves the address space; here it is the direct
 * map, VALEN_PHYS_BASE + phys, which reaches all of it. The kernel must map all
 * RAM there before pmm_init. */
#define PHYS_TO_VIRT(phys) ((void *)((uint64_t)(phys) + VALEN_PHYS_BASE))
/* VIRT_TO_PHYS(virt): the physical address behind a kernel-image address
 * (at or above KERNEL_VIRT_OFFSET) or a PHYS_TO_VIRT address. Other addresses
 * need a page-table walk: vmm_get_phys. */
#define VIRT_TO_PHYS(virt)                                                   \
    ((uint64_t)(virt) >= KERNEL_VIRT_OFFSET                                  \
         ? (uint64_t)(virt) - KERNEL_VIRT_OFFSET                             \
         : (uint64_t)(virt) - VALEN_PHYS_BASE)

/* ---- The spec's functions ---- */

/* Takes over the page tables: in a kernel, adopts the tables in CR3 (the
 * bootloader's, which must map all RAM at VALEN_DIRECT_MAP_BASE) and reloads
 * CR3; on the hosted build, a fresh PML4 in the simulated CR3. After pmm_init. */
void paging_init(void);
/* Maps the 4 KiB page holding virt to the frame holding phys; missing tables
 * are created, the TLB entry is flushed. Refused (no change) if the page is
 * mapped already or the flags lack PAGE_PRESENT. */
void paging_map(uint64_t virt, uint64_t phys, uint64_t flags);
/* Maps [virt, virt + size) to [phys, ...), every page the range touches
 * (virt and phys must share their offset into the page), with 1 GiB / 2 MiB
 * pages where alignment allows. All or nothing. */
void paging_map_range(uint64_t virt, uint64_t phys, uint64_t size, uint64_t flags);
/* Maps one page: 2 MiB if flags has PAGE_HUGE (virt and phys 2 MiB aligned),
 * else 4 KiB like paging_map. */
void paging_map_page(uint64_t virt, uint64_t phys, uint64_t flags);

/* ---- Additions ---- */

/* paging_init that reports: VALEN_OK, VALEN_ENOTINIT (no pmm_init),
 * VALEN_EALREADY. */
int paging_init_checked(void);
/* paging_map that reports: VALEN_EINVAL (flags), VALEN_EEXIST (mapped),
 * VALEN_ENOMEM (no frame for a table), VALEN_ENOTINIT. */
int paging_map_checked(uint64_t virt, uint64_t phys, uint64_t flags);
/* paging_map_range that reports. */
int paging_map_range_checked(uint64_t virt, uint64_t phys, uint64_t size, uint64_t flags);
/* paging_map_page that reports. */
int paging_map_page_checked(uint64_t virt, uint64_t phys, uint64_t flags);
/* Unmaps every page of [virt, virt + size) (all must be mapped: else
 * VALEN_ENOENT and no change); emptied tables are freed, the frames mapped
 * stay the caller's. */
int paging_unmap(uint64_t virt, uint64_t size);
/* Where virt leads: *phys gets the physical byte, *flags the leaf's flags
 * (PAGE_HUGE for a 2 MiB / 1 GiB page); either pointer may be NULL.
 * VALEN_ENOENT if unmapped. */
int paging_translate(uint64_t virt, uint64_t *phys, uint64_t *flags);

#ifdef __cplusplus
}
#endif

#endif /* VALEN_PAGING_H */
