/* What the spec's paging examples (spec/paging.h, included before this)
 * promise, checked once paging is up and physical_addr holds 16 frames;
 * the lower half is empty. */
static void paging_promises(void) {
    CHECK(paging_init_checked() == VALEN_EALREADY);
    /* The map creates its PDPT, PD and PT (3 frames). */
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
    if (big) {
        *(volatile uint64_t *)(0x40000000000ULL + 0x1FFFF8) = 0xB16B00B5ULL;
        CHECK(*(volatile uint64_t *)PHYS_TO_VIRT((uint64_t)big + 0x1FFFF8) == 0xB16B00B5ULL);
    }

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
