// SPDX-License-Identifier: GPL-2.0
/*
 * SIGWAKE_IOC_FORWARD: a host signal sent to the owning process becomes a
 * guest post, inside the kernel.
 *
 * The kernel reports every signal it generates on the signal_generate
 * tracepoint, whether the signal is then delivered, ignored or already
 * pending.  The probe runs under the target's siglock (interrupts off, or
 * a sleeping lock on PREEMPT_RT) with preemption off, where neither a
 * wake-up of our own nor a kick signal (which takes that same siglock) may
 * happen: it only records the host signal in the domain's fwd_pending set
 * and queues the domain's irq_work.  The irq_work runs once the sender's
 * locks are released and only queues the domain's work item,
 * which makes the posts in process context (a kernel worker): a
 * SIGWAKE_TARGET_ANY post chooses among the domain's threads, no job for
 * hard-interrupt context.  Repeated host signals before the work runs
 * coalesce, as standard signals do.
 */

#include <linux/irq_work.h>
#include <linux/sched/signal.h>
#include <linux/signal.h>
#include <linux/tracepoint.h>
#include <linux/workqueue.h>

#include "core.h"
#include "genl.h"
#include "trace.h"

/* Domains with at least one route: the probe's fast way out. */
static atomic_t sigwake_forwarding = ATOMIC_INIT(0);

static u64 sigwake_route(u32 guest_signo, u32 target)
{
	return guest_signo | (u64)target << 32;
}

/*
 * Is @task, which a signal was generated for, running the domain's program?
 * A process-directed signal names the thread group leader, which may have
 * left with pthread_exit() while its group runs on: a zombie without an mm.
 * The signal is then the domain's if a live thread of the group runs the
 * domain's mm (the first one after the leader, nearly always).  A program
 * that exec'd has a new mm in every thread and gets no forward.
 *
 * Called under the signal's siglock, which keeps the thread list stable.
 */
static bool sigwake_forward_in_domain(struct task_struct *task, int group,
				      const struct sigwake_domain *dom)
{
	struct task_struct *t;

	if (sigwake_task_in_domain(task, dom))
		return true;
	if (!group || READ_ONCE(task->mm))
		return false;
	for_each_thread(task, t) {
		if (sigwake_task_in_domain(t, dom))
			return true;
	}
	return false;
}

void sigwake_forward_probe(void *data, int sig, struct kernel_siginfo *info,
			   struct task_struct *task, int group, int result)
{
	struct sigwake_domain *dom;
	unsigned long index;
	struct pid *tgid;
	u64 bit;

	if (!atomic_read(&sigwake_forwarding))
		return;
	if (sig < 1 || sig > SIGWAKE_NSIG)
		return;
	/*
	 * Our own kick, from this task at this level; not one it interrupted
	 * or nests in, nor one of a task it preempted.
	 */
	if (this_cpu_read(sigwake_kick_marks[sigwake_ctx_level()].sender) ==
	    current)
		return;

	bit = 1ULL << (sig - 1);
	tgid = task_tgid(task);
	rcu_read_lock();
	xa_for_each(&sigwake_domains, index, dom) {
		if (dom->tgid != tgid || !(READ_ONCE(dom->fwd_mask) & bit) ||
		    !sigwake_forward_in_domain(task, group, dom))
			continue;
		atomic64_or(bit, &dom->fwd_pending);
		irq_work_queue(&dom->fwd_irq_work);
	}
	rcu_read_unlock();
}

/* Out of the sender's locks: hand the posts to process context. */
static void sigwake_forward_irq_work(struct irq_work *work)
{
	struct sigwake_domain *dom = container_of(work, struct sigwake_domain,
						  fwd_irq_work);

	queue_work(sigwake_reap_workqueue, &dom->fwd_work);
}

static void sigwake_forward_work(struct work_struct *work)
{
	struct sigwake_domain *dom = container_of(work, struct sigwake_domain,
						  fwd_work);
	u64 pending, route;
	u32 handle;
	int sig, ret;

	/*
	 * A signal recorded after the exchange queues the irq_work, hence
	 * this work, again: it is never left behind.
	 */
	pending = atomic64_xchg(&dom->fwd_pending, 0);
	while (pending) {
		sig = __ffs64(pending) + 1;
		pending &= pending - 1;
		route = READ_ONCE(dom->fwd_routes[sig - 1]);
		if (!route)
			continue;
		this_cpu_inc(dom->stats->forwards);
		ret = sigwake_thread_post(dom, route >> 32, (u32)route, &handle);
		trace_forward(dom->id, sig, (u32)route, route >> 32, ret);
	}
}

