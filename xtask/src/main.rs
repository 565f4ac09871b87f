//! Project tasks, run as `cargo xtask <task>`.
//!
//! - `run`: the main job: builds the test kernel and boots it in QEMU.
//! - `test`: every test, as CI runs it: host tests, the no_std build, the
//!   QEMU matrix; installs what it needs the first time.
//! - `bench`: the benchmarks against the peer crates, printing the README's tables.
//! - `demo`: the hosted demo (the memory manager on a simulated machine).
//! - `iso`: a bootable GRUB ISO of the test kernel.
//! - `miri`: optional, on a nightly toolchain: the unsafe-heavy tests under
//!   Miri.

mod capi;
mod kernel;
mod matrix;
mod miri;
mod qemu;
mod setup;

use qemu::{BootPath, BootSpec, Machine, Mem};
use std::path::PathBuf;
use std::process::{Command, ExitCode};
use std::time::Duration;

const USAGE: &str = "usage: cargo xtask <run | test | bench | demo | iso | miri> [options]

  run     build the test kernel and boot it in QEMU; exits 0 only if every
          in-kernel test passed
            --mem SIZE        RAM size, e.g. 10M, 3.5G, 16G (default 128M)
            --machine M       pc or q35 (default pc)
            --cpu MODEL       QEMU CPU model (default qemu64; max has 1 GiB pages)
            --grub            boot through GRUB (multiboot2) instead of PVH
            --gdb             wait for gdb on :1234 (no time limit)
            --timeout SECS    wall-clock limit (default 300)
            --capi            the C API boot: the kernel hands memory management
                              to a C file linked with the C API's static library,
                              which runs the spec's examples (RAM up to 32G)
  test    run every test: host tests, the no_std build for x86_64-unknown-none,
          then the QEMU matrix (10M..16G on pc and q35, PVH and GRUB, the
          deliberate crashes, the C API boot)
            --timeout SECS    wall-clock limit per boot (default 180)
            --no-qemu         stop after the host tests and the builds
  bench   run the benchmarks against the peer crates and print the tables
  demo    run the hosted demo
  iso     build a GRUB ISO of the test kernel: target/valen.iso
            --mem SIZE        the RAM size the kernel checks its map against
  miri    optional, needs a nightly toolchain (never used by the build):
          most unit tests of the heap, page tables, PMM, spin lock and VMM
          range allocator, and the heap's misuse, growth and global-allocator
          tests under Miri, which checks every memory access for undefined
          behaviour and data races";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("run") => run(&args[1..]),
        Some("test") => test(&args[1..]),
        Some("bench") => bench(&args[1..]),
        Some("capi") => capi::test(),
        Some("demo") => demo(&args[1..]),
        Some("iso") => iso(&args[1..]),
        Some("miri") => miri::run(&args[1..]),
        Some("-h" | "--help" | "help") => {
            println!("{USAGE}");
            Ok(())
        }
        _ => Err(format!("unknown or missing task\n{USAGE}")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Runs `cargo` with `args` from the workspace root, failing on a non-zero exit.
fn cargo(args: &[&str]) -> Result<(), String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    println!("$ cargo {}", args.join(" "));
    let status = Command::new(cargo)
        .args(args)
        .current_dir(setup::root())
        .status()
        .map_err(|e| format!("cannot start cargo: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("`cargo {}` failed ({status})", args.join(" ")))
    }
}

/// Options of `run`, `test` and `iso`.
struct Options {
    mem: Mem,
    machine: Machine,
    cpu: String,
    grub: bool,
    gdb: bool,
    timeout: Option<Duration>,
    no_qemu: bool,
    capi: bool,
}

fn parse_options(args: &[String], allowed: &[&str]) -> Result<Options, String> {
    let mut o = Options {
        mem: Mem::parse("128M")?,
        machine: Machine::Pc,
        cpu: "qemu64".into(),
        grub: false,
        gdb: false,
        timeout: None,
        no_qemu: false,
        capi: false,
    };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if !allowed.contains(&a.as_str()) {
            return Err(format!("unknown option {a:?}\n{USAGE}"));
        }
        let mut value = || it.next().ok_or(format!("{a} needs a value"));
        match a.as_str() {
            "--mem" => o.mem = Mem::parse(value()?)?,
            "--machine" => o.machine = Machine::parse(value()?)?,
            "--cpu" => o.cpu = value()?.clone(),
            "--grub" => o.grub = true,
            "--gdb" => o.gdb = true,
            "--no-qemu" => o.no_qemu = true,
            "--capi" => o.capi = true,
            "--timeout" => {
                let v = value()?;
                let secs: u64 = v.parse().map_err(|_| format!("bad --timeout {v:?}"))?;
                o.timeout = Some(Duration::from_secs(secs));
            }
            _ => return Err(format!("unknown option {a:?}")),
        }
    }
    Ok(o)
}

