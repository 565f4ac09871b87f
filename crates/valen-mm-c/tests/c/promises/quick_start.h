/* What the spec's Quick Start (spec/quick_start.h, included before this)
 * promises, checked once kernel_main() has run. */
static void quick_start_promises(void) {
    /* Every tier came up: a second init is refused. */
    CHECK(pmm_init_checked(bitmap_addr, memory_size) == VALEN_EALREADY);
    CHECK(paging_init_checked() == VALEN_EALREADY);
    CHECK(vmm_init_checked() == VALEN_EALREADY);
    CHECK(heap_init_checked() == VALEN_EALREADY);
    /* The bitmap sits right after the kernel image, where the spec puts it. */
    CHECK(kernel_phys_end > 0x100000 && VIRT_TO_PHYS(bitmap_addr) == bitmap_phys_addr());
    /* A physical page at or above 2 MiB, page aligned, past the bitmap; freed. */
    uint64_t p = (uint64_t)quick_start_phys_page;
    CHECK(p >= PMM_MIN_ALLOC_ADDR && p % PAGE_SIZE == 0 && p >= protected_end());
    CHECK(pmm_free_page_checked(quick_start_phys_page) == VALEN_ENOENT);
    /* One zeroed, writable page in the heap window, followed by a guard page. */
    uint64_t v = (uint64_t)quick_start_virt_mem;
    CHECK(v >= VMM_HEAP_WINDOW_START && v < VMM_HEAP_WINDOW_END);
    uintptr_t phys = vmm_get_phys(v);
    CHECK(phys >= PMM_MIN_ALLOC_ADDR);
    if (phys) {
        volatile uint64_t *page = reach(v);
        CHECK(page[0] == 0 && page[511] == 0);
        page[0] = 0x5157415254ULL;
        CHECK(*(volatile uint64_t *)PHYS_TO_VIRT(phys) == 0x5157415254ULL);
    }
    CHECK(faults_on_read(v + PAGE_SIZE));
    /* The heap block was real memory, 16-byte aligned, and freed. */
    CHECK(quick_start_heap_mem != NULL && (uint64_t)quick_start_heap_mem % 16 == 0);
    CHECK(heap_free_checked(quick_start_heap_mem) == VALEN_ENOENT);
    expected_refusals++;
}