void sigwake_forward_init(struct sigwake_domain *dom)
{
	init_irq_work(&dom->fwd_irq_work, sigwake_forward_irq_work);
	INIT_WORK(&dom->fwd_work, sigwake_forward_work);
	atomic64_set(&dom->fwd_pending, 0);
}

/**
 * sigwake_forward_shutdown() - drop every route of a dying domain
 * @dom: the domain, already out of sigwake_domains
 *
 * After this, no probe sees the domain and neither its irq_work nor its
 * work runs: a post they still had to make is dropped, as the domain is
 * closed.  The work holds no domain reference of its own: it runs only
 * between a probe that saw the domain and this, and the file's reference
 * outlives both.
 */
void sigwake_forward_shutdown(struct sigwake_domain *dom)
{
	mutex_lock(&dom->lock);
	if (dom->fwd_mask) {
		WRITE_ONCE(dom->fwd_mask, 0);
		atomic_dec(&sigwake_forwarding);
	}
	mutex_unlock(&dom->lock);
	if (!dom->had_forward)
		return;
	/* Tracepoint probes run in RCU read-side critical sections. */
	synchronize_rcu();
	/* Then nothing queues the work: cancel it, or wait for its end. */
	irq_work_sync(&dom->fwd_irq_work);
	cancel_work_sync(&dom->fwd_work);
}

static bool sigwake_host_signo_valid(u32 signo)
{
	return signo >= 1 && signo <= SIGWAKE_NSIG && signo != SIGKILL &&
	       signo != SIGSTOP;
}

int sigwake_forward_set(struct sigwake_domain *dom,
			struct sigwake_forward_args *args)
{
	u64 bit;
	int ret = 0;

	if (args->flags & ~SIGWAKE_FORWARD_FLAGS_ALL || args->pad)
		return -EINVAL;
	if (!sigwake_host_signo_valid(args->host_signo))
		return -EINVAL;
	if (!sigwake_forward_available)
		return -EOPNOTSUPP;
	bit = 1ULL << (args->host_signo - 1);

	if (!(args->flags & SIGWAKE_FORWARD_REMOVE)) {
		if (args->guest_signo < 1 || args->guest_signo > SIGWAKE_NSIG)
			return -EINVAL;
		if (args->target != SIGWAKE_TARGET_ANY) {
			struct sigwake_thread *t;

			/* ENOENT, or ESRCH for an exited thread's handle. */
			t = sigwake_thread_get(dom, args->target);
			if (IS_ERR(t))
				return PTR_ERR(t);
			sigwake_thread_put(t);
		}
	}

	ret = mutex_lock_killable(&dom->lock);
	if (ret)
		return ret;
	if (args->flags & SIGWAKE_FORWARD_REMOVE) {
		if (!(dom->fwd_mask & bit)) {
			ret = -ENOENT;
			goto out_unlock;
		}
		WRITE_ONCE(dom->fwd_mask, dom->fwd_mask & ~bit);
		WRITE_ONCE(dom->fwd_routes[args->host_signo - 1], 0);
		if (!dom->fwd_mask)
			atomic_dec(&sigwake_forwarding);
		goto out_unlock;
	}

	WRITE_ONCE(dom->fwd_routes[args->host_signo - 1],
		   sigwake_route(args->guest_signo, args->target));
	if (!dom->fwd_mask)
		atomic_inc(&sigwake_forwarding);
	dom->had_forward = true;
	/* The route is in place before the probe can match the bit. */
	smp_wmb();
	WRITE_ONCE(dom->fwd_mask, dom->fwd_mask | bit);
out_unlock:
	mutex_unlock(&dom->lock);
	if (!ret)
		sigwake_genl_forward_change(dom, args->host_signo,
					    args->guest_signo, args->target,
					    args->flags & SIGWAKE_FORWARD_REMOVE);
	return ret;
}
