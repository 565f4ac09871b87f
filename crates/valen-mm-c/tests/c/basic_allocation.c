/* The spec's "Basic Memory Allocation" usage pattern. */
#include "kernel_env.h"

#include "spec/basic_allocation.h"

#include "promises/basic_allocation.h"

int main(void) {
    memory_up();
    printf("memory up\n");
    basic_allocation_promises();
    return finish("basic_allocation");
}
