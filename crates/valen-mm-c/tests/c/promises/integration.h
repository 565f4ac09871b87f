/* What the spec's "Integration Example" (spec/integration.h, included
 * before this) promises, checked once init_memory_subsystem() has run. */
static void integration_promises(void) {
    /* The linker symbol is where the boot information says the image ends. */
    extern char _kernel_end[];
    CHECK(VIRT_TO_PHYS((uintptr_t)_kernel_end) == kernel_phys_end);
    CHECK(heap_get_total_bytes() >= HEAP_INITIAL_SIZE);
    /* The kernel image and the bitmap after it are protected. */
    uint64_t bitmap_phys = bitmap_phys_addr();
    CHECK(pmm_mark_used_checked(PMM_MIN_ALLOC_ADDR) == VALEN_EEXIST);
    CHECK(protected_frame(kernel_phys_end - PAGE_SIZE));
    CHECK(protected_frame(bitmap_phys));
    CHECK(protected_frame(bitmap_phys + pmm_bitmap_bytes(max_physical_addr) - 1));
    /* The bitmap really is at PHYS_TO_VIRT(bitmap_phys): a frame's bit there
     * is set while it is used and clear once it is free. (The frame
     * pmm_free_page freed last keeps its bit until the next PMM call: it is
     * held for the next pmm_alloc_page; pmm_mark_free clears it at once.) */
    void *page = pmm_alloc_page();
    CHECK(page != NULL && (uint64_t)page >= protected_end());
    uint64_t probe = (uint64_t)page;
    volatile uint64_t *word = (volatile uint64_t *)PHYS_TO_VIRT(bitmap_phys) + (probe / 4096 / 64);
    uint64_t bit = 1ULL << (probe / 4096 % 64);
    CHECK(*word & bit);
    CHECK(pmm_mark_free_checked(probe) == VALEN_OK);
    CHECK(!(*word & bit));
    CHECK(pmm_mark_used_checked(probe) == VALEN_OK);
    CHECK(*word & bit);
    pmm_free_page(page);
    CHECK(pmm_get_free_kb() > 0 && pmm_mark_used_checked(probe) == VALEN_OK);
    CHECK(*word & bit);
    CHECK(pmm_mark_free_checked(probe) == VALEN_OK);
    CHECK(!(*word & bit));

    uint64_t heap_used = heap_get_used_bytes();
    uint64_t allocations = vmm_get_allocations();
    allocate_resources();
    CHECK(heap_get_used_bytes() == heap_used);
    CHECK(vmm_get_allocations() == allocations + 1);
}
