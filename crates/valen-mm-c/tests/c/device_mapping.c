/* The spec's "Device Memory Mapping" usage pattern. The device is simulated:
 * its register page is a physical frame the test reads back. */
#include "kernel_env.h"

#include "spec/device_mapping.h"

#include "promises/device_mapping.h"

int main(void) {
    memory_up();
    device_mapping_promises();
    return finish("device_mapping");
}
