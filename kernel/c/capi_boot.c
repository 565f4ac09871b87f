/*
 * The test kernel's C boot (`cargo xtask run --capi`): what Valen's C kernel
 * does with the C API's static library once the Rust boot code has set up
 * the CPU and the boot page tables. It brings memory management up with the
 * spec's Quick Start, runs every example of the specification (the files
 * in spec/, the code the hosted C tests run too) and checks on the real
 * MMU what each one promises, printing "ok <example>" or "FAIL <example>" for each.
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

/* Whether reading / writing addr page-faults (the kernel's probe answers 1
 * for a fault, 0 for none, -1 for an address that is not canonical). */
static int faults_on_read(uint64_t addr) { return kernel_probe(addr, 0) == 1; }
static int faults_on_write(uint64_t addr) { return kernel_probe(addr, 1) == 1; }
static int no_fault_on_write(uint64_t addr) { return kernel_probe(addr, 1) == 0; }

/* Whether the PMM refuses to hand out the frame at phys: it is held, or
 * below 2 MiB, which the PMM never hands out (the kernel image is small, so
 * the bitmap after it can be there). Marking it used must be refused. */
static int protected_frame(uint64_t phys) {
    int rc = pmm_mark_used_checked(phys);
    return rc == VALEN_EEXIST || (phys < PMM_MIN_ALLOC_ADDR && rc == VALEN_EINVAL);
}

/* Where the protected range (the kernel image and the bitmap) ends. */
static uint64_t protected_end(void) {
    uint64_t bitmap_phys = (kernel_phys_end + 0x1000) & ~0xFFFULL;
    return (bitmap_phys + pmm_bitmap_bytes(max_physical_addr) + 0xFFF) & ~0xFFFULL;
}

/* ---- the examples and what each promises ---- */

static void quick_start(void) {
    kernel_main();
    kprintf("  memory management up: %llu KB RAM, %llu KB used, bitmap at 0x%p, %llu frames outside usable RAM marked used\n",
            (unsigned long long)pmm_get_total_kb(), (unsigned long long)pmm_get_used_kb(),
            (void *)bitmap_addr, (unsigned long long)holes_marked);
    /* Every tier came up: a second init is refused. */
    CHECK(pmm_init_checked(bitmap_addr, memory_size) == VALEN_EALREADY);
    CHECK(paging_init_checked() == VALEN_EALREADY);
    CHECK(vmm_init_checked() == VALEN_EALREADY);
    CHECK(heap_init_checked() == VALEN_EALREADY);
    /* The bitmap sits right after the kernel image, where the spec puts it. */
    CHECK(kernel_phys_end > 0x100000 && VIRT_TO_PHYS(bitmap_addr) == ((kernel_phys_end + 0x1000) & ~0xFFFULL));
    /* A physical page at or above 2 MiB, page aligned, past the bitmap; freed. */
    uint64_t p = (uint64_t)quick_start_phys_page;
    CHECK(p >= PMM_MIN_ALLOC_ADDR && p % PAGE_SIZE == 0 && p >= protected_end());
    CHECK(pmm_free_page_checked(quick_start_phys_page) == VALEN_ENOENT);
    /* One zeroed, writable page in the heap window, followed by a guard page. */
    volatile uint64_t *v = quick_start_virt_mem;
    CHECK((uint64_t)v >= VMM_HEAP_WINDOW_START && (uint64_t)v < VMM_HEAP_WINDOW_END);
    CHECK(v[0] == 0 && v[511] == 0);
    v[0] = 0x5157415254ULL;
    uintptr_t phys = vmm_get_phys((uintptr_t)v);
    CHECK(phys >= PMM_MIN_ALLOC_ADDR && *(volatile uint64_t *)PHYS_TO_VIRT(phys) == 0x5157415254ULL);
    CHECK(faults_on_read((uint64_t)v + PAGE_SIZE));
    /* The heap block was real memory, 16-byte aligned, and freed. */
    CHECK(quick_start_heap_mem && (uint64_t)quick_start_heap_mem % 16 == 0);
    CHECK(heap_free_checked(quick_start_heap_mem) == VALEN_ENOENT);
    expected_refusals++;
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
    CHECK(pmm_get_total_kb() == max_physical_addr / 1024);
    CHECK(pmm_mark_used_checked(PMM_MIN_ALLOC_ADDR) == VALEN_EEXIST); /* kernel */
    CHECK(protected_frame(VIRT_TO_PHYS(bitmap_addr)));
    CHECK(pmm_free_page_checked((void *)0x1000) == VALEN_EINVAL); /* below 2 MiB */

    page_allocation();
    uint64_t page = logged("Allocated page at: ") ? hex_after_0x(logged("Allocated page at: ")) : 0;
    uint64_t pages = logged("Allocated 4 pages at: ") ? hex_after_0x(logged("Allocated 4 pages at: ")) : 0;
    CHECK(page >= protected_end() && page % PAGE_SIZE == 0);
    CHECK(pages >= protected_end() && pages % PAGE_SIZE == 0);
    /* The single page came back. The spec frees the 4-page run with
     * pmm_free_page, which frees one frame: the other 3 are still used. */
    CHECK(pmm_free_page_checked((void *)page) == VALEN_ENOENT);
    CHECK(pmm_get_used_kb() == used + 12);
    CHECK(pmm_free_pages_checked((char *)pages + PAGE_SIZE, 3) == VALEN_OK);
    CHECK(pmm_get_used_kb() == used);

    /* Contiguous means contiguous, and the frames are real RAM. */
    void *run = pmm_alloc_pages(4);
    CHECK(run != NULL);
    for (int i = 0; i < 4; i++) {
        CHECK(pmm_mark_used_checked((uintptr_t)run + i * PAGE_SIZE) == VALEN_EEXIST);
        volatile uint32_t *w = PHYS_TO_VIRT((uintptr_t)run + i * PAGE_SIZE);
        *w = 0xF00D0000u + (uint32_t)i;
        CHECK(*w == 0xF00D0000u + (uint32_t)i);
    }
    CHECK(pmm_free_pages_checked(run, 4) == VALEN_OK);

    memory_statistics();
    char want[128];
    k_snprintf(want, sizeof want, "Memory: %d KB total, %d KB used, %d KB free\n",
               (int)pmm_get_total_kb(), (int)pmm_get_used_kb(), (int)pmm_get_free_kb());
    CHECK(logged("Memory: ") && strcmp(logged("Memory: "), want) == 0);
    CHECK(pmm_get_used_kb() + pmm_get_free_kb() == pmm_get_total_kb());
}

