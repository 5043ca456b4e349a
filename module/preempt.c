// SPDX-License-Identifier: GPL-2.0
/*
 * SIGWAKE_IOC_PREEMPT: kick a thread that stayed in guest code for more than
 * a budget of its own CPU time, with no syscall on guest entry or exit.
 *
 * A preempt notifier on the thread's task tells us when it gets a CPU and
 * when it loses it; while it has one, a CPU-pinned hrtimer samples the
 * state word of its block (budget / 8 apart).  The time between two samples
 * that both saw RUNNING_IN_GUEST with the same entry_seq is guest time of
 * one stint; time off the CPU is never counted.  When a stint reaches the
 * budget the thread is kicked with SIGWAKE_TF_PREEMPTED.
 *
 * A preempt notifier can only be added to and removed from the current
 * task.  The thread adds it itself: at REGISTER if the domain preempts every
 * thread, inside the PREEMPT ioctl if it targets itself, or else from a task
 * work queued on it.  It is removed when the task exits (the exit probe runs
 * in the task): until then an unregistered thread keeps an idle notifier,
 * which holds a module reference, so sigwake cannot be unloaded under it.
 * The object holds its own references on the pages it writes (get_page), so
 * those stay valid whatever the process unmaps.
 */

#include <linux/hrtimer.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/preempt.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/task_work.h>

#include "core.h"
#include "trace.h"

#ifdef CONFIG_PREEMPT_NOTIFIERS

/**
 * struct sigwake_preempt - the preemption watch on one registered thread
 * @pn: on the task's preempt notifier list
 * @timer: samples the state word while the task is on a CPU
 * @t: the registration (referenced); its @preempt points back here
 * @dom: for the counters (referenced)
 * @task: the task the notifier is on
 * @blk: kernel alias of the thread block, kept valid by @block_page
 * @kick_byte: kernel alias of the kick byte, kept valid by @kick_page
 * @block_page: page reference on the block's page
 * @kick_page: page reference on the kick byte's page, or NULL
 * @kick_signo: the thread's kick signal
 * @budget_ns: 0 while idle; written under the thread's lock
 * @on_cpu: the task holds a CPU (between sched_in and sched_out)
 * @in_stint: the last sample saw RUNNING_IN_GUEST
 * @fired: this stint was kicked already
 * @seq: entry_seq when the stint started
 * @stint_ns: guest CPU time of the stint so far
 * @last: time of the last sample
 *
 * The fields from @on_cpu on are touched only by the task's own notifier
 * callbacks and its timer, on the CPU it runs on, with preemption or
 * interrupts off.
 */
struct sigwake_preempt {
	struct preempt_notifier pn;
	struct hrtimer timer;
	struct sigwake_thread *t;
	struct sigwake_domain *dom;
	struct task_struct *task;
	struct sigwake_thread_block *blk;
	u8 *kick_byte;
	struct page *block_page;
	struct page *kick_page;
	int kick_signo;
	u64 budget_ns;

	bool on_cpu;
	bool in_stint;
	bool fired;
	u64 seq;
	u64 stint_ns;
	ktime_t last;
};

static struct preempt_ops sigwake_preempt_ops;

static u64 sigwake_preempt_period(u64 budget)
{
	return max_t(u64, budget / 8, SIGWAKE_PREEMPT_MIN_PERIOD_NS);
}

/*
 * Take one sample at @now.  Returns true when the current stint has just
 * used up the budget.
 */
static bool sigwake_preempt_sample(struct sigwake_preempt *p, ktime_t now,
				   u64 budget)
{
	u32 state = READ_ONCE(p->blk->state);
	u64 seq = READ_ONCE(p->blk->entry_seq);

	if (state != SIGWAKE_RUNNING_IN_GUEST) {
		p->in_stint = false;
	} else if (p->in_stint && seq == p->seq) {
		p->stint_ns += ktime_to_ns(ktime_sub(now, p->last));
	} else {
		p->in_stint = true;
		p->fired = false;
		p->seq = seq;
		p->stint_ns = 0;
	}
	p->last = now;
	return p->in_stint && !p->fired && p->stint_ns >= budget;
}

