// SPDX-License-Identifier: GPL-2.0
/*
 * SIGWAKE_IOC_PREEMPT: kick a thread that stayed in guest code for more than
 * a budget of its own CPU time, with no syscall on guest entry or exit.
 *
 * A preempt notifier on the thread's task tells us when it gets a CPU and
 * when it loses it; while it has one and has a budget, an hrtimer samples
 * the state word of its block (budget / 8 apart).  The time between two
 * samples that both saw RUNNING_IN_GUEST with the same entry_seq is guest
 * time of one stint; time off the CPU is never counted.  When a stint
 * reaches the budget the thread is kicked with SIGWAKE_TF_PREEMPTED.
 *
 * The timer runs in hard-IRQ context on every kernel, PREEMPT_RT included
 * (HRTIMER_MODE_*_HARD): there a timer of the default mode runs in a
 * thread, and waking that thread takes the watched task off its CPU (its
 * sched_out), so a thread spinning in guest code was never preempted.
 * The timer decides and marks the block under the watch's raw lock; the
 * kick signal, whose sending takes the target's siglock (a sleeping lock
 * on PREEMPT_RT), follows from the watch's irq_work, which runs in a
 * thread there and in hard IRQ elsewhere.
 *
 * A preempt notifier can only be added to and removed from the current
 * task, so every REGISTER attaches one (the "watch") to the registering
 * task, budget or not; PREEMPT, from any thread, only sets the budget of
 * an existing watch, and arms its timer if the task is on a CPU.  No task
 * work is ever queued on another thread: that would interrupt its
 * interruptible sleeps (TWA_SIGNAL) or wait for its next return to user
 * mode, and its epilogue would run in module text with no module
 * reference left.
 *
 * The watch takes no reference on the pages it writes.  It reaches the
 * block and the kick byte only through @blk and @kick_byte under its @lock,
 * and the release of the registration clears both under that lock before
 * the pages are unpinned: nothing is written after UNREGISTER returns, and
 * no page outlives its RLIMIT_MEMLOCK charge.
 *
 * A watch is removed only in its own task: when the task exits (the exit
 * probe), or, once its registration has ended (idle), at the task's next
 * REGISTER or UNREGISTER.  Until then it holds a module reference, taken
 * and dropped by the task itself in an ioctl or in the exit probe (which
 * module unload synchronizes with), so sigwake cannot be unloaded under it.
 */

#include <linux/hrtimer.h>
#include <linux/irq_work.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/preempt.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>

#include "core.h"
#include "trace.h"

#ifdef CONFIG_PREEMPT_NOTIFIERS

/* Hard IRQ on PREEMPT_RT too: see the top of this file. */
#define SIGWAKE_PREEMPT_TIMER_MODE	HRTIMER_MODE_REL_PINNED_HARD

/**
 * struct sigwake_preempt - the preemption watch on one registered thread
 * @pn: on the task's preempt notifier list
 * @timer: samples the state word while the task is on a CPU (hard IRQ)
 * @kick_work: sends the kick signal the timer decided on
 * @free_work: frees the watch when its task's exit removed it
 * @lock: protects everything below it.  Taken by the notifier callbacks
 *	(sched_out runs under the runqueue lock), the timer (hard IRQ) and
 *	the budget setter, so it is innermost and raw: nothing is woken,
 *	signalled or locked under it but the timer's own base, and
 *	@kick_work queued.
 * @t: the registration (referenced), whose @preempt points back here;
 *	NULL once the registration ended (the watch is idle): from then on
 *	the watch holds no reference on it or on @dom
 * @dom: for the counters and the exec check (referenced); NULL when idle
 * @task: the task the notifier is on
 * @blk: kernel alias of the thread block while the registration holds it
 *	pinned; NULL from its release on
 * @kick_byte: kernel alias of the kick byte, the same way; or NULL
 * @kick_signo: the thread's kick signal
 * @kick_due: the signal @kick_work is to send to @task, 0 for none; set
 *	by the timer, cleared by @kick_work and when the watch is removed
 * @budget_ns: 0 while off
 * @on_cpu: the task holds a CPU (between sched_in and sched_out)
 * @in_stint: the last sample saw RUNNING_IN_GUEST
 * @fired: this stint was kicked already
 * @seq: entry_seq when the stint started
 * @stint_ns: guest CPU time of the stint so far
 * @last: time of the last sample
 */