static void paging(void) {
    paging_initialization(); /* again: refused */
    CHECK(paging_init_checked() == VALEN_EALREADY);
    physical_addr = (uintptr_t)pmm_alloc_pages(16);
    CHECK(physical_addr != 0);

    /* The boot code removed the identity map: the lower half is empty, and
     * the map creates its PDPT, PD and PT (3 frames). */
    CHECK(faults_on_read(0x1000000));
    uint64_t used = pmm_get_used_kb();
    page_mapping();
    CHECK(pmm_get_used_kb() == used + 12);
    uint64_t phys = 0, flags = 0;
    CHECK(paging_translate(0x1000000, &phys, &flags) == VALEN_OK);
    CHECK(phys == physical_addr);
    CHECK((flags & (PAGE_PRESENT | PAGE_WRITE)) == (PAGE_PRESENT | PAGE_WRITE));
    CHECK(paging_map_checked(0x1000000, physical_addr, PAGE_PRESENT) == VALEN_EEXIST);
    CHECK(paging_map_checked(0x1001000, physical_addr, 0) == VALEN_EINVAL);
    /* The mapping is real: a write through it lands in the physical frame. */
    *(volatile uint64_t *)0x1000000 = 0x1122334455667788ULL;
    CHECK(*(volatile uint64_t *)PHYS_TO_VIRT(physical_addr) == 0x1122334455667788ULL);

    /* 16 pages, page by page onto the buffer (another PD entry: one new PT). */
    range_mapping();
    CHECK(pmm_get_used_kb() == used + 16);
    for (uint64_t off = 0; off < 0x10000; off += PAGE_SIZE) {
        CHECK(paging_translate(0x2000000 + off, &phys, NULL) == VALEN_OK);
        CHECK(phys == physical_addr + off);
    }
    ((volatile char *)0x2000000)[0xF123] = 'v';
    CHECK(((volatile char *)PHYS_TO_VIRT(physical_addr))[0xF123] == 'v');
    CHECK(*(volatile uint64_t *)0x2000000 == 0x1122334455667788ULL); /* same frame as 0x1000000 */
    CHECK(paging_translate(0x2010000, NULL, NULL) == VALEN_ENOENT);
    CHECK(faults_on_read(0x2010000));

    /* A 2 MiB page with PAGE_HUGE: both ends reach the run. */
    void *big = pmm_alloc_pages_aligned(512, 2 << 20);
    CHECK(big != NULL);
    CHECK(paging_map_page_checked(0x40000000000ULL, (uint64_t)big, PAGE_PRESENT | PAGE_WRITE | PAGE_HUGE) == VALEN_OK);
    CHECK(paging_translate(0x40000000000ULL + 0x12345, &phys, &flags) == VALEN_OK);
    CHECK(phys == (uint64_t)big + 0x12345 && (flags & PAGE_HUGE));
    *(volatile uint64_t *)(0x40000000000ULL + 0x1FFFF8) = 0xB16B00B5ULL;
    CHECK(*(volatile uint64_t *)PHYS_TO_VIRT((uint64_t)big + 0x1FFFF8) == 0xB16B00B5ULL);

    /* The spec's index arithmetic is the hardware's. */
    uint64_t idx[4];
    indices(0xFFFFFFFF80201000ULL, idx);
    CHECK(idx[0] == 511 && idx[1] == 510 && idx[2] == 1 && idx[3] == 1);
    indices(0x2000000, idx);
    CHECK(idx[0] == 0 && idx[1] == 0 && idx[2] == 16 && idx[3] == 0);

    /* Unmapping everything frees the tables, and the TLB forgets: the
     * addresses fault again right away. */
    CHECK(paging_unmap(0x1000000, PAGE_SIZE) == VALEN_OK);
    CHECK(paging_unmap(0x2000000, 0x10000) == VALEN_OK);
    CHECK(paging_unmap(0x40000000000ULL, 2 << 20) == VALEN_OK);
    CHECK(paging_unmap(0x2000000, PAGE_SIZE) == VALEN_ENOENT);
    CHECK(faults_on_read(0x1000000) && faults_on_read(0x200F000) && faults_on_read(0x40000000000ULL));
    CHECK(pmm_free_pages_checked(big, 512) == VALEN_OK);
    CHECK(pmm_get_used_kb() == used);
}

