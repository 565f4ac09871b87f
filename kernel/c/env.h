/*
 * What the test kernel's C boot has around the spec's examples (one file
 * per example in spec/, shared with the hosted C tests): the four headers,
 * the boot information the Rust kernel hands over, a printf to the serial
 * port that also keeps the last lines (so a check can read back what an
 * example printed), the few string functions the examples use, page-fault
 * probes, and CHECK. What each example promises is checked by the code in
 * promises/ (one file per example), shared with the hosted C tests too.
 *
 * Freestanding: no C library. memcpy and memset come from the kernel (the
 * compiler may call them); everything else is here.
 */
#ifndef VALEN_KERNEL_C_ENV_H
#define VALEN_KERNEL_C_ENV_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <valen/heap.h>
#include <valen/paging.h>
#include <valen/pmm.h>
#include <valen/vmm.h>

/* ---- from the Rust kernel (kernel/src/capi.rs) ---- */

/* One region of the firmware memory map, [start, end). */
struct valen_region {
    uint64_t start, end;
    uint32_t usable; /* 1: RAM free for the allocators */
    uint32_t reserved_;
};

#define VALEN_MAX_REGIONS 64

/* What the boot code knows when it hands memory management over. */
struct valen_boot {
    uint64_t max_physical_addr; /* end of the highest usable region */
    uint64_t region_count;
    struct valen_region regions[VALEN_MAX_REGIONS];
};

/* Writes len bytes to the serial console. */
void kernel_write(const char *s, size_t len);
/* Reads (write = 0) or writes (write = 1) one byte at addr and says whether
 * that page-faulted (1) or not (0); a fault is caught, not fatal. */
int kernel_probe(uint64_t addr, int write);

/* ---- the boot information the spec's examples name ---- */

static uint64_t max_physical_addr; /* RAM size: the highest usable address */
static uint64_t memory_size;       /* the same, under the Quick Start's name */
static uint64_t kernel_phys_end;   /* VIRT_TO_PHYS(_kernel_end) */
static uintptr_t bitmap_addr;      /* PHYS_TO_VIRT((kernel_phys_end + 0x1000) & ~0xFFF) */
static const struct valen_boot *boot_info;

/* ---- string functions ---- */

static size_t k_strlen(const char *s) {
    size_t n = 0;
    while (s[n])
        n++;
    return n;
}
static char *k_strcpy(char *dst, const char *src) {
    char *d = dst;
    while ((*d++ = *src++))
        ;
    return dst;
}
static int k_strncmp(const char *a, const char *b, size_t n) {
    for (; n; n--, a++, b++) {
        if (*a != *b)
            return (unsigned char)*a - (unsigned char)*b;
        if (!*a)
            return 0;
    }
    return 0;
}
static int k_strcmp(const char *a, const char *b) { return k_strncmp(a, b, (size_t)-1); }
#define strlen k_strlen
#define strcpy k_strcpy
#define strcmp k_strcmp
#define strncmp k_strncmp
void *memset(void *dst, int c, size_t n);

/* ---- printf ---- */

struct out {
    char *buf;
    size_t cap, len;
};
static void out_char(struct out *o, char c) {
    if (o->len + 1 < o->cap)
        o->buf[o->len] = c;
    o->len++;
}
static void out_num(struct out *o, unsigned long long v, unsigned base) {
    char digits[24];
    int n = 0;
    do {
        digits[n++] = "0123456789abcdef"[v % base];
        v /= base;
    } while (v);
    while (n)
        out_char(o, digits[--n]);
}

/* %d %i %u %x %p %s %c %% with the l, ll and z modifiers. %p prints the
 * address in hex without a prefix: the spec writes "0x%p". %d takes an
 * int, as in C: the spec passes uint64_t values to it, which x86_64's
 * calling convention turns into their low 32 bits (what glibc prints too). */
