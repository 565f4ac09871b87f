/*
 * valen/hosted.h - the hosted build's simulated machine (compile with
 * -DVALEN_HOSTED and link the hosted libvalen_mm_c).
 *
 * Simulated physical RAM is a memfd mapped at VALEN_HOSTED_RAM_BASE, so
 * PHYS_TO_VIRT(phys) = VALEN_HOSTED_RAM_BASE + phys is real memory. The first
 * heap call brings every tier up by itself (a C runtime calls malloc before
 * main), as boot code would: bitmap at PHYS_TO_VIRT(VALEN_HOSTED_KERNEL_END +
 * 4096), pmm_init over VALEN_HOSTED_RAM_SIZE, paging_init, vmm_init,
 * heap_init; the spec's *_init calls then find their tier up. Lower-half
 * mappings are mirrored into the process (valen/vmm.h).
 *
 * Limits: the heap grows through vmm_alloc in the 256 MiB heap window, so a
 * process gets at most about 256 MiB of malloc memory (malloc then returns
 * NULL); simulated RAM must be free at VALEN_HOSTED_RAM_BASE in the process.
 * fork: just before it, the parent copies the RAM it has touched for the
 * child (the memory is a shared memfd, so the child needs its own), which
 * costs a copy of the parent's heap per fork. vfork / posix_spawn children
 * share the parent's memory until exec, as usual.
 *
 * LD_PRELOAD=libvalen_mm_c.so makes any program allocate here; with
 * VALEN_MM_STATS=<file> each process appends one line to <file> at exit:
 * its command line, heap bytes and the pointers free refused.
 */
#ifndef VALEN_HOSTED_H
#define VALEN_HOSTED_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Host address of simulated physical address 0. */
#define VALEN_HOSTED_RAM_BASE 0x40000000ULL
/* Bytes of simulated RAM (1 GiB). */
#define VALEN_HOSTED_RAM_SIZE 0x40000000ULL
/* Physical end of the simulated kernel image (2 MiB .. 4 MiB). */
#define VALEN_HOSTED_KERNEL_END 0x400000ULL

/* Creates the simulated RAM now: 0, or -1 if the host refused its address. */
int valen_hosted_boot(void);
/* Lower-half mappings that could not be mirrored (address in use). */
uint64_t valen_hosted_mirror_failures(void);
/* TLB flushes the simulated MMU saw. */
uint64_t valen_hosted_tlb_flushes(void);

#ifdef __cplusplus
}
#endif

#endif /* VALEN_HOSTED_H */
