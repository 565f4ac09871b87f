/*
 * valen/heap.h - the kernel heap: malloc and free, plus the rest of the C
 * library's allocation functions.
 *
 * Part of valen-mm's C API (the Rust library valen-mm-c). TLSF-style
 * segregated free lists (malloc and free in O(1)); adjacent free blocks
 * coalesce (blocks of up to 512 bytes first wait in a small per-size cache
 * for the next request of their size, and coalesce when it is flushed:
 * by itself before any allocation would fail, or by heap_flush_cache);
 * every block has a header holding HEAP_MAGIC, checked before a
 * pointer is trusted, so a bad or double free is refused and counted, never
 * followed. 16 KiB initial heap that grows through the VMM. Thread-safe.
 *
 * The size_t functions use the C library's signatures (size_t and uint64_t
 * are the same type on x86_64), so this header and <stdlib.h> can both be
 * included. Hosted build: these ARE the process's malloc (link the static
 * library, or LD_PRELOAD libvalen_mm_c.so into any program).
 */
#ifndef VALEN_HEAP_H
#define VALEN_HEAP_H

#include <stddef.h>
#include <stdint.h>
#include <valen/vmm.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The magic number in every block header (the spec's value). */
#define HEAP_MAGIC 0x12345678
/* The spec's initial heap: 16 KiB. */
#define HEAP_INITIAL_SIZE 16384
/* Alignment of every malloc block (the spec's 8 is the floor). */
#define HEAP_MIN_ALIGN 16

/* ---- The spec's functions ---- */

/* Gives the heap its 16 KiB initial memory, through vmm_alloc (after vmm_init). */
void heap_init(void);
/* size bytes, 16-byte aligned, or NULL. */
void *malloc(uint64_t size);
/* Frees a malloc block; NULL is ignored; a bad pointer is refused. */
void free(void *ptr);

/* ---- Additions ---- */

/* heap_init that reports: VALEN_ENOTINIT (no vmm_init), VALEN_EALREADY,
 * VALEN_ENOMEM. */
int heap_init_checked(void);
/* free that reports: VALEN_EINVAL (not a heap pointer), VALEN_ENOENT (double
 * free), VALEN_ECORRUPT (damaged header). */
int heap_free_checked(void *ptr);
/* count * size zeroed bytes, NULL on overflow. */
void *calloc(size_t count, size_t size);
/* Resizes (in place when it can); NULL ptr: malloc; size 0: free, NULL.
 * On failure the old block is untouched. */
void *realloc(void *ptr, size_t size);
/* size bytes aligned to align (a power of two). */
void *aligned_alloc(size_t align, size_t size);
/* The same, under its older name. */
void *memalign(size_t align, size_t size);
/* size bytes, page aligned. */
void *valloc(size_t size);
/* Whole pages, page aligned. */
void *pvalloc(size_t size);
/* *out = size bytes aligned to align; 0, EINVAL or ENOMEM. */
int posix_memalign(void **out, size_t align, size_t size);
/* Bytes usable at ptr (0 for NULL or a pointer the heap does not know). */
size_t malloc_usable_size(void *ptr);
/* Bytes the heap took from the VMM. */
uint64_t heap_get_total_bytes(void);
/* Bytes in used blocks, headers included. */
uint64_t heap_get_used_bytes(void);
/* Bytes not in use: free blocks and blocks waiting in the quick cache. */
uint64_t heap_get_free_bytes(void);
/* Pointers free / realloc refused so far. */
uint64_t heap_get_refused(void);
/* Walks every block and free list: VALEN_OK or VALEN_ECORRUPT. */
int heap_check(void);
/* Frees the blocks waiting in the quick cache for real, merging them with
 * their free neighbours; returns how many. */
uint64_t heap_flush_cache(void);
/* Blocks of each size the quick cache may hold (32 by default); 0 turns it
 * off, so every free coalesces at once. Flushes the cache first. */
void heap_set_cache_depth(uint32_t depth);

#ifdef __cplusplus
}
#endif

#endif /* VALEN_HEAP_H */
