/* SPDX-License-Identifier: GPL-2.0 */
/*
 * sigwake core objects: domains, registered threads, wait queues, pinned
 * pages.  The locking rules are written next to each structure.
 *
 * Lock order (outermost first):
 *
 *	domain->lock (mutex)
 *	  domain->pin_lock (mutex)
 *	wq->lock (spinlock)
 *	  thread->lock (raw spinlock)
 *	    preempt->lock (raw spinlock, preempt.c; also taken under the
 *			    runqueue lock and in a hard-IRQ timer: innermost)
 *
 * Posts, wakes and kicks come from process context only (an ioctl, or the
 * work item that makes FORWARD's posts).  No domain-wide lock is taken by
 * WAIT, WAKE or POST: a process-directed post scans the threads under RCU
 * (post.c), and its "nobody takes it, queue it" is a pairing of barriers
 * with WAIT's entry (sigwake_waiter_enter()), not a lock.
 * wq->lock and thread->lock are taken with interrupts disabled:
 * a descriptor's readiness callback takes thread->lock from any context.
 * thread->lock is a raw spinlock, for PREEMPT_RT, where a spinlock_t
 * sleeps: the exit and exec probes (tracepoints, preemption off) take it,
 * and it nests preempt->lock.  Nothing under it sleeps, allocates or frees
 * memory, or sends a signal; its sections are short and bounded.
 */
#ifndef _SIGWAKE_CORE_H
#define _SIGWAKE_CORE_H

#include <linux/atomic.h>
#include <linux/irq_work.h>
#include <linux/ktime.h>
#include <linux/list.h>
#include <linux/local_lock.h>
#include <linux/llist.h>
#include <linux/mutex.h>
#include <linux/percpu.h>
#include <linux/poll.h>
#include <linux/preempt.h>
#include <linux/rcupdate.h>
#include <linux/refcount.h>
#include <linux/sched.h>
#include <linux/sched/task.h>
#include <linux/spinlock.h>
#include <linux/types.h>
#include <linux/workqueue.h>
#include <linux/xarray.h>
#include <linux/sigwake.h>

struct linux_binprm;

extern unsigned int sigwake_max_threads;
extern unsigned int sigwake_max_queues;
extern unsigned int sigwake_max_user_queues;
extern unsigned int sigwake_max_domains;
extern unsigned int sigwake_kick_retry_us;

/* Every live domain, by id; readers walk it under RCU. */
extern struct xarray sigwake_domains;
extern struct workqueue_struct *sigwake_reap_workqueue;
extern bool sigwake_forward_available;

/*
 * The context levels of a CPU, innermost last.  Each level runs at most one
 * thing at a time on a CPU with preemption off: a level can interrupt only
 * a lower one.
 */
enum sigwake_ctx_level {
	SIGWAKE_CTX_TASK,
	SIGWAKE_CTX_SOFTIRQ,
	SIGWAKE_CTX_HARDIRQ,
	SIGWAKE_CTX_NMI,
	SIGWAKE_CTX_LEVELS
};

/* interrupt_context_level() of newer kernels, in sigwake's own order. */
static inline enum sigwake_ctx_level sigwake_ctx_level(void)
{
	if (in_nmi())
		return SIGWAKE_CTX_NMI;
	if (in_hardirq())
		return SIGWAKE_CTX_HARDIRQ;
	if (in_serving_softirq())
		return SIGWAKE_CTX_SOFTIRQ;
	return SIGWAKE_CTX_TASK;
}

/**
 * struct sigwake_kick_mark - a kick signal is being sent (post.c)
 * @lock: one kick at a time per CPU and level, up to softirq: preemption
 *	off, or on PREEMPT_RT (where sending sleeps) a per-CPU lock that
 *	keeps the sender on its CPU
 * @sender: the task sending it, read by FORWARD's signal_generate probe at
 *	its own level (forward.c); NULL when none
 */
struct sigwake_kick_mark {
	local_lock_t lock;
	struct task_struct *sender;
};

