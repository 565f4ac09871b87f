/* The spec's "Basic Memory Allocation" usage pattern; what it allocated is
 * also recorded for the checks. Needs memset (see README.md). */
static void *basic_allocation_virt_mem, *basic_allocation_phys_page;

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
    basic_allocation_virt_mem = virt_mem;
    basic_allocation_phys_page = phys_page;

    // Clean up
    free(heap_mem);
    // Note: vmm_alloc and pmm_alloc_page don't have free equivalents
    // in the current implementation
}
/* ---- end of spec ---- */
