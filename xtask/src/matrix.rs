//! The QEMU matrix of `cargo xtask test`: every RAM size on both machine
//! types through PVH, and GRUB on a few, each with a wall-clock limit, a
//! progress line per boot and a summary table at the end.

use crate::kernel;
use crate::qemu::{self, BootPath, BootSpec, Machine, Mem};
use std::path::PathBuf;
use std::time::Duration;

/// The RAM sizes every machine type boots with.
const SIZES: [&str; 8] = ["10M", "32M", "128M", "1G", "3.5G", "4G", "8G", "16G"];
/// The boots made through GRUB as well.
const GRUB_BOOTS: [(&str, Machine); 2] = [("128M", Machine::Pc), ("4G", Machine::Q35)];

/// One row of the summary.
struct Row {
    mem: String,
    machine: Machine,
    path: BootPath,
    report: qemu::BootReport,
}

/// Boots the whole matrix; fails if any boot fails.
pub fn run(elf: &PathBuf, timeout: Duration) -> Result<(), String> {
    let mut plan: Vec<(Mem, Machine, BootPath)> = Vec::new();
    for size in SIZES {
        for machine in [Machine::Pc, Machine::Q35] {
            plan.push((Mem::parse(size)?, machine, BootPath::Pvh));
        }
    }
    for (size, machine) in GRUB_BOOTS {
        plan.push((Mem::parse(size)?, machine, BootPath::Grub));
    }

    let target = elf.parent().map(PathBuf::from).unwrap_or_default();
    let mut rows = Vec::new();
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
            "[{:>2}/{n}] {:>5} {:<3} {:<4} ... ",
            i + 1,
            mem.label,
            machine.name(),
            path.name()
        );
        use std::io::Write;
        let _ = std::io::stdout().flush();
        let report = qemu::boot(&BootSpec {
            mem: &mem,
            machine,
            path,
            image: &image,
            gdb: false,
            timeout,
            echo: false,
        })?;
        match &report.failure {
            None => println!(
                "ok ({}, {:.1} s)",
                counts(&report),
                report.elapsed.as_secs_f64()
            ),
            Some(why) => {
                println!("FAILED: {why} ({:.1} s)", report.elapsed.as_secs_f64());
                let tail: Vec<&str> = report.log.lines().rev().take(40).collect();
                println!("  --- last lines of the kernel log ---");
                for line in tail.into_iter().rev() {
                    println!("  | {line}");
                }
            }
        }
        rows.push(Row {
            mem: mem.label,
            machine,
            path,
            report,
        });
    }

    println!();
    println!("| RAM | machine | boot | tests passed | time | result |");
    println!("| ---: | --- | --- | ---: | ---: | --- |");
    for r in &rows {
        println!(
            "| {} | {} | {} | {} | {:.1} s | {} |",
            r.mem,
            r.machine.name(),
            r.path.name(),
            counts(&r.report),
            r.report.elapsed.as_secs_f64(),
            r.report.failure.as_deref().unwrap_or("ok")
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

fn counts(r: &qemu::BootReport) -> String {
    match r.counts {
        Some((p, f, s)) if s > 0 => format!("{p}/{} ({s} skipped)", p + f),
        Some((p, f, _)) => format!("{p}/{}", p + f),
        None => "-".into(),
    }
}
