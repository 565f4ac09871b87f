//! The QEMU matrix of `cargo xtask test`: every RAM size on both machine
//! types through PVH, and GRUB on a few, the deliberate crashes, and the C
//! API boot (the spec's examples in C on the kernel static library), each
//! with a wall-clock limit, a progress line per boot and a summary table at
//! the end.

use crate::kernel;
use crate::qemu::{self, BootPath, BootSpec, Machine, Mem};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The RAM sizes every machine type boots with.
const SIZES: [&str; 8] = ["10M", "32M", "128M", "1G", "3.5G", "4G", "8G", "16G"];
/// The boots made through GRUB as well.
const GRUB_BOOTS: [(&str, Machine); 2] = [("128M", Machine::Pc), ("4G", Machine::Q35)];

/// Boots that must fail, and what their log must show: each way the
/// kernel can die has to be seen as a failure.
const CRASHES: [(&str, &str, &str); 4] = [
    (
        "crash=pagefault",
        "page fault at 0xffffffffc0000000 (device window, not mapped)",
        "the kernel reported failure",
    ),
    ("crash=panic", "kernel panic", "the kernel reported failure"),
    (
        "crash=stack",
        "double fault (on its own stack)",
        "the kernel reported failure",
    ),
    ("crash=triple", "empty IDT", "triple fault"),
];

/// The CPU model each machine type boots with: `pc` with QEMU's default
/// (no 1 GiB pages), `q35` with every feature TCG has (1 GiB pages), so both
/// page-size paths of the direct map run.
fn cpu_for(machine: Machine) -> &'static str {
    match machine {
        Machine::Pc => "qemu64",
        Machine::Q35 => "max",
    }
}

/// One row of the summary.
struct Row {
    mem: String,
    machine: Machine,
    path: BootPath,
    /// What the boot checks, beyond the test suite (a deliberate crash, the C boot).
    note: &'static str,
    /// Whether the boot must be judged a failure (the crashes).
    must_fail: bool,
    report: qemu::BootReport,
}

/// Boots the whole matrix (`elf`: the test kernel, `capi_elf`: its C API
/// boot); fails if any boot fails.
pub fn run(elf: &PathBuf, capi_elf: &Path, timeout: Duration) -> Result<(), String> {
    let mut plan: Vec<(Mem, Machine, BootPath)> = Vec::new();
    for size in SIZES {
        for machine in [Machine::Pc, Machine::Q35] {
            plan.push((Mem::parse(size)?, machine, BootPath::Pvh));
        }
    }
    for (size, machine) in GRUB_BOOTS {
        plan.push((Mem::parse(size)?, machine, BootPath::Grub));
    }

    let mut rows = Vec::new();
    crash_boots(elf, timeout, &mut rows)?;
    let target = elf.parent().map(PathBuf::from).unwrap_or_default();
    let n = plan.len();
    for (i, (mem, machine, path)) in plan.into_iter().enumerate() {
        let image = match path {
            BootPath::Pvh => elf.clone(),
            BootPath::Grub => {
                let iso = target.join(format!("valen-{}.iso", mem.label));
                kernel::iso(elf, &iso, &qemu::cmdline(&mem))?;
                iso
            }
        };
        print!(
            "[{:>2}/{n}] {:>5} {:<3} {:<6} {:<4} ... ",
            i + 1,
            mem.label,
            machine.name(),
            cpu_for(machine),
            path.name()
        );
        let report = boot(&mem, machine, path, &image, elf, timeout, "")?;
        let lines: Vec<&str> = report.log.lines().collect();
        let tail = &lines[lines.len().saturating_sub(40)..];
        print_outcome(&report, "last lines of the kernel log", tail);
        rows.push(Row {
            mem: mem.label,
            machine,
            path,
            note: "",
            must_fail: false,
            report,
        });
    }
    capi_boot(capi_elf, timeout, &mut rows)?;

    println!();
    println!();
    println!("| RAM | machine | CPU | boot | tests passed | time | result |");
    println!("| ---: | --- | --- | --- | ---: | ---: | --- |");
    for r in &rows {
        println!(
            "| {} | {} | {} | {} | {} | {:.1} s | {} |",
            r.mem,
            r.machine.name(),
            cpu_for(r.machine),
            format!("{} {}", r.path.name(), r.note).trim(),
            counts(&r.report),
            r.report.elapsed.as_secs_f64(),
            match (&r.report.failure, r.must_fail) {
                (Some(why), _) => why.as_str(),
                (None, false) => "ok",
                (None, true) => "ok (failed as it must)",
            }
        );
    }
    let failed = rows.iter().filter(|r| r.report.failure.is_some()).count();
    println!();
    // The plain closing line CI reads: one per boot.
    println!("boots: {} passed, {failed} failed", rows.len() - failed);
    if failed == 0 {
        Ok(())
    } else {
        Err(format!(
            "QEMU matrix: {failed} of {} boots failed",
            rows.len()
        ))
    }
}

