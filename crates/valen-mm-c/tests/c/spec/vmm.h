/* The spec's VMM examples: mapping, allocation, address translation.
 * Needs physical_addr, 16 frames the kernel owns, and printf (see README.md). */

/* ---- spec: Memory Mapping ---- */
static void memory_mapping(void) {
    // Map a single page
    vmm_map(0x1000000, physical_addr, PAGE_PRESENT | PAGE_WRITE);

    // Map a range of memory
    vmm_map_range(0x2000000, physical_addr, 0x10000, PAGE_PRESENT | PAGE_WRITE);
}

/* ---- spec: Virtual Allocation ---- */
static void *virtual_allocation(void) {
    // Allocate 4 pages (16KB)
    void *memory = vmm_alloc(4, PAGE_PRESENT | PAGE_WRITE);
    if (memory) {
        printf("Allocated virtual memory at: 0x%p\n", memory);
    }
    return memory; /* (added: the test frees it) */
}

/* ---- spec: Address Translation ---- */
static void address_translation(uintptr_t virtual_addr) {
    uintptr_t phys = vmm_get_phys(virtual_addr);
    if (phys) {
        printf("Virtual 0x%p maps to physical 0x%p\n", virtual_addr, phys);
    }
}
/* ---- end of spec ---- */
