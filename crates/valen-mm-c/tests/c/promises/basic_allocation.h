/* What the spec's "Basic Memory Allocation" (spec/basic_allocation.h,
 * included before this) promises, checked once every tier is up. */
static void basic_allocation_promises(void) {
    uint64_t heap_used = heap_get_used_bytes();
    uint64_t allocations = vmm_get_allocations();
    uint64_t used = pmm_get_used_kb();
    basic_allocation();
    /* The heap block is back; the other two are still held... */
    CHECK(heap_get_used_bytes() == heap_used);
    CHECK(vmm_get_allocations() == allocations + 1);
    uint64_t v = (uint64_t)basic_allocation_virt_mem;
    CHECK(v && vmm_get_phys(v) != 0 && vmm_get_phys(v + PAGE_SIZE) == vmm_get_phys(v) + PAGE_SIZE);
    CHECK(no_fault_on_write(v) && no_fault_on_write(v + 2 * PAGE_SIZE - 1));
    CHECK(basic_allocation_phys_page && (uint64_t)basic_allocation_phys_page >= PMM_MIN_ALLOC_ADDR);
    CHECK(pmm_get_used_kb() >= used + 12);
    /* ...and here they do have free equivalents. */
    CHECK(vmm_free(basic_allocation_virt_mem) == VALEN_OK);
    CHECK(pmm_free_page_checked(basic_allocation_phys_page) == VALEN_OK);
    CHECK(vmm_get_allocations() == allocations);
    CHECK(pmm_get_used_kb() == used);
}
