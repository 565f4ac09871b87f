//! Project tasks, run as `cargo xtask <task>`.
//!
//! - `run`: the main job (the demo).
//! - `test`: every test, as CI runs it; installs what it needs the first time.
//! - `bench`: the benchmarks against the peer crates, printing the README's tables.

mod capi;
mod setup;

use std::process::{Command, ExitCode};

const USAGE: &str = "usage: cargo xtask <run | test | bench> [options]

  run     build and run the demo
  test    run every test (host tests, the no_std build for x86_64-unknown-none)
  bench   run the benchmarks against the peer crates and print the tables";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("run") => run(&args[1..]),
        Some("test") => test(&args[1..]),
        Some("bench") => bench(&args[1..]),
        Some("capi") => capi::test(),
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

fn run(args: &[String]) -> Result<(), String> {
    if !args.is_empty() {
        return Err(format!("run takes no options yet, got {args:?}"));
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

fn test(args: &[String]) -> Result<(), String> {
    if !args.is_empty() {
        return Err(format!("test takes no options, got {args:?}"));
    }
    setup::ensure_target("x86_64-unknown-none")?;
    cargo(&["test", "--workspace"])?;
    cargo(&[
        "build",
        "-p",
        "valen-mm",
        "--no-default-features",
        "--target",
        "x86_64-unknown-none",
    ])?;
    capi::test()?;
    Ok(())
}

fn bench(args: &[String]) -> Result<(), String> {
    let mut cmd = vec!["bench", "-p", "valen-mm"];
    cmd.extend(args.iter().map(String::as_str));
    cargo(&cmd)
}
