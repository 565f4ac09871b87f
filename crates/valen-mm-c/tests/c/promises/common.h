/*
 * What both environments of the spec's examples share around the checks:
 * the kernel's printf, which keeps the lines printed for a check to read
 * back, and the facts about the kernel image and the PMM bitmap the checks
 * compare against.
 *
 * Included by each environment header (../kernel_env.h for the hosted C
 * tests, kernel/c/env.h for the test kernel's C boot) once it has the four
 * valen headers, <stdarg.h>, strlen / strncmp / vsnprintf, console_write
 * (where printed lines go) and the boot information (max_physical_addr,
 * kernel_phys_end).
 */
#ifndef VALEN_PROMISES_COMMON_H
#define VALEN_PROMISES_COMMON_H

/* ---- printf, and the last lines printed ---- */

#define LOG_LINES 64
#define LOG_LINE_SIZE 256
static char log_lines[LOG_LINES][LOG_LINE_SIZE];
static int log_count;

/* Keeps line (cut to LOG_LINE_SIZE - 1 bytes) as the newest line. */
static void log_keep(const char *line) {
    char *dst = log_lines[log_count % LOG_LINES];
    size_t n = 0;
    for (; line[n] && n + 1 < LOG_LINE_SIZE; n++)
        dst[n] = line[n];
    dst[n] = '\0';
    log_count++;
}

/* The kernel's printf: prints, and keeps the line (the spec's examples
 * print addresses they do not return; the checks read them back). */
static int kprintf(const char *fmt, ...) {
    char buf[LOG_LINE_SIZE];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    console_write(buf);
    log_keep(buf);
    return n;
}
/* The spec's examples print with printf: route it to the kernel's. */
#define printf kprintf

/* The last logged line that starts with prefix, or NULL. */
__attribute__((unused)) static const char *logged(const char *prefix) {
    for (int i = log_count - 1; i >= 0 && i >= log_count - LOG_LINES; i--)
        if (strncmp(log_lines[i % LOG_LINES], prefix, strlen(prefix)) == 0)
            return log_lines[i % LOG_LINES];
    return NULL;
}

/* The line printed last. */
__attribute__((unused)) static const char *last_line(void) {
    return log_count ? log_lines[(log_count - 1) % LOG_LINES] : "";
}

/* The hex number after the last "0x" of line (0 if none): reads back an
 * address an example printed. */
__attribute__((unused)) static uint64_t hex_after_0x(const char *line) {
    const char *p = NULL;
    for (const char *s = line; s && s[0] && s[1]; s++)
        if (s[0] == '0' && s[1] == 'x')
            p = s + 2;
    uint64_t v = 0;
    for (; p && *p; p++) {
        int d = *p >= '0' && *p <= '9' ? *p - '0' : *p >= 'a' && *p <= 'f' ? *p - 'a' + 10 : -1;
        if (d < 0)
            break;
        v = v * 16 + (uint64_t)d;
    }
    return v;
}

/* ---- the kernel image and the bitmap ---- */

/* Where the spec puts the PMM bitmap: the page after the kernel image. */
__attribute__((unused)) static uint64_t bitmap_phys_addr(void) {
    return (kernel_phys_end + 0x1000) & ~0xFFFULL;
}

/* Where the protected range (the kernel image and the bitmap) ends. */
__attribute__((unused)) static uint64_t protected_end(void) {
    return (bitmap_phys_addr() + pmm_bitmap_bytes(max_physical_addr) + 0xFFF) & ~0xFFFULL;
}

/* Whether the PMM refuses to hand out the frame at phys: it is held, or
 * below 2 MiB, which the PMM never hands out (a small kernel image puts the
 * bitmap there). Marking it used must be refused. */
__attribute__((unused)) static int protected_frame(uint64_t phys) {
    int rc = pmm_mark_used_checked(phys);
    return rc == VALEN_EEXIST || (phys < PMM_MIN_ALLOC_ADDR && rc == VALEN_EINVAL);
}

#endif
