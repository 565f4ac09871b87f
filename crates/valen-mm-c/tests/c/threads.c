/* Not a spec example: the spec says the tiers are thread-safe. Eight
 * threads allocate, fill, check and free heap blocks and physical pages. */
#include "kernel_env.h"
#include <pthread.h>

#define THREADS 8
#define ROUNDS 20000

static void *worker(void *arg) {
    uintptr_t id = (uintptr_t)arg;
    unsigned seed = (unsigned)id * 2654435761u;
    void *blocks[64] = {0};
    size_t sizes[64] = {0};
    uintptr_t bad = 0;
    for (int r = 0; r < ROUNDS; r++) {
        seed = seed * 1103515245u + 12345u;
        int slot = (seed >> 8) % 64;
        if (blocks[slot]) {
            unsigned char *b = blocks[slot];
            for (size_t i = 0; i < sizes[slot]; i += 61)
                if (b[i] != (unsigned char)(id + slot))
                    bad++;
            free(b);
            blocks[slot] = NULL;
        } else {
            size_t n = 1 + (seed >> 12) % 3000;
            unsigned char *b = (seed & 1) ? malloc(n) : calloc(1, n);
            if (!b) { bad++; continue; }
            memset(b, (unsigned char)(id + slot), n);
            blocks[slot] = b;
            sizes[slot] = n;
        }
        if (r % 64 == 0) {
            void *p = pmm_alloc_page();
            if (!p || pmm_free_page_checked(p) != VALEN_OK)
                bad++;
        }
    }
    for (int i = 0; i < 64; i++)
        free(blocks[i]);
    return (void *)bad;
}

int main(void) {
    memory_up();
    printf("memory up\n");
    uint64_t heap_used = heap_get_used_bytes();
    uint64_t used = pmm_get_used_kb();
    pthread_t t[THREADS];
    for (uintptr_t i = 0; i < THREADS; i++)
        CHECK(pthread_create(&t[i], NULL, worker, (void *)i) == 0);
    for (int i = 0; i < THREADS; i++) {
        void *bad;
        CHECK(pthread_join(t[i], &bad) == 0);
        CHECK(bad == NULL);
    }
    /* The thread library's own blocks (stacks are mmap'd) may remain; ours are back. */
    CHECK(heap_get_used_bytes() <= heap_used + 64 * 1024);
    CHECK(pmm_get_used_kb() >= used);
    return finish("threads");
}