struct sigwake_preempt {
	struct preempt_notifier pn;
	struct hrtimer timer;
	struct irq_work kick_work;
	struct work_struct free_work;
	raw_spinlock_t lock;		/* see @lock above */
	struct sigwake_thread *t;
	struct sigwake_domain *dom;
	struct task_struct *task;
	struct sigwake_thread_block *blk;
	u8 *kick_byte;
	int kick_signo;
	int kick_due;
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
 * used up the budget.  Called with p->lock held and p->blk set.
 */
static bool sigwake_preempt_sample(struct sigwake_preempt *p, ktime_t now)
{
	u32 state = READ_ONCE(p->blk->state);
	u64 seq = READ_ONCE(p->blk->entry_seq);

	lockdep_assert_held(&p->lock);
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
	return p->in_stint && !p->fired && p->stint_ns >= p->budget_ns;
}

/* Nanoseconds until the next sample; p->lock held. */
static u64 sigwake_preempt_next(struct sigwake_preempt *p)
{
	u64 budget = p->budget_ns, period = sigwake_preempt_period(budget);

	if (!p->in_stint || p->fired)
		return period;
	if (p->stint_ns >= budget)
		return SIGWAKE_PREEMPT_MIN_PERIOD_NS;
	return clamp_t(u64, budget - p->stint_ns,
		       SIGWAKE_PREEMPT_MIN_PERIOD_NS, period);
}

/*
 * Should the clock run?  A budget, a registration, a CPU, and the domain's
 * program: after an exec the watch stays idle.  p->lock held.
 */
static bool sigwake_preempt_armed(struct sigwake_preempt *p)
{
	return p->budget_ns && p->blk && p->on_cpu &&
	       sigwake_task_in_domain(p->task, p->dom);
}

/*
 * (Re)start the clock at @now: sample, and have the timer take the next
 * sample.  A stint already over budget is kicked from the timer, which is
 * then due at once: never from the scheduler or the setter.  p->lock held.
 */
static void sigwake_preempt_start(struct sigwake_preempt *p, ktime_t now)
{
	sigwake_preempt_sample(p, now);
	hrtimer_start(&p->timer, ns_to_ktime(sigwake_preempt_next(p)),
		      SIGWAKE_PREEMPT_TIMER_MODE);
}

/*
 * The stint reached the budget: mark the block and note the signal to
 * send (none if 0), which @kick_work sends once the caller has dropped
 * p->lock.  Returns true if there is one.
 */
static bool sigwake_preempt_fire(struct sigwake_preempt *p)
{
	lockdep_assert_held(&p->lock);
	p->fired = true;
	atomic_or(SIGWAKE_TF_PREEMPTED | SIGWAKE_TF_KICKED,
		  (atomic_t *)&p->blk->flags);
	if (p->kick_byte)
		WRITE_ONCE(*p->kick_byte, 1);
	this_cpu_inc(p->dom->stats->preemptions);
	atomic64_inc(&p->t->stats.preemptions);
	trace_preempt(p->dom->id, p->t->handle, p->budget_ns, p->stint_ns);
	p->kick_due = p->kick_signo;
	return p->kick_due;
}

/*
 * The timer runs in hard IRQ on the CPU that armed it: the task's
 * (sched_in), or that of a thread that set the budget while the task was
 * on a CPU.  Either way every decision is taken under p->lock.
 */
static enum hrtimer_restart sigwake_preempt_timer(struct hrtimer *timer)
{
	struct sigwake_preempt *p = container_of(timer, struct sigwake_preempt,
						 timer);
	unsigned long flags;
	bool kick = false;

	raw_spin_lock_irqsave(&p->lock, flags);
	/*
	 * Re-armed by sched_in or the setter while this callback waited for
	 * the lock: that start stands (and forwarding a queued timer is a
	 * bug).
	 */
	if (!sigwake_preempt_armed(p) || hrtimer_is_queued(timer)) {
		raw_spin_unlock_irqrestore(&p->lock, flags);
		return HRTIMER_NORESTART;
	}
	if (sigwake_preempt_sample(p, ktime_get()))
		kick = sigwake_preempt_fire(p);
	hrtimer_forward_now(timer, ns_to_ktime(sigwake_preempt_next(p)));
	raw_spin_unlock_irqrestore(&p->lock, flags);

