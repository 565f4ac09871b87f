/* The spec's "Memory Statistics" usage pattern. */
#include "kernel_env.h"

#include "spec/memory_stats.h"

#include "promises/memory_stats.h"

int main(void) {
    memory_up();
    memory_stats_promises();
    return finish("memory_stats");
}
