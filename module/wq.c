// SPDX-License-Identifier: GPL-2.0
/*
 * Wait queues: what a guest futex, condition variable, pipe or sleep maps
 * onto.  A queue may be bound to a 32-bit word of user memory that WAIT
 * compares, under the queue's lock, with the value the caller expects: the
 * futex protocol, so a runtime's own condition variables lose no wakeup.
 */

#include <linux/slab.h>
#include <linux/uaccess.h>

#include "core.h"
#include "trace.h"

struct sigwake_wq *sigwake_wq_get(struct sigwake_domain *dom, u32 handle)
{
	struct sigwake_wq *wq;

	rcu_read_lock();
	wq = xa_load(&dom->wqs, handle);
	if (wq && !refcount_inc_not_zero(&wq->ref))
		wq = NULL;
	rcu_read_unlock();
	return wq;
}

/*
 * A grace period after the last put: nobody under rcu_read_lock() still
 * reads @wq or its word (sigwake_wq_wake_handle(), sigwake_wait_eagain()).
 */
static void sigwake_wq_free_rcu(struct rcu_head *rcu)
{
	struct sigwake_wq *wq = container_of(rcu, struct sigwake_wq, rcu);

	/* Every queue put is published: it took the reference. */
	if (wq->kword)
		put_page(virt_to_page(wq->kword));
	kfree(wq);
}

void sigwake_wq_put(struct sigwake_wq *wq)
{
	if (!refcount_dec_and_test(&wq->ref))
		return;
	if (wq->kword)
		sigwake_unpin(wq->dom, wq->kword);
	/* Module exit's rcu_barrier() waits for the callback. */
	call_rcu(&wq->rcu, sigwake_wq_free_rcu);
	atomic_long_dec(&sigwake_live.queues);
}

/**
 * sigwake_wq_create() - SIGWAKE_IOC_WQ_CREATE
 * @dom: the domain
 * @word: user address of the queue's word, or 0
 *
 * Return: the new queue, with a reference for the caller (who reads its
 * handle and may take the creation back with sigwake_wq_undo_create()),
 * or an ERR_PTR.
 */
struct sigwake_wq *sigwake_wq_create(struct sigwake_domain *dom,
				     unsigned long word)
{
	struct sigwake_wq *wq;
	void *kaddr;
	int ret;

	wq = kzalloc(sizeof(*wq), GFP_KERNEL_ACCOUNT);
	if (!wq)
		return ERR_PTR(-ENOMEM);
	refcount_set(&wq->ref, 1);
	spin_lock_init(&wq->lock);
	INIT_LIST_HEAD(&wq->waiters);
	wq->dom = dom;

	/* Pin before taking the domain lock: the fault may take forever. */
	if (word) {
		kaddr = sigwake_pin(dom, word);
		if (IS_ERR(kaddr)) {
			ret = PTR_ERR(kaddr);
			goto err_free;
		}
		wq->kword = kaddr;
	}

	ret = mutex_lock_killable(&dom->lock);
	if (ret)
		goto err_unpin;
	if (dom->nr_wqs >= READ_ONCE(sigwake_max_queues)) {
		ret = -ENOSPC;
		goto err_unlock;
	}
	if ((unsigned int)atomic_inc_return(&dom->ucount->queues) >
	    READ_ONCE(sigwake_max_user_queues)) {
		ret = -ENOSPC;
		goto err_uncount;
	}
	ret = xa_alloc(&dom->wqs, &wq->handle, wq, xa_limit_31b,
		       GFP_KERNEL_ACCOUNT);
	if (ret) {
		ret = ret == -EBUSY ? -ENOSPC : ret;
		goto err_uncount;
	}
	dom->nr_wqs++;
	atomic_long_inc(&sigwake_live.queues);
	/* For the lockless read of WAIT's EAGAIN: see @kword. */
	if (wq->kword)
		get_page(virt_to_page(wq->kword));
	/* Another thread may destroy @wq as soon as the lock is dropped. */
	refcount_inc(&wq->ref);
	mutex_unlock(&dom->lock);
	return wq;

err_uncount:
	atomic_dec(&dom->ucount->queues);
err_unlock:
	mutex_unlock(&dom->lock);
err_unpin:
	if (wq->kword)
		sigwake_unpin(dom, wq->kword);
err_free:
	kfree(wq);
	return ERR_PTR(ret);
}

