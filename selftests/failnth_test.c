// SPDX-License-Identifier: GPL-2.0
/*
 * Systematic fault injection (Documentation/fault-injection, "fail-nth"):
 * for n = 1, 2, ... make the n-th fault-injection point reached by one
 * call fail, for every ioctl and for open(2) of the device, until an n
 * where no fault fires any more.  While the injection fired (the task's
 * fail-nth reads 0 after the call), the call must either fail with ENOMEM
 * and leave nothing behind (debugfs live counts unchanged, no handle
 * consumed: the same call then succeeds without injection and gets the
 * same handle), or succeed with its full effect (the failed allocation was
 * optional).
 *
 * Needs a kernel with CONFIG_FAULT_INJECTION, CONFIG_FAILSLAB and
 * CONFIG_FAIL_PAGE_ALLOC with their debugfs knobs (the debug kernel); SKIP
 * elsewhere.  The knobs are set so that fail-nth covers sleeping slab and
 * page allocations of any order (ignore-gfp-wait=N, min-order=0) and are
 * restored at exit.  "--verbose" keeps the kernel's stack dump of every
 * injected failure (verbose=2), to see which allocation each n hit.
 *
 * A call that reports success after an injected failure must have its full
 * effect: WAIT with descriptors ready, a kick signal that arrives, a
 * preemption watch that is attached.
 */
#include <poll.h>

#include "sigwake_test.h"

#define FN_MAX_N	200

static int fn_verbose;

/* --- debugfs knobs ------------------------------------------------ */

struct fn_knob {
	const char *path;
	const char *value;
	char saved[32];
	bool changed;
};

static struct fn_knob fn_knobs[] = {
	{ .path = "/sys/kernel/debug/failslab/ignore-gfp-wait", .value = "N" },
	{ .path = "/sys/kernel/debug/failslab/verbose", .value = "0" },
	{ .path = "/sys/kernel/debug/fail_page_alloc/ignore-gfp-wait", .value = "N" },
	{ .path = "/sys/kernel/debug/fail_page_alloc/ignore-gfp-highmem", .value = "N" },
	{ .path = "/sys/kernel/debug/fail_page_alloc/min-order", .value = "0" },
	{ .path = "/sys/kernel/debug/fail_page_alloc/verbose", .value = "0" },
};

static int fn_write_file(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = write(fd, val, strlen(val));
	close(fd);
	return n == (ssize_t)strlen(val) ? 0 : -EIO;
}

static int fn_read_file(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -EIO;
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	return 0;
}

static void fn_restore_knobs(void)
{
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(fn_knobs); i++)
		if (fn_knobs[i].changed)
			fn_write_file(fn_knobs[i].path, fn_knobs[i].saved);
}

/* 0, or why fault injection cannot be used here. */
static const char *fn_setup_knobs(void)
{
	unsigned int i;

	if (access("/proc/self/fail-nth", F_OK))
		return "no /proc/self/fail-nth (kernel without CONFIG_FAULT_INJECTION)";
	for (i = 0; i < ARRAY_SIZE(fn_knobs); i++) {
		struct fn_knob *k = &fn_knobs[i];
		const char *v = k->value;

		if (fn_read_file(k->path, k->saved, sizeof(k->saved)))
			return "no failslab/fail_page_alloc debugfs knobs (CONFIG_FAULT_INJECTION_DEBUG_FS)";
		if (fn_verbose && strstr(k->path, "verbose"))
			v = "2";
		if (fn_write_file(k->path, v))
			return "cannot set the fault-injection knobs (not root?)";
		k->changed = true;
	}
	atexit(fn_restore_knobs);
	return NULL;
}

static const char *fn_skip_reason;

/* --- fail-nth of the calling thread -------------------------------- */

static int fn_open_nth(void)
{
	return open("/proc/thread-self/fail-nth", O_RDWR | O_CLOEXEC);
}

