/* The spec's PMM examples: initialization, page allocation, statistics. */
#include "kernel_env.h"

#include "spec/pmm.h"

#include "promises/pmm.h"

int main(void) {
    pmm_initialization();
    /* 2 MiB .. end of the bitmap is protected; below 2 MiB counts as used. */
    CHECK(pmm_get_used_kb() == protected_end() / 1024);
    /* The rest of the boot sequence (the heap: printf buffers come from it). */
    paging_init();
    vmm_init();
    heap_init();
    pmm_promises();
    return finish("pmm");
}
