/*
 * vfork.c - the shim's vfork(), so that a vfork() child is told from its
 * parent without a system call on every close (tw_foreign_process).
 *
 * It cannot be written in C.  The child runs on the parent's stack until
 * it execs or exits: a C frame around the real vfork() would be returned
 * from by the child and then again by the parent, whose return address
 * the child may have overwritten meanwhile.  So, as libc does, the return
 * address is kept in a register across the system call (the kernel saves
 * every register but rax, rcx and r11, for both processes), and nothing
 * else is pushed.
 *
 * tw_vfork_child is set before the call, so that the child has it from
 * its first instruction; the parent puts back what it held once it
 * resumes (a vfork() child that vforks again resumes as a child still).
 * A signal handler that runs in the parent in between, or leaves it with
 * siglongjmp, finds the flag set: the flag only tells tw_foreign_process()
 * to compare process IDs.
 *
 * Built without -fcf-protection (Makefile): this code keeps no shadow
 * stack as glibc's does, so the library must not claim one.
 */
#include <errno.h>
#include <sys/syscall.h>

#include "shim.h"

#if TW_VFORK_HOOKED

#define TW_STR_(x)	#x
#define TW_STR(x)	TW_STR_(x)

long tw_vfork_failed(long neg_errno);

/* The failure path: errno is a C-level affair. */
long
tw_vfork_failed(long neg_errno)
{
	errno = (int)-neg_errno;
	return -1;
}

__asm__(
	"	.pushsection .text\n"
	"	.globl	vfork\n"
	"	.type	vfork, @function\n"
	"	.globl	__vfork\n"
	"	.type	__vfork, @function\n"
	"	.p2align 4\n"
	"vfork:\n"
	"__vfork:\n"
	"	.cfi_startproc\n"
	"	movq	tw_vfork_child@gottpoff(%rip), %rdx\n"
	"	movl	%fs:(%rdx), %esi\n"
	"	movl	$1, %fs:(%rdx)\n"
	"	popq	%rdi\n"
	"	.cfi_adjust_cfa_offset -8\n"
	"	.cfi_register %rip, %rdi\n"
	"	movl	$" TW_STR(SYS_vfork) ", %eax\n"
	"	syscall\n"
	"	pushq	%rdi\n"
	"	.cfi_adjust_cfa_offset 8\n"
	"	.cfi_rel_offset %rip, 0\n"
	"	testq	%rax, %rax\n"
	"	jz	1f\n"
	"	movl	%esi, %fs:(%rdx)\n"
	"	cmpq	$-4095, %rax\n"
	"	jae	2f\n"
	"1:\n"
	"	ret\n"
	"2:\n"
	"	movq	%rax, %rdi\n"
	"	jmp	tw_vfork_failed\n"
	"	.cfi_endproc\n"
	"	.size	vfork, .-vfork\n"
	"	.size	__vfork, .-__vfork\n"
	"	.popsection\n");

#endif