static void fn_arm(int fd, unsigned int n)
{
	char buf[16];
	int len = snprintf(buf, sizeof(buf), "%u", n);

	if (pwrite(fd, buf, (size_t)len, 0) != len)
		abort();
}

/* Did the armed fault fire?  Disarms in any case. */
static bool fn_fired(int fd)
{
	char buf[16] = "";
	bool fired;

	if (pread(fd, buf, sizeof(buf) - 1, 0) <= 0)
		abort();
	fired = atoi(buf) == 0;
	if (pwrite(fd, "0", 1, 0) != 1)
		abort();
	return fired;
}

/* --- live counts ----------------------------------------------------- */

struct fn_counts {
	long v[SW_OBJ_COUNT];
};

static bool fn_counts(struct fn_counts *c)
{
	return sw_read_objects(c->v);
}

/* Wait (domain freeing runs from a workqueue) until the counts equal @want. */
static bool fn_counts_settle(const struct fn_counts *want, struct fn_counts *got)
{
	int64_t end = sw_now_ns() + 5 * SW_NSEC_PER_SEC;

	for (;;) {
		if (!fn_counts(got))
			return true;	/* no debugfs: nothing to compare */
		if (!memcmp(got, want, sizeof(*got)))
			return true;
		if (sw_now_ns() > end)
			return false;
		usleep(5000);
	}
}

/* --- the sweep ------------------------------------------------------- */

struct fn_env;

struct fn_op {
	const char *name;
	/* optional, before arming: set up what the call needs */
	int (*prepare)(struct fn_env *e);
	/* the call: 0 or -errno */
	int (*call)(struct fn_env *e);
	/* after a success: check its effect, then undo it; 0 or a reason */
	const char *(*undo)(struct fn_env *e, bool fired);
	/* after an ENOMEM: undo what prepare did */
	void (*unprepare)(struct fn_env *e);
};

struct fn_env {
	int fd;			/* the domain */
	int nth;		/* this thread's fail-nth */
	struct sigwake_thread_block *blk;
	unsigned char *kick;
	__u32 *word;
	__u32 self;		/* this thread's handle, once registered */
	__u32 wq;
	__u32 handle;		/* out of the call */
	__u32 want_handle;	/* the handle a clean call gets */
	int fd2;		/* open(2) */
	int pipe[2];
	int kick_sig;
	__u32 reason;
	__u32 outcome;
};

struct fn_result {
	unsigned int sites;	/* n that fired */
	unsigned int enomem;
	unsigned int succeeded;
	unsigned int bad;
	unsigned int last_n;
	char first_bad[200];
};

static void fn_bad(struct fn_result *r, unsigned int n, const char *fmt, const char *s,
		   int err)
{
	if (!r->bad++)
		snprintf(r->first_bad, sizeof(r->first_bad), "n=%u: %s%s%s", n, fmt,
			 s ? s : "", err ? strerror(-err) : "");
}

