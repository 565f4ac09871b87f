/*
 * What a kernel has around the spec's examples, on the hosted build: the
 * headers, a printf, the boot information (RAM size, where the kernel image
 * ends, a linker symbol _kernel_end), and CHECK for the tests' assertions.
 *
 * _kernel_end is defined at link time (--defsym, as a kernel's linker script
 * would) at PHYS_TO_VIRT(VALEN_HOSTED_KERNEL_END): the simulated kernel image
 * occupies 2 MiB .. 4 MiB of simulated RAM.
 *
 * The spec's example code itself is in spec/, one file per example, shared
 * with the test kernel's C boot (kernel/c), which has its own environment
 * header.
 */
#ifndef KERNEL_ENV_H
#define KERNEL_ENV_H

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

/* The kernel's printf: prints, and keeps the last lines so that a test can
 * read back what an example printed (addresses it did not return). */
#define LOG_LINES 64
static char log_lines[LOG_LINES][256];
static int log_count;
__attribute__((unused)) static int kprintf(const char *fmt, ...);
#include <stdarg.h>
static int kprintf(const char *fmt, ...) {
    char buf[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    fputs(buf, stdout);
    strncpy(log_lines[log_count % LOG_LINES], buf, 255);
    log_count++;
    return n;
}
/* The last logged line that starts with prefix, or NULL. */
__attribute__((unused)) static const char *logged(const char *prefix) {
    for (int i = log_count - 1; i >= 0 && i >= log_count - LOG_LINES; i--)
        if (strncmp(log_lines[i % LOG_LINES], prefix, strlen(prefix)) == 0)
            return log_lines[i % LOG_LINES];
    return NULL;
}
/* The spec's examples print with printf: route it to the kernel's. */
#define printf kprintf

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
