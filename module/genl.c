// SPDX-License-Identifier: GPL-2.0
/*
 * Generic netlink family "sigwake": read-only views of the domains and their
 * threads, and the "monitor" multicast group.  The YNL spec
 * Documentation/netlink/specs/sigwake.yaml has the protocol; this file only
 * reads, it never changes a domain.
 *
 * Walking the domains: sigwake_domains is read under RCU, and a domain is
 * used only after refcount_inc_not_zero() on it, because its pid and user
 * references are dropped as soon as its last reference goes, without a
 * grace period.  A domain's threads are read under RCU (they are freed with
 * kfree_rcu()), and each thread block under the thread's lock, only while
 * the thread is not dead: its page may be unpinned right after.  No domain
 * lock is taken here.
 *
 * Requests see what the caller may see (sigwake_nl_visible()); the monitor
 * group is for CAP_SYS_ADMIN in the initial namespaces only, so its events
 * are not filtered and carry initial-namespace pids and uids.
 */

#include <linux/capability.h>
#include <linux/cred.h>
#include <linux/netlink.h>
#include <linux/pid.h>
#include <linux/pid_namespace.h>
#include <linux/sched.h>
#include <linux/sched/coredump.h>
#include <linux/sched/task.h>
#include <linux/uidgid.h>
#include <linux/user_namespace.h>
#include <net/genetlink.h>
#include <net/net_namespace.h>
#include <net/netlink.h>

#include "core.h"
#include "genl.h"
#include "genl-gen.h"

static struct genl_family sigwake_nl_family;

/* Index in sigwake_nl_mcgrps[] (the family's group offset is added). */
enum {
	SIGWAKE_NL_MCGRP_MONITOR_IDX,
};

/*
 * Only for CAP_SYS_ADMIN; on a kernel that cannot ask that of a listener
 * (SIGWAKE_HAVE_GENL_MCAST_CAP, compat.h) the family has no group at all.
 */
static const struct genl_multicast_group sigwake_nl_mcgrps[] = {
	[SIGWAKE_NL_MCGRP_MONITOR_IDX] = {
		.name = SIGWAKE_NL_MCGRP_MONITOR,
		.flags = SIGWAKE_GENL_MCAST_CAP_SYS_ADMIN,
	},
};

/* Who asks: namespaces to translate into, and what the caller may see. */
struct sigwake_nl_view {
	struct pid_namespace *pid_ns;
	struct user_namespace *user_ns;
	const struct sk_buff *req;
	int admin;			/* -1: not asked yet */
};

static void sigwake_nl_view_init(struct sigwake_nl_view *view,
				 const struct sk_buff *req)
{
	view->pid_ns = task_active_pid_ns(current);
	view->user_ns = current_user_ns();
	view->req = req;
	view->admin = -1;
}

/*
 * May the caller read the owner's state, as ptrace_may_access() with
 * PTRACE_MODE_READ_REALCREDS would decide without capabilities?  The
 * caller's real ids must be all of the owner's ids, and the owner's memory
 * dumpable: a setuid program's domain (and its blocks) is not shown to the
 * user who started it, as its /proc/<pid>/mem is not.
 */
static bool sigwake_nl_may_read(const struct sigwake_domain *dom)
{
	const struct cred *cred = current_cred(), *tcred;
	struct task_struct *task;
	bool ok;

	/* As for /proc/self: a process always sees its own domains. */
	if (task_tgid(current) == dom->tgid)
		return true;
	task = get_pid_task(dom->tgid, PIDTYPE_TGID);
	if (!task)
		return false;
	rcu_read_lock();
	tcred = __task_cred(task);
	ok = uid_eq(cred->uid, tcred->euid) && uid_eq(cred->uid, tcred->suid) &&
	     uid_eq(cred->uid, tcred->uid) && gid_eq(cred->gid, tcred->egid) &&
	     gid_eq(cred->gid, tcred->sgid) && gid_eq(cred->gid, tcred->gid);
	rcu_read_unlock();
	ok = ok && sigwake_dumpable_as_user(task, dom->mm);
	put_task_struct(task);
	return ok;
}

/*
 * The owning process must be visible in the caller's pid namespace, and
 * readable by the caller (sigwake_nl_may_read()), unless the caller is
 * CAP_SYS_ADMIN (asked at most once per request, and only if it matters).
 */