DECLARE_PER_CPU(struct sigwake_kick_mark,
		sigwake_kick_marks[SIGWAKE_CTX_LEVELS]);

/**
 * struct sigwake_counters - a thread's event counts, for statistics
 * @posts: SIGWAKE_IOC_POST calls and forwarded host signals.
 * @wakes: threads woken by SIGWAKE_IOC_WAKE.
 * @kicks: kicks sent to threads in guest code.
 * @waits: SIGWAKE_IOC_WAIT calls.
 * @timeouts: waits that timed out.
 * @interrupted: waits a host signal ended.
 * @forwards: host signals forwarded.
 * @preemptions: budget preemptions.
 *
 * Updated with atomic64 operations, read without locking (genl.c reports
 * them as the counters attribute).  A domain counts the same events in a
 * struct sigwake_counts per CPU.
 */
struct sigwake_counters {
	atomic64_t posts;
	atomic64_t wakes;
	atomic64_t kicks;
	atomic64_t waits;
	atomic64_t timeouts;
	atomic64_t interrupted;
	atomic64_t forwards;
	atomic64_t preemptions;
};

/**
 * struct sigwake_counts - the events of struct sigwake_counters, as numbers
 * @posts: as in struct sigwake_counters.
 * @wakes: ditto.
 * @kicks: ditto.
 * @waits: ditto.
 * @timeouts: ditto.
 * @interrupted: ditto.
 * @forwards: ditto.
 * @preemptions: ditto.
 *
 * A domain's counters, one copy per CPU: every call of every thread counts
 * in them, and a shared atomic would bounce its cache line between the
 * CPUs on every WAIT, WAKE and POST.  Each CPU adds to its own copy with
 * this_cpu_inc() (safe from any context, the preemption timer's hardirq
 * included); sigwake_domain_counts() sums the copies for readers.  Also
 * the type of that sum, and of a thread's counters read for a reader.
 * Fields are u64 only, in this order: the sum walks them as an array.
 */
struct sigwake_counts {
	u64 posts;
	u64 wakes;
	u64 kicks;
	u64 waits;
	u64 timeouts;
	u64 interrupted;
	u64 forwards;
	u64 preemptions;
};

/**
 * struct sigwake_ucount - what one user holds over all its domains
 * @domains: open domains; under sigwake_users_lock (domain.c).
 * @queues: wait queues, checked against max_queues_per_user; changed under
 *	the lock of the domain that creates or destroys the queue.
 */
struct sigwake_ucount {
	unsigned int domains;
	atomic_t queues;
};