/// Boots each deliberate crash and checks it is judged a failure, for the
/// reason expected, with the expected report in the log.
fn crash_boots(elf: &Path, timeout: Duration, rows: &mut Vec<Row>) -> Result<(), String> {
    let mem = Mem::parse("32M")?;
    for (i, (arg, log_shows, verdict)) in CRASHES.iter().enumerate() {
        print!("[crash {}/{}] {arg:<16} ... ", i + 1, CRASHES.len());
        let mut report = boot(&mem, Machine::Pc, BootPath::Pvh, elf, elf, timeout, arg)?;
        let seen = report.failure.clone().unwrap_or_default();
        report.failure = if report.failure.is_none() {
            Some(format!("{arg}: the boot counted as a success"))
        } else if !seen.contains(verdict) {
            Some(format!("{arg}: judged \"{seen}\", expected \"{verdict}\""))
        } else if !report.log.contains(log_shows) {
            Some(format!("{arg}: the log does not show \"{log_shows}\""))
        } else {
            None
        };
        match &report.failure {
            None => println!("failed as it must: {seen}"),
            Some(why) => println!("WRONG: {why}"),
        }
        rows.push(Row {
            mem: mem.label.clone(),
            machine: Machine::Pc,
            path: BootPath::Pvh,
            note: arg,
            must_fail: true,
            report,
        });
    }
    Ok(())
}

/// The C API boot: memory management and the spec's examples in C, on
/// 4 GiB of `q35` (RAM below and above the PCI hole). Passes only if the
/// run passes and every example printed its `ok` line.
fn capi_boot(elf: &Path, timeout: Duration, rows: &mut Vec<Row>) -> Result<(), String> {
    let mem = Mem::parse("4G")?;
    let machine = Machine::Q35;
    print!(
        "[capi] {:>5} {:<3} {:<6} PVH  C API ... ",
        mem.label,
        machine.name(),
        cpu_for(machine)
    );
    let mut report = boot(&mem, machine, BootPath::Pvh, elf, elf, timeout, "")?;
    if report.failure.is_none() {
        report.failure = kernel::check_capi_log(&report.log);
    }
    let start = report.log.find("capi:").unwrap_or(0);
    let excerpt: Vec<&str> = report.log[start..].lines().collect();
    print_outcome(&report, "the C boot's log", &excerpt);
    rows.push(Row {
        mem: mem.label,
        machine,
        path: BootPath::Pvh,
        note: "C API",
        must_fail: false,
        report,
    });
    Ok(())
}

/// One boot of the matrix, after its progress line: quiet (no log echo, no
/// debugger), on the CPU model [`cpu_for`] gives the machine type.
fn boot(
    mem: &Mem,
    machine: Machine,
    path: BootPath,
    image: &Path,
    symbols: &Path,
    timeout: Duration,
    extra_cmdline: &str,
) -> Result<qemu::BootReport, String> {
    use std::io::Write;
    let _ = std::io::stdout().flush();
    qemu::boot(&BootSpec {
        mem,
        machine,
        cpu: cpu_for(machine),
        path,
        image,
        symbols,
        gdb: false,
        timeout,
        echo: false,
        extra_cmdline,
    })
}

/// Ends the progress line of a boot that must pass: `ok` with its counts and
/// time, or `FAILED` with why and `excerpt`, the part of the log (`title`)
/// that shows it.
fn print_outcome(report: &qemu::BootReport, title: &str, excerpt: &[&str]) {
    match &report.failure {
        None => println!(
            "ok ({}, {:.1} s)",
            counts(report),
            report.elapsed.as_secs_f64()
        ),
        Some(why) => {
            println!("FAILED: {why} ({:.1} s)", report.elapsed.as_secs_f64());
            println!("  --- {title} ---");
            for line in excerpt {
                println!("  | {line}");
            }
        }
    }
}

fn counts(r: &qemu::BootReport) -> String {
    match r.counts {
        Some((p, f, s)) if s > 0 => format!("{p}/{} ({s} skipped)", p + f),
        Some((p, f, _)) => format!("{p}/{}", p + f),
        None => "-".into(),
    }
}