static bool sigwake_nl_visible(struct sigwake_nl_view *view,
			       const struct sigwake_domain *dom)
{
	if (!pid_nr_ns(dom->tgid, view->pid_ns))
		return false;
	if (sigwake_nl_may_read(dom))
		return true;
	if (view->admin < 0)
		view->admin = netlink_capable(view->req, CAP_SYS_ADMIN);
	return view->admin;
}

/* The live domain with the lowest id >= *id, with a reference; or NULL. */
static struct sigwake_domain *sigwake_nl_domain_next(unsigned long *id)
{
	struct sigwake_domain *dom;

	rcu_read_lock();
	for (;;) {
		dom = xa_find(&sigwake_domains, id, ULONG_MAX, XA_PRESENT);
		if (!dom || refcount_inc_not_zero(&dom->ref))
			break;
		(*id)++;
	}
	rcu_read_unlock();
	return dom;
}

/* Domain @id with a reference, if it exists and the caller may see it. */
static struct sigwake_domain *sigwake_nl_domain_get(struct sigwake_nl_view *view,
						    u32 id)
{
	struct sigwake_domain *dom;

	rcu_read_lock();
	dom = xa_load(&sigwake_domains, id);
	if (dom && !refcount_inc_not_zero(&dom->ref))
		dom = NULL;
	rcu_read_unlock();

	if (dom && !sigwake_nl_visible(view, dom)) {
		sigwake_domain_put(dom);
		dom = NULL;
	}
	return dom;
}

static const struct {
	u16 attr;
	u16 offset;
} sigwake_nl_counters[] = {
	{ SIGWAKE_NL_A_CNT_POSTS, offsetof(struct sigwake_counts, posts) },
	{ SIGWAKE_NL_A_CNT_WAKES, offsetof(struct sigwake_counts, wakes) },
	{ SIGWAKE_NL_A_CNT_KICKS, offsetof(struct sigwake_counts, kicks) },
	{ SIGWAKE_NL_A_CNT_WAITS, offsetof(struct sigwake_counts, waits) },
	{ SIGWAKE_NL_A_CNT_TIMEOUTS,
	  offsetof(struct sigwake_counts, timeouts) },
	{ SIGWAKE_NL_A_CNT_INTERRUPTED,
	  offsetof(struct sigwake_counts, interrupted) },
	{ SIGWAKE_NL_A_CNT_FORWARDS,
	  offsetof(struct sigwake_counts, forwards) },
	{ SIGWAKE_NL_A_CNT_PREEMPTIONS,
	  offsetof(struct sigwake_counts, preemptions) },
};

static size_t sigwake_nl_counters_size(void)
{
	return nla_total_size(0) +
	       ARRAY_SIZE(sigwake_nl_counters) *
	       nla_total_size_64bit(sizeof(u64));
}

static int sigwake_nl_put_counters(struct sk_buff *skb,
				   const struct sigwake_counts *stats)
{
	const u64 *counter;
	struct nlattr *nest;
	unsigned int i;

	nest = nla_nest_start(skb, SIGWAKE_NL_A_COUNTERS);
	if (!nest)
		return -EMSGSIZE;
	for (i = 0; i < ARRAY_SIZE(sigwake_nl_counters); i++) {
		counter = (const void *)stats + sigwake_nl_counters[i].offset;
		if (nla_put_u64_64bit(skb, sigwake_nl_counters[i].attr,
				      *counter, SIGWAKE_NL_A_CNT_PAD)) {
			nla_nest_cancel(skb, nest);
			return -EMSGSIZE;
		}
	}
	nla_nest_end(skb, nest);
	return 0;
}

static int sigwake_nl_put_dom_counters(struct sk_buff *skb,
				       const struct sigwake_domain *dom)
{
	struct sigwake_counts sum;

	sigwake_domain_counts(dom, &sum);
	return sigwake_nl_put_counters(skb, &sum);
}

static int sigwake_nl_put_thread_counters(struct sk_buff *skb,
					  const struct sigwake_thread *t)
{
	const struct sigwake_counters *c = &t->stats;
	struct sigwake_counts now = {
		.posts = atomic64_read(&c->posts),
		.wakes = atomic64_read(&c->wakes),
		.kicks = atomic64_read(&c->kicks),
		.waits = atomic64_read(&c->waits),
		.timeouts = atomic64_read(&c->timeouts),
		.interrupted = atomic64_read(&c->interrupted),
		.forwards = atomic64_read(&c->forwards),
		.preemptions = atomic64_read(&c->preemptions),
	};

	return sigwake_nl_put_counters(skb, &now);
}