fn run(args: &[String]) -> Result<(), String> {
    let o = parse_options(
        args,
        &[
            "--mem",
            "--machine",
            "--cpu",
            "--grub",
            "--gdb",
            "--timeout",
            "--capi",
        ],
    )?;
    setup::ensure_qemu()?;
    let elf = if o.capi {
        kernel::build_capi()?
    } else {
        kernel::build()?
    };
    let (path, image) = if o.grub {
        let iso = setup::root().join("target").join("valen.iso");
        kernel::iso(&elf, &iso, &qemu::cmdline(&o.mem))?;
        (BootPath::Grub, iso)
    } else {
        (BootPath::Pvh, elf.clone())
    };
    println!(
        "booting the test kernel: {} RAM, machine {}, CPU {}, {} (log from the serial port follows)\n",
        o.mem.label,
        o.machine.name(),
        o.cpu,
        path.name()
    );
    let report = qemu::boot(&BootSpec {
        mem: &o.mem,
        machine: o.machine,
        cpu: &o.cpu,
        path,
        image: &image,
        symbols: &elf,
        gdb: o.gdb,
        timeout: o.timeout.unwrap_or(Duration::from_secs(300)),
        echo: true,
        extra_cmdline: "",
    })?;
    let failure = match report.failure {
        None if o.capi => kernel::check_capi_log(&report.log),
        other => other,
    };
    match failure {
        None => {
            println!(
                "\nQEMU exited with the success code ({:.1} s)",
                report.elapsed.as_secs_f64()
            );
            Ok(())
        }
        Some(why) => Err(why),
    }
}

fn test(args: &[String]) -> Result<(), String> {
    let o = parse_options(args, &["--timeout", "--no-qemu"])?;
    setup::ensure_target(kernel::TARGET)?;
    cargo(&["test", "--workspace"])?;
    cargo(&[
        "build",
        "-p",
        "valen-mm",
        "--no-default-features",
        "--target",
        kernel::TARGET,
    ])?;
    capi::test()?;
    let elf = kernel::build()?;
    let capi_elf = kernel::build_capi()?;
    if o.no_qemu {
        return Ok(());
    }
    setup::ensure_qemu()?;
    matrix::run(
        &elf,
        &capi_elf,
        o.timeout.unwrap_or(Duration::from_secs(180)),
    )
}

fn bench(args: &[String]) -> Result<(), String> {
    let mut cmd = vec!["bench", "-p", "valen-mm"];
    cmd.extend(args.iter().map(String::as_str));
    cargo(&cmd)
}

fn demo(args: &[String]) -> Result<(), String> {
    if !args.is_empty() {
        return Err(format!("demo takes no options, got {args:?}"));
    }
    cargo(&[
        "run",
        "--quiet",
        "--release",
        "-p",
        "valen-mm",
        "--example",
        "demo",
    ])
}

fn iso(args: &[String]) -> Result<(), String> {
    let o = parse_options(args, &["--mem"])?;
    let elf = kernel::build()?;
    let out: PathBuf = setup::root().join("target").join("valen.iso");
    kernel::iso(&elf, &out, &qemu::cmdline(&o.mem))?;
    println!("wrote {}", out.display());
    Ok(())
}
