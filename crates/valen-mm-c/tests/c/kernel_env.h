/*
 * What a kernel has around the spec's examples, on the hosted build: the
 * headers, a printf, the boot information (RAM size, where the kernel image
 * ends, a linker symbol _kernel_end), and CHECK for the tests' assertions.
 *
 * _kernel_end is defined at link time (--defsym, as a kernel's linker script
 * would) at PHYS_TO_VIRT(VALEN_HOSTED_KERNEL_END): the simulated kernel image
 * occupies 2 MiB .. 4 MiB of simulated RAM.
 *
 * The spec's example code itself is in spec/, and what each example promises
 * is checked by the code in promises/, one file per example, both shared
 * with the test kernel's C boot (kernel/c), which has its own environment
 * header.
 */
#ifndef KERNEL_ENV_H
#define KERNEL_ENV_H

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <valen/heap.h>
#include <valen/hosted.h>
#include <valen/paging.h>
#include <valen/pmm.h>
#include <valen/vmm.h>

/* The bootloader's answer: RAM size (the highest physical address). */
__attribute__((unused)) static uint64_t max_physical_addr = VALEN_HOSTED_RAM_SIZE;
__attribute__((unused)) static uint64_t memory_size = VALEN_HOSTED_RAM_SIZE;
/* The end of the kernel image, as the kernel's boot code computes it. */
__attribute__((unused)) static uint64_t kernel_phys_end = VALEN_HOSTED_KERNEL_END;
/* Where the boot code puts the PMM bitmap (the spec's formula). */
__attribute__((unused)) static uintptr_t bitmap_addr =
    (uintptr_t)PHYS_TO_VIRT((VALEN_HOSTED_KERNEL_END + 0x1000) & ~0xFFFULL);

static int checks_failed;
/* Refusals a test causes on purpose (double frees...), checked by finish. */
static uint64_t expected_refusals;

/* Where kprintf's lines go: standard output. */
static void console_write(const char *s) { fputs(s, stdout); }

/* kprintf (the spec's printf), which keeps the lines printed for the checks:
 * the same as the test kernel's C boot. */
#include "promises/common.h"

/* What a page fault is here: the simulated machine has no MMU of its own, so
 * an access "faults" when the page tables do not allow it (the test kernel's
 * C boot asks the real MMU). */
__attribute__((unused)) static int faults_on_read(uint64_t addr) {
    return paging_translate(addr, NULL, NULL) == VALEN_ENOENT;
}
__attribute__((unused)) static int no_fault_on_write(uint64_t addr) {
    uint64_t flags = 0;
    return paging_translate(addr, NULL, &flags) == VALEN_OK &&
           (flags & (PAGE_PRESENT | PAGE_WRITE)) == (PAGE_PRESENT | PAGE_WRITE);
}
__attribute__((unused)) static int faults_on_write(uint64_t addr) { return !no_fault_on_write(addr); }
/* A pointer through which the process reaches virt: the heap and device
 * windows exist in the simulated page tables only, so through the simulated
 * RAM (lower-half mappings are mirrored, and reach the same bytes). */
__attribute__((unused)) static void *reach(uint64_t virt) { return PHYS_TO_VIRT(vmm_get_phys(virt)); }

#define CHECK(cond)                                                          \
    do {                                                                     \
        if (!(cond)) {                                                       \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, \
                    #cond);                                                  \
            checks_failed++;                                                 \
        }                                                                    \
    } while (0)

/* The spec's initialization sequence, for examples that run on a kernel
 * whose memory management is up already. */
__attribute__((unused)) static void memory_up(void) {
    pmm_init(bitmap_addr, memory_size);
    paging_init();
    vmm_init();
    heap_init();
}

/* Ends a test: its summary line and exit status. */
static int finish(const char *name) {
    CHECK(heap_check() == VALEN_OK);
    CHECK(heap_get_refused() == expected_refusals);
    CHECK(valen_hosted_mirror_failures() == 0);
    if (checks_failed) {
        printf("FAIL %s: %d checks failed\n", name, checks_failed);
        return 1;
    }
    printf("ok %s\n", name);
    return 0;
}

#endif
