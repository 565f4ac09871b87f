/* The spec's PMM examples: initialization, page allocation, statistics. */
#include "kernel_env.h"

#include "spec/pmm.h"

int main(void) {
    pmm_initialization();
    /* The whole RAM is managed; 2 MiB .. end of bitmap is protected. */
    uint64_t bitmap_phys = (kernel_phys_end + 0x1000) & ~0xFFFULL;
    uint64_t protected_end = (bitmap_phys + pmm_bitmap_bytes(max_physical_addr) + 4095) & ~4095ULL;
    CHECK(pmm_get_total_kb() == max_physical_addr / 1024);
    CHECK(pmm_get_used_kb() == protected_end / 1024); /* below 2 MiB counts as used */
    CHECK(pmm_mark_used_checked(PMM_MIN_ALLOC_ADDR) == VALEN_EEXIST); /* kernel */
    CHECK(pmm_mark_used_checked(bitmap_phys) == VALEN_EEXIST);        /* bitmap */
    CHECK(pmm_free_page_checked((void *)0x1000) == VALEN_EINVAL);     /* below 2 MiB */

    /* The rest of the boot sequence (the heap: printf buffers come from it). */
    paging_init();
    vmm_init();
    heap_init();
    uint64_t used = pmm_get_used_kb();
    page_allocation();
    void *page = NULL, *pages = NULL;
    CHECK(logged("Allocated page at: ") &&
          sscanf(logged("Allocated page at: "), "Allocated page at: 0x%p", &page) == 1);
    CHECK(logged("Allocated 4 pages at: ") &&
          sscanf(logged("Allocated 4 pages at: "), "Allocated 4 pages at: 0x%p", &pages) == 1);
    CHECK((uint64_t)page >= protected_end && (uint64_t)page % PAGE_SIZE == 0);
    CHECK((uint64_t)pages >= protected_end && (uint64_t)pages % PAGE_SIZE == 0);
    /* The single page came back. The spec frees the 4-page run with
     * pmm_free_page, which frees one frame: the other 3 are still used. */
    CHECK(pmm_free_page_checked(page) == VALEN_ENOENT);
    CHECK(pmm_get_used_kb() == used + 12);
    CHECK(pmm_free_page_checked(pages) == VALEN_ENOENT);
    CHECK(pmm_free_pages_checked((char *)pages + PAGE_SIZE, 3) == VALEN_OK);
    CHECK(pmm_get_used_kb() == used);

    /* Contiguous means contiguous: a 4-page run with every frame free. */
    void *run = pmm_alloc_pages(4);
    CHECK(run != NULL);
    for (int i = 0; i < 4; i++)
        CHECK(pmm_mark_used_checked((uintptr_t)run + i * PAGE_SIZE) == VALEN_EEXIST);
    CHECK(pmm_free_pages_checked(run, 4) == VALEN_OK);

    memory_statistics();
    char want[128];
    snprintf(want, sizeof want, "Memory: %d KB total, %d KB used, %d KB free\n",
             (int)pmm_get_total_kb(), (int)pmm_get_used_kb(), (int)pmm_get_free_kb());
    CHECK(logged("Memory: ") && strcmp(logged("Memory: "), want) == 0);
    CHECK(pmm_get_used_kb() + pmm_get_free_kb() == pmm_get_total_kb());
    return finish("pmm");
}