static void sigwake_preempt_fire(struct sigwake_preempt *p)
{
	p->fired = true;
	atomic_or(SIGWAKE_TF_PREEMPTED | SIGWAKE_TF_KICKED,
		  (atomic_t *)&p->blk->flags);
	if (p->kick_byte)
		WRITE_ONCE(*p->kick_byte, 1);
	atomic64_inc(&p->dom->stats.preemptions);
	atomic64_inc(&p->t->stats.preemptions);
	trace_preempt(p->dom->id, p->t->handle, READ_ONCE(p->budget_ns),
		      p->stint_ns);
	if (p->kick_signo && sigwake_task_in_domain(p->task, p->dom))
		sigwake_send_kick(p->task, p->kick_signo);
}

/* Nanoseconds until the next sample. */
static u64 sigwake_preempt_next(struct sigwake_preempt *p, u64 budget)
{
	u64 period = sigwake_preempt_period(budget);

	if (!p->in_stint || p->fired)
		return period;
	if (p->stint_ns >= budget)
		return SIGWAKE_PREEMPT_MIN_PERIOD_NS;
	return clamp_t(u64, budget - p->stint_ns,
		       SIGWAKE_PREEMPT_MIN_PERIOD_NS, period);
}

static enum hrtimer_restart sigwake_preempt_timer(struct hrtimer *timer)
{
	struct sigwake_preempt *p = container_of(timer, struct sigwake_preempt,
						 timer);
	u64 budget = READ_ONCE(p->budget_ns), next;
	ktime_t now = ktime_get();

	if (!budget || !p->on_cpu)
		return HRTIMER_NORESTART;
	if (sigwake_preempt_sample(p, now, budget))
		sigwake_preempt_fire(p);
	next = sigwake_preempt_next(p, budget);
	hrtimer_forward_now(timer, ns_to_ktime(next));
	return HRTIMER_RESTART;
}

static void sigwake_preempt_start(struct sigwake_preempt *p)
{
	u64 budget = READ_ONCE(p->budget_ns);
	ktime_t now = ktime_get();

	p->on_cpu = true;
	/* After an exec the watch is idle: the program is not the domain's. */
	if (!budget || !sigwake_task_in_domain(p->task, p->dom))
		return;
	/*
	 * Time off the CPU is not the thread's: restart the clock now.  A
	 * stint that is already over budget is kicked from the timer, which
	 * the next line makes fire at once: no signal from scheduler context.
	 */
	p->last = now;
	sigwake_preempt_sample(p, now, budget);
	hrtimer_start(&p->timer, ns_to_ktime(sigwake_preempt_next(p, budget)),
		      HRTIMER_MODE_REL_PINNED);
}

static void sigwake_preempt_sched_in(struct preempt_notifier *pn, int cpu)
{
	sigwake_preempt_start(container_of(pn, struct sigwake_preempt, pn));
}

static void sigwake_preempt_sched_out(struct preempt_notifier *pn,
				      struct task_struct *next)
{
	struct sigwake_preempt *p = container_of(pn, struct sigwake_preempt,
						 pn);
	u64 budget = READ_ONCE(p->budget_ns);

	p->on_cpu = false;
	hrtimer_try_to_cancel(&p->timer);
	/* Account the last slice; a kick due waits for the next CPU. */
	if (budget)
		sigwake_preempt_sample(p, ktime_get(), budget);
}

static struct preempt_ops sigwake_preempt_ops = {
	.sched_in = sigwake_preempt_sched_in,
	.sched_out = sigwake_preempt_sched_out,
};

/*
 * Remove the current task's watches: all of them (@idle_only false, at
 * exit), or only those whose registration has ended.  Runs in the task
 * with preemption off, so that no context switch walks the list while it
 * changes; everything here may run in atomic context.
 */
