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
 * mappings are mirrored into the process (valen/vmm.h). A process that forks
 * without exec shares the simulated RAM with its child.
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
