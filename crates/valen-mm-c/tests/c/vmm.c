/* The spec's VMM examples: mapping, allocation, address translation. */
#include "kernel_env.h"

static uintptr_t physical_addr; /* 16 frames the kernel owns */

#include "spec/vmm.h"

#include "promises/vmm.h"

int main(void) {
    memory_up();
    physical_addr = (uintptr_t)pmm_alloc_pages(16);
    CHECK(physical_addr != 0);
    vmm_promises();
    /* The example printed two lines (the allocation and one translation);
     * nothing else did. */
    CHECK(log_count == 2);
    CHECK(pmm_free_pages_checked((void *)physical_addr, 16) == VALEN_OK);
    return finish("vmm");
}