/* ---------------------------------------------------------------- domains */

static size_t sigwake_nl_domain_size(void)
{
	return nla_total_size(sizeof(u32)) +		/* DOMAIN_ID */
	       nla_total_size(sizeof(u32)) +		/* PID */
	       nla_total_size(TASK_COMM_LEN) +		/* COMM */
	       nla_total_size(sizeof(u32)) +		/* UID */
	       nla_total_size(sizeof(u32)) +		/* NR_THREADS */
	       nla_total_size(sizeof(u32)) +		/* NR_QUEUES */
	       nla_total_size_64bit(sizeof(u64)) +	/* PINNED_PAGES */
	       nla_total_size_64bit(sizeof(u64)) +	/* QUEUED */
	       sigwake_nl_counters_size();
}

/* One domain message.  The counts are read without the domain's lock. */
static int sigwake_nl_fill_domain(struct sk_buff *skb,
				  struct sigwake_domain *dom,
				  struct pid_namespace *pid_ns,
				  struct user_namespace *user_ns,
				  u32 portid, u32 seq, int flags, u8 cmd)
{
	u64 queued = atomic64_read(&dom->queued);
	void *hdr;

	hdr = genlmsg_put(skb, portid, seq, &sigwake_nl_family, flags, cmd);
	if (!hdr)
		return -EMSGSIZE;

	if (nla_put_u32(skb, SIGWAKE_NL_A_DOMAIN_ID, dom->id) ||
	    nla_put_u32(skb, SIGWAKE_NL_A_PID, pid_nr_ns(dom->tgid, pid_ns)) ||
	    nla_put_string(skb, SIGWAKE_NL_A_COMM, dom->comm) ||
	    nla_put_u32(skb, SIGWAKE_NL_A_UID,
			from_kuid_munged(user_ns, dom->user->uid)) ||
	    nla_put_u32(skb, SIGWAKE_NL_A_NR_THREADS,
			READ_ONCE(dom->nr_threads)) ||
	    nla_put_u32(skb, SIGWAKE_NL_A_NR_QUEUES, READ_ONCE(dom->nr_wqs)) ||
	    nla_put_u64_64bit(skb, SIGWAKE_NL_A_PINNED_PAGES,
			      READ_ONCE(dom->nr_pinned), SIGWAKE_NL_A_PAD) ||
	    nla_put_u64_64bit(skb, SIGWAKE_NL_A_QUEUED, queued,
			      SIGWAKE_NL_A_PAD) ||
	    sigwake_nl_put_dom_counters(skb, dom)) {
		genlmsg_cancel(skb, hdr);
		return -EMSGSIZE;
	}
	genlmsg_end(skb, hdr);
	return 0;
}

int sigwake_nl_domain_get_doit(struct sk_buff *skb, struct genl_info *info)
{
	struct sigwake_nl_view view;
	struct sigwake_domain *dom;
	struct nlattr *id;
	struct sk_buff *msg;
	int ret;

	ret = sigwake_genl_check_header(info->nlhdr, info->extack);
	if (ret)
		return ret;
	if (GENL_REQ_ATTR_CHECK(info, SIGWAKE_NL_A_DOMAIN_ID))
		return -EINVAL;
	id = info->attrs[SIGWAKE_NL_A_DOMAIN_ID];

	sigwake_nl_view_init(&view, skb);
	dom = sigwake_nl_domain_get(&view, nla_get_u32(id));
	if (!dom) {
		NL_SET_ERR_MSG_ATTR(info->extack, id, "no such domain");
		return -ENOENT;
	}

	msg = genlmsg_new(sigwake_nl_domain_size(), GFP_KERNEL);
	if (!msg) {
		ret = -ENOMEM;
		goto out_put;
	}
	ret = sigwake_nl_fill_domain(msg, dom, view.pid_ns, view.user_ns,
				     info->snd_portid, info->snd_seq, 0,
				     SIGWAKE_NL_CMD_DOMAIN_GET);
	if (ret) {
		nlmsg_free(msg);
		goto out_put;
	}
	ret = genlmsg_reply(msg, info);
out_put:
	sigwake_domain_put(dom);
	return ret;
}

