// SPDX-License-Identifier: GPL-2.0
/*
 * Registered threads: WAIT, POST and KICK.
 *
 * The rule that makes every event lossless: each decision about a thread is
 * taken under its lock.  WAIT checks the pending signals, the kick flag and
 * the queue word, and marks itself waiting, in one critical section; POST
 * and KICK record the event and then look at whether the thread waits, in
 * another.  Whichever comes second sees the first.
 *
 * The thread block is untrusted: every field is read once per decision, and
 * the kernel's own view of the thread (waiting or not, woken or not) is kept
 * in struct sigwake_thread, never read back from the block.
 */

#include <linux/hrtimer.h>
#include <linux/mm.h>
#include <linux/sched/signal.h>
#include <linux/sched/task.h>
#include <linux/signal.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "core.h"
#include "genl.h"
#include "trace.h"

static u64 sigwake_bit(u32 signo)
{
	return 1ULL << (signo - 1);
}

void sigwake_thread_put(struct sigwake_thread *t)
{
	if (refcount_dec_and_test(&t->ref)) {
		kfree_rcu(t, rcu);
		atomic_long_dec(&sigwake_live.threads);
	}
}

/**
 * sigwake_thread_get() - look a thread up by handle, with a reference
 * @dom: the domain
 * @handle: the thread's handle
 *
 * Return: the thread; ERR_PTR(-ESRCH) for a thread that exited and was
 * reaped (only its handle is left, see sigwake_domain_reap()); or
 * ERR_PTR(-ENOENT).
 */
struct sigwake_thread *sigwake_thread_get(struct sigwake_domain *dom,
					  u32 handle)
{
	struct sigwake_thread *t;

	rcu_read_lock();
	t = xa_load(&dom->threads, handle);
	if (xa_is_value(t))
		t = ERR_PTR(-ESRCH);
	else if (!t || !refcount_inc_not_zero(&t->ref))
		t = ERR_PTR(-ENOENT);
	rcu_read_unlock();
	return t;
}

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
 * End @t's sleep for @reason (a SIGWAKE_REASON_* or a negative errno).
 * Called with t->lock held.  Returns true if this call woke it.
 */
static bool __sigwake_wake(struct sigwake_thread *t, int reason)
{
	lockdep_assert_held(&t->lock);
	if (!t->waiting || t->wake)
		return false;
	t->wake = reason;
	if (!t->dead) {
		WRITE_ONCE(t->blk->state, SIGWAKE_WOKEN);
		WRITE_ONCE(t->blk->wake_seq, READ_ONCE(t->blk->wake_seq) + 1);
	}
	wake_up_process(t->task);
	return true;
}

/**
 * sigwake_thread_wake_one() - end a thread's sleep, if it sleeps
 * @t: the thread
 * @reason: what WAIT returns: a SIGWAKE_REASON_* or a negative errno
 *
 * Return: 1 if @t was asleep and is now woken, else 0.
 */
int sigwake_thread_wake_one(struct sigwake_thread *t, int reason)
{
	unsigned long flags;
	bool woken;

	raw_spin_lock_irqsave(&t->lock, flags);
	woken = __sigwake_wake(t, reason);
	raw_spin_unlock_irqrestore(&t->lock, flags);
	return woken;
}

/**
 * sigwake_thread_release() - end a thread's registration
 * @dom: its domain, whose lock is held
 * @t: the thread
 * @why: what a WAIT in progress returns
 *
 * Marks the thread dead under its lock, after which nobody touches its
 * block or kick byte, then unpins them and drops the task reference.  The
 * handle (the @threads entry) is the caller's business.
 */
void sigwake_thread_release(struct sigwake_domain *dom,
			    struct sigwake_thread *t, int why)
{
	unsigned long flags;

	lockdep_assert_held(&dom->lock);

	raw_spin_lock_irqsave(&t->lock, flags);
	__sigwake_wake(t, why);
	t->dead = true;
	sigwake_preempt_released(t);
	raw_spin_unlock_irqrestore(&t->lock, flags);

	if (t->released)
		return;
	t->released = true;
	sigwake_genl_thread_del(t, why);
	xa_cmpxchg(&dom->tids, t->tid, t, NULL, 0);
	sigwake_unpin(dom, t->blk);
	if (t->kick_byte)
		sigwake_unpin(dom, t->kick_byte);
	/* A sleeping WAIT keeps the task alive: it is that task. */
	put_task_struct(t->task);
}

static bool sigwake_signo_valid(u32 signo)
{
	return signo >= 1 && signo <= SIGWAKE_NSIG;
}

static bool sigwake_kick_signo_valid(u32 signo)
{
	if (!signo)
		return true;
	return valid_signal(signo) && signo != SIGKILL && signo != SIGSTOP;
}

