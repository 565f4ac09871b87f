/* Not a spec example: the hosted build's RAM is shared memory, so a forked
 * child must get its own copy (heap blocks and mirrored mappings). */
#define _DEFAULT_SOURCE /* usleep */
#include "kernel_env.h"
#include <sys/wait.h>
#include <unistd.h>

int main(void) {
    memory_up();
    printf("memory up\n");
    fflush(stdout);
    char *block = malloc(100);
    strcpy(block, "parent");
    uintptr_t frame = (uintptr_t)pmm_alloc_page();
    CHECK(vmm_map_checked(0x3000000, frame, PAGE_PRESENT | PAGE_WRITE) == VALEN_OK);
    strcpy((char *)0x3000000, "parent");
    pid_t pid = fork();
    if (pid != 0) {
        /* The parent changes its memory at once: the child must not see it. */
        strcpy(block, "after");
        strcpy((char *)0x3000000, "after");
        free(malloc(5000));
    }
    if (pid == 0) {
        usleep(100 * 1000); /* let the parent run on first */
        /* The child sees memory as it was at the fork, writes everywhere and allocates. */
        int ok = strcmp(block, "parent") == 0 && strcmp((char *)0x3000000, "parent") == 0;
        strcpy(block, "child");
        strcpy((char *)0x3000000, "child");
        ok = ok && strcmp((char *)PHYS_TO_VIRT(frame), "child") == 0;
        for (int i = 0; i < 1000; i++)
            ok = ok && malloc(1000) != NULL;
        _exit(ok ? 0 : 1);
    }
    int status = -1;
    CHECK(waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    /* The parent's memory is untouched by the child. */
    CHECK(strcmp(block, "after") == 0);
    CHECK(strcmp((char *)0x3000000, "after") == 0);
    CHECK(strcmp((char *)PHYS_TO_VIRT(frame), "after") == 0);
    free(block);
    return finish("fork");
}
