//! Booting the test kernel in QEMU and judging the run.
//!
//! The kernel prints to COM1 (QEMU's stdout here) and leaves through the
//! `isa-debug-exit` device. A boot counts as passed only when QEMU exits
//! with status 33 (the kernel wrote [`SUCCESS_CODE`]) *and* the log ends
//! with a `N passed, 0 failed` line. Anything else fails: status 0 is a
//! triple fault or reset under `-no-reboot`, no status is a signal, and a
//! run past its wall-clock limit is killed.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// QEMU's exit status when the kernel writes its success code (0x10 << 1 | 1).
pub const SUCCESS_CODE: i32 = 33;
/// QEMU's exit status when the kernel reports a failure or panics.
const FAILURE_CODE: i32 = 35;
/// QEMU's exit status when the boot code finds no long mode.
const NO_LONG_MODE_CODE: i32 = 37;

/// The emulated machine type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Machine {
    /// i440FX + PIIX, QEMU's default.
    Pc,
    /// Q35 + ICH9 (PCIe, MMCONFIG hole below 4 GiB).
    Q35,
}

impl Machine {
    /// Parses `pc` or `q35`.
    pub fn parse(s: &str) -> Result<Self, String> {
        match s {
            "pc" => Ok(Self::Pc),
            "q35" => Ok(Self::Q35),
            _ => Err(format!("unknown machine {s:?} (pc or q35)")),
        }
    }
    /// QEMU's name for it.
    pub fn name(self) -> &'static str {
        match self {
            Self::Pc => "pc",
            Self::Q35 => "q35",
        }
    }
}

/// How the kernel is loaded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BootPath {
    /// `-kernel` through the PVH note.
    Pvh,
    /// GRUB from an ISO, multiboot2.
    Grub,
}

impl BootPath {
    /// The name shown in tables.
    pub fn name(self) -> &'static str {
        match self {
            Self::Pvh => "PVH",
            Self::Grub => "GRUB",
        }
    }
}

/// A RAM size as written (`10M`, `3.5G`) and in bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mem {
    /// As the user wrote it.
    pub label: String,
    /// In bytes (a whole number of MiB).
    pub bytes: u64,
}

impl Mem {
    /// Parses `<number>[K|M|G]` (a fraction is allowed, `3.5G`); the result
    /// must be a whole number of MiB, at least 8 MiB.
    pub fn parse(s: &str) -> Result<Self, String> {
        let t = s.trim();
        let (num, unit) = match t.char_indices().find(|(_, c)| c.is_ascii_alphabetic()) {
            Some((i, _)) => (&t[..i], &t[i..]),
            None => (t, "M"),
        };
        let mult: f64 = match unit.to_ascii_uppercase().as_str() {
            "K" | "KB" | "KIB" => 1024.0,
            "M" | "MB" | "MIB" => 1024.0 * 1024.0,
            "G" | "GB" | "GIB" => 1024.0 * 1024.0 * 1024.0,
            _ => return Err(format!("bad memory size {s:?}: unit must be K, M or G")),
        };
        let value: f64 = num
            .parse()
            .map_err(|_| format!("bad memory size {s:?}: {num:?} is not a number"))?;
        let bytes = value * mult;
        let mib = (bytes / (1024.0 * 1024.0)).round() as u64;
        if !(bytes.is_finite() && bytes > 0.0) || (mib << 20) as f64 != bytes || mib < 8 {
            return Err(format!(
                "bad memory size {s:?}: must be a whole number of MiB, at least 8M"
            ));
        }
        Ok(Self {
            label: t.to_string(),
            bytes: mib << 20,
        })
    }
}