static void fn_sweep(struct fn_env *e, const struct fn_op *op, struct fn_result *r)
{
	struct fn_counts base0, base, now;
	bool have = fn_counts(&base0);
	const char *why;
	unsigned int n;
	int ret;

	memset(r, 0, sizeof(*r));
	for (n = 1; n <= FN_MAX_N; n++) {
		bool fired;

		/* base0: before the iteration; base: before the call */
		if (have)
			fn_counts(&base0);
		if (op->prepare && (ret = op->prepare(e))) {
			fn_bad(r, n, "prepare failed: ", NULL, ret);
			break;
		}
		if (have)
			fn_counts(&base);
		fn_arm(e->nth, n);
		ret = op->call(e);
		fired = fn_fired(e->nth);
		r->last_n = n;
		if (!fired) {
			/* past the last injection point: must be a plain success */
			if (ret) {
				fn_bad(r, n, "failed without injection: ", NULL, ret);
			} else if ((why = op->undo(e, false))) {
				fn_bad(r, n, why, NULL, 0);
			}
			break;
		}
		r->sites++;
		if (!ret) {
			r->succeeded++;
			if ((why = op->undo(e, true)))
				fn_bad(r, n, "succeeded under injection, but: ", why, 0);
		} else if (ret != -ENOMEM) {
			fn_bad(r, n, "errno other than ENOMEM: ", NULL, ret);
			if (op->unprepare)
				op->unprepare(e);
		} else {
			r->enomem++;
			if (have && !fn_counts_settle(&base, &now))
				fn_bad(r, n, "live objects changed by the failed call", NULL, 0);
			/* the same call, clean, succeeds (and gets the same handle) */
			ret = op->call(e);
			if (ret)
				fn_bad(r, n, "the clean retry failed: ", NULL, ret);
			else if ((why = op->undo(e, false)))
				fn_bad(r, n, "the clean retry: ", why, 0);
			if (op->unprepare)
				op->unprepare(e);
		}
		/* every iteration leaves the domain as it found it */
		if (have && !fn_counts_settle(&base0, &now))
			fn_bad(r, n, "live objects not back at the end of the iteration", NULL, 0);
	}
	if (n > FN_MAX_N)
		fn_bad(r, n, "still injecting after n = " "200", NULL, 0);
}

#define FN_REPORT(r, name) do {						\
	TH_LOG("%s: %u fault sites (n = 1..%u): %u ENOMEM, %u succeeded anyway", \
	       (name), (r).sites, (r).sites, (r).enomem, (r).succeeded);	\
	EXPECT_EQ(0, (r).bad) {						\
		TH_LOG("%s: %s", (name), (r).first_bad);		\
	}								\
} while (0)

/* --- environment ------------------------------------------------- */

/* Every test starts with this: SKIP where fault injection is unusable. */
#define FN_INIT(e) do {							\
	if (fn_skip_reason)						\
		SKIP(return, "%s", fn_skip_reason);			\
	fn_env_init(_metadata, (e));					\
} while (0)

static void fn_env_init(struct __test_metadata *_metadata, struct fn_env *e)
{
	char stack[16384];

	/* fault the stack in: a page fault would consume an n */
	memset(stack, 1, sizeof(stack));
	__asm__ __volatile__("" : : "r"(stack) : "memory");
	memset(e, 0, sizeof(*e));
	e->fd = open(SIGWAKE_DEVICE, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, e->fd);
	e->nth = fn_open_nth();
	ASSERT_LE(0, e->nth);
	e->blk = sw_alloc_blocks(1);
	e->kick = sw_alloc_page();
	e->word = sw_alloc_page();
	ASSERT_NE(NULL, e->blk);
	ASSERT_NE(NULL, e->kick);
	ASSERT_NE(NULL, e->word);
	e->blk->state = 0;
	e->kick[0] = 0;
	e->word[0] = 0;
	ASSERT_EQ(0, pipe2(e->pipe, O_CLOEXEC | O_NONBLOCK));
}

static int fn_register_self(struct fn_env *e)
{
	return sw_register(e->fd, e->blk, e->kick, e->kick_sig, &e->self);
}

/* --- open(2) ------------------------------------------------------ */

static int fn_open_call(struct fn_env *e)
{
	e->fd2 = open(SIGWAKE_DEVICE, O_RDWR | O_CLOEXEC);
	return e->fd2 < 0 ? -errno : 0;
}

static const char *fn_open_undo(struct fn_env *e, bool fired)
{
	__u32 h;
	int err = sw_wq_create(e->fd2, NULL, &h);

	close(e->fd2);
	return err ? "the new domain does not work" : NULL;
}

TEST(open_device)
{
	static const struct fn_op op = {
		.name = "open", .call = fn_open_call, .undo = fn_open_undo,
	};
	struct fn_env e;
	struct fn_result r;
	long saved;

	FN_INIT(&e);
	/*
	 * The per-user count must come back too: with the limit at "one
	 * more than now", a leaked count makes the clean retry ENOSPC.
	 */
	saved = sw_param_read("max_domains_per_user");
	ASSERT_LT(0, saved);
	ASSERT_EQ(0, sw_param_write("max_domains_per_user", 2));
	fn_sweep(&e, &op, &r);
	sw_param_write("max_domains_per_user", saved);
	FN_REPORT(r, "open(2)");
}

