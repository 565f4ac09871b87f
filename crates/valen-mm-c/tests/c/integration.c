/* The spec's "Integration Example": boot-time init from the linker symbol
 * _kernel_end, then resource allocation. */
#include "kernel_env.h"

#include "spec/integration.h"

#include "promises/integration.h"

int main(void) {
    init_memory_subsystem();
    integration_promises();
    return finish("integration");
}
