/* What the spec's "Error Handling" example (spec/error_handling.h, included
 * before this) promises: run on a healthy machine, then with physical memory
 * exhausted at two different points. Checked once every tier is up.
 *
 * The caller knows how to hold every frame in its environment and provides
 * exhaust() (takes every frame the PMM hands out), give_back(n) (frees the
 * n taken last) and held_count (how many are held). */

/* Frames exhaust() took; frames given back before vmm_alloc succeeded. */
static uint64_t exhausted_frames, frames_for_vmm_alloc;

static void error_handling_promises(void) {
    uint64_t heap_used = heap_get_used_bytes();
    uint64_t allocations = vmm_get_allocations();
    uint64_t free_kb = pmm_get_free_kb();

    /* Healthy: nothing fails, the buffer is freed. */
    int lines = log_count;
    robust_memory_allocation();
    CHECK(log_count == lines);
    CHECK(heap_get_used_bytes() == heap_used);
    CHECK(vmm_get_allocations() == allocations + 1);

    /* No frame left: the heap still has room, vmm_alloc fails. */
    exhaust();
    exhausted_frames = held_count;
    CHECK(held_count * 4 + 16 >= free_kb - 16);
    printf("  exhausted the PMM: %llu frames taken\n", (unsigned long long)held_count);
    robust_memory_allocation();
    CHECK(logged("Virtual allocation failed") != NULL);
    CHECK(heap_get_used_bytes() == heap_used);
    CHECK(vmm_get_allocations() == allocations + 1);

    /* Frames for the 4 pages (and a page table if the allocation needs a
     * new one): vmm_alloc succeeds, pmm_alloc_page fails. */
    give_back(4);
    frames_for_vmm_alloc = 4;
    lines = log_count;
    robust_memory_allocation();
    while (log_count == lines + 1 && strcmp(last_line(), "Virtual allocation failed\n") == 0 &&
           held_count) {
        give_back(1);
        frames_for_vmm_alloc++;
        lines = log_count;
        robust_memory_allocation();
    }
    CHECK(log_count == lines + 1 && strcmp(last_line(), "Physical allocation failed\n") == 0);
    CHECK(heap_get_used_bytes() == heap_used);
    CHECK(vmm_get_allocations() == allocations + 2);
    CHECK(pmm_alloc_page() == NULL);
    CHECK(pmm_get_free_kb() == 0);

    /* A failed call changes nothing: everything comes back (but the 4 pages
     * the spec's code leaves mapped and their page tables). */
    give_back(held_count);
    CHECK(held_count == 0);
    CHECK(pmm_get_free_kb() + 2 * 16 + 4 * 4 >= free_kb);
}
