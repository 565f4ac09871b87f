/* The spec's Quick Start, verbatim; the locals are also recorded for the
 * checks. Needs bitmap_addr, memory_size (see README.md). */
static void *quick_start_phys_page, *quick_start_virt_mem, *quick_start_heap_mem;

/* ---- spec: Quick Start ---- */
#include <valen/pmm.h>
#include <valen/vmm.h>
#include <valen/heap.h>
#include <valen/paging.h>

void kernel_main(void) {
    // Initialize memory management
    pmm_init(bitmap_addr, memory_size);
    paging_init();
    vmm_init();
    heap_init();

    // Allocate physical page
    void *phys_page = pmm_alloc_page();

    // Allocate virtual memory
    void *virt_mem = vmm_alloc(1, PAGE_PRESENT | PAGE_WRITE);

    // Allocate from kernel heap
    void *heap_mem = malloc(1024);

    // Use memory...
    quick_start_phys_page = phys_page;
    quick_start_virt_mem = virt_mem;
    quick_start_heap_mem = heap_mem;
    memset(heap_mem, 0xAB, 1024);

    // Free when done
    pmm_free_page(phys_page);
    free(heap_mem);
}
/* ---- end of spec ---- */
