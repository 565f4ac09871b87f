/* The spec's "Error Handling" example, run on a healthy machine and then with
 * physical memory exhausted at two different points. */
#include "kernel_env.h"

#include "spec/error_handling.h"

/* Every frame the PMM would hand out, taken (262144 frames of 1 GiB at most),
 * kept in an array: the frames themselves stay untouched, so the simulated
 * RAM does not become host memory. */
static void *held[VALEN_HOSTED_RAM_SIZE / 4096];
static size_t held_count;

static void exhaust(void) {
    void *p;
    while ((p = pmm_alloc_page()) != NULL)
        held[held_count++] = p;
}

static void give_back(size_t n) {
    while (n-- && held_count)
        CHECK(pmm_free_page_checked(held[--held_count]) == VALEN_OK);
}

#include "promises/error_handling.h"

int main(void) {
    memory_up();
    printf("memory up\n"); /* the C library's stdout buffer comes first */
    error_handling_promises();
    /* On the simulated 1 GiB: nearly every frame was free, and the page
     * table the 4 pages need exists, so exactly 4 frames let vmm_alloc
     * succeed. */
    CHECK(exhausted_frames > 200000);
    CHECK(frames_for_vmm_alloc == 4);
    CHECK(pmm_get_free_kb() > 1000000);
    return finish("error_handling");
}
