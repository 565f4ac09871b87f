//! Links the kernel with its own script (see `linker.ld`); with the `capi`
//! feature, also compiles the C boot (`c/capi_boot.c`) with the system C
//! compiler and links it and the C API's static library in.

use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    let dir = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| ".".into());
    println!("cargo:rerun-if-changed={dir}/linker.ld");
    println!("cargo:rerun-if-changed={dir}/src/boot/entry.s");
    println!("cargo:rustc-link-arg-bins=-T{dir}/linker.ld");
    println!("cargo:rustc-link-arg-bins=--no-pie");
    println!("cargo:rustc-link-arg-bins=-zmax-page-size=0x1000");
    if std::env::var_os("CARGO_FEATURE_CAPI").is_some() {
        if let Err(e) = capi(Path::new(&dir)) {
            eprintln!("{e}");
            std::process::exit(1);
        }
    }
}

/// The C boot: one object from the system C compiler, freestanding, for
/// the kernel's code model (linked at 0xFFFFFFFF80000000 + physical, see
/// `linker.ld`), without SSE (the kernel never enables it) and without a
/// red zone (faults run on the same stack); plus `libvalen_mm_c.a`.
fn capi(dir: &Path) -> Result<(), String> {
    println!("cargo:rerun-if-env-changed=VALEN_MM_C_LIB_DIR");
    println!("cargo:rerun-if-env-changed=CC");
    let lib_dir = std::env::var("VALEN_MM_C_LIB_DIR").map_err(|_| {
        "the capi feature needs VALEN_MM_C_LIB_DIR, the folder of the C API's \
         x86_64-unknown-none libvalen_mm_c.a: build with `cargo xtask run --capi`"
            .to_string()
    })?;
    let lib = Path::new(&lib_dir).join("libvalen_mm_c.a");
    if !lib.is_file() {
        return Err(format!("no {}", lib.display()));
    }
    println!("cargo:rerun-if-changed={}", lib.display());
    let root = dir.parent().ok_or("the kernel folder has no parent")?;
    let c_dir = dir.join("c");
    let spec_dir = root.join("crates/valen-mm-c/tests/c");
    for d in [
        &c_dir,
        &spec_dir.join("spec"),
        &spec_dir.join("promises"),
        &root.join("include/valen"),
    ] {
        println!("cargo:rerun-if-changed={}", d.display());
    }
    let out = PathBuf::from(std::env::var("OUT_DIR").map_err(|e| e.to_string())?);
    let obj = out.join("capi_boot.o");
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    let status = Command::new(&cc)
        .args([
            "-std=c11",
            "-O2",
            "-g",
            "-Wall",
            "-Wextra",
            "-Werror",
            // The spec's examples print uint64_t with %d: kept verbatim.
            "-Wno-format",
            "-ffreestanding",
            "-fno-builtin",
            "-nostdlib",
            "-fno-pic",
            "-fno-pie",
            "-fno-stack-protector",
            "-fno-asynchronous-unwind-tables",
            "-mcmodel=kernel",
            "-mno-red-zone",
            "-mgeneral-regs-only",
            "-c",
        ])
        .arg("-I")
        .arg(root.join("include"))
        .arg("-I")
        .arg(&spec_dir)
        .arg(c_dir.join("capi_boot.c"))
        .arg("-o")
        .arg(&obj)
        .status()
        .map_err(|e| format!("cannot run the C compiler {cc}: {e}"))?;
    if !status.success() {
        return Err(format!("compiling c/capi_boot.c failed ({status})"));
    }
    println!("cargo:rustc-link-arg-bins={}", obj.display());
    println!("cargo:rustc-link-search=native={lib_dir}");
    println!("cargo:rustc-link-lib=static=valen_mm_c");
    Ok(())
}