/*
 * cb->args[0]: the next domain id to look at.  With SIGWAKE_NL_A_DOMAIN_ID
 * the dump holds that domain only.
 */
int sigwake_nl_domain_get_dumpit(struct sk_buff *skb,
				 struct netlink_callback *cb)
{
	struct nlattr **attrs = sigwake_genl_dump_attrs(cb);
	unsigned long index = cb->args[0];
	struct sigwake_nl_view view;
	struct sigwake_domain *dom;
	u32 only = 0;
	int ret = 0;

	if (attrs && attrs[SIGWAKE_NL_A_DOMAIN_ID])
		only = nla_get_u32(attrs[SIGWAKE_NL_A_DOMAIN_ID]);
	if (index < only)
		index = only;

	sigwake_nl_view_init(&view, cb->skb);
	while (!ret && (dom = sigwake_nl_domain_next(&index))) {
		if (only && dom->id != only) {
			sigwake_domain_put(dom);
			break;
		}
		if (sigwake_nl_visible(&view, dom))
			ret = sigwake_nl_fill_domain(skb, dom, view.pid_ns,
						     view.user_ns,
						     NETLINK_CB(cb->skb).portid,
						     cb->nlh->nlmsg_seq,
						     NLM_F_MULTI,
						     SIGWAKE_NL_CMD_DOMAIN_GET);
		sigwake_domain_put(dom);
		if (!ret)
			index++;
	}
	cb->args[0] = index;
	return skb->len;
}

/* ---------------------------------------------------------------- threads */

/* What a dump reports of a thread, taken under its lock. */
struct sigwake_nl_thread_view {
	bool live;
	bool exited;
	bool waiting;
	u32 tid;
	u32 state;
	u32 flags;
	u64 pending;
	u64 blocked;
	u64 wake_seq;
};

static void sigwake_nl_thread_snapshot(struct sigwake_thread *t,
				       struct pid_namespace *pid_ns,
				       struct sigwake_nl_thread_view *tv)
{
	struct sigwake_thread_block *blk;
	unsigned long flags;

	memset(tv, 0, sizeof(*tv));
	raw_spin_lock_irqsave(&t->lock, flags);
	tv->exited = t->exited;
	tv->waiting = t->waiting;
	if (!t->dead) {
		/* Not dead: the task reference and the pinned page are held. */
		blk = t->blk;
		tv->live = true;
		tv->tid = task_pid_nr_ns(t->task, pid_ns);
		tv->state = READ_ONCE(blk->state);
		tv->flags = READ_ONCE(blk->flags);
		tv->pending = READ_ONCE(blk->pending);
		tv->blocked = READ_ONCE(blk->blocked);
		tv->wake_seq = READ_ONCE(blk->wake_seq);
	}
	raw_spin_unlock_irqrestore(&t->lock, flags);
}

static size_t sigwake_nl_thread_size(void)
{
	return nla_total_size(sizeof(u32)) * 6 +	/* DOMAIN_ID, HANDLE,
							 * TID, KICK_SIGNO,
							 * STATE, FLAGS
							 */
	       nla_total_size(0) * 2 +			/* EXITED, WAITING */
	       nla_total_size_64bit(sizeof(u64)) * 3 +	/* PENDING, BLOCKED,
							 * WAKE_SEQ
							 */
	       nla_total_size(sizeof(u32)) +		/* REASON */
	       sigwake_nl_counters_size();
}

static int sigwake_nl_put_thread_ids(struct sk_buff *skb,
				     const struct sigwake_thread *t, u32 tid)
{
	if (nla_put_u32(skb, SIGWAKE_NL_A_DOMAIN_ID, t->dom->id) ||
	    nla_put_u32(skb, SIGWAKE_NL_A_HANDLE, t->handle) ||
	    (tid && nla_put_u32(skb, SIGWAKE_NL_A_TID, tid)) ||
	    nla_put_u32(skb, SIGWAKE_NL_A_KICK_SIGNO, t->kick_signo))
		return -EMSGSIZE;
	return 0;
}

