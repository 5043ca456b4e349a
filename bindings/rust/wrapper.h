/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * What bindgen reads to generate src/bindings.rs (see gen-bindings.sh).
 *
 * bindgen does not expand function-like macros, so the _IOWR() ioctl
 * numbers are handed to it as enum constants that clang evaluates from the
 * header's own macros: the numbers in the bindings are the header's, not a
 * second encoding of them.
 */
#include <linux/sigwake.h>

enum sigwake_ioc_nr {
	SIGWAKE_IOC_REGISTER_NR = SIGWAKE_IOC_REGISTER,
	SIGWAKE_IOC_UNREGISTER_NR = SIGWAKE_IOC_UNREGISTER,
	SIGWAKE_IOC_WAIT_NR = SIGWAKE_IOC_WAIT,
	SIGWAKE_IOC_WAKE_NR = SIGWAKE_IOC_WAKE,
	SIGWAKE_IOC_POST_NR = SIGWAKE_IOC_POST,
	SIGWAKE_IOC_KICK_NR = SIGWAKE_IOC_KICK,
	SIGWAKE_IOC_WQ_CREATE_NR = SIGWAKE_IOC_WQ_CREATE,
	SIGWAKE_IOC_WQ_DESTROY_NR = SIGWAKE_IOC_WQ_DESTROY,
	SIGWAKE_IOC_FORWARD_NR = SIGWAKE_IOC_FORWARD,
	SIGWAKE_IOC_PREEMPT_NR = SIGWAKE_IOC_PREEMPT,
};
