/* Not run: linked by `cargo xtask test` against the x86_64-unknown-none
 * library to show that a freestanding C kernel can use every function of the
 * four headers (the link fails on any missing symbol). */
#include <valen/heap.h>
#include <valen/paging.h>
#include <valen/pmm.h>
#include <valen/vmm.h>

extern char _kernel_end[];
char _kernel_end[1];

void kernel_main(void);
void kernel_main(void) {
    uintptr_t kernel_phys_end = VIRT_TO_PHYS((uintptr_t)_kernel_end);
    uintptr_t bitmap_phys = (kernel_phys_end + 0x1000) & ~0xFFFULL;
    pmm_init((uintptr_t)PHYS_TO_VIRT(bitmap_phys), 512ULL << 20);
    paging_init();
    vmm_init();
    heap_init();
    void *page = pmm_alloc_page();
    void *pages = pmm_alloc_pages(4);
    pmm_free_page(page);
    pmm_free_pages(pages, 4);
    pmm_mark_used(0x300000);
    pmm_mark_free(0x300000);
    paging_map(0x1000000, 0x300000, PAGE_PRESENT | PAGE_WRITE);
    paging_map_range(0x2000000, 0x300000, 0x10000, PAGE_PRESENT | PAGE_WRITE);
    paging_map_page(0x40000000, 0x40000000, PAGE_PRESENT | PAGE_HUGE);
    vmm_map(0x3000000, 0x300000, PAGE_PRESENT);
    vmm_map_range(0xF0000000, 0xFEE00000, 0x1000, PAGE_PRESENT | PAGE_WRITE | PAGE_PCD);
    void *v = vmm_alloc(4, PAGE_PRESENT | PAGE_WRITE);
    uintptr_t phys = vmm_get_phys((uintptr_t)v);
    void *m = malloc(64 + phys % 2 + pmm_get_total_kb() % 2 + pmm_get_used_kb() % 2 + pmm_get_free_kb() % 2);
    free(m);
    void *c = calloc(4, 4);
    c = realloc(c, 100);
    free(c);
    free(aligned_alloc(64, 64));
    vmm_free(v);
    paging_unmap(0x1000000, 0x1000);
    vmm_unmap(0x3000000, 0x1000);
}

void _start(void);
void _start(void) {
    kernel_main();
    for (;;)
        __asm__ volatile("hlt");
}
