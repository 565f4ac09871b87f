//! Building the test kernel (its own workspace in `kernel/`), its C API boot
//! (feature `capi`) and a GRUB ISO of it.

use crate::setup;
use std::path::PathBuf;
use std::process::Command;

/// The kernel's target triple.
pub const TARGET: &str = "x86_64-unknown-none";

/// Builds the kernel (release) and returns the path of the ELF.
pub fn build() -> Result<PathBuf, String> {
    setup::ensure_target(TARGET)?;
    let dir = setup::root().join("kernel");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    println!("$ (cd kernel && cargo build --release)");
    // The kernel's own .cargo/config.toml (target, relocation model) is
    // found from its folder, so build there.
    let status = Command::new(cargo)
        .args(["build", "--release", "--quiet"])
        .current_dir(&dir)
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("CARGO_BUILD_TARGET")
        .status()
        .map_err(|e| format!("cannot start cargo: {e}"))?;
    if !status.success() {
        return Err(format!("building the kernel failed ({status})"));
    }
    Ok(dir
        .join("target")
        .join(TARGET)
        .join("release")
        .join("valen-kernel"))
}

/// Builds the C API boot of the kernel (feature `capi`): first the C API's
/// kernel static library (profile `kernel-lib`: fat LTO, so that it exports
/// only the C functions), then the kernel with its C boot linked against
/// it, in a target folder of its own so the test kernel stays as it is.
/// Returns the path of the ELF.
pub fn build_capi() -> Result<PathBuf, String> {
    setup::ensure_target(TARGET)?;
    let root = setup::root();
    crate::capi::kernel_library(&["--quiet", "--profile", "kernel-lib"])?;
    let lib_dir = crate::capi::target_dir(&root)
        .join(TARGET)
        .join("kernel-lib");
    let dir = root.join("kernel");
    let target = dir.join("target").join("capi");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    println!("$ (cd kernel && cargo build --release --features capi)");
    let status = Command::new(cargo)
        .args(["build", "--release", "--quiet", "--features", "capi"])
        .current_dir(&dir)
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("CARGO_BUILD_TARGET")
        .env("CARGO_TARGET_DIR", &target)
        .env("VALEN_MM_C_LIB_DIR", &lib_dir)
        .status()
        .map_err(|e| format!("cannot start cargo: {e}"))?;
    if !status.success() {
        return Err(format!(
            "building the C API boot of the kernel failed ({status})"
        ));
    }
    Ok(target.join(TARGET).join("release").join("valen-kernel"))
}

/// What the C API boot prints for each example that passed, in order (and
/// then its `N passed, 0 failed` line, which [`crate::qemu::judge`] reads).
pub const CAPI_OKS: [&str; 12] = [
    "quick_start",
    "pmm",
    "paging",
    "vmm",
    "heap_example",
    "basic_allocation",
    "device_mapping",
    "memory_stats",
    "error_handling",
    "integration",
    "heap_intact",
    "rust_global_alloc",
];

/// Checks the log of a C API boot: every example reported `ok`, none
/// `FAIL`. `None` if so, else what is missing.
pub fn check_capi_log(log: &str) -> Option<String> {
    let lines: Vec<&str> = log.lines().map(str::trim_end).collect();
    let missing: Vec<&str> = CAPI_OKS
        .iter()
        .copied()
        .filter(|name| !lines.contains(&format!("ok {name}").as_str()))
        .collect();
    if let Some(fail) = lines.iter().find(|l| l.starts_with("FAIL ")) {
        Some(format!("C boot: {fail}"))
    } else if !missing.is_empty() {
        Some(format!("C boot: no ok line for {}", missing.join(", ")))
    } else {
        None
    }
}

/// Builds a bootable GRUB ISO of `kernel` at `out`, passing `cmdline` to the
/// kernel through the multiboot2 command line.
pub fn iso(kernel: &PathBuf, out: &PathBuf, cmdline: &str) -> Result<(), String> {
    setup::ensure_grub()?;
    let stage = out.with_extension("d");
    let grub = stage.join("boot").join("grub");
    let _ = std::fs::remove_dir_all(&stage);
    std::fs::create_dir_all(&grub).map_err(|e| format!("cannot create {}: {e}", grub.display()))?;
    std::fs::copy(kernel, stage.join("boot").join("valen-kernel"))
        .map_err(|e| format!("cannot copy the kernel: {e}"))?;
    let cfg = format!(
        "set timeout=0\nset default=0\n\nmenuentry \"Valen test kernel\" {{\n    multiboot2 /boot/valen-kernel {cmdline}\n    boot\n}}\n"
    );
    std::fs::write(grub.join("grub.cfg"), cfg)
        .map_err(|e| format!("cannot write grub.cfg: {e}"))?;
    let output = Command::new("grub-mkrescue")
        .arg("-o")
        .arg(out)
        .arg(&stage)
        .output()
        .map_err(|e| format!("cannot run grub-mkrescue: {e}"))?;
    let _ = std::fs::remove_dir_all(&stage);
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "grub-mkrescue failed ({}):\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn log_with(oks: &[&str], extra: &str) -> String {
        let mut log = String::from("c: the C kernel runs\n");
        for name in oks {
            log.push_str(&format!("ok {name}\r\n"));
        }
        log.push_str(extra);
        log
    }

    #[test]
    fn a_capi_log_passes_only_with_every_ok_and_no_fail() {
        assert_eq!(
            check_capi_log(&log_with(&CAPI_OKS, "12 passed, 0 failed\n")),
            None
        );
        let missing = check_capi_log(&log_with(&CAPI_OKS[1..], "")).unwrap();
        assert!(missing.contains("quick_start"), "{missing}");
        let failed = check_capi_log(&log_with(&CAPI_OKS, "FAIL paging: 1 checks failed\n"));
        assert!(failed.unwrap().contains("FAIL paging"));
        // A name that is only a prefix of a printed line does not count.
        assert!(check_capi_log(&log_with(&CAPI_OKS[..11], "ok rust_global_alloc_x\n")).is_some());
    }
}
