//! Installing what the tasks need on a fresh machine (Rust target, QEMU,
//! GRUB tools), each only when missing, saying so when it does.

use std::path::PathBuf;
use std::process::{Command, Stdio};

/// The workspace root (the parent of this crate's folder).
pub fn root() -> PathBuf {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().map(PathBuf::from).unwrap_or(manifest)
}

/// Makes sure the Rust standard library for `target` is installed.
pub fn ensure_target(target: &str) -> Result<(), String> {
    let out = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
        .map_err(|e| format!("cannot run rustup: {e}"))?;
    if String::from_utf8_lossy(&out.stdout)
        .lines()
        .any(|l| l.trim() == target)
    {
        return Ok(());
    }
    println!("installing the Rust target {target} (first run only)");
    let status = Command::new("rustup")
        .args(["target", "add", target])
        .status()
        .map_err(|e| format!("cannot run rustup: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("`rustup target add {target}` failed ({status})"))
    }
}

/// Whether `program` can be started (it is on the PATH).
fn have(program: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {program}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Installs Debian `packages` with apt-get (update first), without prompts.
fn apt_install(packages: &[&str]) -> Result<(), String> {
    for args in [vec!["update"], {
        let mut v = vec!["install", "-y", "--no-install-recommends"];
        v.extend_from_slice(packages);
        v
    }] {
        println!("$ apt-get {}", args.join(" "));
        let status = Command::new("apt-get")
            .args(&args)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .stdin(Stdio::null())
            .status()
            .map_err(|e| format!("cannot run apt-get: {e}"))?;
        if !status.success() {
            return Err(format!(
                "`apt-get {}` failed ({status}); install {} by hand",
                args.join(" "),
                packages.join(" ")
            ));
        }
    }
    Ok(())
}

/// Makes sure `qemu-system-x86_64` is installed.
pub fn ensure_qemu() -> Result<(), String> {
    if have("qemu-system-x86_64") {
        return Ok(());
    }
    println!("QEMU is missing: installing qemu-system-x86 with apt-get (first run only)");
    apt_install(&["qemu-system-x86"])?;
    if have("qemu-system-x86_64") {
        Ok(())
    } else {
        Err("qemu-system-x86_64 is still missing after the install".into())
    }
}

/// Makes sure `grub-mkrescue` and what it needs for a BIOS ISO are installed.
pub fn ensure_grub() -> Result<(), String> {
    let have_all = have("grub-mkrescue")
        && have("xorriso")
        && have("mformat")
        && std::path::Path::new("/usr/lib/grub/i386-pc").is_dir();
    if have_all {
        return Ok(());
    }
    println!("GRUB tools are missing: installing grub-pc-bin grub-common xorriso mtools with apt-get (first run only)");
    apt_install(&["grub-pc-bin", "grub-common", "xorriso", "mtools"])
}
