/*
 * valen/pmm.h - the physical memory manager: one bit per 4 KiB frame.
 *
 * Part of valen-mm's C API (the Rust library valen-mm-c). Every function the
 * Valen memory-management specification shows keeps its name and signature;
 * additions have their own names. Physical addresses are returned in void *
 * (as the spec does); NULL means no frame (nothing below 2 MiB is ever handed
 * out). Thread-safe (spinlock; interrupts off while held in a kernel).
 */
#ifndef VALEN_PMM_H
#define VALEN_PMM_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Error codes of the *_checked functions and the other additions ---- */

/* Success. */
#define VALEN_OK 0
/* A bad argument: unaligned, zero, bad flags, outside RAM or a window. */
#define VALEN_EINVAL (-1)
/* Out of memory: frames, virtual space or heap. */
#define VALEN_ENOMEM (-2)
/* Already there: page mapped, frame used. */
#define VALEN_EEXIST (-3)
/* Not there: unmapped, not allocated, freed twice. */
#define VALEN_ENOENT (-4)
/* The tier is not initialized yet. */
#define VALEN_ENOTINIT (-5)
/* The tier is initialized already. */
#define VALEN_EALREADY (-6)
/* A heap block header is damaged (bad HEAP_MAGIC). */
#define VALEN_ECORRUPT (-7)

/* The lowest physical address the PMM hands out (2 MiB). */
#define PMM_MIN_ALLOC_ADDR 0x200000ULL

/* ---- The spec's functions ---- */

/* Starts the PMM: its bitmap at virtual address start (a PHYS_TO_VIRT
 * address, pmm_bitmap_bytes(size) bytes that nothing else uses), covering
 * size bytes of RAM from address 0. Every frame from 2 MiB up is free
 * afterwards except 2 MiB .. the end of the bitmap, which is marked used: the
 * spec places the bitmap right after the kernel image, so that range is the
 * kernel and the bitmap. Mark holes and other reserved frames with
 * pmm_mark_used. One bit per frame, set when used; one exception: the frame
 * pmm_free_page freed last is held for the next pmm_alloc_page with its bit
 * still set, until the next call that reads or writes the bitmap clears it
 * (every PMM function counts it as free all along). */
void pmm_init(uintptr_t start, uint64_t size);
/* One free 4 KiB frame (physical address), or NULL. */
void *pmm_alloc_page(void);
/* count physically contiguous frames (physical address of the first), or NULL. */
void *pmm_alloc_pages(uint64_t count);
/* Frees ONE frame (as the spec's does); free a run with pmm_free_pages.
 * Freeing a frame that is not allocated is refused (no change). */
void pmm_free_page(void *addr);
/* Marks the frame holding addr free. */
void pmm_mark_free(uintptr_t addr);
/* Marks the frame holding addr used (reserved). */
void pmm_mark_used(uintptr_t addr);
/* KiB of RAM the PMM manages (0 before pmm_init). */
uint64_t pmm_get_total_kb(void);
/* KiB of it in use. */
uint64_t pmm_get_used_kb(void);
/* KiB of it free. */
uint64_t pmm_get_free_kb(void);

/* ---- Additions ---- */

/* pmm_init that reports: VALEN_OK, VALEN_EINVAL (start not a PHYS_TO_VIRT
 * address, size too large), VALEN_EALREADY. */
int pmm_init_checked(uintptr_t start, uint64_t size);
/* count contiguous frames whose first is align-byte aligned (power of two). */
void *pmm_alloc_pages_aligned(uint64_t count, uint64_t align);
/* pmm_free_page that reports: VALEN_EINVAL (unaligned, outside RAM, reserved),
 * VALEN_ENOENT (not allocated), VALEN_ENOTINIT. */
int pmm_free_page_checked(void *addr);
/* Frees count frames from addr (a pmm_alloc_pages run). */
void pmm_free_pages(void *addr, uint64_t count);
/* pmm_free_pages that reports; all or nothing. */
int pmm_free_pages_checked(void *addr, uint64_t count);
/* pmm_mark_free that reports (VALEN_ENOENT: already free). */
int pmm_mark_free_checked(uintptr_t addr);
/* pmm_mark_used that reports (VALEN_EEXIST: already used). */
int pmm_mark_used_checked(uintptr_t addr);
/* Bytes of bitmap pmm_init needs at start for size bytes of RAM. */
uint64_t pmm_bitmap_bytes(uint64_t size);

#ifdef __cplusplus
}
#endif

#endif /* VALEN_PMM_H */