/**
 * struct sigwake_domain - one open file of /dev/sigwake
 * @ref: the file holds one reference, a queued reap work another.
 * @id: key in sigwake_domains.
 * @tgid: the owning thread group.
 * @mm: the owning mm (mmgrab'd, only compared): an exec changes it.
 * @cred: the opener's credentials, held for @user: free_uid() is not
 *	exported on every kernel (5.10 lacks it), put_cred() is.
 * @user: the opener's user (@cred->user): per-user domain count,
 *	RLIMIT_MEMLOCK charge.
 * @ucount: @user's totals over all its domains; @nr_wqs is counted there.
 * @charge_memlock: false if the opener had CAP_IPC_LOCK.
 * @comm: the opener's name, when it opened the domain.
 * @lock: serializes registration, unregistration, queue creation and
 *	destruction, reaping, flushes and teardown; protects @nr_threads and
 *	@nr_wqs.  Lookups in @threads, @tids and @wqs take no lock (RCU).
 *	Never held across a user page fault (pins are taken before it).
 * @flushes: close(2)s of a descriptor of the domain by its owner; written
 *	under @lock, read by WAIT under the thread's lock.
 * @nr_threads: registered threads, exited ones included; under @lock.
 * @nr_wqs: wait queues; under @lock.
 * @threads: handle -> struct sigwake_thread, marked SIGWAKE_XA_LIVE; an
 *	exited thread that the reaper released leaves only a value entry
 *	(xa_mk_value(kick_signo)), which answers ESRCH until unregistered.
 * @tids: host tid -> live struct sigwake_thread, for WAIT's self lookup.
 * @wqs: handle -> struct sigwake_wq.
 * @pin_lock: protects @pins and @nr_pinned.
 * @pins: page frame number -> struct sigwake_pin.
 * @nr_pinned: distinct pages in @pins.
 * @wait_seq: the last @wait_stamp handed to a thread entering WAIT.
 * @queued: process-directed guest signals that every thread blocked;
 *	set and claimed with atomic RMW operations (post.c, wait.c).
 * @exited: threads whose task exited, for @reap_work to release.
 * @reap_work: releases the threads on @exited, on sigwake_reap_workqueue;
 *	a queued one holds a domain reference.
 * @fwd_mask: host signals with a FORWARD route; written under @lock, read
 *	locklessly by the signal_generate probe.
 * @fwd_routes: per host signal, guest signo | target << 32; 0 for none.
 * @fwd_pending: host signals seen by the probe, not yet posted.
 * @fwd_irq_work: queued by the probe; queues @fwd_work once the sender's
 *	locks are released.
 * @fwd_work: posts @fwd_pending, in process context.
 * @had_forward: a route was ever set (teardown must wait for the probe).
 * @preempt_all: PREEMPT budget for every thread, present and future;
 *	written and read under @lock.
 * @free_work: frees the domain in process context after the last put.
 * @stats: the domain's counters since it was opened, per CPU (see
 *	struct sigwake_counts).
 * @rcu: frees the domain after a grace period (RCU readers of
 *	sigwake_domains).
 */
struct sigwake_domain {
	refcount_t ref;
	u32 id;
	struct pid *tgid;
	struct mm_struct *mm;
	const struct cred *cred;
	struct user_struct *user;
	struct sigwake_ucount *ucount;
	bool charge_memlock;
	char comm[TASK_COMM_LEN];

	struct mutex lock;		/* see @lock above */
	unsigned int flushes;
	unsigned int nr_threads;
	unsigned int nr_wqs;
	struct xarray threads;
	struct xarray tids;
	struct xarray wqs;

	struct mutex pin_lock;		/* protects @pins, @nr_pinned */
	struct xarray pins;
	unsigned long nr_pinned;

	atomic64_t wait_seq;
	atomic64_t queued;

	struct llist_head exited;
	struct work_struct reap_work;

	u64 fwd_mask;
	u64 fwd_routes[SIGWAKE_NSIG];
	atomic64_t fwd_pending;
	struct irq_work fwd_irq_work;
	struct work_struct fwd_work;
	bool had_forward;

	u64 preempt_all;
	struct work_struct free_work;

	struct sigwake_counts __percpu *stats;
	struct rcu_head rcu;
};

/*
 * In sigwake_domain.threads: the entry is a struct sigwake_thread.  Read
 * the mark only under the domain's lock: it is a plain bit, set and
 * cleared under the xa_lock, and an RCU walk that reads it races with that.
 */
#define SIGWAKE_XA_LIVE		XA_MARK_1