	/*
	 * Not from here, nor under p->lock: sending takes the siglock, which
	 * sleeps on PREEMPT_RT, and may wake the task (runqueue lock), under
	 * which sched_out takes p->lock.
	 */
	if (kick)
		irq_work_queue(&p->kick_work);
	return HRTIMER_RESTART;
}

/*
 * Send the kick the timer decided on.  The block was written under
 * p->lock; the signal may come after an UNREGISTER that raced with the
 * timer, as a POST's may.  A task that exits or execs first removes its
 * watch, which clears @kick_due under p->lock before the task can be
 * reaped: a task seen with a kick due lives until the RCU read side ends.
 */
static void sigwake_preempt_kick(struct irq_work *work)
{
	struct sigwake_preempt *p = container_of(work, struct sigwake_preempt,
						 kick_work);
	struct task_struct *task;
	unsigned long flags;
	int signo;

	rcu_read_lock();
	raw_spin_lock_irqsave(&p->lock, flags);
	signo = p->kick_due;
	p->kick_due = 0;
	task = p->task;
	raw_spin_unlock_irqrestore(&p->lock, flags);
	if (signo)
		sigwake_send_kick(task, signo);
	rcu_read_unlock();
}

/*
 * Free a removed watch once its kick_work, which may still be queued or
 * running, is done, and drop the module reference it held.  Module unload
 * destroys the workqueue, which waits for this to return.
 */
static void sigwake_preempt_free(struct sigwake_preempt *p)
{
	irq_work_sync(&p->kick_work);
	kfree(p);
	module_put(THIS_MODULE);
}

static void sigwake_preempt_free_work(struct work_struct *work)
{
	sigwake_preempt_free(container_of(work, struct sigwake_preempt,
					  free_work));
}

static void sigwake_preempt_sched_in(struct preempt_notifier *pn, int cpu)
{
	struct sigwake_preempt *p = container_of(pn, struct sigwake_preempt,
						 pn);
	unsigned long flags;

	raw_spin_lock_irqsave(&p->lock, flags);
	p->on_cpu = true;
	if (sigwake_preempt_armed(p)) {
		/* Time off the CPU is not the thread's: restart the clock. */
		p->last = ktime_get();
		sigwake_preempt_start(p, p->last);
	}
	raw_spin_unlock_irqrestore(&p->lock, flags);
}

/* Under the runqueue lock: only p->lock and the timer's base are taken. */
static void sigwake_preempt_sched_out(struct preempt_notifier *pn,
				      struct task_struct *next)
{
	struct sigwake_preempt *p = container_of(pn, struct sigwake_preempt,
						 pn);
	unsigned long flags;

