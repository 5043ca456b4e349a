/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Included before every C block of README.md, docs/ (*.md) and the manual
 * pages when selftests/host/docs_test.sh compiles them: the headers a
 * runtime would include, and the runtime's own names that the snippets
 * leave undefined (declared here, never defined: the blocks are only
 * compiled).  Unprototyped where snippets call them with different
 * arguments.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <linux/kvm.h>
#include <libsigwake.h>

extern int dom;
extern struct sigwake_self *self;

void deliver();
void run_guest();
void run_guest_code();
void handle_exit();
void handle_vmm_request();
void handle_kvm_exit();
void resume_managed_code();
void shadow_yield();

#define TARGET_ERESTARTSYS	512

struct guest_futex {
	__u32 wq;
	__u32 word;
};

extern struct runtime_config {
	__u64 native_duration_ns;
	__u64 sim_duration;
} config;

struct vcpu {
	int fd;
	struct kvm_run *run;
	struct sigwake_self *sw;
	atomic_int paused;
};

extern int resume_wq;
extern __u32 resume_word;