/**
 * struct sigwake_thread - a registered host thread
 * @ref: the domain's @threads entry holds one reference, a sleeping WAIT
 *	and a pending reap another each.  Freed after an RCU grace period.
 * @lock: serializes every decision about the thread: WAIT's pre-sleep
 *	checks against POST, KICK and WAKE.  Protects @dead, @exited,
 *	@waiting, @wake and every access to the memory behind @blk and
 *	@kick_byte, which is only touched while !@dead.
 * @dead: the registration ended (unregistered, exited, or the domain is
 *	closing): @blk, @kick_byte and @task may be released at any time
 *	after; set under @lock, never cleared.
 * @exited: the task exited or exec'd without unregistering; under @lock.
 * @waiting: inside WAIT's sleep window (kernel state, never the block's).
 * @fd_event: a descriptor of the current WAIT may be ready: a hint, set by
 *	its wait-queue callback and cleared by WAIT before it looks.
 * @wake: why the sleep ended: a SIGWAKE_REASON_* or a negative errno; 0
 *	while nothing ended it.
 * @blk: kernel alias of the thread block, pinned while !@dead; its page is
 *	also referenced (not pinned) from publication until a grace period
 *	after the last put, so that a reader that found @t alive may read
 *	@blk without @lock (WAIT's early EAGAIN, under rcu_read_lock() or
 *	holding @t) after a release has unpinned it.
 * @kick_byte: kernel alias of the kick byte (pinned), or NULL.
 * @wq_node: on the wait queue's list, under that queue's lock; whether
 *	it is on a list is also read without it, by its own WAIT after the
 *	sleep (only that WAIT lists it again).
 * @wait_stamp: when the thread entered SIGWAKE_IOC_WAIT, from the
 *	domain's @wait_seq (the lowest has waited longest); 0 outside WAIT.
 *	Written by the thread itself (set under @lock), read locklessly by a
 *	process-directed post; atomic64_t only so that a 32-bit build does
 *	not tear it.
 * @exit_node: on the domain's @exited list once the task exited.
 * @dom: the domain; the thread does not hold a reference to it.
 * @task: the registered task, referenced until @released.
 * @tid: its pid in the initial namespace, the key in the domain's @tids.
 * @handle: key in the domain's @threads.
 * @kick_signo: the host signal of a kick, 0 for none.
 * @released: pages and task reference dropped; under the domain's lock.
 * @preempt: the thread's preemption watch, attached by REGISTER on its
 *	task; set and cleared under @lock (preempt.c).
 * @preempt_budget: the budget PREEMPT asked for, which REGISTER gives the
 *	watch it attaches; under @lock.
 * @stats: the thread's counters, since it registered.
 * @rcu: frees the thread after a grace period (lockless lookups).
 */
struct sigwake_thread {
	refcount_t ref;
	raw_spinlock_t lock;		/* see @lock above */
	bool dead;
	bool exited;
	bool waiting;
	bool fd_event;
	int wake;
	struct sigwake_thread_block *blk;
	u8 *kick_byte;

	struct list_head wq_node;
	atomic64_t wait_stamp;
	struct llist_node exit_node;

	struct sigwake_domain *dom;
	struct task_struct *task;
	pid_t tid;
	u32 handle;
	int kick_signo;
	bool released;

	struct sigwake_preempt *preempt;
	u64 preempt_budget;

	struct sigwake_counters stats;
	struct rcu_head rcu;
};

#define SIGWAKE_WAKE_Q_SIZE	8

/**
 * struct sigwake_wake_q - tasks to wake once the locks are dropped
 * @n: how many @task holds
 * @task: the tasks, each with a reference
 *
 * What the scheduler's wake_q (not exported to modules) does for futex:
 * the decision (t->wake) is taken under the locks, the wake-up comes after
 * them, so the woken task does not run straight into the waker's locks.
 * Lossless: the sleeper sets its task state before it reads t->wake
 * (sigwake_sleep()), and wake_up_process() orders the waker's earlier
 * store before its read of that state.  A wake-up that arrives late, in a
 * later sleep of the task, is spurious there, which every kernel sleep
 * loop tolerates.  Past SIGWAKE_WAKE_Q_SIZE tasks, one is woken at once.
 */
struct sigwake_wake_q {
	unsigned int n;
	struct task_struct *task[SIGWAKE_WAKE_Q_SIZE];
};

/* Under the sleeper's lock, which keeps @task alive: it sleeps in WAIT. */
static inline void sigwake_wake_q_add(struct sigwake_wake_q *q,
				      struct task_struct *task)
{
	if (!q || q->n == SIGWAKE_WAKE_Q_SIZE) {
		wake_up_process(task);
		return;
	}
	get_task_struct(task);
	q->task[q->n++] = task;
}

/* With no sigwake lock held. */
static inline void sigwake_wake_up_q(struct sigwake_wake_q *q)
{
	unsigned int i;

	for (i = 0; i < q->n; i++) {
		wake_up_process(q->task[i]);
		put_task_struct(q->task[i]);
	}
	q->n = 0;
}

