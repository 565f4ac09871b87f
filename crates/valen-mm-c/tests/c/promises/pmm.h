/* What the spec's PMM examples (spec/pmm.h, included before this) promise,
 * checked once pmm_initialization() has run and every tier is up. */
static void pmm_promises(void) {
    /* The whole RAM is managed; the kernel image and the bitmap are protected. */
    CHECK(pmm_get_total_kb() == max_physical_addr / 1024);
    CHECK(pmm_mark_used_checked(PMM_MIN_ALLOC_ADDR) == VALEN_EEXIST); /* kernel */
    CHECK(protected_frame(bitmap_phys_addr()));                       /* bitmap */
    CHECK(pmm_free_page_checked((void *)0x1000) == VALEN_EINVAL);     /* below 2 MiB */

    uint64_t used = pmm_get_used_kb();
    page_allocation();
    const char *line = logged("Allocated page at: ");
    uint64_t page = line ? hex_after_0x(line) : 0;
    line = logged("Allocated 4 pages at: ");
    uint64_t pages = line ? hex_after_0x(line) : 0;
    CHECK(page >= protected_end() && page % PAGE_SIZE == 0);
    CHECK(pages >= protected_end() && pages % PAGE_SIZE == 0);
    /* The single page came back. The spec frees the 4-page run with
     * pmm_free_page, which frees one frame: the other 3 are still used. */
    CHECK(pmm_free_page_checked((void *)page) == VALEN_ENOENT);
    CHECK(pmm_get_used_kb() == used + 12);
    CHECK(pmm_free_page_checked((void *)pages) == VALEN_ENOENT);
    CHECK(pmm_free_pages_checked((char *)pages + PAGE_SIZE, 3) == VALEN_OK);
    CHECK(pmm_get_used_kb() == used);

    /* Contiguous means contiguous: a 4-page run with every frame held, and
     * the frames are real RAM. */
    void *run = pmm_alloc_pages(4);
    CHECK(run != NULL);
    for (int i = 0; run && i < 4; i++) {
        CHECK(pmm_mark_used_checked((uintptr_t)run + i * PAGE_SIZE) == VALEN_EEXIST);
        volatile uint32_t *w = PHYS_TO_VIRT((uintptr_t)run + i * PAGE_SIZE);
        *w = 0xF00D0000u + (uint32_t)i;
        CHECK(*w == 0xF00D0000u + (uint32_t)i);
    }
    CHECK(pmm_free_pages_checked(run, 4) == VALEN_OK);

    memory_statistics();
    char want[128];
    snprintf(want, sizeof want, "Memory: %d KB total, %d KB used, %d KB free\n",
             (int)pmm_get_total_kb(), (int)pmm_get_used_kb(), (int)pmm_get_free_kb());
    CHECK(logged("Memory: ") && strcmp(logged("Memory: "), want) == 0);
    CHECK(pmm_get_used_kb() + pmm_get_free_kb() == pmm_get_total_kb());
}