/* --- REGISTER ----------------------------------------------------- */

static int fn_reg_call(struct fn_env *e)
{
	return sw_register(e->fd, e->blk, e->kick, SIGURG, &e->handle);
}

static const char *fn_reg_undo(struct fn_env *e, bool fired)
{
	__u32 h = e->handle;

	if (sw_unregister(e->fd, h))
		return "cannot unregister the new handle";
	if (h != e->want_handle)
		return "a handle was consumed by a failed call";
	return NULL;
}

TEST(register_thread)
{
	static const struct fn_op op = {
		.name = "REGISTER", .call = fn_reg_call, .undo = fn_reg_undo,
	};
	struct fn_env e;
	struct fn_result r;

	FN_INIT(&e);
	ASSERT_EQ(0, fn_reg_call(&e));
	e.want_handle = e.handle;
	ASSERT_EQ(0, sw_unregister(e.fd, e.handle));
	fn_sweep(&e, &op, &r);
	FN_REPORT(r, "REGISTER (block and kick byte on two new pages)");
}

/* --- UNREGISTER --------------------------------------------------- */

static int fn_unreg_prepare(struct fn_env *e)
{
	return fn_register_self(e);
}

static int fn_unreg_call(struct fn_env *e)
{
	return sw_unregister(e->fd, e->self);
}

static const char *fn_unreg_undo(struct fn_env *e, bool fired)
{
	return sw_unregister(e->fd, e->self) == -ENOENT ? NULL : "the handle survived";
}

static void fn_unreg_unprepare(struct fn_env *e)
{
	sw_unregister(e->fd, e->self);
}

TEST(unregister_thread)
{
	static const struct fn_op op = {
		.name = "UNREGISTER", .prepare = fn_unreg_prepare, .call = fn_unreg_call,
		.undo = fn_unreg_undo, .unprepare = fn_unreg_unprepare,
	};
	struct fn_env e;
	struct fn_result r;

	FN_INIT(&e);
	fn_sweep(&e, &op, &r);
	FN_REPORT(r, "UNREGISTER");
}

/* --- WAIT ---------------------------------------------------------- */

static int fn_wait_call(struct fn_env *e)
{
	struct sigwake_wait_args a = {
		.size = sizeof(a), .wq = e->wq, .expected = e->word[0],
	};

	e->reason = 0;
	if (sw_ioctl(e->fd, SIGWAKE_IOC_WAIT, &a))
		return -errno;
	e->reason = a.reason;
	return 0;
}

static const char *fn_wait_undo(struct fn_env *e, bool fired)
{
	return e->reason == SIGWAKE_REASON_TIMEOUT ? NULL : "reason is not TIMEOUT";
}

static int fn_waitfd_call(struct fn_env *e)
{
	struct sigwake_pollfd pfd[2] = {
		{ .fd = e->pipe[0], .events = POLLIN },
		{ .fd = e->pipe[1], .events = POLLIN },
	};
	struct sigwake_wait_args a = {
		.size = sizeof(a), .wq = SIGWAKE_NO_WQ,
		.fds = (__u64)(uintptr_t)pfd, .nfds = 2,
	};

	e->reason = 0;
	if (sw_ioctl(e->fd, SIGWAKE_IOC_WAIT, &a))
		return -errno;
	e->reason = a.reason;
	e->outcome = (__u16)pfd[0].revents | (__u16)pfd[1].revents;
	return 0;
}

static const char *fn_waitfd_undo(struct fn_env *e, bool fired)
{
	if (e->reason == SIGWAKE_REASON_TIMEOUT)
		return NULL;
	if (e->reason == SIGWAKE_REASON_FD && !e->outcome)
		return "REASON_FD with no descriptor ready (a failed wait entry must give ENOMEM)";
	return "reason is not TIMEOUT";
}