static int sigwake_nl_put_thread_view(struct sk_buff *skb,
				      const struct sigwake_nl_thread_view *tv)
{
	if ((tv->exited && nla_put_flag(skb, SIGWAKE_NL_A_EXITED)) ||
	    (tv->waiting && nla_put_flag(skb, SIGWAKE_NL_A_WAITING)))
		return -EMSGSIZE;
	if (!tv->live)
		return 0;
	if (nla_put_u32(skb, SIGWAKE_NL_A_STATE, tv->state) ||
	    nla_put_u32(skb, SIGWAKE_NL_A_FLAGS, tv->flags) ||
	    nla_put_u64_64bit(skb, SIGWAKE_NL_A_PENDING, tv->pending,
			      SIGWAKE_NL_A_PAD) ||
	    nla_put_u64_64bit(skb, SIGWAKE_NL_A_BLOCKED, tv->blocked,
			      SIGWAKE_NL_A_PAD) ||
	    nla_put_u64_64bit(skb, SIGWAKE_NL_A_WAKE_SEQ, tv->wake_seq,
			      SIGWAKE_NL_A_PAD))
		return -EMSGSIZE;
	return 0;
}

static int sigwake_nl_fill_thread(struct sk_buff *skb,
				  struct sigwake_thread *t,
				  struct pid_namespace *pid_ns,
				  struct netlink_callback *cb)
{
	struct sigwake_nl_thread_view tv;
	void *hdr;

	sigwake_nl_thread_snapshot(t, pid_ns, &tv);

	hdr = genlmsg_put(skb, NETLINK_CB(cb->skb).portid, cb->nlh->nlmsg_seq,
			  &sigwake_nl_family, NLM_F_MULTI,
			  SIGWAKE_NL_CMD_THREAD_GET);
	if (!hdr)
		return -EMSGSIZE;
	if (sigwake_nl_put_thread_ids(skb, t, tv.tid) ||
	    sigwake_nl_put_thread_view(skb, &tv) ||
	    sigwake_nl_put_thread_counters(skb, t)) {
		genlmsg_cancel(skb, hdr);
		return -EMSGSIZE;
	}
	genlmsg_end(skb, hdr);
	return 0;
}

/*
 * An exited thread that the reaper released: only its handle is left (a
 * value entry holding its kick signal), reported with EXITED.
 */
static int sigwake_nl_fill_exited(struct sk_buff *skb,
				  struct sigwake_domain *dom, u32 handle,
				  u32 kick_signo, struct netlink_callback *cb)
{
	void *hdr;

	hdr = genlmsg_put(skb, NETLINK_CB(cb->skb).portid, cb->nlh->nlmsg_seq,
			  &sigwake_nl_family, NLM_F_MULTI,
			  SIGWAKE_NL_CMD_THREAD_GET);
	if (!hdr)
		return -EMSGSIZE;
	if (nla_put_u32(skb, SIGWAKE_NL_A_DOMAIN_ID, dom->id) ||
	    nla_put_u32(skb, SIGWAKE_NL_A_HANDLE, handle) ||
	    nla_put_u32(skb, SIGWAKE_NL_A_KICK_SIGNO, kick_signo) ||
	    nla_put_flag(skb, SIGWAKE_NL_A_EXITED)) {
		genlmsg_cancel(skb, hdr);
		return -EMSGSIZE;
	}
	genlmsg_end(skb, hdr);
	return 0;
}

/*
 * cb->args[0]: the next thread handle; cb->args[1]: set once the domain was
 * found, so that a domain closed in the middle of a dump just ends it.
 */
int sigwake_nl_thread_get_dumpit(struct sk_buff *skb,
				 struct netlink_callback *cb)
{
	struct nlattr **attrs = sigwake_genl_dump_attrs(cb);
	struct sigwake_nl_view view;
	struct sigwake_domain *dom;
	struct sigwake_thread *t;
	unsigned long index;
	struct nlattr *id;
	int ret;

	id = attrs ? attrs[SIGWAKE_NL_A_DOMAIN_ID] : NULL;
	if (!id) {
		NL_SET_ERR_ATTR_MISS(cb->extack, NULL, SIGWAKE_NL_A_DOMAIN_ID);
		NL_SET_ERR_MSG(cb->extack,
			       "a thread dump needs the domain id attribute");
		return -EINVAL;
	}

	sigwake_nl_view_init(&view, cb->skb);
	dom = sigwake_nl_domain_get(&view, nla_get_u32(id));
	if (!dom) {
		if (cb->args[1])
			return 0;
		NL_SET_ERR_MSG_ATTR(cb->extack, id, "no such domain");
		return -ENOENT;
	}
	cb->args[1] = 1;

