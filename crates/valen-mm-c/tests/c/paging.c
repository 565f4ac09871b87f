/* The spec's paging examples: init, page mapping, range mapping, indices. */
#include "kernel_env.h"

static uint64_t physical_addr; /* a driver's 64 KiB buffer */

#include "spec/paging.h"

int main(void) {
    pmm_init(bitmap_addr, memory_size);
    paging_initialization();
    CHECK(paging_init_checked() == VALEN_EALREADY);
    physical_addr = (uint64_t)pmm_alloc_pages(16);
    CHECK(physical_addr != 0);

    /* The lower half is empty: the map creates PDPT, PD and PT (3 frames). */
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

    /* 16 pages, page by page onto the buffer (same PD: one new PT). */
    range_mapping();
    CHECK(pmm_get_used_kb() == used + 16);
    for (uint64_t off = 0; off < 0x10000; off += PAGE_SIZE) {
        CHECK(paging_translate(0x2000000 + off, &phys, NULL) == VALEN_OK);
        CHECK(phys == physical_addr + off);
    }
    ((volatile char *)0x2000000)[0xF123] = 'v';
    CHECK(((volatile char *)PHYS_TO_VIRT(physical_addr))[0xF123] == 'v');
    CHECK(paging_translate(0x2010000, NULL, NULL) == VALEN_ENOENT);

    /* A 2 MiB page with PAGE_HUGE. */
    void *big = pmm_alloc_pages_aligned(512, 2 << 20);
    CHECK(big != NULL);
    CHECK(paging_map_page_checked(0x40000000000ULL, (uint64_t)big, PAGE_PRESENT | PAGE_WRITE | PAGE_HUGE) == VALEN_OK);
    CHECK(paging_translate(0x40000000000ULL + 0x12345, &phys, &flags) == VALEN_OK);
    CHECK(phys == (uint64_t)big + 0x12345 && (flags & PAGE_HUGE));

    /* The spec's index arithmetic is the hardware's. */
    uint64_t idx[4];
    indices(0xFFFFFFFF80201000ULL, idx);
    CHECK(idx[0] == 511 && idx[1] == 510 && idx[2] == 1 && idx[3] == 1);
    indices(0x2000000, idx);
    CHECK(idx[0] == 0 && idx[1] == 0 && idx[2] == 16 && idx[3] == 0);

    /* Unmapping everything frees the tables the maps created. */
    CHECK(paging_unmap(0x1000000, PAGE_SIZE) == VALEN_OK);
    CHECK(paging_unmap(0x2000000, 0x10000) == VALEN_OK);
    CHECK(paging_unmap(0x40000000000ULL, 2 << 20) == VALEN_OK);
    CHECK(paging_unmap(0x2000000, PAGE_SIZE) == VALEN_ENOENT);
    CHECK(pmm_free_pages_checked(big, 512) == VALEN_OK);
    CHECK(pmm_get_used_kb() == used);
    CHECK(valen_hosted_tlb_flushes() > 0);
    return finish("paging");
}
