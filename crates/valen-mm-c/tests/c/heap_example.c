/* The spec's heap example, and what its implementation notes promise. */
#include "kernel_env.h"

#include "spec/heap_example.h"

#include "promises/heap_example.h"

int main(void) {
    memory_up();
    printf("heap up\n"); /* the C library's own buffers come first */
    heap_example_promises();
    return finish("heap_example");
}
