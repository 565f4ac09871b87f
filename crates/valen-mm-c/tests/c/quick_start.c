/* The spec's Quick Start (spec/quick_start.h), then what it promises. */
#include "kernel_env.h"

#include "spec/quick_start.h"

#include "promises/quick_start.h"

int main(void) {
    kernel_main();
    quick_start_promises();
    printf("RAM %llu KB, %llu KB used\n", (unsigned long long)pmm_get_total_kb(),
           (unsigned long long)pmm_get_used_kb());
    return finish("quick_start");
}