/*
 * Take @t off @wq and end its sleep for @reason in one step, under the
 * queue's lock and the thread's.  After its sleep a WAIT looks at its
 * entry without the queue's lock (sigwake_thread_wait()): had the entry
 * gone before this decision, that WAIT could return for another reason
 * and begin its next one, which the decision would then end ("WAIT woken
 * on no queue").  Found gone, the entry tells that WAIT that the decision
 * is made: it waits for the thread's lock, and under it reads t->wake.
 */
static bool sigwake_wq_take(struct sigwake_wq *wq, struct sigwake_thread *t,
			    int reason, struct sigwake_wake_q *q)
{
	unsigned long flags;
	bool woken;

	lockdep_assert_held(&wq->lock);
	raw_spin_lock_irqsave(&t->lock, flags);
	woken = __sigwake_wake(t, reason, q);
	list_del_init(&t->wq_node);
	raw_spin_unlock_irqrestore(&t->lock, flags);
	return woken;
}

/**
 * sigwake_wq_kill() - mark a queue destroyed and end every wait on it
 * @wq: the queue, already removed from its domain's handles
 *
 * Each sleeper returns EIDRM; the last reference unpins the word.
 */
void sigwake_wq_kill(struct sigwake_wq *wq)
{
	struct sigwake_thread *t, *next;
	unsigned long flags;

	spin_lock_irqsave(&wq->lock, flags);
	wq->dead = true;
	list_for_each_entry_safe(t, next, &wq->waiters, wq_node)
		sigwake_wq_take(wq, t, -EIDRM, NULL);
	spin_unlock_irqrestore(&wq->lock, flags);
}

/* A queue left the domain's handles: uncount it.  Under the domain's lock. */
static void sigwake_wq_uncount(struct sigwake_domain *dom)
{
	lockdep_assert_held(&dom->lock);
	dom->nr_wqs--;
	atomic_dec(&dom->ucount->queues);
}

int sigwake_wq_destroy(struct sigwake_domain *dom, u32 handle)
{
	struct sigwake_wq *wq;
	int ret;

	/* Index 0 is never allocated; erasing it would free it for use. */
	if (!handle)
		return -ENOENT;
	ret = mutex_lock_killable(&dom->lock);
	if (ret)
		return ret;
	wq = xa_erase(&dom->wqs, handle);
	if (wq)
		sigwake_wq_uncount(dom);
	mutex_unlock(&dom->lock);
	if (!wq)
		return -ENOENT;

	sigwake_wq_kill(wq);
	sigwake_wq_put(wq);
	return 0;
}

/**
 * sigwake_wq_undo_create() - take back a WQ_CREATE whose handle never
 *	reached the caller
 * @dom: the domain
 * @wq: the queue sigwake_wq_create() returned, still referenced by the caller
 *
 * Writing the handle back failed.  Once the domain's lock was dropped,
 * another thread may have destroyed the queue and made a new one under the
 * same number (handles are reused lowest first), so @wq is destroyed only
 * if its handle still holds it.  The caller's reference keeps @wq's memory
 * from being reused for that newer queue, so the comparison cannot match
 * it by mistake.
 */
void sigwake_wq_undo_create(struct sigwake_domain *dom, struct sigwake_wq *wq)
{
	bool erased;

	mutex_lock(&dom->lock);
	erased = xa_cmpxchg(&dom->wqs, wq->handle, wq, NULL, 0) == wq;
	if (erased)
		sigwake_wq_uncount(dom);
	mutex_unlock(&dom->lock);
	if (!erased)
		return;

	sigwake_wq_kill(wq);
	sigwake_wq_put(wq);
}

