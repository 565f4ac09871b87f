/* The spec's "Basic Memory Allocation" usage pattern. */
#include "kernel_env.h"

static void *seen_virt_mem, *seen_phys_page;

/* ---- spec: Basic Memory Allocation ---- */
void basic_allocation(void) {
    // Allocate from kernel heap
    void *heap_mem = malloc(1024);

    // Allocate virtual memory
    void *virt_mem = vmm_alloc(2, PAGE_PRESENT | PAGE_WRITE);

    // Allocate physical page directly
    void *phys_page = pmm_alloc_page();

    // Use memory...
    memset(heap_mem, 1, 1024);
    seen_virt_mem = virt_mem;
    seen_phys_page = phys_page;

    // Clean up
    free(heap_mem);
    // Note: vmm_alloc and pmm_alloc_page don't have free equivalents
    // in the current implementation
}
/* ---- end of spec ---- */

int main(void) {
    memory_up();
    printf("memory up\n");
    uint64_t heap_used = heap_get_used_bytes();
    uint64_t allocations = vmm_get_allocations();
    uint64_t used = pmm_get_used_kb();
    basic_allocation();
    /* The heap block is back; the other two are still held... */
    CHECK(heap_get_used_bytes() == heap_used);
    CHECK(vmm_get_allocations() == allocations + 1);
    CHECK(seen_virt_mem && vmm_get_phys((uintptr_t)seen_virt_mem) != 0);
    CHECK(seen_phys_page && (uint64_t)seen_phys_page >= PMM_MIN_ALLOC_ADDR);
    CHECK(pmm_get_used_kb() >= used + 12);
    /* ...and here they do have free equivalents. */
    CHECK(vmm_free(seen_virt_mem) == VALEN_OK);
    CHECK(pmm_free_page_checked(seen_phys_page) == VALEN_OK);
    CHECK(vmm_get_allocations() == allocations);
    CHECK(pmm_get_used_kb() == used);
    return finish("basic_allocation");
}
