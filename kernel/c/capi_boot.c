/*
 * The test kernel's C boot (`cargo xtask run --capi`): what Valen's C kernel
 * does with the C API's static library once the Rust boot code has set up
 * the CPU and the boot page tables. It brings memory management up with the
 * spec's Quick Start, runs every example of the specification and checks on
 * the real MMU what each one promises, printing "ok <example>" or
 * "FAIL <example>" for each. The examples (spec/) and their checks
 * (promises/) are the code the hosted C tests run too; this file adds what
 * only a real machine can check (the firmware memory map, the local APIC,
 * heap blocks inside the heap window).
 *
 *   kmain (Rust) -> valen_c_kernel(boot info) -> Quick Start -> examples
 *                <- passed / failed counts    <- "ok ..." lines
 */
#include "env.h"

/* A driver's 16 frames (64 KiB), for the paging and VMM examples. */
static uintptr_t physical_addr;

#include "spec/basic_allocation.h"
#include "spec/device_mapping.h"
#include "spec/error_handling.h"
#include "spec/heap_example.h"
#include "spec/integration.h"
#include "spec/memory_stats.h"
#include "spec/paging.h"
#include "spec/pmm.h"
#include "spec/quick_start.h"
#include "spec/vmm.h"

#include "promises/basic_allocation.h"
#include "promises/device_mapping.h"
#include "promises/heap_example.h"
#include "promises/integration.h"
#include "promises/memory_stats.h"
#include "promises/paging.h"
#include "promises/pmm.h"
#include "promises/quick_start.h"
#include "promises/vmm.h"

/* ---- the examples; what each promises is checked in promises/, and
 * here only what needs the real machine ---- */

static void quick_start(void) {
    kernel_main();
    kprintf("  memory management up: %llu KB RAM, %llu KB used, bitmap at 0x%p, %llu frames outside usable RAM marked used\n",
            (unsigned long long)pmm_get_total_kb(), (unsigned long long)pmm_get_used_kb(),
            (void *)bitmap_addr, (unsigned long long)holes_marked);
    quick_start_promises();
    /* Every frame outside the firmware's usable RAM is held: the first and
     * last of each gap between usable regions, and of each other region. */
    for (uint64_t i = 0; i < boot_info->region_count; i++) {
        const struct valen_region *r = &boot_info->regions[i];
        uint64_t edges[2] = {r->end & ~0xFFFULL, (r->start & ~0xFFFULL) - PAGE_SIZE};
        if (!r->usable)
            edges[0] = r->start & ~0xFFFULL, edges[1] = ((r->end + 0xFFF) & ~0xFFFULL) - PAGE_SIZE;
        for (int e = 0; e < 2; e++)
            if (edges[e] >= PMM_MIN_ALLOC_ADDR && edges[e] + PAGE_SIZE <= memory_size && !usable_until(edges[e]))
                CHECK(pmm_mark_used_checked(edges[e]) == VALEN_EEXIST);
    }
}

static void pmm(void) {
    /* The spec's PMM initialization, again: refused, nothing changes. */
    uint64_t used = pmm_get_used_kb();
    pmm_initialization();
    CHECK(pmm_get_used_kb() == used);
    pmm_promises();
}

static void paging(void) {
    paging_initialization(); /* again: refused */
    physical_addr = (uintptr_t)pmm_alloc_pages(16);
    CHECK(physical_addr != 0);
    paging_promises();
}

static void vmm(void) {
    vmm_promises();
    CHECK(pmm_free_pages_checked((void *)physical_addr, 16) == VALEN_OK);
}

static void heap(void) {
    heap_example_promises();
    /* The heap's blocks lie in the heap window (the hosted heap hands its
     * blocks out through the simulated RAM instead). */
    for (int i = 1; i < 100; i++) {
        void *p = malloc(i * 7);
        CHECK((uint64_t)p >= VMM_HEAP_WINDOW_START && (uint64_t)p < VMM_HEAP_WINDOW_END);
        free(p);
    }
}

static void basic(void) { basic_allocation_promises(); }

