// SPDX-License-Identifier: GPL-2.0
/*
 * Registered threads: REGISTER, UNREGISTER, exit and exec, and the lock
 * every decision about a thread is taken under.  WAIT is in wait.c; POST,
 * KICK and KICK_WAIT are in post.c.
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

#include <linux/mm.h>
#include <linux/sched/signal.h>
#include <linux/sched/task.h>
#include <linux/signal.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "core.h"
#include "genl.h"

/*
 * A grace period after the last put: nobody under rcu_read_lock() still
 * reads @t or its block (sigwake_wait_eagain()).
 */
static void sigwake_thread_free_rcu(struct rcu_head *rcu)
{
	struct sigwake_thread *t = container_of(rcu, struct sigwake_thread,
						rcu);

	/* Every thread put is published: it took the reference. */
	put_page(virt_to_page(t->blk));
	kfree(t);
}

void sigwake_thread_put(struct sigwake_thread *t)
{
	if (refcount_dec_and_test(&t->ref)) {
		/* Module exit's rcu_barrier() waits for the callback. */
		call_rcu(&t->rcu, sigwake_thread_free_rcu);
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
	for (;;) {
		t = xa_load(&dom->threads, handle);
		if (xa_is_value(t)) {
			t = ERR_PTR(-ESRCH);
			break;
		}
		if (!t) {
			t = ERR_PTR(-ENOENT);
			break;
		}
		/*
		 * The entry's own reference is dropped only after the entry
		 * was replaced (the reaper leaves the bare handle) or erased
		 * (UNREGISTER): a registration found at zero is no longer
		 * @handle's, and a second look finds what is.  Answering
		 * ENOENT here would say that a handle whose thread exited
		 * does not exist.
		 */
		if (refcount_inc_not_zero(&t->ref))
			break;
	}
	rcu_read_unlock();
	return t;
}

/*
 * End @t's sleep for @reason (a SIGWAKE_REASON_* or a negative errno).
 * Called with t->lock held.  Returns true if this call woke it; the task
 * is woken at once without @q, else by sigwake_wake_up_q() after unlocking.
 */
bool __sigwake_wake(struct sigwake_thread *t, int reason,
		    struct sigwake_wake_q *q)
{
	lockdep_assert_held(&t->lock);
	if (!t->waiting || t->wake)
		return false;
	t->wake = reason;
	if (!t->dead) {
		WRITE_ONCE(t->blk->state, SIGWAKE_WOKEN);
		WRITE_ONCE(t->blk->wake_seq, READ_ONCE(t->blk->wake_seq) + 1);
	}
	sigwake_wake_q_add(q, t->task);
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
	woken = __sigwake_wake(t, reason, NULL);
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
	__sigwake_wake(t, why, NULL);
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
	/* For the lockless reads of WAIT's EAGAIN: see @blk. */
	get_page(virt_to_page(t->blk));
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
