//! The C API's step of `cargo xtask test` (also `cargo xtask capi`).
//!
//! ```text
//!  cargo build  valen-mm-c (hosted)      -> libvalen_mm_c.a / .so
//!  cargo rustc  valen-mm-c (kernel)      -> libvalen_mm_c.a for x86_64-unknown-none
//!  cc  headers alone, -pedantic, hosted and kernel
//!  cc  a freestanding C "kernel" linked with the kernel library
//!  cc  each C test (the spec's examples...) with the hosted library, run it
//!  LD_PRELOAD the hosted .so into `sort` (and `python3` when present)
//! ```
//!
//! Only the system C compiler (`cc`, or `$CC`) is needed.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Where the C tests live, from the workspace root.
const C_TESTS: &str = "crates/valen-mm-c/tests/c";
/// The simulated kernel image ends at 4 MiB of simulated RAM, which the
/// hosted build maps at 1 GiB: `_kernel_end` as a linker script would set it.
const KERNEL_END_SYMBOL: &str = "-Wl,--defsym,_kernel_end=0x40400000";

/// The workspace's cargo target folder.
pub fn target_dir(root: &Path) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), PathBuf::from)
}

fn cc() -> String {
    std::env::var("CC").unwrap_or_else(|_| "cc".into())
}

/// Runs `cmd`, failing with its output when it does not exit with 0.
fn run(cmd: &mut Command, what: &str) -> Result<String, String> {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("{what}: cannot start: {e}"))?;
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    if !out.status.success() {
        return Err(format!(
            "{what} failed ({})\n{stdout}{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(stdout)
}

/// Builds the C API's static library for a kernel (x86_64-unknown-none,
/// with its panic handler), with more cargo options (`extra`: a profile...).
pub fn kernel_library(extra: &[&str]) -> Result<(), String> {
    let mut args = vec![
        "rustc",
        "-p",
        "valen-mm-c",
        "--lib",
        "--crate-type",
        "staticlib",
        "--no-default-features",
        "--features",
        "panic-handler",
        "--target",
        crate::kernel::TARGET,
    ];
    args.extend_from_slice(extra);
    crate::cargo(&args)
}

/// The whole step.
pub fn test() -> Result<(), String> {
    let root = crate::setup::root();
    let target = target_dir(&root);
    let out = target.join("capi");
    std::fs::create_dir_all(&out).map_err(|e| format!("cannot create {out:?}: {e}"))?;
    crate::cargo(&["build", "-p", "valen-mm-c"])?;
    kernel_library(&[])?;
    let include = root.join("include");
    headers_compile(&include, &out)?;
    kernel_link(&root, &include, &target, &out)?;
    let hosted = target.join("debug");
    let passed = c_tests(&root, &include, &hosted, &out)?;
    println!("capi: {passed} C tests passed");
    preload_sort(&hosted, &out)?;
    preload_shell(&hosted, &out)?;
    preload_python(&hosted, &out)?;
    Ok(())
}

/// Each header alone, strict C99, in both builds.
fn headers_compile(include: &Path, out: &Path) -> Result<(), String> {
    for header in ["pmm.h", "paging.h", "vmm.h", "heap.h", "hosted.h"] {
        for hosted in [true, false] {
            let src = out.join("header_check.c");
            std::fs::write(&src, format!("#include <valen/{header}>\n"))
                .map_err(|e| e.to_string())?;
            let mut cmd = Command::new(cc());
            cmd.args([
                "-std=c99",
                "-Wall",
                "-Wextra",
                "-pedantic",
                "-Werror",
                "-fsyntax-only",
            ]);
            if hosted {
                cmd.arg("-DVALEN_HOSTED");
            } else {
                cmd.arg("-ffreestanding");
            }
            cmd.arg("-I").arg(include).arg(&src);
            run(
                &mut cmd,
                &format!("compiling {header} alone (hosted: {hosted})"),
            )?;
        }
    }
    println!("capi: headers compile alone (C99, -pedantic, hosted and freestanding)");
    Ok(())
}

/// A freestanding C kernel calling the spec's functions links against the
/// kernel library (the higher-half code model the Rust target uses).
fn kernel_link(root: &Path, include: &Path, target: &Path, out: &Path) -> Result<(), String> {
    let lib = target.join("x86_64-unknown-none/debug/libvalen_mm_c.a");
    let mut cmd = Command::new(cc());
    cmd.args([
        "-std=c11",
        "-Wall",
        "-Werror",
        "-ffreestanding",
        "-fno-pic",
        "-no-pie",
        "-nostdlib",
        "-static",
        "-mcmodel=kernel",
        "-mno-red-zone",
        "-Wl,-Ttext-segment=0xffffffff80100000",
        "-Wl,-e,_start",
        "-Wl,--gc-sections",
    ]);
    cmd.arg("-I").arg(include);
    cmd.arg(root.join(C_TESTS).join("kernel_link.c"));
    cmd.arg(&lib).arg("-o").arg(out.join("kernel_link.elf"));
    run(
        &mut cmd,
        "linking a C kernel with the x86_64-unknown-none library",
    )?;
    println!("capi: a freestanding C kernel links with {}", lib.display());
    Ok(())
}

/// Compiles and runs every `*.c` test (except `kernel_link.c`).
fn c_tests(root: &Path, include: &Path, lib_dir: &Path, out: &Path) -> Result<usize, String> {
    let dir = root.join(C_TESTS);
    let mut tests: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map_err(|e| format!("cannot read {dir:?}: {e}"))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "c"))
        .filter(|p| !p.ends_with("kernel_link.c"))
        .collect();
    tests.sort();
    let mut failures = String::new();
    for src in &tests {
        let name = src
            .file_stem()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        let exe = out.join(&name);
        let mut cmd = Command::new(cc());
        cmd.args([
            "-std=c11",
            "-Wall",
            // The spec's examples print uint64_t with %d: keep them verbatim.
            "-Wno-format",
            "-DVALEN_HOSTED",
            "-g",
        ]);
        // Non-PIE, image at 256 MiB: the spec's fixed addresses (16 MiB,
        // 32 MiB, 0xF0000000) and the simulated RAM (1-2 GiB) stay free.
        cmd.args([
            "-no-pie",
            "-Wl,-Ttext-segment=0x10000000",
            KERNEL_END_SYMBOL,
        ]);
        cmd.arg("-I").arg(include).arg(src);
        cmd.arg(lib_dir.join("libvalen_mm_c.a"));
        cmd.args(["-lpthread", "-ldl", "-lm", "-o"]).arg(&exe);
        run(&mut cmd, &format!("compiling {name}.c"))?;
        match run(&mut Command::new(&exe), &format!("C test {name}")) {
            Ok(stdout) if stdout.contains(&format!("ok {name}\n")) => {
                println!("capi: ok {name}");
            }
            Ok(stdout) => {
                let _ = writeln!(failures, "C test {name}: no `ok {name}` line\n{stdout}");
            }
            Err(e) => {
                let _ = writeln!(failures, "{e}");
            }
        }
    }
    if failures.is_empty() {
        Ok(tests.len())
    } else {
        Err(failures)
    }
}