TEST(wait_ops)
{
	static const struct fn_op plain = {
		.name = "WAIT", .call = fn_wait_call, .undo = fn_wait_undo,
	};
	static const struct fn_op fds = {
		.name = "WAIT fds", .call = fn_waitfd_call, .undo = fn_waitfd_undo,
	};
	struct fn_env e;
	struct fn_result r;

	FN_INIT(&e);
	ASSERT_EQ(0, fn_register_self(&e));
	e.wq = SIGWAKE_NO_WQ;
	fn_sweep(&e, &plain, &r);
	FN_REPORT(r, "WAIT (no queue, timeout 0)");
	ASSERT_EQ(0, sw_wq_create(e.fd, e.word, &e.wq));
	fn_sweep(&e, &plain, &r);
	FN_REPORT(r, "WAIT (word-bound queue, timeout 0)");
	fn_sweep(&e, &fds, &r);
	FN_REPORT(r, "WAIT (two pipe descriptors, timeout 0)");
}

/* --- WAKE ------------------------------------------------------------ */

static int fn_wake_call(struct fn_env *e)
{
	return sw_wake(e->fd, e->wq, 1, &e->handle);
}

static const char *fn_wake_undo(struct fn_env *e, bool fired)
{
	return e->handle ? "woke somebody" : NULL;
}

TEST(wake)
{
	static const struct fn_op op = {
		.name = "WAKE", .call = fn_wake_call, .undo = fn_wake_undo,
	};
	struct fn_env e;
	struct fn_result r;

	FN_INIT(&e);
	ASSERT_EQ(0, sw_wq_create(e.fd, e.word, &e.wq));
	fn_sweep(&e, &op, &r);
	FN_REPORT(r, "WAKE");
}

/* --- POST and KICK to a thread "in guest code" with a kick signal ---- */

static int fn_kick_signal_pending(struct fn_env *e)
{
	sigset_t set;
	struct timespec zero = { 0 };

	sigemptyset(&set);
	sigaddset(&set, e->kick_sig);
	return sigtimedwait(&set, NULL, &zero) == e->kick_sig;
}

static int fn_post_call(struct fn_env *e)
{
	sw_set_state(e->blk, SIGWAKE_RUNNING_IN_GUEST);
	return sw_post(e->fd, e->self, SW_SIG, NULL, &e->outcome);
}

static int fn_kick_call(struct fn_env *e)
{
	sw_set_state(e->blk, SIGWAKE_RUNNING_IN_GUEST);
	return sw_kick(e->fd, e->self, &e->outcome);
}

static const char *fn_kicked_undo(struct fn_env *e, bool fired)
{
	bool sig = fn_kick_signal_pending(e);
	const char *why = NULL;

	if (e->outcome != SIGWAKE_POST_KICKED)
		why = "outcome is not KICKED";
	else if (!(SW_LOAD(&e->blk->flags) & SIGWAKE_TF_KICKED) || !SW_LOAD(e->kick))
		why = "no TF_KICKED or kick byte";
	else if (!sig)
		why = fired ? "kick signal lost after a failed siginfo allocation" :
			      "no kick signal";
	sw_set_state(e->blk, SIGWAKE_RUNNING_IN_HOST);
	SW_STORE(&e->blk->pending, 0);
	SW_STORE(&e->blk->flags, 0);
	SW_STORE(e->kick, 0);
	return why;
}

static int fn_kickwait_call(struct fn_env *e)
{
	struct sigwake_kick_args a = {
		.size = sizeof(a), .flags = SIGWAKE_KICK_WAIT, .target = e->self,
	};

	if (sw_ioctl(e->fd, SIGWAKE_IOC_KICK, &a))
		return -errno;
	e->outcome = a.outcome;
	return 0;
}

