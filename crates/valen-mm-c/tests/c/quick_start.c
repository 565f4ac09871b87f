/* The spec's Quick Start (spec/quick_start.h), then what it promises. */
#include "kernel_env.h"

#include "spec/quick_start.h"

int main(void) {
    kernel_main();
    /* Every tier came up: a second init is refused. */
    CHECK(pmm_init_checked(bitmap_addr, memory_size) == VALEN_EALREADY);
    CHECK(paging_init_checked() == VALEN_EALREADY);
    CHECK(vmm_init_checked() == VALEN_EALREADY);
    CHECK(heap_init_checked() == VALEN_EALREADY);
    /* A physical page at or above 2 MiB, page aligned, past the bitmap. */
    uint64_t p = (uint64_t)quick_start_phys_page;
    CHECK(p >= PMM_MIN_ALLOC_ADDR && p % PAGE_SIZE == 0);
    CHECK(p >= VIRT_TO_PHYS(bitmap_addr) + pmm_bitmap_bytes(memory_size));
    /* It was freed: freeing it again is refused. */
    CHECK(pmm_free_page_checked(quick_start_phys_page) == VALEN_ENOENT);
    /* One mapped page in the heap window. */
    uint64_t v = (uint64_t)quick_start_virt_mem;
    CHECK(v >= VMM_HEAP_WINDOW_START && v < VMM_HEAP_WINDOW_END);
    CHECK(vmm_get_phys(v) != 0);
    /* The heap block was real memory, 16-byte aligned, and freed. */
    CHECK(quick_start_heap_mem != NULL && (uint64_t)quick_start_heap_mem % 16 == 0);
    CHECK(heap_free_checked(quick_start_heap_mem) == VALEN_ENOENT);
    expected_refusals++;
    printf("RAM %llu KB, %llu KB used\n", (unsigned long long)pmm_get_total_kb(),
           (unsigned long long)pmm_get_used_kb());
    return finish("quick_start");
}
