// SPDX-License-Identifier: GPL-2.0
/*
 * SIGWAKE_IOC_WAIT: the calling thread's pre-sleep checks and its sleep.
 *
 * The checks and the step into the sleep window are one critical section
 * under the thread's lock (and the queue's, with a queue): see thread.c for
 * the rule that makes every event lossless.
 */

#include <linux/hrtimer.h>
#include <linux/overflow.h>
#include <linux/sched/signal.h>
#include <linux/uaccess.h>

#include "core.h"
#include "trace.h"

/* The caller's own registration in @dom, with a reference. */
static struct sigwake_thread *sigwake_thread_self(struct sigwake_domain *dom)
{
	struct sigwake_thread *t;

	rcu_read_lock();
	t = xa_load(&dom->tids, current->pid);
	if (t && (READ_ONCE(t->task) != current ||
		  !refcount_inc_not_zero(&t->ref)))
		t = NULL;
	rcu_read_unlock();
	return t;
}

static void sigwake_set_state(struct sigwake_thread *t, u32 state)
{
	lockdep_assert_held(&t->lock);
	if (!t->dead)
		WRITE_ONCE(t->blk->state, state);
}

/*
 * Stamp the thread as waiting since now, for a process-directed post's
 * "longest waiter first", and collect the process-directed signals that
 * were queued while every thread blocked them.  Once per WAIT, under the
 * thread's lock, before the pre-sleep checks (which see what it collected
 * as pending).  The stamp is cleared when the WAIT returns.
 *
 * A post that queues a signal races with this without a common lock: the
 * stamp is stored before the queue is read (A), the post adds to the queue
 * before it reads the stamps (B in sigwake_post_waiters()), so this WAIT
 * sees the bit or the post sees the stamp.  Both take the bit out with
 * atomic64_fetch_andnot(), so it is had once.
 */
static void sigwake_waiter_enter(struct sigwake_domain *dom,
				 struct sigwake_thread *t)
{
	u64 claim;

	lockdep_assert_held(&t->lock);
	if (t->dead)
		return;
	atomic64_set(&t->wait_stamp, atomic64_inc_return(&dom->wait_seq));
	/* A: the stamp before the queue.  Pairs with B in post.c. */
	smp_mb();
	claim = atomic64_read(&dom->queued);
	if (likely(!claim))
		return;
	claim &= ~READ_ONCE(t->blk->blocked);
	if (claim)
		claim &= atomic64_fetch_andnot(claim, &dom->queued);
	if (claim)
		atomic64_or(claim, (atomic64_t *)&t->blk->pending);
}

/* The queue's lock (if any), then the thread's. */
static void sigwake_lock_wait(struct sigwake_wq *wq, struct sigwake_thread *t,
			      unsigned long *flags)
	__acquires(&wq->lock) __acquires(&t->lock)
{
	if (wq) {
		spin_lock_irqsave(&wq->lock, *flags);
		raw_spin_lock(&t->lock);
	} else {
		__acquire(&wq->lock);
		raw_spin_lock_irqsave(&t->lock, *flags);
	}
}

static void sigwake_unlock_wait(struct sigwake_wq *wq,
				struct sigwake_thread *t, unsigned long flags)
	__releases(&t->lock) __releases(&wq->lock)
{
	if (wq) {
		raw_spin_unlock(&t->lock);
		spin_unlock_irqrestore(&wq->lock, flags);
	} else {
		raw_spin_unlock_irqrestore(&t->lock, flags);
		__release(&wq->lock);
	}
}

/*
 * The pre-sleep checks that come before the word's, in the uapi header's
 * order: a reason or a negative errno, or 0.  Under the locks for
 * sigwake_wait_check(), without them for sigwake_word_changed().
 */
