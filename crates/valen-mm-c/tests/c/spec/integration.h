/* The spec's "Integration Example": boot-time init from the linker symbol
 * _kernel_end, then resource allocation. Needs max_physical_addr and
 * strcpy (see README.md); struct my_data is the example's own. */
struct my_data {
    int id;
    char name[60];
    uint64_t counters[8];
};

/* ---- spec: Integration Example ---- */
#include <valen/pmm.h>
#include <valen/vmm.h>
#include <valen/heap.h>
#include <valen/paging.h>

void init_memory_subsystem(void) {
    // Initialize PMM with memory map from bootloader
    extern char _kernel_end[];
    uintptr_t kernel_phys_end = VIRT_TO_PHYS((uintptr_t)_kernel_end);
    uintptr_t bitmap_phys = (kernel_phys_end + 0x1000) & ~0xFFFULL;

    pmm_init((uintptr_t)PHYS_TO_VIRT(bitmap_phys), max_physical_addr);

    // Initialize paging system
    paging_init();

    // Initialize VMM
    vmm_init();

    // Initialize kernel heap
    heap_init();
}

void allocate_resources(void) {
    // Allocate heap memory for data structures
    struct my_data *data = malloc(sizeof(struct my_data));
    if (!data) return;

    // Allocate virtual memory for buffers
    void *buffer_area = vmm_alloc(8, PAGE_PRESENT | PAGE_WRITE);
    if (!buffer_area) {
        free(data);
        return;
    }

    // Use resources...
    data->id = 1;
    strcpy(data->name, "buffers");

    // Clean up
    free(data);
}
/* ---- end of spec ---- */
