//! The kernel's Global Descriptor Table and Task State Segment.
//!
//! ```text
//!  0x00 null | 0x08 kernel code (64-bit) | 0x10 kernel data | 0x18 TSS (16 bytes)
//! ```
//! Long mode ignores segment bases and limits; the GDT is needed for the code
//! segment's L bit and for the TSS, whose IST 1 gives the double-fault
//! handler a stack of its own (a kernel stack overflow double-faults).

use valen_mm::sync::SpinLock;

/// Kernel code selector.
pub const KERNEL_CODE: u16 = 0x08;
/// Kernel data selector.
pub const KERNEL_DATA: u16 = 0x10;
const TSS_SELECTOR: u16 = 0x18;
/// The IST slot (1-based) of the double-fault stack.
pub const DOUBLE_FAULT_IST: u8 = 1;

const DOUBLE_FAULT_STACK_SIZE: usize = 16 * 1024;

#[repr(C, align(16))]
struct Stack([u8; DOUBLE_FAULT_STACK_SIZE]);

static DOUBLE_FAULT_STACK: SpinLock<Stack> = SpinLock::new(Stack([0; DOUBLE_FAULT_STACK_SIZE]));

/// The 64-bit TSS (104 bytes, packed as the CPU reads it).
#[repr(C, packed(4))]
struct Tss {
    reserved0: u32,
    rsp: [u64; 3],
    reserved1: u64,
    ist: [u64; 7],
    reserved2: u64,
    reserved3: u16,
    iomap_base: u16,
}

#[repr(C, align(16))]
struct Gdt([u64; 5]);

static TSS: SpinLock<Tss> = SpinLock::new(Tss {
    reserved0: 0,
    rsp: [0; 3],
    reserved1: 0,
    ist: [0; 7],
    reserved2: 0,
    reserved3: 0,
    iomap_base: core::mem::size_of::<Tss>() as u16,
});

static GDT: SpinLock<Gdt> = SpinLock::new(Gdt([0; 5]));

/// The two descriptor words of an available 64-bit TSS at `base`.
fn tss_descriptor(base: u64, limit: u64) -> [u64; 2] {
    let low = (limit & 0xFFFF)
        | ((base & 0xFF_FFFF) << 16)
        | (0x89 << 40) // present, type 9: available 64-bit TSS
        | (((limit >> 16) & 0xF) << 48)
        | (((base >> 24) & 0xFF) << 56);
    [low, base >> 32]
}

/// Builds the GDT and TSS, loads them and reloads every segment register.
pub fn init() {
    let stack_top = {
        let stack = DOUBLE_FAULT_STACK.lock();
        stack.0.as_ptr() as u64 + DOUBLE_FAULT_STACK_SIZE as u64
    };
    let tss_addr = {
        let mut tss = TSS.lock();
        tss.ist[usize::from(DOUBLE_FAULT_IST) - 1] = stack_top;
        &*tss as *const Tss as u64
    };
    let mut gdt = GDT.lock();
    let [tss_lo, tss_hi] = tss_descriptor(tss_addr, core::mem::size_of::<Tss>() as u64 - 1);
    gdt.0 = [
        0,
        0x00AF_9A00_0000_FFFF, // code: present, ring 0, executable, L
        0x00CF_9200_0000_FFFF, // data: present, ring 0, writable
        tss_lo,
        tss_hi,
    ];
    let pointer = DescriptorPointer {
        limit: (core::mem::size_of::<Gdt>() - 1) as u16,
        base: gdt.0.as_ptr() as u64,
    };
    // SAFETY: the GDT lives in a static (it never moves or dies) and holds
    // valid code and data descriptors at the selectors loaded here; the far
    // return reloads CS with the 64-bit code segment; the TSS descriptor
    // is fresh (not busy), so `ltr` accepts it.
    unsafe {
        core::arch::asm!(
            "lgdt [{ptr}]",
            "push {code}",
            "lea {tmp}, [rip + 2f]",
            "push {tmp}",
            "retfq",
            "2:",
            "mov ds, {data:x}",
            "mov es, {data:x}",
            "mov ss, {data:x}",
            "ltr {tss:x}",
            ptr = in(reg) &pointer,
            code = const KERNEL_CODE as u64,
            data = in(reg) u64::from(KERNEL_DATA),
            tss = in(reg) u64::from(TSS_SELECTOR),
            tmp = out(reg) _,
        );
    }
}

/// The operand of `lgdt` and `lidt`.
#[repr(C, packed)]
pub struct DescriptorPointer {
    /// Size of the table minus one.
    pub limit: u16,
    /// Virtual address of the table.
    pub base: u64,
}