static int sigwake_check_before_word(struct sigwake_thread *t,
				     struct sigwake_wq *wq,
				     unsigned int flushes)
{
	struct sigwake_thread_block *blk = t->blk;

	/* Pairs with sigwake_domain_flush(): see there. */
	if (READ_ONCE(t->dom->flushes) != flushes)
		return -EBADF;
	if (READ_ONCE(t->dead))
		return -EIDRM;
	if (wq && READ_ONCE(wq->dead))
		return -EIDRM;
	if (READ_ONCE(blk->pending) & ~READ_ONCE(blk->blocked))
		return SIGWAKE_REASON_SIGNAL;
	if (READ_ONCE(blk->flags) & SIGWAKE_TF_KICKED)
		return SIGWAKE_REASON_KICK;
	return 0;
}

/*
 * The pre-sleep checks, in the order the uapi header gives.  Returns a
 * reason or a negative errno to end the wait at once, or 0 to sleep.
 */
static int sigwake_wait_check(struct sigwake_thread *t, struct sigwake_wq *wq,
			      u32 expected, const ktime_t *deadline,
			      unsigned int flushes)
{
	int ret = sigwake_check_before_word(t, wq, flushes);

	if (ret)
		return ret;
	if (wq && wq->kword && READ_ONCE(*wq->kword) != expected)
		return -EAGAIN;
	if (t->fd_event)
		return SIGWAKE_REASON_FD;
	if (deadline && ktime_compare(*deadline, ktime_get()) <= 0)
		return SIGWAKE_REASON_TIMEOUT;
	return 0;
}

/*
 * Sleep until woken (@t->wake), a descriptor's hint (@t->fd_event), a host
 * signal or the deadline.  Returns 0 for the first two, else
 * SIGWAKE_REASON_TIMEOUT or -ERESTARTSYS.
 */
/*
 * The word changed before this WAIT listed itself: EAGAIN without a lock,
 * as futex_wait() reads the word before it queues.  The word is read
 * first, then every check that sigwake_wait_check() makes before the
 * word's.  Each of those conditions (a close, UNREGISTER or exit,
 * WQ_DESTROY, an unblocked posted signal, a kick), once true, stays true
 * while this thread is inside the call: others set them, only the thread
 * takes them back.  So a condition found clear after the word was read
 * was clear when it was read, and EAGAIN is what the checks in the
 * header's order would have answered at that moment (model/: the
 * early_eagain assertion, and REVERT_EARLY_ORDER, the other order, which
 * fails it).  Nothing is lost: a post or kick that lands meanwhile finds
 * the thread not waiting and leaves its bit for the next check.  A word
 * that still matches, or anything else, takes the locked path.  Without
 * the thread's lock a release (UNREGISTER, close) may mark @t dead and
 * unpin its block between the look at @dead and the reads of the block:
 * those reads stay within memory because @t keeps a reference to the
 * block's page until a grace period after its last put (@blk), and this
 * WAIT holds @t or reads it under rcu_read_lock(); @wq's word likewise
 * (@kword).
 */
static bool sigwake_word_changed(struct sigwake_thread *t,
				 struct sigwake_wq *wq, u32 expected,
				 unsigned int flushes)
{
	struct sigwake_thread_block *blk = t->blk;

	if (!wq || !wq->kword || READ_ONCE(*wq->kword) == expected)
		return false;
	/* The word before the rest: see above. */
	smp_rmb();
	if (sigwake_check_before_word(t, wq, flushes))
		return false;
	/*
	 * Check 1, signals queued for the domain that this thread would
	 * collect: the locked path collects them and answers SIGNAL.
	 */
	if (atomic64_read(&t->dom->queued) & ~READ_ONCE(blk->blocked))
		return false;
	/*
	 * WAIT returns in host.  Only this thread and its own calls write
	 * the state while it is not WAITING; the lock is for the posters
	 * that read it to choose a class.
	 */
	if (READ_ONCE(blk->state) != SIGWAKE_RUNNING_IN_HOST) {
		unsigned long flags;

		raw_spin_lock_irqsave(&t->lock, flags);
		sigwake_set_state(t, SIGWAKE_RUNNING_IN_HOST);
		raw_spin_unlock_irqrestore(&t->lock, flags);
	}
	return true;
}

