/* The spec's "Memory Statistics" usage pattern. */
#include "kernel_env.h"

#include "spec/memory_stats.h"

int main(void) {
    memory_up();
    /* Hold 100 MiB so that the percentage is not 0. */
    void *big = pmm_alloc_pages(25600);
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
    CHECK(total == VALEN_HOSTED_RAM_SIZE / 1024);
    CHECK(used + free_kb == total);
    CHECK(used >= 102400 && used * 100 / total >= 9);
    CHECK(pmm_free_pages_checked(big, 25600) == VALEN_OK);
    CHECK(pmm_get_used_kb() == used - 102400);
    return finish("memory_stats");
}
