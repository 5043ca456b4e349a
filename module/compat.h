/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Every kernel-version dependency of sigwake lives here, so that the .c files
 * read like upstream code.  Each difference has one named switch, defined
 * here only: from the kernel version, or from the presence of the macro or
 * header that marks it.  The code below (and only it) tests the switches.
 *
 * Supported: Linux 5.10 to 7.2 (tested: Debian 11's 5.10, Debian 12's 6.1,
 * 6.1-rt and 6.12, Debian unstable's 7.2 and 7.2-rt).  Older kernels stop
 * the build; newer ones build with a warning, as sigwake has not run there.
 */
#ifndef _SIGWAKE_COMPAT_H
#define _SIGWAKE_COMPAT_H

#include <linux/version.h>

#if LINUX_VERSION_CODE < KERNEL_VERSION(5, 10, 0)
#error "sigwake needs Linux 5.10 or later (it supports 5.10 to 7.2)"
#endif
#if LINUX_VERSION_CODE >= KERNEL_VERSION(7, 3, 0)
#warning "sigwake is tested on Linux 5.10 to 7.2 only: run its selftests on this newer kernel"
#endif

/* ------------------------------------------------------------ switches */

#include <linux/preempt.h>

/* 5.10 has in_irq() but not its successor in_hardirq() (a macro). */
#ifndef in_hardirq
#define SIGWAKE_COMPAT_NO_IN_HARDIRQ
#endif

/*
 * 6.0: extack can name a missing attribute (GENL_REQ_ATTR_CHECK), and
 * genetlink rejects a non-zero reserved header byte (resv_start_op).
 */
#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 0, 0)
#define SIGWAKE_COMPAT_NO_EXTACK_MISS_ATTR
#define SIGWAKE_COMPAT_NO_GENL_RESERVED_CHECK
#endif

/* 6.2: a dump's parsed attributes moved into genl_dumpit_info's genl_info. */
#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 2, 0)
#define SIGWAKE_COMPAT_DUMPIT_INFO_ATTRS
#endif

/* 6.13: hrtimer_setup() replaces hrtimer_init(), since removed. */
#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 13, 0)
#define SIGWAKE_COMPAT_NO_HRTIMER_SETUP
#endif

/* 6.16: the sched_process_exit tracepoint passes group_dead. */
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 16, 0)
#define SIGWAKE_COMPAT_EXIT_TP_GROUP_DEAD
#endif

/*
 * 7.2 (or 7.1): dumpability moved from the mm's flags to the task's
 * exec_state, whose header is new.
 */
#ifdef __has_include	/* not sparse's preprocessor */
#if __has_include("linux/sched/exec_state.h")	/* the -I path, as <> */
#define SIGWAKE_COMPAT_TASK_EXEC_STATE
#endif
#endif

/* ------------------------------------------------------------ code */

#include <linux/hrtimer.h>
#include <linux/ktime.h>
#include <linux/rcupdate.h>
#include <linux/sched.h>
#include <linux/time_namespace.h>
#include <net/genetlink.h>
#include <net/netlink.h>

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
#ifdef SIGWAKE_COMPAT_DUMPIT_INFO_ATTRS
#define sigwake_genl_dump_attrs(cb)	(genl_dumpit_info(cb)->attrs)
#else
#define sigwake_genl_dump_attrs(cb)	(genl_dumpit_info(cb)->info.attrs)
#endif

/*
 * Before 6.0 the extended ACK cannot carry NLMSGERR_ATTR_MISS_TYPE: the
 * reply says in its message that an attribute is missing, not which one.
 */
#ifdef SIGWAKE_COMPAT_NO_EXTACK_MISS_ATTR
#define NL_SET_ERR_ATTR_MISS(extack, nest, type)	do { } while (0)
#define GENL_REQ_ATTR_CHECK(info, attr) ({				\
	struct genl_info *__info = (info);				\
	bool __missing = !__info->attrs[(attr)];			\
									\
	if (__missing)							\
		NL_SET_ERR_MSG(__info->extack,				\
			       "missing required attribute");		\
	__missing;							\
})
#endif

/*
 * Strict validation of a request's genlmsghdr: from 6.0 genetlink rejects a
 * non-zero reserved byte itself (every command, as resv_start_op is 0);
 * before, the family does, from its doit and its dumps' start.
 */
static inline int sigwake_genl_check_header(const struct nlmsghdr *nlh,
					    struct netlink_ext_ack *extack)
{
#ifdef SIGWAKE_COMPAT_NO_GENL_RESERVED_CHECK
	const struct genlmsghdr *hdr = nlmsg_data(nlh);

