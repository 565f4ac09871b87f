/*
 * The first instructions: from a 32-bit boot loader to Rust in the higher half.
 *
 * Two ways in, one path after:
 *   pvh_entry  QEMU -kernel, found through the PVH note; EBX = hvm_start_info
 *   mb2_entry  GRUB multiboot2, the ELF entry; EAX = 0x36d76289, EBX = boot info
 * then: check CPUID for long mode (and NX), build the early page tables
 * (first 1 GiB at 0 and at the direct-map base, the kernel image at the
 * kernel offset, in 2 MiB pages), enable PAE, EFER.LME (+NXE), paging with CR0.WP, far-jump into
 * 64-bit code, switch to the higher-half stack and call
 * kmain(protocol, boot_info_phys).
 *
 * Boot values live in .boot.data, never in EDX: rdmsr overwrites it.
 */

.set MB2_MAGIC,        0xE85250D6
.set MB2_LOADER_MAGIC, 0x36D76289
.set PROTO_PVH,        1
.set PROTO_MULTIBOOT2, 2
.set EXIT_PORT,        0xF4
.set EXIT_NO_LONG,     0x12

/* ---- multiboot2 header: only the mandatory fields and the end tag ---- */
.section .multiboot2, "a"
.balign 8
mb2_header:
    .long MB2_MAGIC
    .long 0                                  /* architecture: i386 protected mode */
    .long mb2_header_end - mb2_header
    .long 0x100000000 - (MB2_MAGIC + (mb2_header_end - mb2_header))
    .balign 8
    .short 0, 0                              /* end tag */
    .long 8
mb2_header_end:

/* ---- PVH: XEN_ELFNOTE_PHYS32_ENTRY, the 32-bit physical entry point ---- */
.section .note.Xen, "a", @note
.balign 4
    .long 4                                  /* name size: "Xen\0" */
    .long 8                                  /* descriptor size */
    .long 18                                 /* XEN_ELFNOTE_PHYS32_ENTRY */
    .asciz "Xen"
    .balign 4
    .quad pvh_entry
.balign 4

/* ---- 32-bit entry ---- */
.section .boot.text, "ax"
.code32
.global pvh_entry
pvh_entry:
    cli
    cld
    movl $PROTO_PVH, boot_protocol
    movl %ebx, boot_info_phys
    jmp common32

.global mb2_entry
mb2_entry:
    cli
    cld
    movl $0, boot_protocol                   /* unknown unless the magic matches */
    cmpl $MB2_LOADER_MAGIC, %eax
    jne 1f
    movl $PROTO_MULTIBOOT2, boot_protocol
1:  movl %ebx, boot_info_phys

common32:
    movl $boot_stack_top, %esp

    /* Long mode? CPUID 0x80000001 EDX bit 29. Keep EDX for the NX bit (20). */
    movl $0x80000000, %eax
    cpuid
    cmpl $0x80000001, %eax
    jb no_long_mode
    movl $0x80000001, %eax
    cpuid
    testl $(1 << 29), %edx
    jz no_long_mode
    movl %edx, boot_cpuid_ext_edx

    /* Clear the five tables (5 pages, contiguous in .boot.bss). */
    movl $boot_pml4, %edi
    xorl %eax, %eax
    movl $(5 * 4096 / 4), %ecx
    rep stosl

    /* PD: 512 entries of 2 MiB, present | writable | huge. */
    movl $boot_pd, %edi
    xorl %ecx, %ecx
2:  movl %ecx, %eax
    shll $21, %eax
    orl $0x83, %eax
    movl %eax, (%edi, %ecx, 8)
    incl %ecx
    cmpl $512, %ecx
    jb 2b

    /* PD (high): only the 2 MiB pages that hold the kernel image, so that
       the heap and device windows stay unmapped until their tiers map them. */
    movl $boot_pd_high, %edi
    movl $__kernel_phys_end, %edx
    addl $0x1FFFFF, %edx
    shrl $21, %edx
    xorl %ecx, %ecx
