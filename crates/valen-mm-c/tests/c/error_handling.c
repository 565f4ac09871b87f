/* The spec's "Error Handling" example, run on a healthy machine and then with
 * physical memory exhausted at two different points. */
#include "kernel_env.h"

#include "spec/error_handling.h"

/* Every frame the PMM would hand out, taken (262144 frames of 1 GiB at most). */
static void *held[VALEN_HOSTED_RAM_SIZE / 4096];
static size_t nheld;

static void exhaust(void) {
    void *p;
    while ((p = pmm_alloc_page()) != NULL)
        held[nheld++] = p;
}

static void give_back(size_t n) {
    while (n-- && nheld)
        CHECK(pmm_free_page_checked(held[--nheld]) == VALEN_OK);
}

int main(void) {
    memory_up();
    printf("memory up\n"); /* the C library's stdout buffer comes first */
    uint64_t heap_used = heap_get_used_bytes();
    uint64_t allocations = vmm_get_allocations();

    /* Healthy: nothing fails, the buffer is freed. */
    int lines = log_count;
    robust_memory_allocation();
    CHECK(log_count == lines);
    CHECK(heap_get_used_bytes() == heap_used);
    CHECK(vmm_get_allocations() == allocations + 1);

    /* No frame left: the heap still has room, vmm_alloc fails. */
    exhaust();
    CHECK(nheld > 200000);
    robust_memory_allocation();
    CHECK(logged("Virtual allocation failed") != NULL);
    CHECK(heap_get_used_bytes() == heap_used);
    CHECK(vmm_get_allocations() == allocations + 1);

    /* Exactly 4 frames (the page table the allocation needs exists): vmm_alloc
     * succeeds, pmm_alloc_page fails. */
    give_back(4);
    robust_memory_allocation();
    CHECK(logged("Physical allocation failed") != NULL);
    CHECK(heap_get_used_bytes() == heap_used);
    CHECK(vmm_get_allocations() == allocations + 2);
    CHECK(pmm_alloc_page() == NULL);
    CHECK(pmm_get_free_kb() == 0);

    /* A failed call changes nothing: everything comes back. */
    give_back(nheld);
    CHECK(pmm_get_free_kb() > 1000000);
    return finish("error_handling");
}