static void sigwake_preempt_detach(bool idle_only)
{
	struct preempt_notifier *pn;
	struct hlist_node *next;
	struct sigwake_preempt *p;
	struct sigwake_thread *t;
	unsigned long flags;

	preempt_disable();
	hlist_for_each_entry_safe(pn, next, &current->preempt_notifiers, link) {
		if (pn->ops != &sigwake_preempt_ops)
			continue;
		p = container_of(pn, struct sigwake_preempt, pn);
		t = p->t;
		if (idle_only && !READ_ONCE(t->dead))
			continue;
		preempt_notifier_unregister(pn);
		p->on_cpu = false;
		hrtimer_cancel(&p->timer);

		spin_lock_irqsave(&t->lock, flags);
		t->preempt = NULL;
		spin_unlock_irqrestore(&t->lock, flags);

		put_page(p->block_page);
		if (p->kick_page)
			put_page(p->kick_page);
		sigwake_thread_put(t);
		sigwake_domain_put(p->dom);
		kfree(p);
		atomic_long_dec(&sigwake_live.preempt_watches);
		module_put(THIS_MODULE);
	}
	preempt_enable();
}

/*
 * Runs in @t's task: add the notifier, or just update the budget.  @p is a
 * watch the caller allocated, so that it could report ENOMEM; or NULL from
 * the task work, which has nobody to report to: a failure there leaves the
 * budget recorded and the watch absent, and the next PREEMPT tries again.
 */
static void sigwake_preempt_attach(struct sigwake_thread *t,
				   struct sigwake_preempt *p)
{
	unsigned long flags;
	u64 budget;

	/*
	 * A watch stays on its task after its registration ends (only the
	 * task may remove it): drop such idle ones now, so that a thread that
	 * registers and closes again and again holds one at most.
	 */
	sigwake_preempt_detach(true);
	if (!p)
		p = kzalloc(sizeof(*p), GFP_KERNEL);
	if (!p)
		return;

	spin_lock_irqsave(&t->lock, flags);
	budget = t->preempt_budget;
	if (t->dead || t->preempt || !budget) {
		spin_unlock_irqrestore(&t->lock, flags);
		kfree(p);
		return;
	}
	p->blk = t->blk;
	p->block_page = virt_to_page(t->blk);
	get_page(p->block_page);
	if (t->kick_byte) {
		p->kick_byte = t->kick_byte;
		p->kick_page = virt_to_page(t->kick_byte);
		get_page(p->kick_page);
	}
	refcount_inc(&t->ref);
	p->t = t;
	refcount_inc(&t->dom->ref);
	p->dom = t->dom;
	p->task = current;
	p->kick_signo = t->kick_signo;
	p->budget_ns = budget;
	t->preempt = p;
	spin_unlock_irqrestore(&t->lock, flags);

	__module_get(THIS_MODULE);
	atomic_long_inc(&sigwake_live.preempt_watches);
	hrtimer_init(&p->timer, CLOCK_MONOTONIC, HRTIMER_MODE_REL_PINNED);
	p->timer.function = sigwake_preempt_timer;
	preempt_notifier_init(&p->pn, &sigwake_preempt_ops);

	preempt_disable();
	preempt_notifier_register(&p->pn);
	sigwake_preempt_start(p);
	preempt_enable();
}

static void sigwake_preempt_task_work(struct callback_head *work)
{
	struct sigwake_thread *t = container_of(work, struct sigwake_thread,
						preempt_work);
	unsigned long flags;

	spin_lock_irqsave(&t->lock, flags);
	t->preempt_queued = false;
	spin_unlock_irqrestore(&t->lock, flags);

	sigwake_preempt_attach(t, NULL);
	sigwake_thread_put(t);
	module_put(THIS_MODULE);
}

/**
 * sigwake_preempt_exit() - the current task exits: drop its notifiers
 *
 * Called from the exit probe, in the exiting task, in atomic context, before
 * the task's last trip through the scheduler.
 */