static const char *fn_kickwait_undo(struct fn_env *e, bool fired)
{
	bool kicked = SW_LOAD(&e->blk->flags) & SIGWAKE_TF_KICKED;

	SW_STORE(&e->blk->flags, 0);
	return e->outcome == SIGWAKE_POST_RECORDED && kicked ? NULL :
	       "KICK_WAIT of a thread in host: not RECORDED with TF_KICKED";
}

static void fn_post_kick(struct __test_metadata *_metadata, int kick_sig)
{
	static const struct fn_op post = {
		.name = "POST", .call = fn_post_call, .undo = fn_kicked_undo,
	};
	static const struct fn_op kick = {
		.name = "KICK", .call = fn_kick_call, .undo = fn_kicked_undo,
	};
	static const struct fn_op kickwait = {
		.name = "KICK_WAIT", .call = fn_kickwait_call, .undo = fn_kickwait_undo,
	};
	struct fn_env e;
	struct fn_result r;
	sigset_t set;
	char what[96];

	FN_INIT(&e);
	/* the kick signal comes to this very thread: keep it pending */
	sigemptyset(&set);
	sigaddset(&set, kick_sig);
	ASSERT_EQ(0, pthread_sigmask(SIG_BLOCK, &set, NULL));
	e.kick_sig = kick_sig;
	ASSERT_EQ(0, fn_register_self(&e));

	fn_sweep(&e, &post, &r);
	snprintf(what, sizeof(what), "POST (target in guest, kick signal %d)", kick_sig);
	FN_REPORT(r, what);
	fn_sweep(&e, &kick, &r);
	snprintf(what, sizeof(what), "KICK (target in guest, kick signal %d)", kick_sig);
	FN_REPORT(r, what);
	fn_sweep(&e, &kickwait, &r);
	FN_REPORT(r, "KICK with SIGWAKE_KICK_WAIT (target in host)");
}

TEST(post_kick_standard_signal)
{
	fn_post_kick(_metadata, SIGURG);
}

TEST(post_kick_realtime_signal)
{
	fn_post_kick(_metadata, SIGRTMIN + 2);
}

/* --- WQ_CREATE, WQ_DESTROY ------------------------------------------ */

static int fn_wqc_call(struct fn_env *e)
{
	return sw_wq_create(e->fd, e->word, &e->handle);
}

static const char *fn_wqc_undo(struct fn_env *e, bool fired)
{
	__u32 h = e->handle;

	if (sw_wq_destroy(e->fd, h))
		return "cannot destroy the new queue";
	if (h != e->want_handle)
		return "a handle was consumed by a failed call";
	return NULL;
}

static int fn_wqd_prepare(struct fn_env *e)
{
	return sw_wq_create(e->fd, e->word, &e->wq);
}

static int fn_wqd_call(struct fn_env *e)
{
	return sw_wq_destroy(e->fd, e->wq);
}

static const char *fn_wqd_undo(struct fn_env *e, bool fired)
{
	return sw_wq_destroy(e->fd, e->wq) == -ENOENT ? NULL : "the queue survived";
}

static void fn_wqd_unprepare(struct fn_env *e)
{
	sw_wq_destroy(e->fd, e->wq);
}

TEST(wq_create_destroy)
{
	static const struct fn_op create = {
		.name = "WQ_CREATE", .call = fn_wqc_call, .undo = fn_wqc_undo,
	};
	static const struct fn_op destroy = {
		.name = "WQ_DESTROY", .prepare = fn_wqd_prepare, .call = fn_wqd_call,
		.undo = fn_wqd_undo, .unprepare = fn_wqd_unprepare,
	};
	struct fn_env e;
	struct fn_result r;

	FN_INIT(&e);
	ASSERT_EQ(0, fn_wqc_call(&e));
	e.want_handle = e.handle;
	ASSERT_EQ(0, sw_wq_destroy(e.fd, e.handle));
	fn_sweep(&e, &create, &r);
	FN_REPORT(r, "WQ_CREATE (word on a new page)");
	fn_sweep(&e, &destroy, &r);
	FN_REPORT(r, "WQ_DESTROY (word-bound queue)");
}

