//! `hosted.h`: what only the hosted build has (the simulated machine).

use crate::state;

/// `int valen_hosted_boot(void)`: creates the simulated RAM now (any call
/// that needs it does so by itself); 0, or -1 if the host refused.
#[no_mangle]
pub extern "C" fn valen_hosted_boot() -> i32 {
    if state::machine_ready() {
        0
    } else {
        -1
    }
}

/// `uint64_t valen_hosted_mirror_failures(void)`: lower-half mappings the
/// host could not mirror (their address was in use in the process).
#[no_mangle]
pub extern "C" fn valen_hosted_mirror_failures() -> u64 {
    crate::hosted::mirror_failures()
}

/// `uint64_t valen_hosted_tlb_flushes(void)`: TLB flushes the simulated MMU saw.
#[no_mangle]
pub extern "C" fn valen_hosted_tlb_flushes() -> u64 {
    crate::hosted::CountingMmu::flushes()
}
