/* What the spec's heap example (spec/heap_example.h, included before this)
 * and its implementation notes promise, checked once every tier is up. */
static void heap_example_promises(void) {
    uint64_t used = heap_get_used_bytes();
    heap_example();
    CHECK(logged("Heap buffer: ") && strcmp(logged("Heap buffer: "), "Heap buffer: Hello from heap!\n") == 0);
    CHECK(heap_get_used_bytes() == used);

    /* 16 KiB initial heap, grown through the VMM. */
    CHECK(heap_get_total_bytes() >= HEAP_INITIAL_SIZE);
    CHECK(vmm_get_allocations() >= 1);
    /* Alignment: at least the spec's 8 bytes (16 here). */
    for (int i = 1; i < 100; i++) {
        void *p = malloc(i * 7);
        CHECK(p && (uintptr_t)p % HEAP_MIN_ALIGN == 0);
        free(p);
    }
    /* Magic number validation: the header holds HEAP_MAGIC; a damaged one
     * is detected and the free refused; the heap stays usable. */
    uint32_t *p = malloc(64);
    CHECK(p != NULL);
    if (p) {
        CHECK(p[-2] == HEAP_MAGIC);
        p[-2] = 0xBADBAD;
        CHECK(heap_free_checked(p) == VALEN_ECORRUPT);
        expected_refusals++;
        p[-2] = HEAP_MAGIC;
        CHECK(heap_free_checked(p) == VALEN_OK);
        CHECK(heap_free_checked(p) == VALEN_ENOENT); /* double free */
        expected_refusals++;
    }
    int local;
    void *volatile foreign = &local;
    free(foreign); /* foreign pointer: refused, not followed */
    expected_refusals++;
    /* Coalescing: two neighbours freed make room for one block of both. */
    char *a = malloc(1000), *b = malloc(1000);
    CHECK(b == a + 1008 || a == b + 1008);
    char *lo = a < b ? a : b;
    free(a);
    free(b);
    char *c = malloc(2000);
    CHECK(c == lo);
    free(c);
    /* Small blocks wait in the quick cache for their size: the block freed
     * last is the next one handed out; a flush merges the cache away. */
    char *s1 = malloc(100), *s2 = malloc(100);
    CHECK(s1 && s2);
    free(s1);
    free(s2);
    char *s3 = malloc(100);
    CHECK(s3 == s2);
    free(s3);
    CHECK(heap_flush_cache() >= 2);
    CHECK(heap_check() == VALEN_OK);
    /* Expansion: far more than 16 KiB, through new VMM allocations, every
     * byte real. */
    uint64_t allocations = vmm_get_allocations();
    static unsigned char *blocks[64];
    for (int i = 0; i < 64; i++) {
        blocks[i] = malloc(64 * 1024);
        CHECK(blocks[i] != NULL);
        if (blocks[i])
            memset(blocks[i], i, 64 * 1024);
    }
    for (int i = 0; i < 64; i++) {
        CHECK(blocks[i] && blocks[i][0] == i && blocks[i][65535] == i);
        free(blocks[i]);
    }
    CHECK(heap_get_total_bytes() >= 64 * 64 * 1024);
    CHECK(vmm_get_allocations() > allocations);
    /* The rest of the C library's allocation functions. */
    int *z = calloc(100, sizeof(int));
    CHECK(z && z[0] == 0 && z[99] == 0);
    z = realloc(z, 100000 * sizeof(int));
    CHECK(z && z[99] == 0);
    free(z);
    void *al = aligned_alloc(4096, 100);
    CHECK(al && (uintptr_t)al % 4096 == 0 && malloc_usable_size(al) >= 100);
    free(al);
    void *pm = NULL;
    CHECK(posix_memalign(&pm, 256, 10) == 0 && (uintptr_t)pm % 256 == 0);
    free(pm);
    CHECK(posix_memalign(&pm, 3, 10) == 22);
    volatile size_t huge = (size_t)1 << 40;
    CHECK(calloc(huge, huge) == NULL);
    CHECK(heap_get_used_bytes() == used);
}