/// One line per process in the stats file: each must have used the heap and
/// refused no pointer.
fn check_stats(file: &Path, program: &str) -> Result<(), String> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| format!("{program} did not run on valen-mm (no {file:?}: {e})"))?;
    let line = text
        .lines()
        .find(|l| l.starts_with(program))
        .ok_or_else(|| format!("no valen-mm report from {program} in:\n{text}"))?;
    let total: u64 = line
        .split("heap total ")
        .nth(1)
        .and_then(|s| s.split(' ').next())
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("bad report: {line}"))?;
    if total == 0 || !line.contains(" refused 0") {
        return Err(format!("{program} on valen-mm: {line}"));
    }
    println!("capi: {}", line.trim());
    Ok(())
}

/// `sort -n` of 200,000 generated numbers, allocating through valen-mm.
fn preload_sort(lib_dir: &Path, out: &Path) -> Result<(), String> {
    let mut x: u64 = 0x2545_F491_4F6C_DD1D;
    let mut nums = Vec::with_capacity(200_000);
    let mut input = String::new();
    for _ in 0..200_000 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let n = (x % 1_000_000_000) as i64 - 500_000_000;
        nums.push(n);
        let _ = writeln!(input, "{n}");
    }
    nums.sort_unstable();
    let expected: String = nums.iter().map(|n| format!("{n}\n")).collect();
    let file = out.join("sort_input.txt");
    let stats = out.join("sort.stats");
    std::fs::write(&file, input).map_err(|e| e.to_string())?;
    let _ = std::fs::remove_file(&stats);
    let got = run(
        Command::new("sort")
            .arg("-n")
            .arg(&file)
            .env("LD_PRELOAD", lib_dir.join("libvalen_mm_c.so"))
            .env("VALEN_MM_STATS", &stats),
        "sort with LD_PRELOAD",
    )?;
    if got != expected {
        return Err("sort -n on valen-mm printed the wrong order".into());
    }
    check_stats(&stats, "sort")
}

