//! The in-kernel test suite: runs on the real (emulated) MMU and prints
//!
//! ```text
//!  test memmap::normalized ... ok
//!  test faults::write_to_read_only_page ... FAILED
//!        src/tests/faults.rs:88: write to read-only ...: Ok(())
//!  12 passed, 1 failed, 0 skipped
//! ```
//! A test returns `Ok(Pass)`, `Ok(Skip(reason))` or `Err(Failed)`; a
//! failed [`check!`] prints what was wrong before returning. A panic ends
//! the run (and fails it) through the panic handler.

mod boot;
mod faults;
mod fixture;
mod heap;
mod leaks;
mod memmap;
mod paging;
mod pmm;
mod spec;
mod vmm;

use crate::boot::BootInfo;
use crate::kprintln;

/// What every test gets.
pub struct Ctx<'a> {
    /// The copied boot information.
    pub boot: &'a BootInfo,
}

/// A test that ran to its end.
pub enum Done {
    /// Every check held.
    Pass,
    /// Not applicable here (the reason is printed).
    Skip(&'static str),
}

/// A failed check (already printed).
pub struct Failed;

/// What a test returns.
pub type Outcome = Result<Done, Failed>;

/// One test: a name and a function.
pub struct Test {
    /// `module::name`, as printed.
    pub name: &'static str,
    /// The test.
    pub run: fn(&Ctx<'_>) -> Outcome,
}

/// Fails the current test with a message unless `cond` holds.
#[macro_export]
macro_rules! check {
    ($cond:expr, $($msg:tt)*) => {
        if !$cond {
            $crate::kprintln!("FAILED\n      {}:{}: {}", file!(), line!(), format_args!($($msg)*));
            return Err($crate::tests::Failed);
        }
    };
}

/// Fails the current test with a message.
#[macro_export]
macro_rules! fail {
    ($($msg:tt)*) => {{
        $crate::kprintln!("FAILED\n      {}:{}: {}", file!(), line!(), format_args!($($msg)*));
        return Err($crate::tests::Failed);
    }};
}

/// Locks the memory manager and binds its parts, or fails the test.
#[macro_export]
macro_rules! mm_parts {
    ($guard:ident => $vmm:ident, $space:ident, $frames:ident) => {
        let mut $guard = $crate::mm::MM.lock();
        let Some(($vmm, $space, $frames)) = $guard.parts() else {
            $crate::fail!("the memory manager is not up");
        };
    };
}

/// Whether the running test printed output of its own (see [`out!`]).
pub static PRINTED: core::sync::atomic::AtomicBool = core::sync::atomic::AtomicBool::new(false);

/// Prints a line of a test's own output (a spec example's `printf`),
/// indented under the test's name.
#[macro_export]
macro_rules! out {
    ($($arg:tt)*) => {{
        if !$crate::tests::PRINTED.swap(true, core::sync::atomic::Ordering::SeqCst) {
            $crate::kprintln!();
        }
        $crate::kprintln!("      | {}", format_args!($($arg)*));
    }};
}

/// Counts of the run.
pub struct Summary {
    /// Tests that passed.
    pub passed: usize,
    /// Tests that failed.
    pub failed: usize,
    /// Tests that did not apply.
    pub skipped: usize,
}

/// Every test, in the order they run (lower tiers first).
const SUITES: &[&[Test]] = &[
    boot::TESTS,
    memmap::TESTS,
    pmm::TESTS,
    faults::TESTS,
    paging::TESTS,
    vmm::TESTS,
    spec::TESTS,
    heap::TESTS,
    spec::PMM_TESTS,
    leaks::TESTS,
];

/// Runs every test and prints the closing `N passed, N failed` line.
pub fn run(boot: &BootInfo) -> Summary {
    let ctx = Ctx { boot };
    let mut s = Summary {
        passed: 0,
        failed: 0,
        skipped: 0,
    };
    let total: usize = SUITES.iter().map(|t| t.len()).sum();
    let mut failures = [""; 16];
    kprintln!("running {total} tests");
    for test in SUITES.iter().flat_map(|t| t.iter()) {
        crate::kprint!("test {} ... ", test.name);
        PRINTED.store(false, core::sync::atomic::Ordering::SeqCst);
        let outcome = (test.run)(&ctx);
        if PRINTED.load(core::sync::atomic::Ordering::SeqCst) && !matches!(outcome, Err(Failed)) {
            crate::kprint!("test {} ... ", test.name);
        }
        match outcome {
            Ok(Done::Pass) => {
                s.passed += 1;
                kprintln!("ok");
            }
            Ok(Done::Skip(why)) => {
                s.skipped += 1;
                kprintln!("skipped ({why})");
            }
            Err(Failed) => {
                s.failed += 1;
                if s.failed <= failures.len() {
                    failures[s.failed - 1] = test.name;
                }
            }
        }
    }
    kprintln!();
    for name in failures.iter().take(s.failed) {
        kprintln!("failed test: {name}");
    }
    kprintln!(
        "{} passed, {} failed, {} skipped",
        s.passed,
        s.failed,
        s.skipped
    );
    s
}
