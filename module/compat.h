/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Every kernel-version dependency of sigwake lives here, so that the .c files
 * read like upstream code.  Supported: Linux 6.1 to 6.12.
 */
#ifndef _SIGWAKE_COMPAT_H
#define _SIGWAKE_COMPAT_H

#include <linux/version.h>

#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 1, 0) || \
	LINUX_VERSION_CODE >= KERNEL_VERSION(6, 13, 0)
#error "sigwake supports Linux 6.1 to 6.12"
#endif

#include <linux/ktime.h>
#include <linux/time_namespace.h>

/*
 * timens_ktime_to_host() calls do_timens_ktime_to_host(), which is not
 * exported to modules on either kernel.  The CLOCK_MONOTONIC offset of the
 * caller's time namespace is all that is needed: take it from
 * timens_add_monotonic(), which is inline (and a no-op without TIME_NS).
 */
static inline ktime_t sigwake_timens_monotonic_offset(void)
{
	struct timespec64 ts = { 0, 0 };

	timens_add_monotonic(&ts);
	return timespec64_to_ktime(ts);
}

/*
 * __uninitialized (6.13): a stack variable that CONFIG_INIT_STACK_ALL_ZERO
 * must not zero, because it is written in full before it is read.
 */
#ifndef __uninitialized
#if __has_attribute(__uninitialized__)
#define __uninitialized		__attribute__((__uninitialized__))
#else
#define __uninitialized
#endif
#endif

/*
 * The parsed attributes of a generic netlink dump request: struct
 * genl_dumpit_info holds them itself up to 6.1, in its struct genl_info
 * (split ops) from 6.2 on.
 */
#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 2, 0)
#define sigwake_genl_dump_attrs(cb)	(genl_dumpit_info(cb)->attrs)
#else
#define sigwake_genl_dump_attrs(cb)	(genl_dumpit_info(cb)->info.attrs)
#endif

#endif /* _SIGWAKE_COMPAT_H */