	raw_spin_lock_irqsave(&p->lock, flags);
	/* Account the last slice; a kick due waits for the next CPU. */
	if (sigwake_preempt_armed(p))
		sigwake_preempt_sample(p, ktime_get());
	p->on_cpu = false;
	/* A callback running elsewhere sees !on_cpu and stops. */
	hrtimer_try_to_cancel(&p->timer);
	raw_spin_unlock_irqrestore(&p->lock, flags);
}

static struct preempt_ops sigwake_preempt_ops = {
	.sched_in = sigwake_preempt_sched_in,
	.sched_out = sigwake_preempt_sched_out,
};

/*
 * Set the budget of a watch, from any thread on any CPU; @t's lock held
 * (t->lock -> p->lock).  If the task is on a CPU the clock starts now, not
 * at its next context switch, which a thread that spins in guest code on
 * a quiet CPU may not have for long; the timer then runs on this CPU until
 * the task's next switch.
 */
static void sigwake_preempt_set_budget(struct sigwake_preempt *p, u64 budget)
{
	unsigned long flags;
	u64 old;

	raw_spin_lock_irqsave(&p->lock, flags);
	old = p->budget_ns;
	p->budget_ns = budget;
	/*
	 * No sample is taken without a budget: a stint starts at the first
	 * sample that has one, not at what an older budget saw.
	 */
	if (!old)
		p->in_stint = false;
	if (!sigwake_preempt_armed(p)) {
		/* Off (a callback running elsewhere sees it and stops). */
		hrtimer_try_to_cancel(&p->timer);
	} else if (!old) {
		p->last = ktime_get();
		sigwake_preempt_start(p, p->last);
	} else if (budget != old && hrtimer_try_to_cancel(&p->timer) >= 0) {
		/*
		 * The clock ran all along (on_cpu): account the time since the
		 * last sample and re-time the next one for the new budget.  A
		 * callback that is running (-1) takes the new budget itself.
		 */
		sigwake_preempt_start(p, ktime_get());
	}
	raw_spin_unlock_irqrestore(&p->lock, flags);
}

/*
 * Remove the current task's watches: all of them (@idle_only false, at
 * exit or exec, from a tracepoint probe: atomic context), or only those
 * whose registration has ended (in an ioctl).  Runs in the task itself,
 * which alone changes its notifier list; a context switch walks the list,
 * so a notifier is removed with preemption off.
 */
static void sigwake_preempt_detach(bool idle_only)
{
	struct preempt_notifier *pn;
	struct hlist_node *next;
	struct sigwake_domain *dom;
	struct sigwake_preempt *p;
	struct sigwake_thread *t;
	unsigned long flags;

	hlist_for_each_entry_safe(pn, next, &current->preempt_notifiers, link) {
		if (pn->ops != &sigwake_preempt_ops)
			continue;
		p = container_of(pn, struct sigwake_preempt, pn);
		/* Idle: its registration ended and let go of it (@t NULL). */
		if (idle_only && READ_ONCE(p->t))
			continue;
		preempt_disable();
		preempt_notifier_unregister(pn);
		preempt_enable();

		/*
		 * No callback re-arms the timer after this, and the watch's
		 * references, if its registration still holds it, are ours:
		 * sigwake_preempt_released() takes them under the same lock.
		 */
		raw_spin_lock_irqsave(&p->lock, flags);
		t = p->t;
		dom = p->dom;
		WRITE_ONCE(p->t, NULL);
		p->dom = NULL;
		p->on_cpu = false;
		p->budget_ns = 0;
		p->blk = NULL;
		p->kick_byte = NULL;
		p->kick_due = 0;
		raw_spin_unlock_irqrestore(&p->lock, flags);
		/*
		 * None runs after this (not under p->lock: it waits).  A hard
		 * timer's end is waited for by spinning, fine in atomic
		 * context.
		 */
		hrtimer_cancel(&p->timer);

		if (t) {
			/* No setter finds @p after this. */
			raw_spin_lock_irqsave(&t->lock, flags);
			if (t->preempt == p)
				t->preempt = NULL;
			raw_spin_unlock_irqrestore(&t->lock, flags);
			sigwake_thread_put(t);
			sigwake_domain_put(dom);
		}
		atomic_long_dec(&sigwake_live.preempt_watches);
		/*
		 * In an ioctl (the file holds the module), or, as waiting for
		 * the irq_work may sleep, by a work item for the exit and exec
		 * probes (unload destroys its workqueue, which waits for it).
		 */
		if (idle_only) {
			sigwake_preempt_free(p);
		} else {
			INIT_WORK(&p->free_work, sigwake_preempt_free_work);
			queue_work(sigwake_reap_workqueue, &p->free_work);
		}
	}
}

/**
 * sigwake_preempt_exit() - the current task exits: drop its watches
 *
 * Called from the exit probe, in the exiting task, in atomic context, before
 * the task's last trip through the scheduler.
 */
void sigwake_preempt_exit(void)
{
	sigwake_preempt_detach(false);
}

/**
 * sigwake_preempt_unregistered() - the current task unregistered a thread
 *
 * Drops the caller's idle watches (its own registration's among them, if
 * it unregistered itself).
 */
void sigwake_preempt_unregistered(void)
{
	sigwake_preempt_detach(true);
}

/* Set @budget on @t (never the caller's business whose task @t is). */
static int sigwake_preempt_one(struct sigwake_thread *t, u64 budget)
{
	unsigned long flags;
	int ret = 0;

	raw_spin_lock_irqsave(&t->lock, flags);
	if (t->dead) {
		ret = t->exited ? -ESRCH : -ENOENT;
	} else {
		/* Before its watch is attached, REGISTER picks this up. */
		t->preempt_budget = budget;
		if (t->preempt)
			sigwake_preempt_set_budget(t->preempt, budget);
	}
	raw_spin_unlock_irqrestore(&t->lock, flags);
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
		ret = sigwake_preempt_one(t, args->budget_ns);
		sigwake_thread_put(t);
		return ret;
	}

	/* REGISTER reads @preempt_all under the lock too. */
	ret = mutex_lock_killable(&dom->lock);
	if (ret)
		return ret;
	WRITE_ONCE(dom->preempt_all, args->budget_ns);
	xa_for_each_marked(&dom->threads, index, t, SIGWAKE_XA_LIVE)
		if (!xa_is_value(t))
			sigwake_preempt_one(t, args->budget_ns);
	mutex_unlock(&dom->lock);
	return 0;
}

/**
 * sigwake_preempt_prealloc() - the watch a registration will need
 * @dom: the domain the caller is about to register in
 *
 * Every registration gets a watch, so that PREEMPT never has to ask its
 * task to attach one.  Allocated before anything changes, so that REGISTER
 * can fail with ENOMEM.
 *
 * Return: a watch to pass to sigwake_preempt_registered() (or kfree()), or
 * ERR_PTR(-ENOMEM).
 */
