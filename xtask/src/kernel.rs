//! Building the test kernel (its own workspace in `kernel/`) and a GRUB ISO of it.

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