static int sigwake_sleep(struct sigwake_thread *t, const ktime_t *deadline)
{
	ktime_t expires;
	int ret = 0;

	for (;;) {
		set_current_state(TASK_INTERRUPTIBLE);
		if (READ_ONCE(t->wake) || READ_ONCE(t->fd_event))
			break;
		if (signal_pending(current)) {
			ret = -ERESTARTSYS;
			break;
		}
		if (ret)
			break;
		if (deadline) {
			expires = *deadline;
			if (!schedule_hrtimeout_range(&expires,
						      current->timer_slack_ns,
						      HRTIMER_MODE_ABS))
				ret = SIGWAKE_REASON_TIMEOUT;
		} else {
			schedule();
		}
	}
	__set_current_state(TASK_RUNNING);
	return ret;
}

/**
 * sigwake_thread_fd_event() - a descriptor of @t's WAIT may be ready
 * @t: the thread, referenced by its WAIT
 *
 * Called from wait-queue callbacks, in any context.  This is a hint, as a
 * wake-up is for poll(2): the sleeper looks at its descriptors and either
 * ends its wait with REASON_FD or sleeps on.  It stays WAITING, and on its
 * queue, meanwhile, so a WAKE or POST in that window still reaches it.
 */
void sigwake_thread_fd_event(struct sigwake_thread *t)
{
	unsigned long flags;

	raw_spin_lock_irqsave(&t->lock, flags);
	t->fd_event = true;
	if (t->waiting && !t->wake)
		wake_up_process(t->task);
	raw_spin_unlock_irqrestore(&t->lock, flags);
}

static void sigwake_set_fd_event(struct sigwake_thread *t, bool ready)
{
	unsigned long flags;

	raw_spin_lock_irqsave(&t->lock, flags);
	t->fd_event = ready;
	raw_spin_unlock_irqrestore(&t->lock, flags);
}

/*
 * Act on a hint: clear it, then look (sigwake_fdwait_poll()).  A callback
 * after the clear sets it again, for the next check, so nothing is missed.
 */
static bool sigwake_fd_ready(struct sigwake_thread *t,
			     struct sigwake_fdwait *fw)
{
	sigwake_set_fd_event(t, false);
	return fw && sigwake_fdwait_poll(fw);
}

/**
 * struct sigwake_handoff - the WAKE of a hand-off (SIGWAKE_WAIT_WAKE_FIRST)
 * @wq: the queue to wake, referenced
 * @nr: the most threads to wake
 * @woken: out: how many were woken
 * @done: out: the wake ran (@woken is set), so the call must not repeat it
 */
struct sigwake_handoff {
	struct sigwake_wq *wq;
	u32 nr;
	u32 woken;
	bool done;
};

/**
 * sigwake_thread_wait() - SIGWAKE_IOC_WAIT for the calling thread
 * @dom: the domain
 * @wq: the queue (referenced by the caller), or NULL
 * @expected: the value @wq's word must hold
 * @deadline: absolute CLOCK_MONOTONIC deadline, or NULL for none
 * @fw: file descriptors to watch, prepared; or NULL
 * @flushes: @dom->flushes when the WAIT started: a close(2) by the owner
 *	since then ends it with EBADF
 * @ho: a WAKE to run before the checks, or NULL
 *
 * Return: a SIGWAKE_REASON_* or a negative errno.
 */
static int sigwake_thread_wait(struct sigwake_domain *dom,
			       struct sigwake_wq *wq, u32 expected,
			       const ktime_t *deadline,
			       struct sigwake_fdwait *fw, unsigned int flushes,
			       struct sigwake_handoff *ho)
{
	struct sigwake_wq *lwq;
	struct sigwake_thread *t;
	unsigned long flags;
	bool fd_ready;
	int ret, slept;

	t = sigwake_thread_self(dom);
	if (!t)
		return -ENOENT;
	this_cpu_inc(dom->stats->waits);
	atomic64_inc(&t->stats.waits);
	trace_wait_begin(dom->id, t->handle, wq ? wq->handle : SIGWAKE_NO_WQ,
			 expected, deadline);

