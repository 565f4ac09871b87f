/* The spec's "Basic Memory Allocation" usage pattern. */
#include "kernel_env.h"

#include "spec/basic_allocation.h"

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
    CHECK(basic_allocation_virt_mem && vmm_get_phys((uintptr_t)basic_allocation_virt_mem) != 0);
    CHECK(basic_allocation_phys_page && (uint64_t)basic_allocation_phys_page >= PMM_MIN_ALLOC_ADDR);
    CHECK(pmm_get_used_kb() >= used + 12);
    /* ...and here they do have free equivalents. */
    CHECK(vmm_free(basic_allocation_virt_mem) == VALEN_OK);
    CHECK(pmm_free_page_checked(basic_allocation_phys_page) == VALEN_OK);
    CHECK(vmm_get_allocations() == allocations);
    CHECK(pmm_get_used_kb() == used);
    return finish("basic_allocation");
}