	for (;;) {
		index = cb->args[0];
		rcu_read_lock();
		t = xa_find(&dom->threads, &index, ULONG_MAX, XA_PRESENT);
		if (!t)
			ret = 1;
		else if (xa_is_value(t))
			ret = sigwake_nl_fill_exited(skb, dom, index,
						     xa_to_value(t), cb);
		else
			ret = sigwake_nl_fill_thread(skb, t, view.pid_ns, cb);
		rcu_read_unlock();
		if (ret)
			break;
		cb->args[0] = index + 1;
	}

	sigwake_domain_put(dom);
	return skb->len;
}

/* ---------------------------------------------------------------- family */

/*
 * The policy and the op table are generated from the YNL spec
 * Documentation/netlink/specs/sigwake.yaml (module/genl-gen.c): classic
 * small ops (split ops do not exist before 6.2) sharing one family-wide
 * policy, the domain id.  No GENL_ADMIN_PERM: nothing here changes state,
 * and every answer is filtered by sigwake_nl_visible().
 *
 * resv_start_op is left at 0: every command gets strict validation (unknown
 * attributes and header fields rejected).  Usable from every network
 * namespace; the pid namespace and the user decide what a caller sees.
 */
static struct genl_family sigwake_nl_family __ro_after_init = {
	.name = SIGWAKE_GENL_NAME,
	.version = SIGWAKE_GENL_VERSION,
	.module = THIS_MODULE,
	.netnsok = true,
	.parallel_ops = true,
	.policy = sigwake_nl_policy,
	.maxattr = ARRAY_SIZE(sigwake_nl_policy) - 1,
	.small_ops = sigwake_nl_ops,
	.n_small_ops = ARRAY_SIZE(sigwake_nl_ops),
	.mcgrps = sigwake_nl_mcgrps,
	.n_mcgrps = SIGWAKE_HAVE_GENL_MCAST_CAP ? ARRAY_SIZE(sigwake_nl_mcgrps) : 0,
};

/* Room for full ops made from the small ones, where needed (compat.h). */
static struct genl_ops sigwake_nl_compat_ops[ARRAY_SIZE(sigwake_nl_ops)] __ro_after_init;

int __init sigwake_genl_init(void)
{
	if (!SIGWAKE_HAVE_GENL_MCAST_CAP)
		pr_notice("this kernel cannot restrict multicast groups: no \"%s\" group\n",
			  SIGWAKE_NL_MCGRP_MONITOR);
	return sigwake_genl_register_family(&sigwake_nl_family,
					    sigwake_nl_compat_ops);
}

void sigwake_genl_exit(void)
{
	genl_unregister_family(&sigwake_nl_family);
}

/* ---------------------------------------------------------------- monitor */

/* Events go to the initial network namespace only. */
static bool sigwake_nl_monitored(void)
{
	return SIGWAKE_HAVE_GENL_MCAST_CAP &&
	       genl_has_listeners(&sigwake_nl_family, &init_net,
				  SIGWAKE_NL_MCGRP_MONITOR_IDX) > 0;
}

static struct sk_buff *sigwake_nl_event_new(size_t size, u8 cmd, void **hdr)
{
	struct sk_buff *skb;

	if (!sigwake_nl_monitored())
		return NULL;
	skb = genlmsg_new(size, GFP_KERNEL);
	if (!skb)
		return NULL;
	*hdr = genlmsg_put(skb, 0, 0, &sigwake_nl_family, 0, cmd);
	if (!*hdr) {
		nlmsg_free(skb);
		return NULL;
	}
	return skb;
}

static void sigwake_nl_event_send(struct sk_buff *skb, void *hdr, int err)
{
	if (err) {
		nlmsg_free(skb);
		return;
	}
	genlmsg_end(skb, hdr);
	genlmsg_multicast(&sigwake_nl_family, skb, 0,
			  SIGWAKE_NL_MCGRP_MONITOR_IDX, GFP_KERNEL);
}

