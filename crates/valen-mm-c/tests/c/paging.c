/* The spec's paging examples: init, page mapping, range mapping, indices. */
#include "kernel_env.h"

static uint64_t physical_addr; /* a driver's 64 KiB buffer */

#include "spec/paging.h"

#include "promises/paging.h"

int main(void) {
    pmm_init(bitmap_addr, memory_size);
    paging_initialization();
    physical_addr = (uint64_t)pmm_alloc_pages(16);
    CHECK(physical_addr != 0);
    paging_promises();
    /* The simulated TLB was flushed for the unmapped pages. */
    CHECK(valen_hosted_tlb_flushes() > 0);
    return finish("paging");
}
