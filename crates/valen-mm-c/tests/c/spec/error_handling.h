/* The spec's "Error Handling" example. Needs printf (see README.md). */

/* ---- spec: Error Handling ---- */
void robust_memory_allocation(void) {
    void *buffer = malloc(1024);
    if (!buffer) {
        printf("Heap allocation failed\n");
        return;
    }

    void *pages = vmm_alloc(4, PAGE_PRESENT | PAGE_WRITE);
    if (!pages) {
        printf("Virtual allocation failed\n");
        free(buffer);
        return;
    }

    void *phys = pmm_alloc_page();
    if (!phys) {
        printf("Physical allocation failed\n");
        free(buffer);
        return;
    }

    // Use memory...

    free(buffer);
}
/* ---- end of spec ---- */
