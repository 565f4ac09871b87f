/* The spec's paging examples: init, page mapping, range mapping, indices.
 * Needs physical_addr, a driver's 64 KiB buffer (see README.md). */

/* ---- spec: Paging Initialization ---- */
static void paging_initialization(void) {
    // Called during kernel initialization
    paging_init();
}

/* ---- spec: Page Mapping ---- */
static void page_mapping(void) {
    // Map a virtual page to physical memory
    paging_map(0x1000000, physical_addr, PAGE_PRESENT | PAGE_WRITE);
}

/* ---- spec: Range Mapping ---- */
static void range_mapping(void) {
    // Map 64KB of memory
    paging_map_range(0x2000000, physical_addr, 0x10000, PAGE_PRESENT | PAGE_WRITE);
}

/* ---- spec: Paging Implementation Details ---- */
static void indices(uint64_t virt, uint64_t out[4]) {
    // Page table indices for address translation
    uint64_t pml4_idx = (virt >> 39) & 0x1FF;  // Level 4
    uint64_t pdpt_idx = (virt >> 30) & 0x1FF;  // Page Directory Pointer Table
    uint64_t pd_idx  = (virt >> 21) & 0x1FF;  // Page Directory
    uint64_t pt_idx  = (virt >> 12) & 0x1FF;  // Page Table
    out[0] = pml4_idx, out[1] = pdpt_idx, out[2] = pd_idx, out[3] = pt_idx;
}
/* ---- end of spec ---- */