static void vmm(void) {
    uint64_t mapped = vmm_get_mapped_pages();
    memory_mapping();
    CHECK(vmm_get_mapped_pages() == mapped + 17);
    CHECK(vmm_get_phys(0x1000000) == physical_addr);
    CHECK(vmm_get_phys(0x1000abc) == physical_addr + 0xabc);
    for (uintptr_t off = 0; off < 0x10000; off += PAGE_SIZE)
        CHECK(vmm_get_phys(0x2000000 + off) == physical_addr + off);
    CHECK(vmm_get_phys(0x2010000) == 0);
    /* Both mappings reach the same frame. */
    *(volatile uint32_t *)0x1000010 = 0xC0FFEE;
    CHECK(*(volatile uint32_t *)0x2000010 == 0xC0FFEE);
    CHECK(vmm_map_checked(0x1000000, physical_addr, PAGE_PRESENT) == VALEN_EEXIST);

    uint64_t used = pmm_get_used_kb();
    uint64_t allocations = vmm_get_allocations();
    void *memory = virtual_allocation();
    CHECK(memory != NULL);
    CHECK(logged("Allocated virtual memory at: ") &&
          hex_after_0x(logged("Allocated virtual memory at: ")) == (uint64_t)memory);
    CHECK(vmm_get_allocations() == allocations + 1);
    CHECK((uint64_t)memory >= VMM_HEAP_WINDOW_START && (uint64_t)memory < VMM_HEAP_WINDOW_END);
    CHECK((uint64_t)memory % PAGE_SIZE == 0);
    /* 4 pages, backed by one contiguous run, zeroed and writable; a guard
     * page follows. */
    uintptr_t first = vmm_get_phys((uintptr_t)memory);
    for (int i = 0; i < 4; i++) {
        volatile uint64_t *page = (volatile uint64_t *)((char *)memory + i * PAGE_SIZE);
        CHECK(vmm_get_phys((uintptr_t)page) == first + i * PAGE_SIZE);
        CHECK(page[i] == 0);
        page[i] = 0xAA00 + (uint64_t)i;
        CHECK(*(volatile uint64_t *)PHYS_TO_VIRT(first + i * PAGE_SIZE + 8 * i) == 0xAA00 + (uint64_t)i);
    }
    CHECK(vmm_get_phys((uintptr_t)memory + 4 * PAGE_SIZE) == 0);
    CHECK(faults_on_write((uint64_t)memory + 4 * PAGE_SIZE));
    CHECK(pmm_get_used_kb() >= used + 16);

    address_translation((uintptr_t)memory + 0x1234);
    char want[128];
    k_snprintf(want, sizeof want, "Virtual 0x%p maps to physical 0x%p\n",
               (void *)((uintptr_t)memory + 0x1234), (void *)(first + 0x1234));
    CHECK(logged("Virtual ") && strcmp(logged("Virtual "), want) == 0);
    int lines = log_count;
    address_translation(VMM_DEVICE_WINDOW_START); /* unmapped: prints nothing */
    CHECK(log_count == lines);

    /* vmm_free (the spec lacks it) gives everything back, and the pages
     * fault afterwards. */
    CHECK(vmm_free(memory) == VALEN_OK);
    CHECK(vmm_free(memory) == VALEN_ENOENT);
    CHECK(vmm_get_phys((uintptr_t)memory) == 0);
    CHECK(faults_on_read((uint64_t)memory));
    CHECK(pmm_get_used_kb() == used);
    CHECK(vmm_unmap(0x2000000, 0x10000) == VALEN_OK);
    CHECK(vmm_unmap(0x1000000, PAGE_SIZE) == VALEN_OK);
    CHECK(vmm_get_mapped_pages() == mapped);
    CHECK(faults_on_read(0x1000000));
    CHECK(vmm_alloc(0, PAGE_PRESENT) == NULL);
    CHECK(vmm_alloc(1, PAGE_WRITE) == NULL);
    CHECK(pmm_free_pages_checked((void *)physical_addr, 16) == VALEN_OK);
}