/// One boot to make.
pub struct BootSpec<'a> {
    /// RAM size.
    pub mem: &'a Mem,
    /// Machine type.
    pub machine: Machine,
    /// QEMU's CPU model (`qemu64` has no 1 GiB pages, `max` has them).
    pub cpu: &'a str,
    /// `-kernel` (PVH) or an ISO (GRUB).
    pub path: BootPath,
    /// The kernel ELF (PVH) or the ISO (GRUB).
    pub image: &'a Path,
    /// The kernel ELF, for a debugger's symbols.
    pub symbols: &'a Path,
    /// Wait for a debugger on :1234 (no timeout then).
    pub gdb: bool,
    /// Wall-clock limit.
    pub timeout: Duration,
    /// Print the kernel's log while it runs.
    pub echo: bool,
    /// More kernel command line (PVH only; a GRUB ISO carries its own).
    pub extra_cmdline: &'a str,
}

/// How a boot ended.
pub struct BootReport {
    /// `None` when it passed, else why it did not.
    pub failure: Option<String>,
    /// The closing counts, if the kernel printed them.
    pub counts: Option<(u64, u64, u64)>,
    /// Wall-clock time.
    pub elapsed: Duration,
    /// The kernel's log (serial output).
    pub log: String,
}

/// The kernel command line for a boot of `mem` (the kernel checks its map against it).
pub fn cmdline(mem: &Mem) -> String {
    format!("mem={}", mem.bytes)
}

/// Reads `N passed, N failed[, N skipped]` from a line.
pub fn parse_summary(line: &str) -> Option<(u64, u64, u64)> {
    let mut parts = line.trim().split(", ");
    let mut num = |word: &str| -> Option<u64> {
        let p = parts.next()?;
        p.strip_suffix(word)?.trim().parse().ok()
    };
    let passed = num(" passed")?;
    let failed = num(" failed")?;
    let skipped = num(" skipped").unwrap_or(0);
    Some((passed, failed, skipped))
}

/// How QEMU ended.
#[derive(Clone, Copy, Debug)]
pub enum Exit {
    /// It exited by itself (`None`: killed by a signal).
    Status(Option<i32>),
    /// It ran past the limit and was killed.
    TimedOut(Duration),
}

/// Whether a boot passed: `None` if so, else why not.
pub fn judge(exit: Exit, counts: Option<(u64, u64, u64)>, stderr: &str) -> Option<String> {
    let code = match exit {
        Exit::TimedOut(t) => return Some(format!("timed out after {} s (killed)", t.as_secs())),
        Exit::Status(code) => code,
    };
    match code {
        Some(SUCCESS_CODE) => match counts {
            Some((p, 0, _)) if p > 0 => None,
            Some((_, f, _)) if f > 0 => Some(format!("success code but {f} test(s) failed")),
            _ => Some("success code without a test summary".into()),
        },
        Some(FAILURE_CODE) => Some("the kernel reported failure".into()),
        Some(NO_LONG_MODE_CODE) => Some("the CPU has no long mode".into()),
        Some(0) => Some("QEMU exited 0: a triple fault or reset (-no-reboot)".into()),
        Some(c) => Some(format!("QEMU exited {c}: {}", stderr.trim())),
        None => Some("QEMU was killed by a signal".into()),
    }
}

/// Boots once and judges the run.
pub fn boot(spec: &BootSpec<'_>) -> Result<BootReport, String> {
    let mut cmd = Command::new("qemu-system-x86_64");
    cmd.args(["-machine", spec.machine.name(), "-accel", "tcg"])
        .args(["-cpu", spec.cpu])
        .args(["-m", &format!("{}M", spec.mem.bytes >> 20)])
        .args(["-display", "none", "-serial", "stdio", "-monitor", "none"])
        .args([
            "-no-reboot",
            "-device",
            "isa-debug-exit,iobase=0xf4,iosize=0x04",
        ]);
    match spec.path {
        BootPath::Pvh => {
            let line = format!("{} {}", cmdline(spec.mem), spec.extra_cmdline);
            cmd.arg("-kernel")
                .arg(spec.image)
                .args(["-append", line.trim()]);
        }
        BootPath::Grub => {
            cmd.arg("-cdrom").arg(spec.image).args(["-boot", "d"]);
        }
    }
    if spec.gdb {
        cmd.args(["-s", "-S"]);
        println!("QEMU waits for a debugger on :1234, e.g.:");
        println!("  gdb {} -ex 'target remote :1234'", spec.symbols.display());
    }
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let start = Instant::now();
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("cannot start qemu-system-x86_64: {e}"))?;
    let echo = spec.echo;
    let out = child.stdout.take().ok_or("no stdout pipe")?;
    let err = child.stderr.take().ok_or("no stderr pipe")?;
    let out_thread = std::thread::spawn(move || {
        let mut log = String::new();
        for line in BufReader::new(out).split(b'\n').map_while(Result::ok) {
            let line = String::from_utf8_lossy(&line)
                .trim_end_matches('\r')
                .to_string();
            if echo {
                println!("{line}");
            }
            log.push_str(&line);
            log.push('\n');
        }
        log
    });
    let err_thread = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = std::io::Read::read_to_string(&mut BufReader::new(err), &mut s);
        s
    });

    let mut timed_out = false;
    let status = loop {
        if let Some(status) = child
            .try_wait()
            .map_err(|e| format!("waiting for QEMU: {e}"))?
        {
            break status;
        }
        if !spec.gdb && start.elapsed() > spec.timeout {
            timed_out = true;
            let _ = child.kill();
            break child.wait().map_err(|e| format!("waiting for QEMU: {e}"))?;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let elapsed = start.elapsed();
    let log = out_thread.join().unwrap_or_default();
    let stderr = err_thread.join().unwrap_or_default();
    let counts = log.lines().rev().find_map(parse_summary);

    let code = if timed_out {
        Exit::TimedOut(spec.timeout)
    } else {
        Exit::Status(status.code())
    };
    let failure = judge(code, counts, &stderr);
    Ok(BootReport {
        failure,
        counts,
        elapsed,
        log,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_sizes() {
        assert_eq!(Mem::parse("10M").unwrap().bytes, 10 << 20);
        assert_eq!(Mem::parse("3.5G").unwrap().bytes, 3584 << 20);
        assert_eq!(Mem::parse("16G").unwrap().bytes, 16 << 30);
        assert_eq!(Mem::parse("128").unwrap().bytes, 128 << 20);
        assert!(Mem::parse("1.3M").is_err());
        assert!(Mem::parse("4M").is_err());
        assert!(Mem::parse("12T").is_err());
        assert!(Mem::parse("big").is_err());
    }

    #[test]
    fn only_the_success_code_with_a_clean_summary_passes() {
        let ok = Some((13, 0, 1));
        assert_eq!(judge(Exit::Status(Some(33)), ok, ""), None);
        assert!(judge(Exit::Status(Some(33)), None, "").is_some());
        assert!(judge(Exit::Status(Some(33)), Some((12, 1, 0)), "").is_some());
        assert!(judge(Exit::Status(Some(33)), Some((0, 0, 0)), "").is_some());
        assert!(judge(Exit::Status(Some(0)), ok, "").is_some()); // triple fault
        assert!(judge(Exit::Status(Some(35)), ok, "").is_some());
        assert!(judge(Exit::Status(Some(1)), ok, "bad option").is_some());
        assert!(judge(Exit::Status(None), ok, "").is_some()); // signal
        assert!(judge(Exit::TimedOut(Duration::from_secs(5)), ok, "").is_some());
    }

    #[test]
    fn summaries() {
        assert_eq!(
            parse_summary("13 passed, 0 failed, 2 skipped"),
            Some((13, 0, 2))
        );
        assert_eq!(parse_summary("4 passed, 1 failed\r"), Some((4, 1, 0)));
        assert_eq!(parse_summary("test foo ... ok"), None);
        assert_eq!(parse_summary("passed, failed"), None);
    }
}
