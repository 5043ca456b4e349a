// SPDX-License-Identifier: GPL-2.0
/*
 * Domains: one per open file of /dev/sigwake, owned by the thread group and
 * the mm that opened it.
 */

#include <linux/capability.h>
#include <linux/cred.h>
#include <linux/pid.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>
#include <linux/sched/user.h>
#include <linux/slab.h>
#include <linux/uidgid.h>

#include "core.h"
#include "genl.h"

DEFINE_XARRAY_ALLOC1(sigwake_domains);

/*
 * Per-user totals (struct sigwake_ucount), keyed by kuid.  An entry exists
 * while its user has an open domain; sigwake_users_lock protects the array
 * and each entry's @domains.
 */
static DEFINE_XARRAY(sigwake_users);
static DEFINE_MUTEX(sigwake_users_lock);

static struct sigwake_ucount *sigwake_user_get(kuid_t uid)
{
	unsigned long key = __kuid_val(uid);
	struct sigwake_ucount *uc;
	int ret;

	mutex_lock(&sigwake_users_lock);
	uc = xa_load(&sigwake_users, key);
	if ((uc ? uc->domains : 0) >= READ_ONCE(sigwake_max_domains)) {
		uc = ERR_PTR(-ENOSPC);
		goto out_unlock;
	}
	if (uc) {
		uc->domains++;
		goto out_unlock;
	}
	uc = kzalloc(sizeof(*uc), GFP_KERNEL);
	if (!uc) {
		uc = ERR_PTR(-ENOMEM);
		goto out_unlock;
	}
	uc->domains = 1;
	ret = xa_err(xa_store(&sigwake_users, key, uc, GFP_KERNEL));
	if (ret) {
		kfree(uc);
		uc = ERR_PTR(ret);
	}
out_unlock:
	mutex_unlock(&sigwake_users_lock);
	return uc;
}

static void sigwake_user_put(kuid_t uid, struct sigwake_ucount *uc)
{
	mutex_lock(&sigwake_users_lock);
	if (!--uc->domains) {
		WARN_ON_ONCE(atomic_read(&uc->queues));
		xa_erase(&sigwake_users, __kuid_val(uid));
		kfree(uc);
	}
	mutex_unlock(&sigwake_users_lock);
}

static void sigwake_domain_free(struct work_struct *work);

bool sigwake_domain_is_owner(const struct sigwake_domain *dom)
{
	return current->mm == dom->mm && task_tgid(current) == dom->tgid;
}

struct sigwake_domain *sigwake_domain_create(void)
{
	struct sigwake_domain *dom;
	int ret;

	if (!current->mm)
		return ERR_PTR(-EPERM);

	dom = kzalloc(sizeof(*dom), GFP_KERNEL_ACCOUNT);
	if (!dom)
		return ERR_PTR(-ENOMEM);
	dom->stats = alloc_percpu_gfp(struct sigwake_counts,
				      GFP_KERNEL_ACCOUNT);
	if (!dom->stats) {
		kfree(dom);
		return ERR_PTR(-ENOMEM);
	}

	refcount_set(&dom->ref, 1);
	mutex_init(&dom->lock);
	mutex_init(&dom->pin_lock);
	xa_init_flags(&dom->threads, XA_FLAGS_ALLOC1);
	xa_init(&dom->tids);
	xa_init_flags(&dom->wqs, XA_FLAGS_ALLOC1);
	xa_init(&dom->pins);
	init_llist_head(&dom->exited);
	INIT_WORK(&dom->reap_work, sigwake_domain_reap);
	INIT_WORK(&dom->free_work, sigwake_domain_free);
	sigwake_forward_init(dom);
	get_task_comm(dom->comm, current);

	dom->cred = get_current_cred();
	dom->user = dom->cred->user;
	dom->ucount = sigwake_user_get(dom->user->uid);
	if (IS_ERR(dom->ucount)) {
		ret = PTR_ERR(dom->ucount);
		goto err_put_cred;
	}
	dom->charge_memlock = !capable(CAP_IPC_LOCK);
	dom->tgid = get_pid(task_tgid(current));
	dom->mm = current->mm;
	mmgrab(dom->mm);

	ret = xa_alloc(&sigwake_domains, &dom->id, dom, xa_limit_31b,
		       GFP_KERNEL);
	if (ret)
		goto err_drop_owner;
	atomic_long_inc(&sigwake_live.domains);
	sigwake_genl_domain_new(dom);
	return dom;

err_drop_owner:
	mmdrop(dom->mm);
	put_pid(dom->tgid);
	sigwake_user_put(dom->user->uid, dom->ucount);
err_put_cred:
	put_cred(dom->cred);
	free_percpu(dom->stats);
	kfree(dom);
	return ERR_PTR(ret);
}

/*
 * After the grace period that kfree_rcu() gave the domain alone before
 * its counters were per CPU: whatever could still reach the domain could
 * reach its counters.
 */