static void heap(void) {
    uint64_t used = heap_get_used_bytes();
    heap_example();
    CHECK(logged("Heap buffer: ") && strcmp(logged("Heap buffer: "), "Heap buffer: Hello from heap!\n") == 0);
    CHECK(heap_get_used_bytes() == used);

    /* 16 KiB initial heap in the heap window, grown through the VMM. */
    CHECK(heap_get_total_bytes() >= HEAP_INITIAL_SIZE);
    /* Alignment: at least the spec's 8 bytes (16 here). */
    for (int i = 1; i < 100; i++) {
        void *p = malloc(i * 7);
        CHECK(p && (uintptr_t)p % HEAP_MIN_ALIGN == 0);
        CHECK((uint64_t)p >= VMM_HEAP_WINDOW_START && (uint64_t)p < VMM_HEAP_WINDOW_END);
        free(p);
    }
    /* Magic number validation: a damaged header is detected and the free
     * refused; the heap stays usable. */
    uint32_t *p = malloc(64);
    CHECK(p && p[-2] == HEAP_MAGIC);
    p[-2] = 0xBADBAD;
    CHECK(heap_free_checked(p) == VALEN_ECORRUPT);
    expected_refusals++;
    p[-2] = HEAP_MAGIC;
    CHECK(heap_free_checked(p) == VALEN_OK);
    CHECK(heap_free_checked(p) == VALEN_ENOENT); /* double free */
    expected_refusals++;
    int local;
    void *volatile foreign = &local;
    free(foreign); /* foreign pointer: refused, not followed */
    expected_refusals++;
    /* Coalescing: two neighbours freed make room for one block of both. */
    char *a = malloc(1000), *b = malloc(1000);
    CHECK(b == a + 1008 || a == b + 1008);
    char *lo = a < b ? a : b;
    free(a);
    free(b);
    char *c = malloc(2000);
    CHECK(c == lo);
    free(c);
    /* Expansion: far more than 16 KiB, every byte real. */
    uint64_t allocations = vmm_get_allocations();
    static unsigned char *blocks[64];
    for (int i = 0; i < 64; i++) {
        blocks[i] = malloc(64 * 1024);
        CHECK(blocks[i] != NULL);
        if (blocks[i])
            memset(blocks[i], i, 64 * 1024);
    }
    for (int i = 0; i < 64; i++) {
        CHECK(blocks[i] && blocks[i][0] == i && blocks[i][65535] == i);
        free(blocks[i]);
    }
    CHECK(heap_get_total_bytes() >= 64 * 64 * 1024);
    CHECK(vmm_get_allocations() > allocations);
    /* The rest of the C library's allocation functions. */
    int *z = calloc(100, sizeof(int));
    CHECK(z && z[0] == 0 && z[99] == 0);
    z = realloc(z, 100000 * sizeof(int));
    CHECK(z && z[99] == 0);
    free(z);
    void *al = aligned_alloc(4096, 100);
    CHECK(al && (uintptr_t)al % 4096 == 0 && malloc_usable_size(al) >= 100);
    free(al);
    void *pm = NULL;
    CHECK(posix_memalign(&pm, 256, 10) == 0 && (uintptr_t)pm % 256 == 0);
    free(pm);
    CHECK(posix_memalign(&pm, 3, 10) == 22);
    volatile size_t huge = (size_t)1 << 40;
    CHECK(calloc(huge, huge) == NULL);
    CHECK(heap_get_used_bytes() == used);
}

