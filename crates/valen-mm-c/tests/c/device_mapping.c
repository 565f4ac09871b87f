/* The spec's "Device Memory Mapping" usage pattern. The device is simulated:
 * its register page is a physical frame the test reads back. */
#include "kernel_env.h"

#include "spec/device_mapping.h"

int main(void) {
    memory_up();
    /* The device's registers: 2 pages of "MMIO" at a physical address. */
    uintptr_t device = (uintptr_t)pmm_alloc_pages(2);
    CHECK(device != 0);
    map_device_registers(device, 0x1800); /* not a page multiple: rounded up */
    /* The write reached the device's registers. */
    CHECK(*(volatile uint32_t *)PHYS_TO_VIRT(device) == 0xDEADBEEF);
    /* Mapped uncached and writable, both pages. */
    uint64_t phys, flags;
    CHECK(paging_translate(0xF0000000, &phys, &flags) == VALEN_OK);
    CHECK(phys == device);
    CHECK((flags & (PAGE_PRESENT | PAGE_WRITE | PAGE_PCD)) == (PAGE_PRESENT | PAGE_WRITE | PAGE_PCD));
    CHECK(vmm_get_phys(0xF0001004) == device + 0x1004);
    CHECK(vmm_get_phys(0xF0002000) == 0);
    /* The device window mapping the VMM picks itself (an addition). */
    volatile uint32_t *regs = vmm_map_device(device + 0x10, 8);
    CHECK(regs != NULL);
    CHECK((uint64_t)regs >= VMM_DEVICE_WINDOW_START && (uint64_t)regs < VMM_DEVICE_WINDOW_END);
    CHECK(vmm_get_phys((uintptr_t)regs) == device + 0x10);
    CHECK(paging_translate((uintptr_t)regs, NULL, &flags) == VALEN_OK && (flags & PAGE_PCD) && (flags & PAGE_NO_EXECUTE));
    CHECK(vmm_unmap_device((void *)regs) == VALEN_OK);
    CHECK(vmm_get_phys((uintptr_t)regs) == 0);
    CHECK(vmm_unmap(0xF0000000, 0x1800) == VALEN_OK);
    CHECK(pmm_free_pages_checked((void *)device, 2) == VALEN_OK);
    return finish("device_mapping");
}