static void device(void) {
    device_mapping_promises();
    /* A real device: the local APIC's registers, mapped in the device
     * window; its version register reads what an integrated APIC says. */
    uint64_t flags;
    volatile uint32_t *apic = vmm_map_device(0xFEE00000, PAGE_SIZE);
    CHECK(apic != NULL);
    if (apic) {
        CHECK((uint64_t)apic >= VMM_DEVICE_WINDOW_START && (uint64_t)apic < VMM_DEVICE_WINDOW_END);
        CHECK(paging_translate((uintptr_t)apic, NULL, &flags) == VALEN_OK && (flags & PAGE_PCD));
        uint32_t version = apic[0x30 / 4];
        kprintf("  local APIC at 0xFEE00000: version register 0x%x\n", version);
        CHECK((version & 0xFF) >= 0x10 && (version & 0xFF) <= 0x15 && ((version >> 16) & 0xFF) >= 2);
        CHECK(vmm_unmap_device((void *)apic) == VALEN_OK);
        CHECK(faults_on_read((uint64_t)apic));
    }
}

static void stats(void) { memory_stats_promises(); }

/* Frames taken to exhaust the PMM, chained through their own first word
 * (real RAM: touching every frame costs nothing). */
static uint64_t held_head, held_count;

static void exhaust(void) {
    void *p;
    while ((p = pmm_alloc_page()) != NULL) {
        *(volatile uint64_t *)PHYS_TO_VIRT(p) = held_head;
        held_head = (uint64_t)p;
        held_count++;
    }
}

static void give_back(uint64_t n) {
    while (n-- && held_count) {
        uint64_t next = *(volatile uint64_t *)PHYS_TO_VIRT(held_head);
        CHECK(pmm_free_page_checked((void *)held_head) == VALEN_OK);
        held_head = next;
        held_count--;
    }
}

#include "promises/error_handling.h"

static void errors(void) { error_handling_promises(); }

static void integration(void) {
    /* The spec's boot-time init, again: every call refused, nothing moves. */
    uint64_t used = pmm_get_used_kb(), heap_total = heap_get_total_bytes();
    init_memory_subsystem();
    CHECK(pmm_get_used_kb() == used && heap_get_total_bytes() == heap_total);
    integration_promises();
}

/* ---- the boot ---- */

static const struct {
    const char *name;
    void (*run)(void);
} examples[] = {
    {"quick_start", quick_start},     {"pmm", pmm},
    {"paging", paging},               {"vmm", vmm},
    {"heap_example", heap},           {"basic_allocation", basic},
    {"device_mapping", device},       {"memory_stats", stats},
    {"error_handling", errors},       {"integration", integration},
};

/* Called by the Rust kernel once the CPU and the boot tables are set up
 * (all RAM at the direct map, no identity map). Runs every example; the
 * counts go back to the kernel, which prints the summary. */
void valen_c_kernel(const struct valen_boot *info, uint32_t *passed, uint32_t *failed);
void valen_c_kernel(const struct valen_boot *info, uint32_t *passed, uint32_t *failed) {
    extern char _kernel_end[];
    boot_info = info;
    max_physical_addr = memory_size = info->max_physical_addr;
    kernel_phys_end = VIRT_TO_PHYS((uintptr_t)_kernel_end);
    bitmap_addr = (uintptr_t)PHYS_TO_VIRT((kernel_phys_end + 0x1000) & ~0xFFFULL);
    kprintf("c: the C kernel runs: %llu KB of RAM, kernel image ends at 0x%p\n",
            (unsigned long long)(max_physical_addr / 1024), (void *)kernel_phys_end);
    *passed = *failed = 0;
    for (size_t i = 0; i < sizeof examples / sizeof examples[0]; i++) {
        int before = checks_failed;
        kprintf("c: example %s\n", examples[i].name);
        examples[i].run();
        if (checks_failed == before) {
            kprintf("ok %s\n", examples[i].name);
            ++*passed;
        } else {
            kprintf("FAIL %s: %d checks failed\n", examples[i].name, checks_failed - before);
            ++*failed;
        }
    }
    /* The heap is intact and refused exactly the pointers the checks gave it. */
    int before = checks_failed;
    CHECK(heap_check() == VALEN_OK);
    CHECK(heap_get_refused() == expected_refusals);
    if (checks_failed == before) {
        kprintf("ok heap_intact\n");
        ++*passed;
    } else {
        kprintf("FAIL heap_intact\n");
        ++*failed;
    }
    kprintf("c: pmm %llu KB used of %llu KB, heap %llu bytes in use of %llu, %llu vmm allocations\n",
            (unsigned long long)pmm_get_used_kb(), (unsigned long long)pmm_get_total_kb(),
            (unsigned long long)heap_get_used_bytes(), (unsigned long long)heap_get_total_bytes(),
            (unsigned long long)vmm_get_allocations());
}