static void sigwake_domain_free_rcu(struct rcu_head *rcu)
{
	struct sigwake_domain *dom = container_of(rcu, struct sigwake_domain,
						  rcu);

	free_percpu(dom->stats);
	kfree(dom);
}

static void sigwake_domain_free(struct work_struct *work)
{
	struct sigwake_domain *dom = container_of(work, struct sigwake_domain,
						  free_work);

	WARN_ON_ONCE(dom->nr_pinned);
	xa_destroy(&dom->threads);
	xa_destroy(&dom->tids);
	xa_destroy(&dom->wqs);
	xa_destroy(&dom->pins);
	mmdrop(dom->mm);
	put_pid(dom->tgid);
	put_cred(dom->cred);
	/* Module exit's rcu_barrier() waits for the callback. */
	call_rcu(&dom->rcu, sigwake_domain_free_rcu);
	atomic_long_dec(&sigwake_live.domains);
}

/**
 * sigwake_domain_counts() - a domain's counters, summed over the CPUs
 * @dom: the domain, referenced by the caller
 * @sum: out: the totals
 *
 * Without a lock, as the counters were read when they were one atomic64
 * each: every count is at least what the events that ended before this
 * call add up to, and never less than what an earlier call returned.
 */
void sigwake_domain_counts(const struct sigwake_domain *dom,
			   struct sigwake_counts *sum)
{
	u64 *total = (u64 *)sum;
	const u64 *c;
	unsigned int i;
	int cpu;

	BUILD_BUG_ON(sizeof(*sum) % sizeof(u64));
	memset(sum, 0, sizeof(*sum));
	for_each_possible_cpu(cpu) {
		c = (const u64 *)per_cpu_ptr(dom->stats, cpu);
		for (i = 0; i < sizeof(*sum) / sizeof(u64); i++)
			total[i] += READ_ONCE(c[i]);
	}
}

/*
 * The last reference may go in atomic context (a thread's exit): the domain
 * is then freed from a work item, in process context.
 */
void sigwake_domain_put(struct sigwake_domain *dom)
{
	if (refcount_dec_and_test(&dom->ref))
		queue_work(sigwake_reap_workqueue, &dom->free_work);
}

/**
 * sigwake_domain_flush() - the owner closed a file descriptor of the domain
 * @dom: the domain
 *
 * Called from close(2) of any descriptor by the owning process, including
 * at its exit.  Every WAIT in progress ends with EBADF; the domain itself
 * lives on until its last reference is gone.
 *
 * "In progress" includes a WAIT that has read its arguments but has not
 * reached its pre-sleep checks yet (it may be arming a thousand
 * descriptors): it noted @flushes when it started, and its checks compare
 * that under the thread's lock.  Either those checks come after our
 * wake-up of that thread below, and then see the new count, or they come
 * first, and then the thread sleeps and the wake-up ends its sleep.  A
 * thread registered after this flush took the lock can only start a WAIT
 * that sees the new count already, and such a WAIT is not ended.
 */
void sigwake_domain_flush(struct sigwake_domain *dom)
{
	struct sigwake_thread *t;
	unsigned long index;

	mutex_lock(&dom->lock);
	/* Before the wake-ups: their lock releases publish it to WAIT. */
	WRITE_ONCE(dom->flushes, dom->flushes + 1);
	xa_for_each_marked(&dom->threads, index, t, SIGWAKE_XA_LIVE)
		if (!xa_is_value(t))
			sigwake_thread_wake_one(t, -EBADF);
	mutex_unlock(&dom->lock);
}

/**
 * sigwake_domain_destroy() - the file's last reference is gone
 * @dom: the domain
 *
 * No ioctl can be in progress.  Releases every thread and queue, and with
 * them every pinned page, then drops the file's reference.
 */
void sigwake_domain_destroy(struct sigwake_domain *dom)
{
	struct sigwake_thread *t;
	struct sigwake_wq *wq;
	unsigned long index;

	xa_erase(&sigwake_domains, dom->id);
	sigwake_forward_shutdown(dom);

	mutex_lock(&dom->lock);
	xa_for_each(&dom->threads, index, t) {
		xa_erase(&dom->threads, index);
		if (xa_is_value(t))
			continue;
		sigwake_thread_release(dom, t, -EBADF);
		sigwake_thread_put(t);
	}
	dom->nr_threads = 0;
	xa_for_each(&dom->wqs, index, wq) {
		xa_erase(&dom->wqs, index);
		sigwake_wq_kill(wq);
		sigwake_wq_put(wq);
	}
	atomic_sub(dom->nr_wqs, &dom->ucount->queues);
	dom->nr_wqs = 0;
	mutex_unlock(&dom->lock);

	sigwake_genl_domain_del(dom);

	sigwake_user_put(dom->user->uid, dom->ucount);
	sigwake_domain_put(dom);
}
