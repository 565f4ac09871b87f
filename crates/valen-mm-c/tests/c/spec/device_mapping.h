/* The spec's "Device Memory Mapping" usage pattern. */

/* ---- spec: Device Memory Mapping ---- */
void map_device_registers(uintptr_t phys_addr, size_t size) {
    // Map device registers with cache disabled
    uint64_t flags = PAGE_PRESENT | PAGE_WRITE | PAGE_PCD;
    vmm_map_range(0xF0000000, phys_addr, size, flags);

    // Now access device registers at 0xF0000000
    volatile uint32_t *regs = (volatile uint32_t *)0xF0000000;
    regs[0] = 0xDEADBEEF;
}
/* ---- end of spec ---- */