	if (hdr->reserved) {
		NL_SET_ERR_MSG(extack, "genlmsghdr.reserved field is not 0");
		return -EINVAL;
	}
#endif
	return 0;
}

/*
 * Register @family.  Before 6.0 a dump's start checks the reserved byte
 * (above), and as small ops have no .start, the family registers full ops
 * made from its small ones in @ops (as many entries as small ops).
 */
#ifdef SIGWAKE_COMPAT_NO_GENL_RESERVED_CHECK
static inline int sigwake_genl_dump_start(struct netlink_callback *cb)
{
	return sigwake_genl_check_header(cb->nlh, cb->extack);
}

static inline int sigwake_genl_register_family(struct genl_family *family,
					       struct genl_ops *ops)
{
	unsigned int i;

	for (i = 0; i < family->n_small_ops; i++) {
		const struct genl_small_ops *s = &family->small_ops[i];

		ops[i] = (struct genl_ops) {
			.cmd = s->cmd,
			.internal_flags = s->internal_flags,
			.flags = s->flags,
			.validate = s->validate,
			.doit = s->doit,
			.start = s->dumpit ? sigwake_genl_dump_start : NULL,
			.dumpit = s->dumpit,
		};
	}
	family->ops = ops;
	family->n_ops = family->n_small_ops;
	family->small_ops = NULL;
	family->n_small_ops = 0;
	return genl_register_family(family);
}
#else
static inline int sigwake_genl_register_family(struct genl_family *family,
					       struct genl_ops *ops)
{
	return genl_register_family(family);
}
#endif

#ifdef SIGWAKE_COMPAT_NO_IN_HARDIRQ
#define in_hardirq()	in_irq()
#endif

#ifdef SIGWAKE_COMPAT_NO_HRTIMER_SETUP
static inline void
hrtimer_setup(struct hrtimer *timer,
	      enum hrtimer_restart (*function)(struct hrtimer *),
	      clockid_t clock_id, enum hrtimer_mode mode)
{
	hrtimer_init(timer, clock_id, mode);
	timer->function = function;
}
#endif

/*
 * Whether @task, whose mm is @mm, is dumpable as its user's (not only as
 * root's): the test that access to its /proc/<pid>/mem makes too.
 */
#ifdef SIGWAKE_COMPAT_TASK_EXEC_STATE
#include <linux/sched/exec_state.h>
static inline bool sigwake_dumpable_as_user(struct task_struct *task,
					    struct mm_struct *mm)
{
	struct task_exec_state *es;
	bool ret;

	rcu_read_lock();
	es = rcu_dereference(task->exec_state);
	ret = es && es->dumpable == TASK_DUMPABLE_OWNER;
	rcu_read_unlock();
	return ret;
}
#else
#include <linux/sched/coredump.h>
static inline bool sigwake_dumpable_as_user(struct task_struct *task,
					    struct mm_struct *mm)
{
	return get_dumpable(mm) == SUID_DUMP_USER;
}
#endif

/*
 * The prototype of a sched_process_exit probe must match the tracepoint's
 * (CFI checks the indirect call): SIGWAKE_EXIT_PROBE_ARGS is its argument
 * list after the probe's data pointer.
 */
#ifdef SIGWAKE_COMPAT_EXIT_TP_GROUP_DEAD
#define SIGWAKE_EXIT_PROBE_ARGS	struct task_struct *task, bool group_dead
#else
#define SIGWAKE_EXIT_PROBE_ARGS	struct task_struct *task
#endif

/* The declaration of a sched_process_exit probe called @name. */
#define SIGWAKE_DECLARE_EXIT_PROBE(name) \
	void name(void *data, SIGWAKE_EXIT_PROBE_ARGS)

/* ---------------------------------------------------- generic netlink */

#include <net/genetlink.h>

/*
 * SIGWAKE_HAVE_GENL_MCAST_CAP: joining a multicast group can require a
 * capability (GENL_MCAST_CAP_SYS_ADMIN) since Linux 6.7, and in the 6.1
 * stable series since the fix was backported, so the define itself is the
 * test.  Without it the "monitor" group would be open to every user:
 * module/genl.c leaves the group out instead.
 */
#ifdef GENL_MCAST_CAP_SYS_ADMIN
#define SIGWAKE_HAVE_GENL_MCAST_CAP	1
#define SIGWAKE_GENL_MCAST_CAP_SYS_ADMIN	GENL_MCAST_CAP_SYS_ADMIN
#else
#define SIGWAKE_HAVE_GENL_MCAST_CAP	0
#define SIGWAKE_GENL_MCAST_CAP_SYS_ADMIN	0
#endif

#endif /* _SIGWAKE_COMPAT_H */