void sigwake_preempt_exit(void)
{
	sigwake_preempt_detach(false);
}

/*
 * Set @t's budget; called with t->lock held.  Returns true if the caller
 * must attach the notifier in the current task (the target is current).
 */
static bool sigwake_preempt_set_locked(struct sigwake_thread *t, u64 budget)
{
	lockdep_assert_held(&t->lock);

	t->preempt_budget = budget;
	if (t->preempt) {
		WRITE_ONCE(t->preempt->budget_ns, budget);
		return false;
	}
	if (!budget || t->preempt_queued)
		return false;
	if (t->task == current)
		return true;
	refcount_inc(&t->ref);
	if (task_work_add(t->task, &t->preempt_work, TWA_SIGNAL)) {
		refcount_dec(&t->ref);	/* exiting: the exit probe reaps it */
		return false;
	}
	/* The work runs whenever the task next returns to user: keep our text. */
	__module_get(THIS_MODULE);
	t->preempt_queued = true;
	return false;
}

/*
 * Does setting @budget on @t make the caller attach a new watch?  Only @t's
 * own task adds or drops its watch, so for the caller's thread the answer
 * cannot change before sigwake_preempt_one() runs.
 */
static bool sigwake_preempt_needs_watch(struct sigwake_thread *t, u64 budget)
{
	return budget && READ_ONCE(t->task) == current &&
	       !READ_ONCE(t->preempt);
}

/*
 * Allocate *@pp if @t is the caller's thread and needs a new watch, so that
 * ENOMEM comes before anything changes.
 */
static int sigwake_preempt_reserve(struct sigwake_thread *t, u64 budget,
				   struct sigwake_preempt **pp)
{
	if (*pp || !sigwake_preempt_needs_watch(t, budget))
		return 0;
	*pp = kzalloc(sizeof(**pp), GFP_KERNEL);
	return *pp ? 0 : -ENOMEM;
}

/*
 * Set @budget on @t.  *@pp is a watch allocated in advance for the caller's
 * own thread (or NULL); it is used, and *@pp cleared, if @t needs it.
 */
static int sigwake_preempt_one(struct sigwake_thread *t, u64 budget,
			       struct sigwake_preempt **pp)
{
	unsigned long flags;
	bool attach = false;
	int ret = 0;

	spin_lock_irqsave(&t->lock, flags);
	if (t->dead)
		ret = t->exited ? -ESRCH : -ENOENT;
	else
		attach = sigwake_preempt_set_locked(t, budget);
	spin_unlock_irqrestore(&t->lock, flags);
	if (attach) {
		sigwake_preempt_attach(t, *pp);
		*pp = NULL;
	} else if (!ret && budget && READ_ONCE(t->task) == current &&
		   t->preempt) {
		/*
		 * The caller's own watch (only it changes t->preempt): start
		 * the clock now, not at its next context switch, which a
		 * CPU-bound thread on a quiet CPU may not have for long (a
		 * running clock is left alone).  A watch of another thread
		 * starts at that thread's next switch.
		 */
		preempt_disable();
		if (!hrtimer_is_queued(&t->preempt->timer))
			sigwake_preempt_start(t->preempt);
		preempt_enable();
	}
	return ret;
}

/**
 * sigwake_preempt_set() - SIGWAKE_IOC_PREEMPT
 * @dom: the domain
 * @args: the validated-by-us arguments
 *
 * Return: 0 or a negative errno.
 */
int sigwake_preempt_set(struct sigwake_domain *dom,
			struct sigwake_preempt_args *args)
{
	struct sigwake_preempt *p = NULL;
	struct sigwake_thread *t;
	unsigned long index;
	int ret;

	if (args->flags || args->pad)
		return -EINVAL;
	if (args->budget_ns && args->budget_ns < SIGWAKE_PREEMPT_MIN_BUDGET_NS)
		return -EINVAL;