/* --- FORWARD ------------------------------------------------------- */

static int fn_fwd(struct fn_env *e, __u32 flags)
{
	struct sigwake_forward_args a = {
		.size = sizeof(a), .flags = flags, .host_signo = SIGUSR1,
		.guest_signo = SW_SIG, .target = SIGWAKE_TARGET_ANY,
	};

	return sw_ioctl(e->fd, SIGWAKE_IOC_FORWARD, &a);
}

static int fn_fwd_call(struct fn_env *e)
{
	return fn_fwd(e, 0);
}

static const char *fn_fwd_undo(struct fn_env *e, bool fired)
{
	return fn_fwd(e, SIGWAKE_FORWARD_REMOVE) ? "no route to remove" : NULL;
}

TEST(forward)
{
	static const struct fn_op op = {
		.name = "FORWARD", .call = fn_fwd_call, .undo = fn_fwd_undo,
	};
	struct fn_env e;
	struct fn_result r;

	FN_INIT(&e);
	if (fn_fwd_call(&e) == -EOPNOTSUPP)
		SKIP(return, "FORWARD is not available");
	ASSERT_EQ(0, fn_fwd(&e, SIGWAKE_FORWARD_REMOVE));
	fn_sweep(&e, &op, &r);
	FN_REPORT(r, "FORWARD (set, TARGET_ANY)");
}

/*
 * --- PREEMPT ---------------------------------------------------------
 * REGISTER attaches the watch (to the registering task), so each n runs in
 * a new thread: register (under fail-nth for FN_PRE_REGISTER) or PREEMPT
 * itself under fail-nth, and see whether the watch is there (debugfs
 * preempt_watches: one more after REGISTER, the same after PREEMPT, which
 * allocates nothing), then exit (which drops the watch).
 */

enum fn_pre_mode {
	FN_PRE_SELF,		/* PREEMPT of the thread's own handle */
	FN_PRE_ALL,		/* PREEMPT TARGET_ALL from a registered thread */
	FN_PRE_REGISTER,	/* REGISTER, under a TARGET_ALL budget */
};

struct fn_pre {
	int fd;
	unsigned int n;
	struct sigwake_thread_block *blk;
	enum fn_pre_mode mode;
	int ret;
	bool fired;
	long watches_before, watches_after;
};

static void *fn_pre_thread(void *arg)
{
	struct fn_pre *p = arg;
	struct sigwake_preempt_args a = {
		.size = sizeof(a), .budget_ns = 10 * SW_NSEC_PER_MSEC,
	};
	struct fn_counts c;
	char stack[8192];
	int nth = fn_open_nth();

	__u32 handle;

	memset(stack, 1, sizeof(stack));
	__asm__ __volatile__("" : : "r"(stack) : "memory");
	if (p->mode == FN_PRE_REGISTER) {
		if (nth < 0) {
			p->ret = -EBADF;
			return NULL;
		}
		fn_counts(&c);
		p->watches_before = c.v[SW_OBJ_PREEMPT_WATCHES];
		fn_arm(nth, p->n);
		p->ret = sw_register(p->fd, p->blk, NULL, 0, &a.target);
		p->fired = fn_fired(nth);
		fn_counts(&c);
		p->watches_after = c.v[SW_OBJ_PREEMPT_WATCHES];
		if (!p->ret)
			sw_unregister(p->fd, a.target);
		close(nth);
		return NULL;
	}
	p->ret = sw_register(p->fd, p->blk, NULL, 0, &handle);
	if (p->ret || nth < 0) {
		p->ret = p->ret ? p->ret : -EBADF;
		return NULL;
	}
	a.target = p->mode == FN_PRE_ALL ? SIGWAKE_TARGET_ALL : handle;
	fn_counts(&c);
	p->watches_before = c.v[SW_OBJ_PREEMPT_WATCHES];
	fn_arm(nth, p->n);
	p->ret = sw_ioctl(p->fd, SIGWAKE_IOC_PREEMPT, &a);
	p->fired = fn_fired(nth);
	fn_counts(&c);
	p->watches_after = c.v[SW_OBJ_PREEMPT_WATCHES];
	a.budget_ns = 0;
	sw_ioctl(p->fd, SIGWAKE_IOC_PREEMPT, &a);
	sw_unregister(p->fd, handle);
	close(nth);
	return NULL;
}