static bool sigwake_uaddr_ok(u64 uaddr, size_t len)
{
	if (uaddr > ULONG_MAX)
		return false;
	return access_ok(u64_to_user_ptr(uaddr), len);
}

int sigwake_thread_register(struct sigwake_domain *dom,
			    struct sigwake_register_args *args)
{
	struct sigwake_thread *t, *old;
	struct sigwake_preempt *pw;
	void *kaddr;
	int ret;

	if (args->flags)
		return -EINVAL;
	if (!args->block ||
	    !IS_ALIGNED(args->block, SIGWAKE_THREAD_BLOCK_ALIGN))
		return -EINVAL;
	if (!sigwake_kick_signo_valid(args->kick_signo))
		return -EINVAL;
	if (!sigwake_uaddr_ok(args->block, SIGWAKE_THREAD_BLOCK_SIZE))
		return -EFAULT;
	if (args->kick_addr && !sigwake_uaddr_ok(args->kick_addr, 1))
		return -EFAULT;

	t = kzalloc(sizeof(*t), GFP_KERNEL_ACCOUNT);
	if (!t)
		return -ENOMEM;
	pw = sigwake_preempt_prealloc(dom);
	if (IS_ERR(pw)) {
		kfree(t);
		return PTR_ERR(pw);
	}
	refcount_set(&t->ref, 1);
	raw_spin_lock_init(&t->lock);
	INIT_LIST_HEAD(&t->wq_node);
	INIT_LIST_HEAD(&t->dom_node);
	t->dom = dom;
	t->task = current;
	t->tid = current->pid;
	t->kick_signo = args->kick_signo;

	/*
	 * Pin before taking the domain lock: a fault on the block may wait
	 * for as long as the memory's owner likes (userfaultfd, a FUSE file),
	 * and nobody else may wait for the lock meanwhile.
	 */
	kaddr = sigwake_pin(dom, args->block);
	if (IS_ERR(kaddr)) {
		ret = PTR_ERR(kaddr);
		goto err_free;
	}
	t->blk = kaddr;
	if (args->kick_addr) {
		kaddr = sigwake_pin(dom, args->kick_addr);
		if (IS_ERR(kaddr)) {
			ret = PTR_ERR(kaddr);
			goto err_unpin_block;
		}
		t->kick_byte = kaddr;
	}

	ret = mutex_lock_killable(&dom->lock);
	if (ret)
		goto err_unpin_kick;
	old = xa_load(&dom->tids, t->tid);
	if (old && old->task == current) {
		ret = -EEXIST;
		goto err_unlock;
	}
	if (old) {
		/* The tid was recycled before the reaper ran: reap it now. */
		sigwake_thread_release(dom, old, -ESRCH);
	}
	if (dom->nr_threads >= READ_ONCE(sigwake_max_threads)) {
		ret = -ENOSPC;
		goto err_unlock;
	}
	/* Under the lock that PREEMPT(TARGET_ALL) holds to change it. */
	t->preempt_budget = dom->preempt_all;

	/*
	 * Only the calling thread looks itself up in @tids, so a failure after
	 * this store concerns nobody else.  @threads is the last step that can
	 * fail: once it succeeds, POST and KICK can find and hold @t.
	 */
	ret = xa_err(xa_store(&dom->tids, t->tid, t, GFP_KERNEL_ACCOUNT));
	if (ret)
		goto err_unlock;
	ret = xa_alloc(&dom->threads, &t->handle, t, xa_limit_31b,
		       GFP_KERNEL_ACCOUNT);
	if (ret) {
		ret = ret == -EBUSY ? -ENOSPC : ret;
		goto err_erase_tid;
	}
	xa_set_mark(&dom->threads, t->handle, SIGWAKE_XA_LIVE);
	get_task_struct(current);
	dom->nr_threads++;
	atomic_long_inc(&sigwake_live.threads);
	sigwake_genl_thread_new(t);
	/* Another thread may UNREGISTER @t as soon as the lock is dropped. */
	args->handle = t->handle;
	refcount_inc(&t->ref);
	mutex_unlock(&dom->lock);

	sigwake_preempt_registered(dom, t, pw);
	sigwake_thread_put(t);
	return 0;

err_erase_tid:
	xa_erase(&dom->tids, t->tid);
err_unlock:
	mutex_unlock(&dom->lock);
err_unpin_kick:
	if (t->kick_byte)
		sigwake_unpin(dom, t->kick_byte);
err_unpin_block:
	sigwake_unpin(dom, t->blk);
err_free:
	kfree(pw);
	kfree(t);
	return ret;
}

/* End @t's registration and free its handle; the caller puts @t. */
static void sigwake_thread_drop(struct sigwake_domain *dom,
				struct sigwake_thread *t)
{
	lockdep_assert_held(&dom->lock);
	xa_erase(&dom->threads, t->handle);
	dom->nr_threads--;
	sigwake_thread_release(dom, t, -EIDRM);
}

