/* What the spec's VMM examples (spec/vmm.h, included before this) promise,
 * checked once every tier is up and physical_addr holds 16 frames. */
static void vmm_promises(void) {
    uint64_t mapped = vmm_get_mapped_pages();
    memory_mapping();
    CHECK(vmm_get_mapped_pages() == mapped + 17);
    CHECK(vmm_get_phys(0x1000000) == physical_addr);
    CHECK(vmm_get_phys(0x1000abc) == physical_addr + 0xabc);
    for (uintptr_t off = 0; off < 0x10000; off += PAGE_SIZE)
        CHECK(vmm_get_phys(0x2000000 + off) == physical_addr + off);
    CHECK(vmm_get_phys(0x2010000) == 0);
    /* Both mappings reach the same frame. */
    *(volatile uint32_t *)0x1000010 = 0xC0FFEE;
    CHECK(*(volatile uint32_t *)0x2000010 == 0xC0FFEE);
    CHECK(vmm_map_checked(0x1000000, physical_addr, PAGE_PRESENT) == VALEN_EEXIST);

    uint64_t used = pmm_get_used_kb();
    uint64_t allocations = vmm_get_allocations();
    void *memory = virtual_allocation();
    CHECK(memory != NULL);
    CHECK(logged("Allocated virtual memory at: ") &&
          hex_after_0x(logged("Allocated virtual memory at: ")) == (uint64_t)memory);
    CHECK(vmm_get_allocations() == allocations + 1);
    CHECK((uint64_t)memory >= VMM_HEAP_WINDOW_START && (uint64_t)memory < VMM_HEAP_WINDOW_END);
    CHECK((uint64_t)memory % PAGE_SIZE == 0);
    /* 4 pages, backed by one contiguous run, zeroed and writable; a guard
     * page follows. */
    uintptr_t first = vmm_get_phys((uintptr_t)memory);
    for (int i = 0; memory && i < 4; i++) {
        uintptr_t virt = (uintptr_t)memory + i * PAGE_SIZE;
        CHECK(vmm_get_phys(virt) == first + i * PAGE_SIZE);
        volatile uint64_t *page = reach(virt);
        CHECK(page[i] == 0);
        page[i] = 0xAA00 + (uint64_t)i;
        CHECK(*(volatile uint64_t *)PHYS_TO_VIRT(first + i * PAGE_SIZE + 8 * i) == 0xAA00 + (uint64_t)i);
    }
    CHECK(vmm_get_phys((uintptr_t)memory + 4 * PAGE_SIZE) == 0);
    CHECK(faults_on_write((uint64_t)memory + 4 * PAGE_SIZE));
    CHECK(pmm_get_used_kb() >= used + 16);

    address_translation((uintptr_t)memory + 0x1234);
    char want[128];
    snprintf(want, sizeof want, "Virtual 0x%p maps to physical 0x%p\n",
             (void *)((uintptr_t)memory + 0x1234), (void *)(first + 0x1234));
    CHECK(logged("Virtual ") && strcmp(logged("Virtual "), want) == 0);
    int lines = log_count;
    address_translation(VMM_DEVICE_WINDOW_START); /* unmapped: prints nothing */
    CHECK(log_count == lines);

    /* vmm_free (the spec lacks it) gives everything back, and the pages
     * fault afterwards. */
    CHECK(vmm_free(memory) == VALEN_OK);
    CHECK(vmm_free(memory) == VALEN_ENOENT);
    CHECK(vmm_get_phys((uintptr_t)memory) == 0);
    CHECK(faults_on_read((uint64_t)memory));
    CHECK(pmm_get_used_kb() == used);
    CHECK(vmm_unmap(0x2000000, 0x10000) == VALEN_OK);
    CHECK(vmm_unmap(0x1000000, PAGE_SIZE) == VALEN_OK);
    CHECK(vmm_get_mapped_pages() == mapped);
    CHECK(faults_on_read(0x1000000));
    CHECK(vmm_alloc(0, PAGE_PRESENT) == NULL);
    CHECK(vmm_alloc(1, PAGE_WRITE) == NULL);
}