6:  movl %ecx, %eax
    shll $21, %eax
    orl $0x83, %eax
    movl %eax, (%edi, %ecx, 8)
    incl %ecx
    cmpl %edx, %ecx
    jb 6b

    /* PDPT (low): entry 0 -> PD, the first GiB. */
    movl $boot_pd, %eax
    orl $0x3, %eax
    movl %eax, boot_pdpt_low
    /* PDPT (high): entry 510 -> PD (high), 0xFFFFFFFF80000000. */
    movl $boot_pd_high, %eax
    orl $0x3, %eax
    movl %eax, boot_pdpt_high + 510 * 8
    /* PML4: 0 identity, 256 direct map (0xFFFF800000000000), 511 kernel. */
    movl $boot_pdpt_low, %eax
    orl $0x3, %eax
    movl %eax, boot_pml4
    movl %eax, boot_pml4 + 256 * 8
    movl $boot_pdpt_high, %eax
    orl $0x3, %eax
    movl %eax, boot_pml4 + 511 * 8

    movl $boot_pml4, %eax
    movl %eax, %cr3

    /* CR4.PAE */
    movl %cr4, %eax
    orl $(1 << 5), %eax
    movl %eax, %cr4

    /* EFER.LME, and EFER.NXE only if the CPU has NX. rdmsr clobbers EDX. */
    movl $0xC0000080, %ecx
    rdmsr
    orl $(1 << 8), %eax
    testl $(1 << 20), boot_cpuid_ext_edx
    jz 3f
    orl $(1 << 11), %eax
3:  wrmsr

    /* CR0: PE, WP (read-only pages bind the kernel too), PG. */
    movl %cr0, %eax
    orl $((1 << 31) | (1 << 16) | 1), %eax
    movl %eax, %cr0

    lgdt boot_gdt_ptr
    ljmp $0x08, $long_mode

no_long_mode:
    movb $EXIT_NO_LONG, %al
    outb %al, $EXIT_PORT
4:  hlt
    jmp 4b

/* ---- 64-bit, still at the identity address ---- */
.code64
long_mode:
    movw $0x10, %ax
    movw %ax, %ds
    movw %ax, %es
    movw %ax, %ss
    xorw %ax, %ax
    movw %ax, %fs
    movw %ax, %gs

    movabsq $kernel_stack_top, %rsp
    xorl %ebp, %ebp
    movl boot_protocol, %edi
    movl boot_info_phys, %esi
    movabsq $kmain, %rax
    callq *%rax
5:  hlt
    jmp 5b

/* ---- boot data ---- */
.section .boot.data, "aw"
.balign 8
boot_gdt:
    .quad 0
    .quad 0x00AF9A000000FFFF                 /* 0x08: 64-bit code */
    .quad 0x00CF92000000FFFF                 /* 0x10: data */
boot_gdt_end:
boot_gdt_ptr:
    .short boot_gdt_end - boot_gdt - 1
    .long boot_gdt
.balign 4
.global boot_protocol
boot_protocol:      .long 0
.global boot_info_phys
boot_info_phys:     .long 0
.global boot_cpuid_ext_edx
boot_cpuid_ext_edx: .long 0

.section .boot.bss, "aw", @nobits
.balign 4096
.global boot_pml4
boot_pml4:      .skip 4096
boot_pdpt_low:  .skip 4096
.global boot_pdpt_high
boot_pdpt_high: .skip 4096
boot_pd:        .skip 4096
boot_pd_high:   .skip 4096
boot_stack:     .skip 4096
boot_stack_top:

.section .bss.kernel_stack, "aw", @nobits
.balign 4096
/* Left unmapped by the kernel's own tables: an overflow faults here. */
.global kernel_stack_guard
kernel_stack_guard:
    .skip 4096
.global kernel_stack_bottom
kernel_stack_bottom:
    .skip 128 * 1024
.global kernel_stack_top
kernel_stack_top:
