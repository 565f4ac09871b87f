//! `hosted.h`: what only the hosted build has (the simulated machine).

use crate::state;

/// `int valen_hosted_boot(void)`: creates the simulated RAM now (any call
/// that needs it does so by itself); 0, or -1 if the host refused.
#[no_mangle]
pub extern "C" fn valen_hosted_boot() -> i32 {
    if state::machine_ready() {
        0
    } else {
        -1
    }
}

/// `uint64_t valen_hosted_mirror_failures(void)`: lower-half mappings the
/// host could not mirror (their address was in use in the process).
#[no_mangle]
pub extern "C" fn valen_hosted_mirror_failures() -> u64 {
    crate::hosted::mirror_failures()
}

/// `uint64_t valen_hosted_tlb_flushes(void)`: TLB flushes the simulated MMU saw.
#[no_mangle]
pub extern "C" fn valen_hosted_tlb_flushes() -> u64 {
    crate::hosted::CountingMmu::flushes()
}

/// Appends the decimal digits of `n` to `buf` at `*len`.
fn put_u64(buf: &mut [u8], len: &mut usize, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    put(buf, len, &digits[i..]);
}

/// A `fmt::Write` into a fixed buffer (truncating).
struct Buf<'b> {
    buf: &'b mut [u8],
    len: usize,
}

impl core::fmt::Write for Buf<'_> {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        put(self.buf, &mut self.len, s.as_bytes());
        Ok(())
    }
}

fn put(buf: &mut [u8], len: &mut usize, s: &[u8]) {
    let n = s.len().min(buf.len() - *len);
    buf[*len..*len + n].copy_from_slice(&s[..n]);
    *len += n;
}

extern "C" {
    /// glibc's short name of the running program.
    static program_invocation_short_name: *const libc::c_char;
}

/// At exit, when `VALEN_MM_STATS` names a file: appends one line with the
/// program's name and the heap's counters, so a test can tell that a
/// preloaded program really ran on this allocator and that it refused no
/// pointer. Formats into a stack buffer: no allocation.
extern "C" fn report_at_exit() {
    // SAFETY: a NUL-terminated name; getenv does not allocate.
    let path = unsafe { libc::getenv(c"VALEN_MM_STATS".as_ptr()) };
    if path.is_null() {
        return;
    }
    let Some(s) = state::HEAP.try_stats() else {
        return;
    };
    let mut buf = [0u8; 480];
    let mut len = 0;
    // SAFETY: glibc sets the name before main; it is NUL-terminated.
    let name = unsafe { program_invocation_short_name };
    if !name.is_null() {
        // SAFETY: a NUL-terminated string that lives as long as the program.
        let name = unsafe { core::ffi::CStr::from_ptr(name) }.to_bytes();
        put(&mut buf, &mut len, &name[..name.len().min(64)]);
    }
    put(&mut buf, &mut len, b" [");
    let mut cmd = [0u8; 120];
    // SAFETY: reads this process's command line into a stack buffer.
    let n = unsafe {
        let fd = libc::open(
            c"/proc/self/cmdline".as_ptr(),
            libc::O_RDONLY | libc::O_CLOEXEC,
        );
        let n = if fd >= 0 {
            libc::read(fd, cmd.as_mut_ptr().cast(), cmd.len())
        } else {
            0
        };
        if fd >= 0 {
            libc::close(fd);
        }
        n.max(0) as usize
    };
    for b in &mut cmd[..n] {
        if *b < b' ' {
            *b = b' ';
        }
    }
    put(&mut buf, &mut len, &cmd[..n]);
    put(&mut buf, &mut len, b"]");
    put(&mut buf, &mut len, b": valen-mm heap total ");
    put_u64(&mut buf, &mut len, s.total_bytes as u64);
    put(&mut buf, &mut len, b" used ");
    put_u64(&mut buf, &mut len, s.used_bytes as u64);
    put(&mut buf, &mut len, b" refused ");
    let (refused, last) = state::HEAP.refused();
    put_u64(&mut buf, &mut len, refused as u64);
    if let Some(e) = last {
        let mut w = Buf { buf: &mut buf, len };
        let _ = core::fmt::Write::write_fmt(&mut w, format_args!(" (last: {e})"));
        len = w.len;
    }
    put(&mut buf, &mut len, b"\n");
    // SAFETY: opens the named file for appending (no allocation).
    let fd = unsafe {
        libc::open(
            path,
            libc::O_WRONLY | libc::O_APPEND | libc::O_CREAT | libc::O_CLOEXEC,
            0o644,
        )
    };
    if fd >= 0 {
        // SAFETY: writes `len` initialized bytes of `buf`; closes our descriptor.
        unsafe {
            libc::write(fd, buf.as_ptr().cast(), len);
            libc::close(fd);
        }
    }
}

/// Runs [`report_at_exit`] when the program (or the preloaded library) ends.
#[used]
#[link_section = ".fini_array"]
static REPORT_AT_EXIT: extern "C" fn() = report_at_exit;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_text_format_without_allocating() {
        let mut buf = [0u8; 32];
        let mut len = 0;
        put_u64(&mut buf, &mut len, 0);
        put(&mut buf, &mut len, b" ");
        put_u64(&mut buf, &mut len, u64::MAX);
        assert_eq!(&buf[..len], b"0 18446744073709551615");
        let mut w = Buf { buf: &mut buf, len };
        let _ = core::fmt::Write::write_fmt(&mut w, format_args!("{}", "0123456789abcdef"));
        assert_eq!(w.len, 32, "truncated at the buffer's end");
    }
}