static void fn_preempt_sweep(struct __test_metadata *_metadata,
			     enum fn_pre_mode mode, const char *name)
{
	struct fn_env e;
	struct fn_result r = { 0 };
	struct fn_counts base, now;
	unsigned int n, silent = 0;
	long delta = mode == FN_PRE_REGISTER;

	FN_INIT(&e);
	if (mode == FN_PRE_REGISTER) {
		struct sigwake_preempt_args all = {
			.size = sizeof(all), .target = SIGWAKE_TARGET_ALL,
			.budget_ns = 10 * SW_NSEC_PER_MSEC,
		};
		int ret = sw_ioctl(e.fd, SIGWAKE_IOC_PREEMPT, &all);

		if (ret == -EOPNOTSUPP)
			SKIP(return, "PREEMPT is not available");
		ASSERT_EQ(0, ret);
	}
	for (n = 1; n <= FN_MAX_N; n++) {
		struct fn_pre p = { .fd = e.fd, .n = n, .blk = e.blk, .mode = mode };
		pthread_t th;

		fn_counts(&base);
		ASSERT_EQ(0, pthread_create(&th, NULL, fn_pre_thread, &p));
		pthread_join(th, NULL);
		if (p.ret == -EOPNOTSUPP)
			SKIP(return, "PREEMPT is not available");
		if (!p.fired) {
			EXPECT_EQ(0, p.ret);
			EXPECT_EQ(p.watches_before + delta, p.watches_after);
			break;
		}
		r.sites++;
		if (p.ret == -ENOMEM) {
			r.enomem++;
		} else if (p.ret) {
			fn_bad(&r, n, "errno other than ENOMEM: ", NULL, p.ret);
		} else {
			r.succeeded++;
			if (p.watches_after != p.watches_before + delta)
				silent++;
		}
		/* the thread is gone: its watch and registration too */
		if (!fn_counts_settle(&base, &now))
			fn_bad(&r, n, "live objects not back after the thread exited", NULL, 0);
	}
	if (silent)
		fn_bad(&r, 0, "returned 0 but attached no preemption watch", NULL, 0);
	FN_REPORT(r, name);
}

TEST(preempt_self)
{
	fn_preempt_sweep(_metadata, FN_PRE_SELF, "PREEMPT (own thread, 10 ms)");
}

TEST(preempt_all)
{
	fn_preempt_sweep(_metadata, FN_PRE_ALL,
			 "PREEMPT TARGET_ALL (caller registered, 10 ms)");
}

TEST(preempt_all_register)
{
	fn_preempt_sweep(_metadata, FN_PRE_REGISTER,
			 "REGISTER (PREEMPT TARGET_ALL 10 ms set)");
}

static void __attribute__((constructor)) fn_constructor_order_last(void)
{
	if (!__constructor_order)
		__constructor_order = _CONSTRUCTOR_ORDER_BACKWARD;
}

int main(int argc, char **argv)
{
	int i;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--verbose"))
			fn_verbose = 1;
		else
			return fprintf(stderr, "usage: %s [--verbose]\n", argv[0]), 2;
	}
	fn_skip_reason = fn_setup_knobs();
	if (fn_skip_reason) {
		/* the whole program is one skip (KSFT_SKIP) */
		printf("1..0 # SKIP %s\n", fn_skip_reason);
		return 4;
	}
	return test_harness_run(argc, argv);
}