int sigwake_thread_unregister(struct sigwake_domain *dom, u32 handle)
{
	struct sigwake_thread *t;
	int ret;

	/* Index 0 is never allocated; erasing it would free it for use. */
	if (!handle)
		return -ENOENT;
	ret = mutex_lock_killable(&dom->lock);
	if (ret)
		return ret;
	t = xa_load(&dom->threads, handle);
	if (!t) {
		mutex_unlock(&dom->lock);
		return -ENOENT;
	}
	if (xa_is_value(t)) {
		/* An exited thread, reaped already: only its handle was left. */
		xa_erase(&dom->threads, handle);
		dom->nr_threads--;
		mutex_unlock(&dom->lock);
		return 0;
	}
	sigwake_thread_drop(dom, t);
	mutex_unlock(&dom->lock);

	sigwake_thread_put(t);
	/* Only a task can drop its watches: the caller's own idle ones. */
	sigwake_preempt_unregistered();
	return 0;
}

/**
 * sigwake_thread_undo_register() - take back a REGISTER whose handle never
 *	reached the caller
 * @dom: the domain
 * @handle: the handle sigwake_thread_register() gave the calling thread
 *
 * Writing the handle back failed.  Once the domain's lock was dropped,
 * another thread may have unregistered @handle and a third registered
 * under the same number (handles are reused lowest first), so the
 * registration is ended only while @handle still holds the caller's own.
 * That can only be the one just made: a thread registers once per domain
 * (EEXIST), and none but the caller registers for it.  A registration made
 * by another thread in the meantime has another task, and that task, alive
 * when it registered, cannot share the caller's task_struct.
 */
void sigwake_thread_undo_register(struct sigwake_domain *dom, u32 handle)
{
	struct sigwake_thread *t;

	mutex_lock(&dom->lock);
	t = xa_load(&dom->threads, handle);
	if (t && !xa_is_value(t) && t->task == current)
		sigwake_thread_drop(dom, t);
	else
		t = NULL;
	mutex_unlock(&dom->lock);

	if (t)
		sigwake_thread_put(t);
}

/*
 * @task, registered in @dom under @tid, is gone from the domain's program
 * (it exited or exec'd).  In tracepoint context, so nothing that sleeps:
 * mark the registration dead and exited under its lock, and leave the rest
 * (unpinning, the task reference) to the domain's reaper.  Called under
 * rcu_read_lock().
 */
static void sigwake_thread_gone(struct sigwake_domain *dom,
				struct task_struct *task, pid_t tid)
{
	struct sigwake_thread *t;
	unsigned long flags;

	t = xa_load(&dom->tids, tid);
	if (!t || READ_ONCE(t->task) != task)
		return;

	raw_spin_lock_irqsave(&t->lock, flags);
	if (t->dead) {
		raw_spin_unlock_irqrestore(&t->lock, flags);
		return;
	}
	t->dead = true;
	t->exited = true;
	raw_spin_unlock_irqrestore(&t->lock, flags);

	if (!refcount_inc_not_zero(&t->ref))
		return;
	if (!refcount_inc_not_zero(&dom->ref)) {
		/* The domain is being torn down: it releases @t. */
		sigwake_thread_put(t);
		return;
	}
	llist_add(&t->exit_node, &dom->exited);
	/* A work already queued holds a domain reference of its own. */
	if (!queue_work(sigwake_reap_workqueue, &dom->reap_work))
		refcount_dec(&dom->ref);
}

/*
 * @task, registered under @tid, leaves its program: drop its preemption
 * watches (it runs this itself) and end its registrations in every domain
 * of its thread group.  Every task exit and exec in the system comes here;
 * a task's own registrations were counted by itself, so it sees them.
 */
static void sigwake_thread_leaves(struct task_struct *task, pid_t tid)
{
	struct sigwake_domain *dom;
	unsigned long index;
	struct pid *tgid;

	sigwake_preempt_exit();
	if (!atomic_long_read(&sigwake_live.threads))
		return;

	tgid = task_tgid(task);
	rcu_read_lock();
	xa_for_each(&sigwake_domains, index, dom) {
		if (dom->tgid == tgid)
			sigwake_thread_gone(dom, task, tid);
	}
	rcu_read_unlock();
}

/*
 * Thread exit.  The probe runs on the sched_process_exit tracepoint, in the
 * exiting task, in atomic context: it marks the thread dead and leaves the
 * rest (unpinning, the task reference) to the domain's reaper.
 */
void sigwake_thread_exit_probe(void *data, SIGWAKE_EXIT_PROBE_ARGS)
{
	sigwake_thread_leaves(task, task->pid);
}