static int k_vsnprintf(char *buf, size_t cap, const char *fmt, va_list ap) {
    struct out o = {buf, cap, 0};
    for (; *fmt; fmt++) {
        if (*fmt != '%') {
            out_char(&o, *fmt);
            continue;
        }
        int longs = 0;
        while (fmt[1] == 'l' || fmt[1] == 'z') {
            longs++;
            fmt++;
        }
        switch (*++fmt) {
        case 'd':
        case 'i': {
            long long v = longs ? va_arg(ap, long long) : va_arg(ap, int);
            if (v < 0)
                out_char(&o, '-');
            out_num(&o, v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v, 10);
            break;
        }
        case 'u':
            out_num(&o, longs ? va_arg(ap, unsigned long long) : va_arg(ap, unsigned), 10);
            break;
        case 'x':
            out_num(&o, longs ? va_arg(ap, unsigned long long) : va_arg(ap, unsigned), 16);
            break;
        case 'p':
            out_num(&o, (uintptr_t)va_arg(ap, void *), 16);
            break;
        case 's': {
            const char *s = va_arg(ap, const char *);
            for (s = s ? s : "(null)"; *s; s++)
                out_char(&o, *s);
            break;
        }
        case 'c':
            out_char(&o, (char)va_arg(ap, int));
            break;
        case '%':
            out_char(&o, '%');
            break;
        case '\0':
            fmt--;
            break;
        default:
            out_char(&o, '%');
            out_char(&o, *fmt);
        }
    }
    if (cap)
        buf[o.len < cap ? o.len : cap - 1] = '\0';
    return (int)o.len;
}

static int k_snprintf(char *buf, size_t cap, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = k_vsnprintf(buf, cap, fmt, ap);
    va_end(ap);
    return n;
}

/* The checks format with snprintf; the shared printf with vsnprintf. */
#define snprintf k_snprintf
#define vsnprintf k_vsnprintf

/* Where kprintf's lines go: the serial console. */
static void console_write(const char *s) { kernel_write(s, k_strlen(s)); }

/* kprintf (the spec's printf), which keeps the lines printed for the checks:
 * the same as the hosted tests'. */
#include "promises/common.h"

/* ---- what the real MMU says (the hosted build asks its page tables) ---- */

/* Whether reading / writing addr page-faults (the kernel's probe answers 1
 * for a fault, 0 for none, -1 for an address that is not canonical). */
static int faults_on_read(uint64_t addr) { return kernel_probe(addr, 0) == 1; }
static int faults_on_write(uint64_t addr) { return kernel_probe(addr, 1) == 1; }
static int no_fault_on_write(uint64_t addr) { return kernel_probe(addr, 1) == 0; }
/* A pointer through which the CPU reaches virt: virt itself here (the
 * hosted build's windows exist in its simulated page tables only). */
static void *reach(uint64_t virt) { return (void *)virt; }

/* ---- checks ---- */

static int checks_failed;
/* Refusals the checks cause on purpose (double frees...): heap_get_refused
 * must equal this at the end. */
static uint64_t expected_refusals;

/* The source file's name without its folders, where the compiler has it. */
#ifdef __FILE_NAME__
#define CHECK_FILE __FILE_NAME__
#else
#define CHECK_FILE __FILE__
#endif

#define CHECK(cond)                                                              \
    do {                                                                         \
        if (!(cond)) {                                                           \
            kprintf("  CHECK failed: %s:%d: %s\n", CHECK_FILE, __LINE__, #cond); \
            checks_failed++;                                                     \
        }                                                                        \
    } while (0)

/* ---- pmm_init as Valen's boot code calls it ---- */

/* pmm_init(start, size) knows only the RAM size; the boot code then marks
 * every frame below it that the firmware map does not call usable RAM (the
 * gaps such as the PCI hole, reserved and ACPI ranges) as used, so that the
 * PMM never hands them out. The spec's examples call pmm_init; this is what
 * they get in this kernel. */
static uint64_t holes_marked; /* frames the first call marked */

/* If the frame at a lies wholly inside a usable region: the first frame
 * after that region (else 0). */
static uint64_t usable_until(uint64_t a) {
    for (uint64_t i = 0; i < boot_info->region_count; i++) {
        const struct valen_region *r = &boot_info->regions[i];
        if (r->usable && a >= r->start && a + PAGE_SIZE <= r->end)
            return r->end & ~0xFFFULL;
    }
    return 0;
}

static void boot_pmm_init(uintptr_t start, uint64_t size) {
    static int done;
    (pmm_init)(start, size);
    if (done || pmm_get_total_kb() == 0)
        return;
    done = 1;
    for (uint64_t a = PMM_MIN_ALLOC_ADDR; a + PAGE_SIZE <= size;) {
        uint64_t next = usable_until(a);
        if (next) {
            a = next;
            continue;
        }
        int rc = pmm_mark_used_checked(a);
        CHECK(rc == VALEN_OK || rc == VALEN_EEXIST);
        holes_marked += rc == VALEN_OK;
        a += PAGE_SIZE;
    }
}
#define pmm_init(start, size) boot_pmm_init(start, size)

#endif