	/*
	 * Without descriptors nobody sets the hint (the last WAIT's were
	 * disarmed before it returned): a clear one needs no lock.
	 */
	if (fw || READ_ONCE(t->fd_event))
		sigwake_set_fd_event(t, false);
	if (fw && sigwake_fdwait_arm(fw, t)) {
		/* As poll(2): no memory for a wait entry fails the call. */
		if (fw->error) {
			ret = fw->error;
			sigwake_fdwait_disarm(fw);
			goto out_put;
		}
		sigwake_set_fd_event(t, true);
	}

	/*
	 * The hand-off's WAKE: after everything that can fail the call
	 * without waiting, before this thread joins any queue, so it never
	 * wakes itself.  sigwake_wq_wake() orders the caller's store to the
	 * partner's word before its look at the partner's queue, as for
	 * SIGWAKE_IOC_WAKE; the partner handing back stores to our word
	 * before it wakes our queue, and our checks below read that word
	 * after listing us (or under the queue's lock, without a word).
	 */
	if (ho) {
		ho->woken = sigwake_wq_wake(ho->wq, ho->nr);
		ho->done = true;
	}

	/* A plain WAIT looked already, before any reference was taken. */
	if ((fw || ho) && sigwake_word_changed(t, wq, expected, flushes)) {
		ret = -EAGAIN;
		goto out_disarm;
	}

again:
	sigwake_lock_wait(wq, t, &flags);
	if (!atomic64_read(&t->wait_stamp))
		sigwake_waiter_enter(dom, t);
	if (wq && wq->kword) {
		/*
		 * Listed before the word is read, for WAKE's lockless look at
		 * the list.  A WAKE that sees the entry then waits for the
		 * queue's lock, by when the entry is either a waiter or gone
		 * again (a check below ended the wait).
		 */
		list_add_tail(&t->wq_node, &wq->waiters);
		/* Entry before word: pairs with smp_mb() in sigwake_wq_nobody(). */
		smp_mb();
	}
	ret = sigwake_wait_check(t, wq, expected, deadline, flushes);
	if (!ret) {
		t->wake = 0;
		t->waiting = true;
		if (wq && !wq->kword)
			list_add_tail(&t->wq_node, &wq->waiters);
		/*
		 * Listed before WAITING shows: a waker that saw WAITING in
		 * the block and then calls WAKE (a full barrier before its
		 * lockless look at the list) finds the entry.
		 */
		smp_store_release(&t->blk->state, SIGWAKE_WAITING);
	} else {
		if (wq && wq->kword)
			list_del_init(&t->wq_node);
		sigwake_set_state(t, SIGWAKE_RUNNING_IN_HOST);
	}
	sigwake_unlock_wait(wq, t, flags);
	if (ret == SIGWAKE_REASON_FD && !sigwake_fd_ready(t, fw))
		goto again;

	while (!ret) {
		slept = sigwake_sleep(t, deadline);
		fd_ready = false;
		if (READ_ONCE(t->fd_event) && !READ_ONCE(t->wake))
			fd_ready = sigwake_fd_ready(t, fw);

		/*
		 * Taken off its queue already, the thread needs only its own
		 * lock: nobody but itself lists it again.  WAKE and
		 * WQ_DESTROY take it off under the thread's lock in the same
		 * step that decides t->wake (sigwake_wq_take()), so an entry
		 * found gone here is a decision made or under way, and the
		 * thread's lock waits for it to end.
		 */
		lwq = wq && !list_empty_careful(&t->wq_node) ? wq : NULL;
		sigwake_lock_wait(lwq, t, &flags);
		if (fd_ready)
			__sigwake_wake(t, SIGWAKE_REASON_FD, NULL);
		/* An event that raced with the timeout or a host signal wins. */
		ret = t->wake ? t->wake : slept;
		if (ret) {
			t->waiting = false;
			t->wake = 0;
			if (lwq)
				list_del_init(&t->wq_node);
			sigwake_set_state(t, SIGWAKE_RUNNING_IN_HOST);
		}
		sigwake_unlock_wait(lwq, t, flags);
	}

