/* What the spec's "Device Memory Mapping" (spec/device_mapping.h, included
 * before this) promises, checked once every tier is up. The "device" is 2
 * frames of RAM whose contents the checks read back. */
static void device_mapping_promises(void) {
    uintptr_t device = (uintptr_t)pmm_alloc_pages(2);
    CHECK(device != 0);
    if (!device)
        return;
    map_device_registers(device, 0x1800); /* not a page multiple: rounded up */
    /* The write reached the device's registers. */
    CHECK(*(volatile uint32_t *)PHYS_TO_VIRT(device) == 0xDEADBEEF);
    /* Mapped uncached and writable, both pages. */
    uint64_t phys, flags;
    CHECK(paging_translate(0xF0000000, &phys, &flags) == VALEN_OK);
    CHECK(phys == device);
    CHECK((flags & (PAGE_PRESENT | PAGE_WRITE | PAGE_PCD)) == (PAGE_PRESENT | PAGE_WRITE | PAGE_PCD));
    CHECK(vmm_get_phys(0xF0001004) == device + 0x1004);
    CHECK(vmm_get_phys(0xF0002000) == 0 && faults_on_read(0xF0002000));
    /* The device window mapping the VMM picks itself (an addition):
     * uncached, not executable, gone after vmm_unmap_device. */
    volatile uint32_t *regs = vmm_map_device(device + 0x10, 8);
    CHECK(regs != NULL);
    if (regs) {
        CHECK((uint64_t)regs >= VMM_DEVICE_WINDOW_START && (uint64_t)regs < VMM_DEVICE_WINDOW_END);
        CHECK(vmm_get_phys((uintptr_t)regs) == device + 0x10);
        CHECK(paging_translate((uintptr_t)regs, NULL, &flags) == VALEN_OK && (flags & PAGE_PCD) &&
              (flags & PAGE_NO_EXECUTE));
        CHECK(vmm_unmap_device((void *)regs) == VALEN_OK);
        CHECK(vmm_get_phys((uintptr_t)regs) == 0 && faults_on_read((uint64_t)regs));
    }
    CHECK(vmm_unmap(0xF0000000, 0x1800) == VALEN_OK);
    CHECK(faults_on_read(0xF0000000));
    CHECK(pmm_free_pages_checked((void *)device, 2) == VALEN_OK);
}
