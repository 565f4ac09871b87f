/* The spec's "Integration Example": boot-time init from the linker symbol
 * _kernel_end, then resource allocation. */
#include "kernel_env.h"

#include "spec/integration.h"

int main(void) {
    extern char _kernel_end[];
    CHECK(VIRT_TO_PHYS((uintptr_t)_kernel_end) == VALEN_HOSTED_KERNEL_END);
    init_memory_subsystem();
    CHECK(heap_get_total_bytes() >= HEAP_INITIAL_SIZE);
    /* The kernel image and the bitmap after it are protected. */
    uint64_t bitmap_phys = (VALEN_HOSTED_KERNEL_END + 0x1000) & ~0xFFFULL;
    CHECK(pmm_mark_used_checked(PMM_MIN_ALLOC_ADDR) == VALEN_EEXIST);
    CHECK(pmm_mark_used_checked(VALEN_HOSTED_KERNEL_END - 4096) == VALEN_EEXIST);
    CHECK(pmm_mark_used_checked(bitmap_phys) == VALEN_EEXIST);
    CHECK(pmm_mark_used_checked(bitmap_phys + pmm_bitmap_bytes(max_physical_addr) - 1) == VALEN_EEXIST);
    void *page = pmm_alloc_page();
    CHECK((uint64_t)page >= bitmap_phys + pmm_bitmap_bytes(max_physical_addr));
    pmm_free_page(page);
    /* The bitmap really is at PHYS_TO_VIRT(bitmap_phys): marking a frame
     * changes its bit there. */
    uint64_t probe = 512ULL << 20; /* frame 131072: word 2048 of the bitmap */
    volatile uint64_t *word = (volatile uint64_t *)PHYS_TO_VIRT(bitmap_phys) + (probe / 4096 / 64);
    uint64_t before = *word;
    CHECK(pmm_mark_used_checked(probe) == VALEN_OK);
    CHECK(*word != before);
    CHECK(pmm_mark_free_checked(probe) == VALEN_OK);
    CHECK(*word == before);

    uint64_t heap_used = heap_get_used_bytes();
    uint64_t allocations = vmm_get_allocations();
    allocate_resources();
    CHECK(heap_get_used_bytes() == heap_used);
    CHECK(vmm_get_allocations() == allocations + 1);
    return finish("integration");
}