/// A shell script with command substitutions (each a `fork` whose child
/// runs on without `exec`) and pipes: every process must report, none may
/// refuse a pointer, and the output must be right.
fn preload_shell(lib_dir: &Path, out: &Path) -> Result<(), String> {
    let stats = out.join("shell.stats");
    let _ = std::fs::remove_file(&stats);
    let script = "s=0; for i in $(seq 1 300); do w=$(echo \"$i\" | tr 0-9 a-j); \
                  s=$((s + ${#w})); done; echo \"$s $w\"";
    let got = run(
        Command::new("sh")
            .args(["-c", script])
            .env("LD_PRELOAD", lib_dir.join("libvalen_mm_c.so"))
            .env("VALEN_MM_STATS", &stats),
        "sh with LD_PRELOAD",
    )?;
    if got != "792 daa\n" {
        return Err(format!("sh on valen-mm printed {got:?}"));
    }
    let text = std::fs::read_to_string(&stats).map_err(|e| format!("no {stats:?}: {e}"))?;
    let lines = text.lines().count();
    if lines < 300 || text.lines().any(|l| !l.contains(" refused 0")) {
        return Err(format!(
            "shell processes on valen-mm ({lines} reports):\n{text}"
        ));
    }
    println!(
        "capi: sh with 300 forks and pipes: {lines} processes on valen-mm, none refused a pointer"
    );
    Ok(())
}

/// A Python workload that allocates heavily (dicts, lists, strings, JSON,
/// big integers, threads), on valen-mm and on the system allocator: the
/// outputs must agree. Skipped when there is no `python3`.
const PY_WORKLOAD: &str = r#"
import json, threading, hashlib
d = {f"key{i}": [i, str(i) * 3, {"sq": i * i}] for i in range(150000)}
s = json.dumps(d, sort_keys=True)
back = json.loads(s)
words = sorted((v[1] for v in back.values()), key=lambda w: (len(w), w))
big = 1
for i in range(1, 3000):
    big *= i
out = []
def work(n):
    out.append(sum(len(x) for x in ["x" * (i % 700) for i in range(n)]))
ts = [threading.Thread(target=work, args=(20000 + k,)) for k in range(4)]
[t.start() for t in ts]
[t.join() for t in ts]
h = hashlib.sha256(s.encode()).hexdigest()
print(len(back), words[-1], big.bit_length(), sorted(out), h)
"#;

fn preload_python(lib_dir: &Path, out: &Path) -> Result<(), String> {
    // The real interpreter, not a wrapper script, so the report is its own.
    let Ok(exe) = run(
        Command::new("python3").args(["-c", "import sys; print(sys.executable)"]),
        "python3",
    ) else {
        println!("capi: python3 not found, skipping the Python workload");
        return Ok(());
    };
    let exe = exe.trim().to_string();
    let expected = run(Command::new(&exe).args(["-c", PY_WORKLOAD]), "python3")?;
    let stats = out.join("python.stats");
    let _ = std::fs::remove_file(&stats);
    let got = run(
        Command::new(&exe)
            .args(["-c", PY_WORKLOAD])
            .env("LD_PRELOAD", lib_dir.join("libvalen_mm_c.so"))
            .env("VALEN_MM_STATS", &stats),
        "python3 with LD_PRELOAD",
    )?;
    if got != expected {
        return Err(format!(
            "python3 on valen-mm printed\n{got}instead of\n{expected}"
        ));
    }
    let name = Path::new(&exe)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    check_stats(&stats, &name)
}