/**
 * struct sigwake_wq - a wait queue
 * @ref: the domain's @wqs entry holds one, each WAIT in progress one, and
 *	each WAKE that finds sleepers one.
 * @lock: protects @waiters and @dead.
 * @dead: destroyed: its waiters were woken with EIDRM, no WAIT may sleep
 *	on it any more.
 * @waiters: sleeping threads, oldest first; WAKE looks whether it is
 *	empty without the lock, by handle without a reference either
 *	(sigwake_wq_wake_handle(): @rcu keeps the memory).
 * @kword: kernel alias of the bound user word, or NULL; pinned until the
 *	last put, and its page referenced (not pinned) from publication until
 *	a grace period after it, so that a lockless reader under
 *	rcu_read_lock() (sigwake_wait_eagain()) may read it meanwhile.
 * @handle: key in the domain's @wqs.
 * @dom: the domain; the queue does not hold a reference to it.
 * @rcu: frees the queue after a grace period (lockless lookups).
 */
struct sigwake_wq {
	refcount_t ref;
	spinlock_t lock;		/* see @lock above */
	bool dead;
	struct list_head waiters;
	u32 *kword;
	u32 handle;
	struct sigwake_domain *dom;
	struct rcu_head rcu;
};

/**
 * struct sigwake_fdwait - the file descriptors of one SIGWAKE_IOC_WAIT
 * @ufds: the caller's array, where the revents are written back
 * @pfds: kernel copy of the caller's array
 * @files: the file behind each descriptor, referenced while armed
 * @nfds: entries in @ufds, @pfds and @files
 * @entries: our entries on the files' wait queues
 * @pt: the poll table that adds them
 * @t: the waiting thread, that a ready descriptor wakes
 * @cur_events: events of the descriptor being armed
 * @error: an allocation failed while arming: the wait returns at once
 * @polled: each pfds[].revents holds the look that found one ready
 */
struct sigwake_fdwait {
	struct sigwake_pollfd __user *ufds;
	struct sigwake_pollfd *pfds;
	struct file **files;
	u32 nfds;
	struct list_head entries;
	poll_table pt;
	struct sigwake_thread *t;
	__poll_t cur_events;
	int error;
	bool polled;
};

/**
 * struct sigwake_live - objects alive now, for leak checks (debugfs)
 * @domains: struct sigwake_domain not yet freed.
 * @threads: struct sigwake_thread not yet freed.
 * @queues: struct sigwake_wq not yet freed.
 * @pinned_pages: user pages pinned, over all domains.
 * @preempt_watches: preemption watches attached.
 */
struct sigwake_live {
	atomic_long_t domains;
	atomic_long_t threads;
	atomic_long_t queues;
	atomic_long_t pinned_pages;
	atomic_long_t preempt_watches;
};

extern struct sigwake_live sigwake_live;
void sigwake_debugfs_init(void);
void sigwake_debugfs_exit(void);

/* domain.c */
struct sigwake_domain *sigwake_domain_create(void);
void sigwake_domain_destroy(struct sigwake_domain *dom);
void sigwake_domain_flush(struct sigwake_domain *dom);
void sigwake_domain_put(struct sigwake_domain *dom);
/*
 * Is @task still running the domain's program?  An exec gives it a new mm;
 * the domain holds its own with mmgrab(), so the pointer is never reused
 * while the domain lives.  Kicks and forwards stop at an exec.
 */
static inline bool sigwake_task_in_domain(const struct task_struct *task,
					  const struct sigwake_domain *dom)
{
	return READ_ONCE(task->mm) == dom->mm;
}

bool sigwake_domain_is_owner(const struct sigwake_domain *dom);
void sigwake_domain_counts(const struct sigwake_domain *dom,
			   struct sigwake_counts *sum);

/* pin.c */
void *sigwake_pin(struct sigwake_domain *dom, unsigned long uaddr);
void sigwake_unpin(struct sigwake_domain *dom, void *kaddr);

