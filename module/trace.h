/* SPDX-License-Identifier: GPL-2.0 */
/*
 * sigwake tracepoints: system "sigwake", events post, wake, kick,
 * wait_begin, wait_end, forward and preempt (the names the design gives:
 * sigwake:post and so on, hence trace_post() and friends in the module).
 *
 *	echo 1 > /sys/kernel/tracing/events/sigwake/post/enable
 *	perf record -e 'sigwake:*' ...
 *
 * Every event carries the domain id of SIGWAKE_NL_CMD_DOMAIN_GET.  Thread
 * and queue handles are those of the ioctls; a target is a handle, or -1
 * for SIGWAKE_TARGET_ANY.  "ret" is an outcome or reason on success and a
 * negative errno on failure.  Events may fire in atomic context.
 */
#undef TRACE_SYSTEM
#define TRACE_SYSTEM sigwake

#if !defined(_SIGWAKE_TRACE_H) || defined(TRACE_HEADER_MULTI_READ)
#define _SIGWAKE_TRACE_H

#include <linux/errno.h>
#include <linux/ktime.h>
#include <linux/tracepoint.h>
#include <linux/sigwake.h>

TRACE_DEFINE_ENUM(SIGWAKE_POST_RECORDED);
TRACE_DEFINE_ENUM(SIGWAKE_POST_WOKEN);
TRACE_DEFINE_ENUM(SIGWAKE_POST_KICKED);
TRACE_DEFINE_ENUM(SIGWAKE_POST_QUEUED);
TRACE_DEFINE_ENUM(SIGWAKE_REASON_WAKE);
TRACE_DEFINE_ENUM(SIGWAKE_REASON_SIGNAL);
TRACE_DEFINE_ENUM(SIGWAKE_REASON_KICK);
TRACE_DEFINE_ENUM(SIGWAKE_REASON_TIMEOUT);
TRACE_DEFINE_ENUM(SIGWAKE_REASON_FD);

#define sigwake_show_outcome(ret)					\
	__print_symbolic(ret,						\
		{ SIGWAKE_POST_RECORDED,	"recorded" },		\
		{ SIGWAKE_POST_WOKEN,		"woken" },		\
		{ SIGWAKE_POST_KICKED,		"kicked" },		\
		{ SIGWAKE_POST_QUEUED,		"queued" },		\
		{ -EINVAL,			"EINVAL" },		\
		{ -ENOENT,			"ENOENT" },		\
		{ -ESRCH,			"ESRCH" })

#define sigwake_show_reason(ret)					\
	__print_symbolic(ret,						\
		{ SIGWAKE_REASON_WAKE,		"wake" },		\
		{ SIGWAKE_REASON_SIGNAL,	"signal" },		\
		{ SIGWAKE_REASON_KICK,		"kick" },		\
		{ SIGWAKE_REASON_TIMEOUT,	"timeout" },		\
		{ SIGWAKE_REASON_FD,		"fd" },			\
		{ -EAGAIN,			"EAGAIN" },		\
		{ -EIDRM,			"EIDRM" },		\
		{ -EBADF,			"EBADF" },		\
		{ -ENOENT,			"ENOENT" },		\
		{ -ERESTARTSYS,			"ERESTARTSYS" })

TRACE_EVENT(post,
	    TP_PROTO(u32 domain, u32 target, u32 handle, u32 signo, int ret),
	    TP_ARGS(domain, target, handle, signo, ret),
	    TP_STRUCT__entry(__field(u32, domain)
			     __field(u32, target)
			     __field(u32, handle)
			     __field(u32, signo)
			     __field(int, ret)),
	    TP_fast_assign(__entry->domain = domain;
			   __entry->target = target;
			   __entry->handle = handle;
			   __entry->signo = signo;
			   __entry->ret = ret;),
	    TP_printk("domain=%u target=%d handle=%u signo=%u outcome=%s",
		      __entry->domain, (int)__entry->target, __entry->handle,
		      __entry->signo, sigwake_show_outcome(__entry->ret))
);

TRACE_EVENT(wake,
	    TP_PROTO(u32 domain, u32 wq, u32 nr, u32 woken),
	    TP_ARGS(domain, wq, nr, woken),
	    TP_STRUCT__entry(__field(u32, domain)
			     __field(u32, wq)
			     __field(u32, nr)
			     __field(u32, woken)),
	    TP_fast_assign(__entry->domain = domain;
			   __entry->wq = wq;
			   __entry->nr = nr;
			   __entry->woken = woken;),
	    TP_printk("domain=%u wq=%u nr=%u woken=%u",
		      __entry->domain, __entry->wq, __entry->nr,
		      __entry->woken)
);