static void basic(void) {
    uint64_t heap_used = heap_get_used_bytes();
    uint64_t allocations = vmm_get_allocations();
    uint64_t used = pmm_get_used_kb();
    basic_allocation();
    /* The heap block is back; the other two are still held... */
    CHECK(heap_get_used_bytes() == heap_used);
    CHECK(vmm_get_allocations() == allocations + 1);
    uint64_t v = (uint64_t)basic_allocation_virt_mem;
    CHECK(v && vmm_get_phys(v) != 0 && vmm_get_phys(v + PAGE_SIZE) == vmm_get_phys(v) + PAGE_SIZE);
    CHECK(no_fault_on_write(v) && no_fault_on_write(v + 2 * PAGE_SIZE - 1));
    CHECK(basic_allocation_phys_page && (uint64_t)basic_allocation_phys_page >= PMM_MIN_ALLOC_ADDR);
    CHECK(pmm_get_used_kb() >= used + 12);
    /* ...and here they do have free equivalents. */
    CHECK(vmm_free(basic_allocation_virt_mem) == VALEN_OK);
    CHECK(pmm_free_page_checked(basic_allocation_phys_page) == VALEN_OK);
    CHECK(vmm_get_allocations() == allocations);
    CHECK(pmm_get_used_kb() == used);
}

static void device(void) {
    /* The "device": 2 frames of RAM whose contents the check reads back. */
    uintptr_t device = (uintptr_t)pmm_alloc_pages(2);
    CHECK(device != 0);
    map_device_registers(device, 0x1800); /* not a page multiple: rounded up */
    /* The write reached the device's registers. */
    CHECK(*(volatile uint32_t *)PHYS_TO_VIRT(device) == 0xDEADBEEF);
    /* Mapped uncached and writable, both pages. */
    uint64_t phys, flags;
    CHECK(paging_translate(0xF0000000, &phys, &flags) == VALEN_OK);
    CHECK(phys == device);
    CHECK((flags & (PAGE_PRESENT | PAGE_WRITE | PAGE_PCD)) == (PAGE_PRESENT | PAGE_WRITE | PAGE_PCD));
    CHECK(vmm_get_phys(0xF0001004) == device + 0x1004);
    CHECK(vmm_get_phys(0xF0002000) == 0 && faults_on_read(0xF0002000));
    /* A real device: the local APIC's registers, mapped in the device
     * window; its version register reads what an integrated APIC says. */
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
    CHECK(vmm_unmap(0xF0000000, 0x1800) == VALEN_OK);
    CHECK(faults_on_read(0xF0000000));
    CHECK(pmm_free_pages_checked((void *)device, 2) == VALEN_OK);
}

static void stats(void) {
    /* Hold a quarter of the free memory so that the percentage moves. */
    uint64_t before_used = pmm_get_used_kb();
    uint64_t hold = pmm_get_free_kb() / 4 / 4; /* frames */
    void *big = pmm_alloc_pages(hold);
    CHECK(big != NULL);
    print_memory_info();
    uint64_t total = pmm_get_total_kb(), used = pmm_get_used_kb(), free_kb = pmm_get_free_kb();
    char want[64];
    CHECK(logged("Physical Memory:") != NULL);
    k_snprintf(want, sizeof want, "  Total: %d KB\n", (int)total);
    CHECK(logged("  Total:") && strcmp(logged("  Total:"), want) == 0);
    k_snprintf(want, sizeof want, "  Used:  %d KB\n", (int)used);
    CHECK(logged("  Used:") && strcmp(logged("  Used:"), want) == 0);
    k_snprintf(want, sizeof want, "  Free:  %d KB\n", (int)free_kb);
    CHECK(logged("  Free:") && strcmp(logged("  Free:"), want) == 0);
    k_snprintf(want, sizeof want, "  Usage: %d%%\n", (int)(used * 100 / total));
    CHECK(logged("  Usage:") && strcmp(logged("  Usage:"), want) == 0);
    CHECK(total == max_physical_addr / 1024);
    CHECK(used + free_kb == total);
    CHECK(used == before_used + hold * 4 && used * 100 / total >= 20);
    CHECK(pmm_free_pages_checked(big, hold) == VALEN_OK);
    CHECK(pmm_get_used_kb() == before_used);
}