static void sigwake_nl_domain_event(struct sigwake_domain *dom, u8 cmd)
{
	struct sk_buff *skb;

	if (!sigwake_nl_monitored())
		return;
	skb = genlmsg_new(sigwake_nl_domain_size(), GFP_KERNEL);
	if (!skb)
		return;
	if (sigwake_nl_fill_domain(skb, dom, &init_pid_ns, &init_user_ns,
				   0, 0, 0, cmd)) {
		nlmsg_free(skb);
		return;
	}
	genlmsg_multicast(&sigwake_nl_family, skb, 0,
			  SIGWAKE_NL_MCGRP_MONITOR_IDX, GFP_KERNEL);
}

/**
 * sigwake_genl_domain_new() - announce a domain that was just opened
 * @dom: the domain
 */
void sigwake_genl_domain_new(struct sigwake_domain *dom)
{
	sigwake_nl_domain_event(dom, SIGWAKE_NL_CMD_DOMAIN_NEW);
}

/**
 * sigwake_genl_domain_del() - announce the end of a domain, with its counters
 * @dom: the domain, whose threads are released already
 */
void sigwake_genl_domain_del(struct sigwake_domain *dom)
{
	sigwake_nl_domain_event(dom, SIGWAKE_NL_CMD_DOMAIN_DEL);
}

/**
 * sigwake_genl_thread_new() - announce a registration
 * @t: the thread, registered under its domain's lock, held by the caller
 */
void sigwake_genl_thread_new(struct sigwake_thread *t)
{
	struct sk_buff *skb;
	void *hdr;

	skb = sigwake_nl_event_new(sigwake_nl_thread_size(),
				   SIGWAKE_NL_CMD_THREAD_NEW, &hdr);
	if (skb)
		sigwake_nl_event_send(skb, hdr,
				      sigwake_nl_put_thread_ids(skb, t, t->tid));
}

/**
 * sigwake_genl_thread_del() - announce the end of a registration
 * @t: the thread, dead, its task reference not yet dropped
 * @why: what sigwake_thread_release() was given: -ESRCH (the thread
 *	exited), -EBADF (the domain is closed) or -EIDRM (unregistered)
 */
void sigwake_genl_thread_del(struct sigwake_thread *t, int why)
{
	enum sigwake_nl_thread_del_reason reason;
	struct sk_buff *skb;
	void *hdr;
	int err;

	if (t->exited || why == -ESRCH)
		reason = SIGWAKE_NL_DEL_EXIT;
	else if (why == -EBADF)
		reason = SIGWAKE_NL_DEL_CLOSE;
	else
		reason = SIGWAKE_NL_DEL_UNREGISTER;

	skb = sigwake_nl_event_new(sigwake_nl_thread_size(),
				   SIGWAKE_NL_CMD_THREAD_DEL, &hdr);
	if (!skb)
		return;
	err = sigwake_nl_put_thread_ids(skb, t, t->tid) ?:
	      nla_put_u32(skb, SIGWAKE_NL_A_REASON, reason) ?:
	      sigwake_nl_put_thread_counters(skb, t);
	sigwake_nl_event_send(skb, hdr, err);
}

/**
 * sigwake_genl_forward_change() - announce a new, replaced or removed forward
 * @dom: the domain
 * @host_signo: the host signal
 * @guest_signo: the guest signal it is posted as (ignored if @removed)
 * @target: a thread handle or SIGWAKE_TARGET_ANY (ignored if @removed)
 * @removed: the forward of @host_signo was dropped
 */
void sigwake_genl_forward_change(struct sigwake_domain *dom, u32 host_signo,
				 u32 guest_signo, u32 target, bool removed)
{
	struct sk_buff *skb;
	void *hdr;
	int err;

	skb = sigwake_nl_event_new(nla_total_size(sizeof(u32)) * 4 +
				   nla_total_size(0),
				   SIGWAKE_NL_CMD_FORWARD_CHANGE, &hdr);
	if (!skb)
		return;
	err = nla_put_u32(skb, SIGWAKE_NL_A_DOMAIN_ID, dom->id) ?:
	      nla_put_u32(skb, SIGWAKE_NL_A_HOST_SIGNO, host_signo);
	if (!err && removed)
		err = nla_put_flag(skb, SIGWAKE_NL_A_FORWARD_REMOVED);
	else if (!err)
		err = nla_put_u32(skb, SIGWAKE_NL_A_GUEST_SIGNO, guest_signo) ?:
		      nla_put_u32(skb, SIGWAKE_NL_A_TARGET, target);
	sigwake_nl_event_send(skb, hdr, err);
}