/*
 * Exec.  The probe runs on the sched_process_exec tracepoint, in @task
 * (current), once the new program is in place, in atomic context.  A
 * registration belongs to the program that made it, which is gone: it ends
 * as an exited thread's does, so its pages, their RLIMIT_MEMLOCK charge and
 * the task reference go now, not when the last copy of the file (the new
 * program may hold one) is closed, and its handle answers ESRCH.  The new
 * program is not the owner of any domain (its mm is new), so it cannot
 * have registered; every registration of @task, and every preemption
 * watch on it, is the old program's.
 *
 * de_thread() gave a non-leader that execs its leader's pid: its
 * registration is under @old_pid, the tid it registered with; for the
 * leader, @old_pid is its pid.  The leader's own registration, if the
 * exec'ing thread is not the leader, ended with the leader's exit.
 */
void sigwake_thread_exec_probe(void *data, struct task_struct *task,
			       pid_t old_pid, struct linux_binprm *bprm)
{
	sigwake_thread_leaves(task, old_pid);
}

void sigwake_domain_reap(struct work_struct *work)
{
	struct sigwake_domain *dom = container_of(work, struct sigwake_domain,
						  reap_work);
	struct sigwake_thread *t, *next;
	struct llist_node *list;

	list = llist_del_all(&dom->exited);
	mutex_lock(&dom->lock);
	llist_for_each_entry_safe(t, next, list, exit_node) {
		sigwake_thread_release(dom, t, -ESRCH);
		/*
		 * Free the registration but keep its handle, which answers
		 * ESRCH until it is unregistered: an exited thread must not
		 * hold a whole object (and count) for as long as the domain
		 * lives.  Replacing an entry allocates nothing.
		 */
		xa_lock(&dom->threads);
		if (__xa_cmpxchg(&dom->threads, t->handle, t,
				 xa_mk_value(t->kick_signo), 0) == t) {
			__xa_clear_mark(&dom->threads, t->handle,
					SIGWAKE_XA_LIVE);
			/* The @threads entry's reference; ours is below. */
			refcount_dec(&t->ref);
		}
		xa_unlock(&dom->threads);
		sigwake_thread_put(t);
	}
	mutex_unlock(&dom->lock);
	sigwake_domain_put(dom);
}

/*
 * Publish the thread on the domain's waiter list, so that a process-directed
 * post chooses it, and collect the process-directed signals that were queued
 * while every thread blocked them.  Both under waiters_lock, which is what
 * the post's "everybody blocks it" decision is taken under.
 */
static void sigwake_waiter_enter(struct sigwake_domain *dom,
				 struct sigwake_thread *t)
{
	unsigned long flags;
	u64 claim;

	mutex_lock(&dom->waiters_lock);
	list_add_tail(&t->dom_node, &dom->waiters);
	if (dom->queued) {
		raw_spin_lock_irqsave(&t->lock, flags);
		if (!t->dead) {
			claim = dom->queued & ~READ_ONCE(t->blk->blocked);
			if (claim) {
				dom->queued &= ~claim;
				atomic64_or(claim,
					    (atomic64_t *)&t->blk->pending);
			}
		}
		raw_spin_unlock_irqrestore(&t->lock, flags);
	}
	mutex_unlock(&dom->waiters_lock);
}