TRACE_EVENT(kick,
	    TP_PROTO(u32 domain, u32 target, int ret),
	    TP_ARGS(domain, target, ret),
	    TP_STRUCT__entry(__field(u32, domain)
			     __field(u32, target)
			     __field(int, ret)),
	    TP_fast_assign(__entry->domain = domain;
			   __entry->target = target;
			   __entry->ret = ret;),
	    TP_printk("domain=%u target=%u outcome=%s",
		      __entry->domain, __entry->target,
		      sigwake_show_outcome(__entry->ret))
);

/* timeout_ns: what is left until the deadline, or -1 for none */
TRACE_EVENT(wait_begin,
	    TP_PROTO(u32 domain, u32 handle, u32 wq, u32 expected,
		     const ktime_t *deadline),
	    TP_ARGS(domain, handle, wq, expected, deadline),
	    TP_STRUCT__entry(__field(u32, domain)
			     __field(u32, handle)
			     __field(u32, wq)
			     __field(u32, expected)
			     __field(s64, timeout_ns)),
	    TP_fast_assign(__entry->domain = domain;
			   __entry->handle = handle;
			   __entry->wq = wq;
			   __entry->expected = expected;
			   __entry->timeout_ns = deadline ?
				ktime_to_ns(ktime_sub(*deadline, ktime_get())) :
				-1;),
	    TP_printk("domain=%u handle=%u wq=%d expected=%u timeout_ns=%lld",
		      __entry->domain, __entry->handle, (int)__entry->wq,
		      __entry->expected, __entry->timeout_ns)
);

TRACE_EVENT(wait_end,
	    TP_PROTO(u32 domain, u32 handle, int ret),
	    TP_ARGS(domain, handle, ret),
	    TP_STRUCT__entry(__field(u32, domain)
			     __field(u32, handle)
			     __field(int, ret)),
	    TP_fast_assign(__entry->domain = domain;
			   __entry->handle = handle;
			   __entry->ret = ret;),
	    TP_printk("domain=%u handle=%u reason=%s",
		      __entry->domain, __entry->handle,
		      sigwake_show_reason(__entry->ret))
);

TRACE_EVENT(forward,
	    TP_PROTO(u32 domain, u32 host_signo, u32 guest_signo, u32 target,
		     int ret),
	    TP_ARGS(domain, host_signo, guest_signo, target, ret),
	    TP_STRUCT__entry(__field(u32, domain)
			     __field(u32, host_signo)
			     __field(u32, guest_signo)
			     __field(u32, target)
			     __field(int, ret)),
	    TP_fast_assign(__entry->domain = domain;
			   __entry->host_signo = host_signo;
			   __entry->guest_signo = guest_signo;
			   __entry->target = target;
			   __entry->ret = ret;),
	    TP_printk("domain=%u host_signo=%u guest_signo=%u target=%d outcome=%s",
		      __entry->domain, __entry->host_signo,
		      __entry->guest_signo, (int)__entry->target,
		      sigwake_show_outcome(__entry->ret))
);

TRACE_EVENT(preempt,
	    TP_PROTO(u32 domain, u32 handle, u64 budget_ns, u64 ran_ns),
	    TP_ARGS(domain, handle, budget_ns, ran_ns),
	    TP_STRUCT__entry(__field(u32, domain)
			     __field(u32, handle)
			     __field(u64, budget_ns)
			     __field(u64, ran_ns)),
	    TP_fast_assign(__entry->domain = domain;
			   __entry->handle = handle;
			   __entry->budget_ns = budget_ns;
			   __entry->ran_ns = ran_ns;),
	    TP_printk("domain=%u handle=%u budget_ns=%llu ran_ns=%llu",
		      __entry->domain, __entry->handle, __entry->budget_ns,
		      __entry->ran_ns)
);

#endif /* _SIGWAKE_TRACE_H */

/* Out of tree: define_trace.h finds this file through -I$(src)/module. */
#undef TRACE_INCLUDE_PATH
#define TRACE_INCLUDE_PATH .
#undef TRACE_INCLUDE_FILE
#define TRACE_INCLUDE_FILE trace
#include <trace/define_trace.h>