/* thread.c */
struct sigwake_thread *sigwake_thread_get(struct sigwake_domain *dom,
					  u32 handle);
int sigwake_thread_register(struct sigwake_domain *dom,
			    struct sigwake_register_args *args);
int sigwake_thread_unregister(struct sigwake_domain *dom, u32 handle);
bool __sigwake_wake(struct sigwake_thread *t, int reason,
		    struct sigwake_wake_q *q);
int sigwake_thread_wake_one(struct sigwake_thread *t, int reason);
void sigwake_thread_release(struct sigwake_domain *dom,
			    struct sigwake_thread *t, int why);
void sigwake_thread_put(struct sigwake_thread *t);
SIGWAKE_DECLARE_EXIT_PROBE(sigwake_thread_exit_probe);
void sigwake_thread_exec_probe(void *data, struct task_struct *task,
			       pid_t old_pid, struct linux_binprm *bprm);
void sigwake_thread_undo_register(struct sigwake_domain *dom, u32 handle);
void sigwake_domain_reap(struct work_struct *work);

/* wait.c */
int sigwake_wait(struct sigwake_domain *dom, struct sigwake_wait_args *args,
		 struct sigwake_wait_args __user *uargs);
void sigwake_thread_fd_event(struct sigwake_thread *t);

/* post.c */
int sigwake_thread_post(struct sigwake_domain *dom, u32 target, u32 signo,
			u32 *handle);
int sigwake_post(struct sigwake_domain *dom, struct sigwake_post_args *args);
int sigwake_kick(struct sigwake_domain *dom, struct sigwake_kick_args *args);
void sigwake_send_kick(struct task_struct *task, int signo);

/* wq.c */
struct sigwake_wq *sigwake_wq_create(struct sigwake_domain *dom,
				     unsigned long word);
void sigwake_wq_undo_create(struct sigwake_domain *dom, struct sigwake_wq *wq);
int sigwake_wq_destroy(struct sigwake_domain *dom, u32 handle);
struct sigwake_wq *sigwake_wq_get(struct sigwake_domain *dom, u32 handle);
void sigwake_wq_kill(struct sigwake_wq *wq);
void sigwake_wq_put(struct sigwake_wq *wq);
int sigwake_wq_wake(struct sigwake_wq *wq, u32 nr);
int sigwake_wq_wake_handle(struct sigwake_domain *dom, u32 handle, u32 nr);

/* fdwait.c */
int sigwake_fdwait_prepare(struct sigwake_fdwait *fw, u64 ufds, u32 nfds);
bool sigwake_fdwait_arm(struct sigwake_fdwait *fw, struct sigwake_thread *t);
void sigwake_fdwait_disarm(struct sigwake_fdwait *fw);
bool sigwake_fdwait_poll(struct sigwake_fdwait *fw);
int sigwake_fdwait_finish(struct sigwake_fdwait *fw, bool report);

/* forward.c */
void sigwake_forward_probe(void *data, int sig, struct kernel_siginfo *info,
			   struct task_struct *task, int group, int result);
void sigwake_forward_init(struct sigwake_domain *dom);
void sigwake_forward_shutdown(struct sigwake_domain *dom);
int sigwake_forward_set(struct sigwake_domain *dom,
			struct sigwake_forward_args *args);

/* preempt.c */
int sigwake_preempt_set(struct sigwake_domain *dom,
			struct sigwake_preempt_args *args);
void sigwake_preempt_exit(void);
void sigwake_preempt_unregistered(void);
struct sigwake_preempt *sigwake_preempt_prealloc(struct sigwake_domain *dom);
void sigwake_preempt_registered(struct sigwake_domain *dom,
				struct sigwake_thread *t,
				struct sigwake_preempt *p);
void sigwake_preempt_released(struct sigwake_thread *t);
bool sigwake_preempt_available(void);
void sigwake_preempt_module_init(void);
void sigwake_preempt_module_exit(void);

/* ioctl.c */
long sigwake_ioctl(struct file *file, unsigned int cmd, unsigned long arg);

#endif /* _SIGWAKE_CORE_H */
