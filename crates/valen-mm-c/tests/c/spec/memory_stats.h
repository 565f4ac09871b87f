/* The spec's "Memory Statistics" usage pattern. Needs printf (see README.md). */

/* ---- spec: Memory Statistics ---- */
void print_memory_info(void) {
    printf("Physical Memory:\n");
    printf("  Total: %d KB\n", pmm_get_total_kb());
    printf("  Used:  %d KB\n", pmm_get_used_kb());
    printf("  Free:  %d KB\n", pmm_get_free_kb());

    // Calculate usage percentage
    uint64_t total = pmm_get_total_kb();
    uint64_t used = pmm_get_used_kb();
    if (total > 0) {
        printf("  Usage: %d%%\n", (used * 100) / total);
    }
}
/* ---- end of spec ---- */
