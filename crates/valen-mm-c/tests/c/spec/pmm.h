/* The spec's PMM examples: initialization, page allocation, statistics.
 * Needs kernel_phys_end, max_physical_addr, printf (see README.md). */

/* ---- spec: PMM Initialization ---- */
static void pmm_initialization(void) {
    uintptr_t bitmap_phys = (kernel_phys_end + 0x1000) & ~0xFFFULL;
    pmm_init((uintptr_t)PHYS_TO_VIRT(bitmap_phys), max_physical_addr);
}

/* ---- spec: Page Allocation ---- */
static void page_allocation(void) {
    // Allocate a single physical page
    void *page = pmm_alloc_page();
    if (page) {
        // Use the physical page
        printf("Allocated page at: 0x%p\n", page);

        // Free when done
        pmm_free_page(page);
    }

    // Allocate multiple contiguous pages
    void *pages = pmm_alloc_pages(4);
    if (pages) {
        // Use 4 contiguous pages (16KB)
        printf("Allocated 4 pages at: 0x%p\n", pages);

        // Free when done
        pmm_free_page(pages);
    }
}

/* ---- spec: Memory Statistics ---- */
static void memory_statistics(void) {
    printf("Memory: %d KB total, %d KB used, %d KB free\n",
           pmm_get_total_kb(), pmm_get_used_kb(), pmm_get_free_kb());
}
/* ---- end of spec ---- */