	if (args->target != SIGWAKE_TARGET_ALL) {
		t = sigwake_thread_get(dom, args->target);
		if (IS_ERR(t))
			return PTR_ERR(t);
		ret = sigwake_preempt_reserve(t, args->budget_ns, &p);
		if (!ret)
			ret = sigwake_preempt_one(t, args->budget_ns, &p);
		kfree(p);
		sigwake_thread_put(t);
		return ret;
	}

	mutex_lock(&dom->lock);
	xa_for_each_marked(&dom->threads, index, t, SIGWAKE_XA_LIVE) {
		ret = sigwake_preempt_reserve(t, args->budget_ns, &p);
		if (ret) {
			mutex_unlock(&dom->lock);
			return ret;
		}
	}
	WRITE_ONCE(dom->preempt_all, args->budget_ns);
	xa_for_each_marked(&dom->threads, index, t, SIGWAKE_XA_LIVE)
		sigwake_preempt_one(t, args->budget_ns, &p);
	mutex_unlock(&dom->lock);
	kfree(p);
	return 0;
}

/**
 * sigwake_preempt_prealloc() - the watch a registration in @dom will need
 * @dom: the domain the caller is about to register in
 *
 * Return: NULL if the domain has no budget for all threads, a watch to pass
 * to sigwake_preempt_registered() (or kfree()), or ERR_PTR(-ENOMEM).
 */
struct sigwake_preempt *sigwake_preempt_prealloc(struct sigwake_domain *dom)
{
	struct sigwake_preempt *p;

	if (!READ_ONCE(dom->preempt_all))
		return NULL;
	p = kzalloc(sizeof(*p), GFP_KERNEL);
	return p ?: ERR_PTR(-ENOMEM);
}

/**
 * sigwake_preempt_registered() - a thread just registered itself
 * @dom: its domain, whose lock the caller does not hold
 * @t: the new registration; current is its task
 * @p: from sigwake_preempt_prealloc(); consumed
 */
void sigwake_preempt_registered(struct sigwake_domain *dom,
				struct sigwake_thread *t,
				struct sigwake_preempt *p)
{
	u64 budget = READ_ONCE(dom->preempt_all);

	if (budget)
		sigwake_preempt_one(t, budget, &p);
	kfree(p);
}

/**
 * sigwake_preempt_released() - a registration ends: its watch goes idle
 * @t: the thread, with its lock held
 */
void sigwake_preempt_released(struct sigwake_thread *t)
{
	lockdep_assert_held(&t->lock);
	t->preempt_budget = 0;
	if (t->preempt)
		WRITE_ONCE(t->preempt->budget_ns, 0);
}

void sigwake_preempt_thread_init(struct sigwake_thread *t)
{
	init_task_work(&t->preempt_work, sigwake_preempt_task_work);
}

bool sigwake_preempt_available(void)
{
	return true;
}

void sigwake_preempt_module_init(void)
{
	preempt_notifier_inc();
}

void sigwake_preempt_module_exit(void)
{
	preempt_notifier_dec();
}

#else /* !CONFIG_PREEMPT_NOTIFIERS */

int sigwake_preempt_set(struct sigwake_domain *dom,
			struct sigwake_preempt_args *args)
{
	return -EOPNOTSUPP;
}

void sigwake_preempt_exit(void)
{
}

struct sigwake_preempt *sigwake_preempt_prealloc(struct sigwake_domain *dom)
{
	return NULL;
}

void sigwake_preempt_registered(struct sigwake_domain *dom,
				struct sigwake_thread *t,
				struct sigwake_preempt *p)
{
}

void sigwake_preempt_released(struct sigwake_thread *t)
{
}

void sigwake_preempt_thread_init(struct sigwake_thread *t)
{
}

bool sigwake_preempt_available(void)
{
	return false;
}

void sigwake_preempt_module_init(void)
{
}

void sigwake_preempt_module_exit(void)
{
}

#endif /* CONFIG_PREEMPT_NOTIFIERS */