	atomic64_set(&t->wait_stamp, 0);
out_disarm:
	if (fw)
		sigwake_fdwait_disarm(fw);
	if (ret == SIGWAKE_REASON_TIMEOUT) {
		this_cpu_inc(dom->stats->timeouts);
		atomic64_inc(&t->stats.timeouts);
	} else if (ret == -ERESTARTSYS) {
		this_cpu_inc(dom->stats->interrupted);
		atomic64_inc(&t->stats.interrupted);
	}
out_put:
	trace_wait_end(dom->id, t->handle, ret);
	sigwake_thread_put(t);
	return ret;
}

/*
 * A WAIT on a queue with a word, without descriptors or a hand-off, whose
 * word changed: EAGAIN before anything is referenced.  The caller's
 * registration and the queue are looked up under rcu_read_lock(), which
 * keeps their memory and their pages (see @blk and @kword), and
 * sigwake_word_changed() decides as it does for a referenced WAIT.  Any
 * other outcome (not found, a check before the word's fires, the word
 * still matches) leaves the decision to the full path.
 */
static bool sigwake_wait_eagain(struct sigwake_domain *dom,
				const struct sigwake_wait_args *args,
				const ktime_t *deadline, unsigned int flushes)
{
	struct sigwake_thread *t;
	struct sigwake_wq *wq;
	bool changed = false;

	rcu_read_lock();
	t = xa_load(&dom->tids, current->pid);
	if (!t || READ_ONCE(t->task) != current)
		goto out;
	wq = xa_load(&dom->wqs, args->wq);
	if (!wq || !sigwake_word_changed(t, wq, args->expected, flushes))
		goto out;
	changed = true;
	this_cpu_inc(dom->stats->waits);
	atomic64_inc(&t->stats.waits);
	trace_wait_begin(dom->id, t->handle, wq->handle, args->expected,
			 deadline);
	trace_wait_end(dom->id, t->handle, -EAGAIN);
out:
	rcu_read_unlock();
	return changed;
}

/*
 * @a + @b clamped to 0..KTIME_MAX: a time namespace's offset may be
 * negative, and a deadline may be as far as the caller likes.
 */
static ktime_t sigwake_ktime_add_clamp(ktime_t a, ktime_t b)
{
	ktime_t sum;

	if (check_add_overflow(a, b, &sum))
		return b < 0 ? 0 : KTIME_MAX;
	return sum < 0 ? 0 : sum;
}

/*
 * A host signal interrupted the wait.  Rewrite a relative timeout as the
 * absolute deadline in the caller's time namespace, so that neither the
 * automatic restart nor a retry with the same struct extends it; after a
 * hand-off's wake (@handed), turn the struct into a plain WAIT that
 * reports the same @woken, so that neither wakes again.
 */
static int sigwake_wait_restart(struct sigwake_wait_args *args,
				struct sigwake_wait_args __user *uargs,
				const ktime_t *deadline, bool handed)
{
	bool relative = deadline && !(args->flags & SIGWAKE_WAIT_ABSTIME);
	u32 flags = args->flags;
	s64 abs_ns = 0;

	/*
	 * A struct the kernel cannot rewrite (read-only memory) cannot be
	 * restarted without waking again, or waiting the whole timeout
	 * again: the caller gets EINTR instead and decides.  The wake's
	 * fields go first, then the flags, then the deadline: should only
	 * some be written (a struct across a page boundary), a retry fails
	 * (ENOENT: no queue 0 to wake) or only waits, and ends early (a
	 * relative timeout read as a deadline), never late.
	 */
	if (handed) {
		flags &= ~SIGWAKE_WAIT_WAKE_FIRST;
		if (put_user(args->woken, &uargs->woken) ||
		    put_user(0, &uargs->wake_nr) ||
		    put_user(0, &uargs->wake_wq))
			return -EINTR;
	}
	if (relative) {
		ktime_t offset = sigwake_timens_monotonic_offset();

		abs_ns = ktime_to_ns(sigwake_ktime_add_clamp(*deadline,
							     offset));
		flags |= SIGWAKE_WAIT_ABSTIME;
	}
	if (put_user(flags, &uargs->flags) ||
	    (relative && put_user(abs_ns, &uargs->timeout_ns)))
		return -EINTR;
	return -ERESTARTSYS;
}

