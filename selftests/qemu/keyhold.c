// SPDX-License-Identifier: GPL-2.0
/*
 * keyhold: keep the kernel's preempt notifiers switched on for the life of
 * the test VM, by holding one empty KVM virtual machine (KVM_CREATE_VM
 * calls preempt_notifier_inc()).
 *
 * QEMU's multi-threaded TCG can livelock a vCPU that executes a jump label
 * while the other vCPU live-patches it (text_poke_bp(): int3, sync, new
 * bytes, sync).  The guest then reports an RCU stall and a soft lockup in
 * the patching CPU's smp_call_function.  Real CPUs are not affected.  With
 * the key held here, sigwake's preempt_notifier_inc() at insmod and
 * preempt_notifier_dec() at rmmod only count, and no code in __schedule()
 * is patched while the tests run.  init.sh holds the tracepoints sigwake
 * probes in the same way, through a tracefs instance.
 *
 * Prints "keyhold: holding" once the VM exists, then sleeps until killed.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>

#include <linux/kvm.h>

int main(void)
{
	int kvm, vm;

	kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm < 0) {
		printf("keyhold: /dev/kvm: %s\n", strerror(errno));
		return 1;
	}
	vm = ioctl(kvm, KVM_CREATE_VM, 0);
	if (vm < 0) {
		printf("keyhold: KVM_CREATE_VM: %s\n", strerror(errno));
		return 1;
	}
	printf("keyhold: holding\n");
	fflush(stdout);
	for (;;)
		pause();
}