struct sigwake_preempt *sigwake_preempt_prealloc(struct sigwake_domain *dom)
{
	struct sigwake_preempt *p;

	p = kzalloc(sizeof(*p), GFP_KERNEL_ACCOUNT);
	return p ?: ERR_PTR(-ENOMEM);
}

/**
 * sigwake_preempt_registered() - a thread just registered itself
 * @dom: its domain, whose lock the caller does not hold
 * @t: the new registration; current is its task.  Its @preempt_budget was
 *	set from the domain's @preempt_all under the domain's lock, or by a
 *	PREEMPT of its handle since.
 * @p: from sigwake_preempt_prealloc(); consumed
 *
 * Attaches @p to the current task, after dropping the task's idle watches
 * (so that a thread that registers and closes again and again holds at
 * most one per registration it still has).
 */
void sigwake_preempt_registered(struct sigwake_domain *dom,
				struct sigwake_thread *t,
				struct sigwake_preempt *p)
{
	unsigned long flags;

	sigwake_preempt_detach(true);

	raw_spin_lock_init(&p->lock);
	init_irq_work(&p->kick_work, sigwake_preempt_kick);
	hrtimer_setup(&p->timer, sigwake_preempt_timer, CLOCK_MONOTONIC,
		      SIGWAKE_PREEMPT_TIMER_MODE);
	preempt_notifier_init(&p->pn, &sigwake_preempt_ops);
	p->task = current;
	p->dom = dom;
	p->t = t;
	p->kick_signo = t->kick_signo;

	raw_spin_lock_irqsave(&t->lock, flags);
	if (t->dead || WARN_ON_ONCE(t->preempt)) {
		/* Already unregistered by another thread: nothing to watch. */
		raw_spin_unlock_irqrestore(&t->lock, flags);
		kfree(p);
		return;
	}
	refcount_inc(&t->ref);
	refcount_inc(&dom->ref);
	/* The ioctl's file holds the module: this cannot be the first. */
	__module_get(THIS_MODULE);
	atomic_long_inc(&sigwake_live.preempt_watches);
	p->blk = t->blk;
	p->kick_byte = t->kick_byte;
	p->budget_ns = t->preempt_budget;
	/*
	 * The notifier and @on_cpu together, with interrupts (and so
	 * preemption) off, so that no context switch comes in between.
	 */
	preempt_notifier_register(&p->pn);
	raw_spin_lock(&p->lock);
	p->on_cpu = true;
	if (sigwake_preempt_armed(p)) {
		p->last = ktime_get();
		sigwake_preempt_start(p, p->last);
	}
	raw_spin_unlock(&p->lock);
	t->preempt = p;
	raw_spin_unlock_irqrestore(&t->lock, flags);
}

/**
 * sigwake_preempt_released() - a registration ends: its watch goes idle
 * @t: the thread, with its lock held; its caller holds a reference on it
 *	and on its domain
 *
 * Called before the block and kick byte are unpinned.  Once this returns
 * no timer writes into them: the firing path writes only under p->lock,
 * and only while @blk is set.  The watch stays on its task until that
 * task removes it, but keeps nothing: no page, and no reference on the
 * registration or the domain, so that a thread that registered in many
 * domains, closed them and lives on holds only its small watches.
 */
void sigwake_preempt_released(struct sigwake_thread *t)
{
	struct sigwake_preempt *p = t->preempt;
	struct sigwake_thread *held;
	struct sigwake_domain *dom;
	unsigned long flags;

	lockdep_assert_held(&t->lock);
	t->preempt_budget = 0;
	if (!p)
		return;
	raw_spin_lock_irqsave(&p->lock, flags);
	p->budget_ns = 0;
	p->blk = NULL;
	p->kick_byte = NULL;
	/*
	 * Whoever clears @t under p->lock owns the watch's references: we,
	 * or the task's own detach, which may have run just now and not yet
	 * reached t->lock to clear t->preempt.
	 */
	held = p->t;
	dom = p->dom;
	WRITE_ONCE(p->t, NULL);
	p->dom = NULL;
	hrtimer_try_to_cancel(&p->timer);
	raw_spin_unlock_irqrestore(&p->lock, flags);
	t->preempt = NULL;
	if (held) {
		/* Not the last references: the caller holds its own. */
		refcount_dec(&t->ref);
		sigwake_domain_put(dom);
	}
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

void sigwake_preempt_unregistered(void)
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