static void sigwake_waiter_leave(struct sigwake_domain *dom,
				 struct sigwake_thread *t)
{
	mutex_lock(&dom->waiters_lock);
	list_del_init(&t->dom_node);
	mutex_unlock(&dom->waiters_lock);
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
 * The pre-sleep checks, in the order the uapi header gives.  Returns a
 * reason or a negative errno to end the wait at once, or 0 to sleep.
 */
static int sigwake_wait_check(struct sigwake_thread *t, struct sigwake_wq *wq,
			      u32 expected, const ktime_t *deadline,
			      unsigned int flushes)
{
	struct sigwake_thread_block *blk = t->blk;
	u64 pending, blocked;

	/* Pairs with sigwake_domain_flush(): see there. */
	if (READ_ONCE(t->dom->flushes) != flushes)
		return -EBADF;
	if (t->dead)
		return -EIDRM;
	if (wq && wq->dead)
		return -EIDRM;
	pending = READ_ONCE(blk->pending);
	blocked = READ_ONCE(blk->blocked);
	if (pending & ~blocked)
		return SIGWAKE_REASON_SIGNAL;
	if (READ_ONCE(blk->flags) & SIGWAKE_TF_KICKED)
		return SIGWAKE_REASON_KICK;
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
 * sigwake_thread_wait() - SIGWAKE_IOC_WAIT for the calling thread
 * @dom: the domain
 * @wq: the queue (referenced by the caller), or NULL
 * @expected: the value @wq's word must hold
 * @deadline: absolute CLOCK_MONOTONIC deadline, or NULL for none
 * @fw: file descriptors to watch, prepared; or NULL
 * @flushes: @dom->flushes when the WAIT started: a close(2) by the owner
 *	since then ends it with EBADF
 *
 * Return: a SIGWAKE_REASON_* or a negative errno.
 */
int sigwake_thread_wait(struct sigwake_domain *dom, struct sigwake_wq *wq,
			u32 expected, const ktime_t *deadline,
			struct sigwake_fdwait *fw, unsigned int flushes)
{
	struct sigwake_thread *t;
	unsigned long flags;
	bool fd_ready;
	int ret, slept;

	t = sigwake_thread_self(dom);
	if (!t)
		return -ENOENT;
	atomic64_inc(&dom->stats.waits);
	atomic64_inc(&t->stats.waits);
	trace_wait_begin(dom->id, t->handle, wq ? wq->handle : SIGWAKE_NO_WQ,
			 expected, deadline);

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

	sigwake_waiter_enter(dom, t);

again:
	sigwake_lock_wait(wq, t, &flags);
	ret = sigwake_wait_check(t, wq, expected, deadline, flushes);
	if (!ret) {
		t->wake = 0;
		t->waiting = true;
		if (wq)
			list_add_tail(&t->wq_node, &wq->waiters);
		WRITE_ONCE(t->blk->state, SIGWAKE_WAITING);
	} else {
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

		sigwake_lock_wait(wq, t, &flags);
		if (fd_ready)
			__sigwake_wake(t, SIGWAKE_REASON_FD);
		/* An event that raced with the timeout or a host signal wins. */
		ret = t->wake ? t->wake : slept;
		if (ret) {
			t->waiting = false;
			t->wake = 0;
			if (wq)
				list_del_init(&t->wq_node);
			sigwake_set_state(t, SIGWAKE_RUNNING_IN_HOST);
		}
		sigwake_unlock_wait(wq, t, flags);
	}

	sigwake_waiter_leave(dom, t);
	if (fw)
		sigwake_fdwait_disarm(fw);
	if (ret == SIGWAKE_REASON_TIMEOUT) {
		atomic64_inc(&dom->stats.timeouts);
		atomic64_inc(&t->stats.timeouts);
	} else if (ret == -ERESTARTSYS) {
		atomic64_inc(&dom->stats.interrupted);
		atomic64_inc(&t->stats.interrupted);
	}
out_put:
	trace_wait_end(dom->id, t->handle, ret);
	sigwake_thread_put(t);
	return ret;
}

/*
 * Set while a kick signal is sent, which FORWARD must not route: one mark
 * per CPU and context level, naming the sending task, read by the
 * signal_generate probe at its own level in the task that generates the
 * signal.  A real signal raised meanwhile by an interrupt nested in the
 * kick (a timer, SIGIO) is generated at another level, and one raised by
 * another task (on PREEMPT_RT the sender can be preempted, and interrupt
 * handlers run in threads) is generated by another task: both are
 * forwarded.  The mark's lock keeps a level to one kick at a time on a
 * CPU, so a mark is set and cleared, never nested: up to softirq it is
 * preemption off, or on PREEMPT_RT a per-CPU sleeping lock (the siglock
 * the kick takes sleeps there too) that keeps the sender on this CPU; in
 * hard IRQ, which never sends on PREEMPT_RT, a level runs one thing at a
 * time with preemption off already.
 */
DEFINE_PER_CPU(struct sigwake_kick_mark,
	       sigwake_kick_marks[SIGWAKE_CTX_LEVELS]) = {
	[0 ... SIGWAKE_CTX_LEVELS - 1] = {
		.lock = INIT_LOCAL_LOCK(lock),
	},
};

/**
 * sigwake_send_kick() - send the kick signal to one task
 * @task: the registered thread's task
 * @signo: its kick_signo
 *
 * A user thread's POST or KICK (an ioctl) sends it as a tgkill(2) by that
 * thread: SI_TKILL, with its tgid and uid.  The kernel's own kicks, from a
 * kernel thread (a forwarded signal's post) or from interrupt context (a
 * preemption), are SI_KERNEL: no process sent them.
 *
 * Context: task, softirq, or (not on PREEMPT_RT, where the siglock sleeps)
 * hard IRQ; no spinlock of sigwake held.
 */
void sigwake_send_kick(struct task_struct *task, int signo)
{
	struct kernel_siginfo info, *infop = SEND_SIG_PRIV;
	enum sigwake_ctx_level level;

	if (in_task() && !(current->flags & PF_KTHREAD)) {
		clear_siginfo(&info);
		info.si_signo = signo;
		info.si_errno = 0;
		info.si_code = SI_TKILL;
		info.si_pid = task_tgid_vnr(current);
		info.si_uid = from_kuid_munged(current_user_ns(),
					       current_uid());
		infop = &info;
	}
	/* Interrupts stay on: an interrupt's signal meanwhile is forwarded. */
	level = sigwake_ctx_level();
	if (level < SIGWAKE_CTX_HARDIRQ)
		local_lock(&sigwake_kick_marks[level].lock);
	else if (WARN_ON_ONCE(IS_ENABLED(CONFIG_PREEMPT_RT)))
		return;
	/*
	 * Compiler ordering is all it takes: the probe that reads the mark
	 * runs in this task on this CPU, inside send_sig_info(), an external
	 * call.
	 */
	this_cpu_write(sigwake_kick_marks[level].sender, current);
	/*
	 * A real-time signal with a user siginfo fails with EAGAIN when its
	 * siginfo cannot be queued (no memory, or RLIMIT_SIGPENDING).  The
	 * kick must not be lost: send it again as from the kernel, which
	 * sets it pending without a siginfo, as a standard signal is.
	 */
	if (send_sig_info(signo, infop, task) == -EAGAIN &&
	    infop != SEND_SIG_PRIV)
		send_sig_info(signo, SEND_SIG_PRIV, task);
	this_cpu_write(sigwake_kick_marks[level].sender, NULL);
	if (level < SIGWAKE_CTX_HARDIRQ)
		local_unlock(&sigwake_kick_marks[level].lock);
}

/*
 * Deliver guest signal @bit (0 for a bare kick) to @t, whose lock is held
 * and which is not dead.  Returns the outcome; sets *kick_task, with a
 * reference, when the caller must send the kick signal after unlocking.
 */
static int sigwake_deliver(struct sigwake_thread *t, u64 bit,
			   struct task_struct **kick_task)
{
	struct sigwake_thread_block *blk = t->blk;
	u32 state;

	lockdep_assert_held(&t->lock);

	if (bit) {
		atomic64_inc(&t->stats.posts);
		atomic64_or(bit, (atomic64_t *)&blk->pending);
		/* Pairs with the runtime's barrier between state and pending. */
		smp_mb__after_atomic();
		if (READ_ONCE(blk->blocked) & bit)
			return SIGWAKE_POST_RECORDED;
	}

	/*
	 * Only a sleep that nothing has ended yet is ended by this event.  A
	 * thread that a WAKE, POST or KICK woke already still counts as
	 * waiting until it runs: this event must then be recorded like one
	 * for a thread in host, or a bare kick would vanish.
	 */
	if (__sigwake_wake(t, bit ? SIGWAKE_REASON_SIGNAL :
				    SIGWAKE_REASON_KICK))
		return SIGWAKE_POST_WOKEN;

	if (!bit) {
		/*
		 * A bare kick is the flag: publish it before reading the
		 * state, the other half of the runtime's "store state, full
		 * barrier, re-read flags" on guest entry.  KICK_REQUESTED,
		 * in the same store, tells it from a preemption's kick.
		 */
		atomic_or(SIGWAKE_TF_KICKED | SIGWAKE_TF_KICK_REQUESTED,
			  (atomic_t *)&blk->flags);
		/* Flag before state: pairs with the runtime's full barrier. */
		smp_mb__after_atomic();
	}

	state = READ_ONCE(blk->state);
	if (state == SIGWAKE_RUNNING_IN_GUEST || state == SIGWAKE_IN_SYSCALL) {
		atomic_or(SIGWAKE_TF_KICKED, (atomic_t *)&blk->flags);
		if (t->kick_byte)
			WRITE_ONCE(*t->kick_byte, 1);
		if (t->kick_signo) {
			get_task_struct(t->task);
			*kick_task = t->task;
		}
		atomic64_inc(&t->dom->stats.kicks);
		atomic64_inc(&t->stats.kicks);
		return SIGWAKE_POST_KICKED;
	}

	return SIGWAKE_POST_RECORDED;
}

static void sigwake_finish_kick(struct sigwake_thread *t,
				struct task_struct *task)
{
	if (!task)
		return;
	/* Not to the program the thread exec'd: it is not the domain's. */
	if (sigwake_task_in_domain(task, t->dom))
		sigwake_send_kick(task, t->kick_signo);
	put_task_struct(task);
}

/* Targeted POST (@bit != 0) or KICK (@bit == 0). */
static int sigwake_post_one(struct sigwake_domain *dom, u32 target, u64 bit)
{
	struct task_struct *kick_task = NULL;
	struct sigwake_thread *t;
	unsigned long flags;
	int ret;

	t = sigwake_thread_get(dom, target);
	if (IS_ERR(t))
		return PTR_ERR(t);
	raw_spin_lock_irqsave(&t->lock, flags);
	if (t->dead)
		ret = t->exited ? -ESRCH : -ENOENT;
	else if (t->task->flags & PF_EXITING)
		ret = -ESRCH;
	else
		ret = sigwake_deliver(t, bit, &kick_task);
	raw_spin_unlock_irqrestore(&t->lock, flags);

	sigwake_finish_kick(t, kick_task);
	sigwake_thread_put(t);
	return ret;
}

/* Which class a thread falls in for a process-directed post: lower wins. */
enum {
	SIGWAKE_PICK_HOST,
	SIGWAKE_PICK_GUEST,
	SIGWAKE_PICK_NONE,
};

static int sigwake_pick_class(struct sigwake_thread *t, u64 bit)
{
	u32 state;

	lockdep_assert_held(&t->lock);
	if (t->dead || (t->task->flags & PF_EXITING) ||
	    (READ_ONCE(t->blk->blocked) & bit))
		return SIGWAKE_PICK_NONE;
	state = READ_ONCE(t->blk->state);
	if (state == SIGWAKE_RUNNING_IN_GUEST || state == SIGWAKE_IN_SYSCALL)
		return SIGWAKE_PICK_GUEST;
	return SIGWAKE_PICK_HOST;
}

/*
 * Deliver @bit to the thread that has waited longest without blocking it;
 * if there is none and @queue, queue it for the domain.  Under
 * waiters_lock, which makes "nobody waits for it, queue it" atomic against
 * a WAIT that collects the queue as it enters (sigwake_waiter_enter()).
 * The lock is a mutex: a list of thousands of waiters that all block @bit
 * is scanned with preemption on.  Returns the outcome, or 0 for "nobody"
 * without @queue; *@picked gets a reference.
 */
static int sigwake_post_waiters(struct sigwake_domain *dom, u64 bit,
				bool queue, struct sigwake_thread **picked,
				struct task_struct **kick_task)
{
	struct sigwake_thread *t;
	unsigned long flags;
	int ret = 0;

	mutex_lock(&dom->waiters_lock);
	list_for_each_entry(t, &dom->waiters, dom_node) {
		raw_spin_lock_irqsave(&t->lock, flags);
		if (sigwake_pick_class(t, bit) != SIGWAKE_PICK_NONE) {
			ret = sigwake_deliver(t, bit, kick_task);
			raw_spin_unlock_irqrestore(&t->lock, flags);
			/* A waiter holds its own reference while listed. */
			refcount_inc(&t->ref);
			*picked = t;
			goto out_unlock;
		}
		raw_spin_unlock_irqrestore(&t->lock, flags);
		cond_resched();
	}
	if (queue) {
		dom->queued |= bit;
		ret = SIGWAKE_POST_QUEUED;
	}
out_unlock:
	mutex_unlock(&dom->waiters_lock);
	return ret;
}

/*
 * Deliver @bit to @t if it falls in a class up to @upto; *@class is set to
 * the class it fell in.  Returns the outcome, with a reference on @t for
 * the caller, or 0 if nothing was delivered.
 */
static int sigwake_post_class(struct sigwake_thread *t, u64 bit, int upto,
			      int *class, struct task_struct **kick_task)
{
	unsigned long flags;
	int ret = 0;

	raw_spin_lock_irqsave(&t->lock, flags);
	*class = sigwake_pick_class(t, bit);
	if (*class <= upto) {
		ret = sigwake_deliver(t, bit, kick_task);
		/* Not dead: its registration's reference is still held. */
		refcount_inc(&t->ref);
	}
	raw_spin_unlock_irqrestore(&t->lock, flags);
	return ret;
}

/*
 * Process-directed POST: a waiting thread first, then one in host, then
 * one in guest, lowest handle first in those two classes.
 *
 * Nothing here scans with preemption off.  The waiters are looked at under
 * waiters_lock, a mutex.  The other live threads (up to
 * max_threads_per_domain) are scanned under RCU alone, each under its own
 * lock for a moment, with a reschedule point.  Their state may change
 * during the scan, as it may the moment after any choice; what must be
 * atomic is only "nobody can take it, queue it" against a thread that
 * starts waiting, and the last step takes that under waiters_lock again.
 */
static int sigwake_post_any(struct sigwake_domain *dom, u64 bit, u32 *handle)
{
	struct sigwake_thread *t, *picked = NULL;
	struct task_struct *kick_task = NULL;
	unsigned long index, guest = 0;
	int ret, class;

	ret = sigwake_post_waiters(dom, bit, false, &picked, &kick_task);
	if (ret)
		goto out;

	rcu_read_lock();
	xa_for_each_marked(&dom->threads, index, t, SIGWAKE_XA_LIVE) {
		/*
		 * Under RCU alone the mark and the entry are read apart: the
		 * reaper may have left its value entry in between.
		 */
		if (xa_is_value(t))
			continue;
		ret = sigwake_post_class(t, bit, SIGWAKE_PICK_HOST, &class,
					 &kick_task);
		if (ret) {
			picked = t;
			break;
		}
		if (class == SIGWAKE_PICK_GUEST && !guest)
			guest = index;
		if (need_resched()) {
			/* @index is where xa_for_each goes on from. */
			rcu_read_unlock();
			cond_resched();
			rcu_read_lock();
		}
	}
	if (!picked && guest) {
		t = xa_load(&dom->threads, guest);
		if (t && !xa_is_value(t)) {
			ret = sigwake_post_class(t, bit, SIGWAKE_PICK_GUEST,
						 &class, &kick_task);
			if (ret)
				picked = t;
		}
	}
	rcu_read_unlock();

	if (!picked)
		ret = sigwake_post_waiters(dom, bit, true, &picked,
					   &kick_task);
out:
	*handle = picked ? picked->handle : 0;
	if (picked) {
		sigwake_finish_kick(picked, kick_task);
		sigwake_thread_put(picked);
	}
	return ret;
}

int sigwake_thread_post(struct sigwake_domain *dom, u32 target, u32 signo,
			u32 *handle)
{
	int ret;

	if (!sigwake_signo_valid(signo))
		return -EINVAL;
	atomic64_inc(&dom->stats.posts);
	if (target == SIGWAKE_TARGET_ANY) {
		ret = sigwake_post_any(dom, sigwake_bit(signo), handle);
	} else {
		*handle = target;
		ret = sigwake_post_one(dom, target, sigwake_bit(signo));
	}
	trace_post(dom->id, target, *handle, signo, ret);
	return ret;
}

int sigwake_thread_kick(struct sigwake_domain *dom, u32 target)
{
	int ret = sigwake_post_one(dom, target, 0);

	trace_kick(dom->id, target, ret);
	return ret;
}

unsigned int sigwake_kick_retry_us = 1000;

/* Is @t in guest code?  Called with t->lock held. */
static bool sigwake_in_guest(struct sigwake_thread *t)
{
	return !t->dead && !t->waiting &&
	       READ_ONCE(t->blk->state) == SIGWAKE_RUNNING_IN_GUEST;
}

/**
 * sigwake_thread_kick_wait() - KICK with SIGWAKE_KICK_WAIT
 * @dom: the domain
 * @target: the thread's handle
 * @timeout_ns: relative timeout, or SIGWAKE_TIMEOUT_NONE
 * @outcome: out: the outcome of the first kick
 *
 * Kicks, then polls the target's state with a growing step, and kicks again
 * every kick_retry_us while it stays RUNNING_IN_GUEST.
 *
 * Return: 0 once the target left guest code, or -ETIMEDOUT, -EINTR,
 * -ESRCH, -ENOENT.
 */
int sigwake_thread_kick_wait(struct sigwake_domain *dom, u32 target,
			     s64 timeout_ns, int *outcome)
{
	ktime_t now, deadline, next_kick, expires;
	struct task_struct *kick_task;
	struct sigwake_thread *t;
	u64 step_ns = 20 * NSEC_PER_USEC;
	u64 retry_ns;
	unsigned long flags;
	bool first = true, in_guest;
	int ret;

	t = sigwake_thread_get(dom, target);
	if (IS_ERR(t))
		return PTR_ERR(t);

	now = ktime_get();
	deadline = timeout_ns < 0 ? KTIME_MAX :
		   ktime_add_safe(now, ns_to_ktime(timeout_ns));
	next_kick = now;

	for (;;) {
		kick_task = NULL;
		retry_ns = max_t(u64, READ_ONCE(sigwake_kick_retry_us), 1) *
			   NSEC_PER_USEC;
		raw_spin_lock_irqsave(&t->lock, flags);
		if (t->dead || (t->task->flags & PF_EXITING)) {
			raw_spin_unlock_irqrestore(&t->lock, flags);
			/* Once kicked, a thread that exits has left guest. */
			ret = !first ? 0 :
			      (t->dead && !t->exited) ? -ENOENT : -ESRCH;
			break;
		}
		now = ktime_get();
		if (first || (sigwake_in_guest(t) &&
			      ktime_compare(now, next_kick) >= 0)) {
			ret = sigwake_deliver(t, 0, &kick_task);
			trace_kick(dom->id, target, ret);
			if (first)
				*outcome = ret;
			first = false;
			next_kick = ktime_add_ns(now, retry_ns);
		}
		in_guest = sigwake_in_guest(t);
		raw_spin_unlock_irqrestore(&t->lock, flags);
		sigwake_finish_kick(t, kick_task);

		ret = 0;
		if (!in_guest)
			break;
		ret = -ETIMEDOUT;
		if (ktime_compare(now, deadline) >= 0)
			break;
		ret = -EINTR;
		if (signal_pending(current))
			break;

		expires = ktime_add_ns(now, step_ns);
		if (ktime_compare(expires, deadline) > 0)
			expires = deadline;
		step_ns = min(step_ns * 2, retry_ns);
		set_current_state(TASK_INTERRUPTIBLE);
		schedule_hrtimeout_range(&expires, current->timer_slack_ns,
					 HRTIMER_MODE_ABS);
	}
	sigwake_thread_put(t);
	return ret;
}