/* Frames taken to exhaust the PMM, chained through their own first word. */
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

static void errors(void) {
    uint64_t heap_used = heap_get_used_bytes();
    uint64_t allocations = vmm_get_allocations();
    uint64_t free_kb = pmm_get_free_kb();

    /* Healthy: nothing fails, the buffer is freed. */
    int lines = log_count;
    robust_memory_allocation();
    CHECK(log_count == lines);
    CHECK(heap_get_used_bytes() == heap_used);
    CHECK(vmm_get_allocations() == allocations + 1);

    /* No frame left: the heap still has room, vmm_alloc fails. */
    exhaust();
    CHECK(held_count * 4 + 16 >= free_kb - 16);
    kprintf("  exhausted the PMM: %llu frames taken\n", (unsigned long long)held_count);
    robust_memory_allocation();
    CHECK(logged("Virtual allocation failed") != NULL);
    CHECK(heap_get_used_bytes() == heap_used);
    CHECK(vmm_get_allocations() == allocations + 1);

    /* Frames for the 4 pages (and a page table if the allocation needs a
     * new one): vmm_alloc succeeds, pmm_alloc_page fails. */
    give_back(4);
    lines = log_count;
    robust_memory_allocation();
    while (log_count == lines + 1 && strcmp(last_line(), "Virtual allocation failed\n") == 0 &&
           held_count) {
        give_back(1);
        lines = log_count;
        robust_memory_allocation();
    }
    CHECK(log_count == lines + 1 && strcmp(last_line(), "Physical allocation failed\n") == 0);
    CHECK(heap_get_used_bytes() == heap_used);
    CHECK(vmm_get_allocations() == allocations + 2);
    CHECK(pmm_alloc_page() == NULL);
    CHECK(pmm_get_free_kb() == 0);

    /* A failed call changes nothing: everything comes back. */
    give_back(held_count);
    CHECK(held_count == 0);
    CHECK(pmm_get_free_kb() + 2 * 16 + 4 * 4 >= free_kb);
}

static void integration(void) {
    extern char _kernel_end[];
    CHECK(VIRT_TO_PHYS((uintptr_t)_kernel_end) == kernel_phys_end);
    /* The spec's boot-time init, again: every call refused, nothing moves. */
    uint64_t used = pmm_get_used_kb(), heap_total = heap_get_total_bytes();
    init_memory_subsystem();
    CHECK(pmm_get_used_kb() == used && heap_get_total_bytes() == heap_total);
    /* The kernel image and the bitmap after it are protected. */
    uint64_t bitmap_phys = (kernel_phys_end + 0x1000) & ~0xFFFULL;
    CHECK(pmm_mark_used_checked(PMM_MIN_ALLOC_ADDR) == VALEN_EEXIST);
    CHECK(protected_frame(bitmap_phys));
    CHECK(protected_frame(bitmap_phys + pmm_bitmap_bytes(max_physical_addr) - 1));
    /* The bitmap really is at PHYS_TO_VIRT(bitmap_phys): marking a frame
     * changes its bit there. */
    void *page = pmm_alloc_page();
    CHECK(page != NULL && (uint64_t)page >= protected_end());
    pmm_free_page(page);
    uint64_t probe = (uint64_t)page;
    volatile uint64_t *word = (volatile uint64_t *)PHYS_TO_VIRT(bitmap_phys) + (probe / 4096 / 64);
    uint64_t before = *word;
    CHECK(pmm_mark_used_checked(probe) == VALEN_OK);
    CHECK(*word == (before | 1ULL << (probe / 4096 % 64)) && *word != before);
    CHECK(pmm_mark_free_checked(probe) == VALEN_OK);
    CHECK(*word == before);

    uint64_t heap_used = heap_get_used_bytes();
    uint64_t allocations = vmm_get_allocations();
    allocate_resources();
    CHECK(heap_get_used_bytes() == heap_used);
    CHECK(vmm_get_allocations() == allocations + 1);
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