/* Whether a WAKE of up to @nr on @wq finds nobody to take off it. */
static bool sigwake_wq_nobody(struct sigwake_wq *wq, u32 nr)
{
	/*
	 * Nobody listed, nothing to lock: futex's hb_waiters_pending().  The
	 * caller changed the queue's word before this call.  A WAIT on a
	 * queue with a word lists itself before it reads the word
	 * (sigwake_thread_wait()), with a full barrier in between, as here
	 * between the caller's store and the look at the list: either this
	 * sees it listed and takes the lock, or it reads the new word and
	 * returns EAGAIN.  Without a word, what a waker can know is that the
	 * thread sleeps (SIGWAKE_WAITING in its block): the WAIT lists itself
	 * before it stores that, with release (sigwake_thread_wait()), so a
	 * WAKE called after the waker read it finds the entry; an empty list
	 * here is then the empty list the lock would have found.
	 */
	/* Caller's word before the list: pairs with sigwake_thread_wait(). */
	smp_mb();
	return !nr || list_empty(&wq->waiters);
}

/* sigwake_wq_wake() past its look at the list. */
static int __sigwake_wq_wake(struct sigwake_wq *wq, u32 nr)
{
	struct sigwake_wake_q q __uninitialized;
	struct sigwake_thread *t, *next;
	unsigned long flags;
	u32 woken = 0;

	q.n = 0;
	spin_lock_irqsave(&wq->lock, flags);
	list_for_each_entry_safe(t, next, &wq->waiters, wq_node) {
		if (woken >= nr)
			break;
		if (sigwake_wq_take(wq, t, SIGWAKE_REASON_WAKE, &q)) {
			atomic64_inc(&t->stats.wakes);
			woken++;
		}
	}
	spin_unlock_irqrestore(&wq->lock, flags);
	sigwake_wake_up_q(&q);

	this_cpu_add(wq->dom->stats->wakes, woken);
	trace_wake(wq->dom->id, wq->handle, nr, woken);
	return woken;
}

/**
 * sigwake_wq_wake() - SIGWAKE_IOC_WAKE
 * @wq: the queue, referenced by the caller
 * @nr: how many sleepers to wake at most, oldest first
 *
 * Under the queue's lock each one is marked WOKEN and its wake_seq bumped;
 * their tasks are woken after the locks are dropped.  Sleepers that a post
 * or kick woke already leave the list without being counted.
 *
 * Return: the number of threads woken.
 */
int sigwake_wq_wake(struct sigwake_wq *wq, u32 nr)
{
	if (sigwake_wq_nobody(wq, nr)) {
		trace_wake(wq->dom->id, wq->handle, nr, 0);
		return 0;
	}
	return __sigwake_wq_wake(wq, nr);
}

/**
 * sigwake_wq_wake_handle() - SIGWAKE_IOC_WAKE of the queue @handle
 * @dom: the domain
 * @handle: the queue's handle
 * @nr: as for sigwake_wq_wake()
 *
 * The look at the list takes no reference: a queue's memory outlives a
 * grace period after its last put (sigwake_wq_free_rcu()), and an empty
 * list is all that look reads.  Only a queue with sleepers is referenced, for its
 * lock and their wake-ups.
 *
 * Return: the number of threads woken, or -ENOENT.
 */
int sigwake_wq_wake_handle(struct sigwake_domain *dom, u32 handle, u32 nr)
{
	struct sigwake_wq *wq;
	int woken;

	rcu_read_lock();
	wq = xa_load(&dom->wqs, handle);
	if (!wq) {
		rcu_read_unlock();
		return -ENOENT;
	}
	if (sigwake_wq_nobody(wq, nr)) {
		trace_wake(dom->id, wq->handle, nr, 0);
		rcu_read_unlock();
		return 0;
	}
	if (!refcount_inc_not_zero(&wq->ref)) {
		rcu_read_unlock();
		return -ENOENT;
	}
	rcu_read_unlock();
	woken = __sigwake_wq_wake(wq, nr);
	sigwake_wq_put(wq);
	return woken;
}