/**
 * sigwake_wait() - SIGWAKE_IOC_WAIT
 * @dom: the domain
 * @args: the caller's arguments, copied in; @woken is set once a
 *	hand-off's wake ran
 * @uargs: where they came from: an interrupted relative wait is rewritten
 *	there as an absolute one before it restarts, an interrupted hand-off
 *	as a plain wait, and a hand-off whose wait fails gets its @woken
 *
 * Return: a SIGWAKE_REASON_* or a negative errno.
 */
int sigwake_wait(struct sigwake_domain *dom, struct sigwake_wait_args *args,
		 struct sigwake_wait_args __user *uargs)
{
	/* A close(2) from now on ends this WAIT (sigwake_domain_flush()). */
	unsigned int flushes = READ_ONCE(dom->flushes);
	struct sigwake_fdwait fdwait = {}, *fw = NULL;
	struct sigwake_handoff handoff = {}, *ho = NULL;
	struct sigwake_wq *wq = NULL;
	ktime_t deadline, *dl = NULL;
	int ret, err;

	if (args->flags & ~SIGWAKE_WAIT_FLAGS_ALL || args->pad || args->pad2 ||
	    args->pad3)
		return -EINVAL;
	if (args->timeout_ns < 0 && args->timeout_ns != SIGWAKE_TIMEOUT_NONE)
		return -EINVAL;
	/* Strict, so that a later flag may give these fields a meaning. */
	if (!(args->flags & SIGWAKE_WAIT_WAKE_FIRST) &&
	    (args->wake_wq || args->wake_nr))
		return -EINVAL;

	if (args->timeout_ns != SIGWAKE_TIMEOUT_NONE) {
		if (args->flags & SIGWAKE_WAIT_ABSTIME) {
			ktime_t offset = sigwake_timens_monotonic_offset();

			deadline = sigwake_ktime_add_clamp(args->timeout_ns,
							   -offset);
		} else {
			deadline = ktime_add_safe(ktime_get(),
						  ns_to_ktime(args->timeout_ns));
		}
		dl = &deadline;
	}

	if (args->wq != SIGWAKE_NO_WQ && !args->nfds &&
	    !(args->flags & SIGWAKE_WAIT_WAKE_FIRST) &&
	    sigwake_wait_eagain(dom, args, dl, flushes))
		return -EAGAIN;

	if (args->nfds) {
		ret = sigwake_fdwait_prepare(&fdwait, args->fds, args->nfds);
		if (ret)
			return ret;
		fw = &fdwait;
	}

	if (args->wq != SIGWAKE_NO_WQ) {
		wq = sigwake_wq_get(dom, args->wq);
		if (!wq) {
			ret = -ENOENT;
			goto out_fds;
		}
	}
	if (args->flags & SIGWAKE_WAIT_WAKE_FIRST) {
		handoff.wq = sigwake_wq_get(dom, args->wake_wq);
		if (!handoff.wq) {
			ret = -ENOENT;
			goto out_wq;
		}
		handoff.nr = args->wake_nr;
		ho = &handoff;
	}

	ret = sigwake_thread_wait(dom, wq, args->expected, dl, fw, flushes,
				  ho);
	if (ho)
		sigwake_wq_put(ho->wq);
out_wq:
	if (wq)
		sigwake_wq_put(wq);
out_fds:
	err = sigwake_fdwait_finish(&fdwait, ret > 0);
	if (ret > 0 && err)
		ret = err;

	if (handoff.done)
		args->woken = handoff.woken;
	if (ret == -ERESTARTSYS &&
	    (handoff.done || (dl && !(args->flags & SIGWAKE_WAIT_ABSTIME))))
		return sigwake_wait_restart(args, uargs, dl, handoff.done);
	/* The wake ran: its count goes back even when the wait failed. */
	if (ret < 0 && handoff.done && put_user(args->woken, &uargs->woken))
		return -EFAULT;
	return ret;
}
