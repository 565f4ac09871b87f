/* What the spec's "Memory Statistics" (spec/memory_stats.h, included before
 * this) promises, checked once every tier is up. */
static void memory_stats_promises(void) {
    /* Hold a quarter of the free memory so that the percentage moves. */
    uint64_t before_used = pmm_get_used_kb();
    uint64_t hold = pmm_get_free_kb() / 4 / 4; /* frames */
    void *big = pmm_alloc_pages(hold);
    CHECK(big != NULL);
    print_memory_info();
    uint64_t total = pmm_get_total_kb(), used = pmm_get_used_kb(), free_kb = pmm_get_free_kb();
    char want[64];
    CHECK(logged("Physical Memory:") != NULL);
    snprintf(want, sizeof want, "  Total: %d KB\n", (int)total);
    CHECK(logged("  Total:") && strcmp(logged("  Total:"), want) == 0);
    snprintf(want, sizeof want, "  Used:  %d KB\n", (int)used);
    CHECK(logged("  Used:") && strcmp(logged("  Used:"), want) == 0);
    snprintf(want, sizeof want, "  Free:  %d KB\n", (int)free_kb);
    CHECK(logged("  Free:") && strcmp(logged("  Free:"), want) == 0);
    snprintf(want, sizeof want, "  Usage: %d%%\n", (int)(used * 100 / total));
    CHECK(logged("  Usage:") && strcmp(logged("  Usage:"), want) == 0);
    CHECK(total == max_physical_addr / 1024);
    CHECK(used + free_kb == total);
    CHECK(used == before_used + hold * 4 && used * 100 / total >= 20);
    CHECK(pmm_free_pages_checked(big, hold) == VALEN_OK);
    CHECK(pmm_get_used_kb() == before_used);
}
