// SPDX-License-Identifier: GPL-2.0
/*
 * What an unprivileged user can make the kernel hold: every limit, hit.
 *
 * Each test forks a child that drops to uid 65534 (nobody) with
 * RLIMIT_MEMLOCK = 16 pages and RLIMIT_NPROC = 64, and loops until a limit
 * answers: max_threads_per_domain (ENOSPC), max_queues_per_domain and
 * max_queues_per_user (ENOSPC), max_domains_per_user (ENOSPC),
 * RLIMIT_MEMLOCK (ENOMEM), RLIMIT_NPROC (EAGAIN from pthread_create).  The
 * child asserts the exact count at which its limit answered, then stops
 * at a "peak" and reports; the parent, still root, reads the module's live
 * objects (debugfs) and the slab the loop added (/proc/slabinfo: the
 * kmalloc-cg-* caches that GFP_KERNEL_ACCOUNT allocations come from, or
 * every kmalloc-* cache on a kernel without them, and radix_tree_node for
 * the xarrays) and checks both against a bound computed from the limits.  When the child exits, every count must come
 * back to where it started.
 *
 * The per-user bound at the default limits, derived from the same object
 * costs, is in docs/security.md ("Limits").
 *
 * The module parameters are lowered (and restored) by the root parent so
 * that each loop is short; the limits are the same code at any value.
 */
#include <sys/prctl.h>
#include <grp.h>
#include <poll.h>

#include "sigwake_test.h"

#define LIM_NOBODY	65534
#define LIM_PAGE	4096
#define LIM_MEMLOCK	16		/* pages */
#define LIM_NPROC	64		/* tasks of uid 65534, threads included */
#define LIM_NOFILE	512

/*
 * Slab cost per object (bytes): the kmalloc-cg class each structure falls
 * in on the production kernels (pahole: domain 1032 -> 2k, thread 200 ->
 * 256, preemption watch 184 -> 192, wait queue 72 -> 96, pin 16 -> 16),
 * and an xarray slot (radix_tree_node 576 bytes / 64 slots = 9).  The debug
 * kernel (lockdep, KASAN) makes the locks, and so the structures, bigger:
 * the test measures its bound with LIM_DEBUG_FACTOR there.
 */
#define LIM_COST_DOMAIN		2048
#define LIM_COST_THREAD		256
#define LIM_COST_WATCH		192
#define LIM_COST_QUEUE		96
#define LIM_COST_PIN		16
#define LIM_COST_SLOT		9
#define LIM_XA_NODE		576
#define LIM_DEBUG_FACTOR	4
/* Other users of the same caches: measurement noise. */
#define LIM_SLACK		(256 * 1024L)

static const char *const lim_params[] = {
	"max_threads_per_domain", "max_queues_per_domain",
	"max_queues_per_user", "max_domains_per_user",
};
#define LIM_NPARAMS	4

/* --- measuring (root, in the parent) --- */

struct lim_snap {
	long obj[SW_OBJ_COUNT];
	long slab;		/* bytes in kmalloc-cg-* and radix_tree_node */
};

/*
 * Bytes in the caches sigwake's objects come from: kmalloc-cg-* (where
 * the kernel has them; GFP_KERNEL_ACCOUNT goes there), else kmalloc-*
 * (a kernel without CONFIG_MEMCG_KMEM, like the debug one), and
 * radix_tree_node for the xarrays.
 */
static bool lim_want_cache(const char *name, bool cg)
{
	if (!strcmp(name, "radix_tree_node"))
		return true;
	if (cg)
		return !strncmp(name, "kmalloc-cg-", 11);
	return !strncmp(name, "kmalloc-", 8) &&
	       strncmp(name, "kmalloc-rcl-", 12) &&
	       strncmp(name, "kmalloc-rnd-", 12);
}

static long lim_slab_bytes(void)
{
	char line[512], name[64];
	long active, num, size, sum = 0, cg_sum = 0;
	bool cg = false;
	FILE *f = fopen("/proc/slabinfo", "re");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%63s %ld %ld %ld", name, &active, &num,
			   &size) != 4)
			continue;
		if (!strncmp(name, "kmalloc-cg-", 11))
			cg = true;
		if (lim_want_cache(name, true))
			cg_sum += active * size;
		if (lim_want_cache(name, false))
			sum += active * size;
	}
	fclose(f);
	return cg ? cg_sum : sum;
}

/*
 * SLUB counts the free objects of per-CPU slabs as active: flush them
 * (and free empty slabs) first, so that active objects are live objects.
 */
static void lim_shrink_one(const char *cache)
{
	char path[128];
	int fd;

	snprintf(path, sizeof(path), "/sys/kernel/slab/%s/shrink", cache);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	/* A cache that cannot shrink is measured as it is. */
	if (write(fd, "1", 1) < 0)
		errno = 0;
	close(fd);
}

static void lim_shrink(void)
{
	static const char *const sizes[] = {
		"8", "16", "32", "64", "96", "128", "192", "256", "512", "1k",
		"2k", "4k", "8k",
	};
	char name[32];
	unsigned int i;

	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		snprintf(name, sizeof(name), "kmalloc-cg-%s", sizes[i]);
		lim_shrink_one(name);
		snprintf(name, sizeof(name), "kmalloc-%s", sizes[i]);
		lim_shrink_one(name);
	}
	lim_shrink_one("radix_tree_node");
}

static bool lim_snapshot(struct lim_snap *s)
{
	lim_shrink();
	s->slab = lim_slab_bytes();
	return sw_read_objects(s->obj) && s->slab >= 0;
}

/*
 * LIM_POLL(snap, cond): take snapshots into snap, a second apart (each one
 * shrinks caches, which is slow under KASAN), until cond or 10 s.
 */
#define LIM_POLL(snap, cond) ({						\
	int64_t __lim_end = sw_now_ns() + 10 * SW_NSEC_PER_SEC;		\
	bool __lim_ok;							\
	for (;;) {							\
		if (lim_snapshot(snap) && (cond)) {			\
			__lim_ok = true;				\
			break;						\
		}							\
		if (sw_now_ns() > __lim_end) {				\
			__lim_ok = false;				\
			break;						\
		}							\
		sw_sleep_ms(1000);					\
	}								\
	__lim_ok;							\
})

static bool lim_debug_kernel(void)
{
	return !access("/sys/kernel/debug/kasan", F_OK) ||
	       !access("/proc/lockdep", F_OK);
}

/* What a loop may have made the kernel hold, counted from its limits. */
struct lim_bound {
	long domains, threads, watches, queues, pins, slots;
};

static long lim_bound_bytes(const struct lim_bound *b)
{
	long bytes;

	bytes = b->domains * LIM_COST_DOMAIN + b->threads * LIM_COST_THREAD +
		b->watches * LIM_COST_WATCH + b->queues * LIM_COST_QUEUE +
		b->pins * LIM_COST_PIN;
	/*
	 * xarray slots: a live thread has two (handle, tid), a queue and a
	 * pin one, an exited thread's handle one; a node per 64 slots, and
	 * a tid (sparse) up to three nodes of its own.
	 */
	bytes += (b->slots + b->threads + b->queues + b->pins) * LIM_COST_SLOT;
	bytes += (b->domains * 4 + b->threads * 3) * LIM_XA_NODE;
	bytes += LIM_SLACK;
	/* Bigger objects, and every kmalloc cache measured: more noise too. */
	if (lim_debug_kernel())
		bytes *= LIM_DEBUG_FACTOR;
	return bytes;
}

/* --- the unprivileged child and its reports --- */

struct lim_report {
	int step;		/* 0 at a peak; else the step that failed */
	long n[8];		/* counts, per loop */
};

struct lim_ctl {
	int up[2];		/* child -> parent: reports */
	int down[2];		/* parent -> child: go on */
	pid_t pid;
};

/* In the child: report a peak and wait for the parent to have looked. */
static int lim_peak(struct lim_ctl *c, const long *n, int nn)
{
	struct lim_report r = { .step = 0 };
	char go;

	memcpy(r.n, n, sizeof(long) * nn);
	if (write(c->up[1], &r, sizeof(r)) != sizeof(r))
		return -EIO;
	return read(c->down[0], &go, 1) == 1 ? 0 : -EIO;
}

static int lim_drop(void)
{
	struct rlimit ml = { LIM_MEMLOCK * LIM_PAGE, LIM_MEMLOCK * LIM_PAGE };
	struct rlimit np = { LIM_NPROC, LIM_NPROC };
	struct rlimit nf = { LIM_NOFILE, LIM_NOFILE };

	if (setrlimit(RLIMIT_MEMLOCK, &ml) || setrlimit(RLIMIT_NPROC, &np) ||
	    setrlimit(RLIMIT_NOFILE, &nf))
		return -errno;
	if (setgroups(0, NULL) || setresgid(LIM_NOBODY, LIM_NOBODY, LIM_NOBODY) ||
	    setresuid(LIM_NOBODY, LIM_NOBODY, LIM_NOBODY))
		return -errno;
	return 0;
}

static int lim_spawn(struct lim_ctl *c, int (*fn)(struct lim_ctl *))
{
	if (pipe2(c->up, O_CLOEXEC) || pipe2(c->down, O_CLOEXEC))
		return -errno;
	c->pid = fork();
	if (c->pid < 0)
		return -errno;
	if (c->pid == 0) {
		struct lim_report r = { .step = 1 };

		close(c->up[0]);
		close(c->down[1]);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (!lim_drop())
			r.step = fn(c);
		if (r.step && write(c->up[1], &r, sizeof(r)) != sizeof(r))
			r.step = 2;
		_exit(r.step);
	}
	close(c->up[1]);
	close(c->down[0]);
	return 0;
}

/* In the parent: the next report (false on timeout or EOF). */
static bool lim_next(struct lim_ctl *c, struct lim_report *r)
{
	struct pollfd p = { .fd = c->up[0], .events = POLLIN };

	if (poll(&p, 1, 90000) != 1)
		return false;
	return read(c->up[0], r, sizeof(*r)) == sizeof(*r);
}

static void lim_go(struct lim_ctl *c)
{
	if (write(c->down[1], "g", 1) != 1)
		kill(c->pid, SIGKILL);
}

/* Let the child finish; its exit status (0 = pass). */
static int lim_reap(struct lim_ctl *c)
{
	int status;

	close(c->down[1]);
	close(c->up[0]);
	if (waitpid(c->pid, &status, 0) != c->pid)
		return -ECHILD;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* --- the fixture: root, the module parameters saved and restored --- */

FIXTURE(limits) {
	long saved[LIM_NPARAMS];
	struct lim_snap before;
};

FIXTURE_SETUP(limits)
{
	bool ok;
	int i;

	if (geteuid())
		SKIP(return, "needs root (module parameters, uid 65534)");
	for (i = 0; i < LIM_NPARAMS; i++) {
		self->saved[i] = sw_param_read(lim_params[i]);
		if (self->saved[i] < 0 && sw_allow_skip())
			SKIP(return, "no module parameter %s", lim_params[i]);
		ASSERT_LT(0, self->saved[i]);
	}
	ok = lim_snapshot(&self->before);
	if (!ok && sw_allow_skip())
		SKIP(return, "no " SW_OBJECTS " or /proc/slabinfo");
	ASSERT_TRUE(ok) {
		TH_LOG("cannot read " SW_OBJECTS " or /proc/slabinfo");
	}
}

FIXTURE_TEARDOWN(limits)
{
	int i;

	for (i = 0; i < LIM_NPARAMS; i++)
		if (self->saved[i] > 0)
			sw_param_write(lim_params[i], self->saved[i]);
}

/*
 * At a peak: the live objects added since the start stay within @b, and so
 * does the slab, measured against the bytes @b is worth.
 */
static void lim_check_peak(struct __test_metadata *_metadata,
			   const struct lim_snap *before,
			   const struct lim_bound *b, const char *what)
{
	struct lim_snap now;
	long d[SW_OBJ_COUNT], bound = lim_bound_bytes(b), first;
	int i;

	ASSERT_TRUE(lim_snapshot(&now));
	first = now.slab - before->slab;
	/*
	 * Objects the loop freed on its way (exited threads, closed
	 * domains) go after an RCU grace period, and kfree_rcu() batches
	 * them for seconds: what the loop holds is what stays.
	 */
	LIM_POLL(&now, now.slab - before->slab <= bound);
	for (i = 0; i < SW_OBJ_COUNT; i++)
		d[i] = now.obj[i] - before->obj[i];
	TH_LOG("%s: +%ld domains +%ld threads +%ld queues +%ld pinned_pages +%ld preempt_watches; slab +%ld B (first look +%ld B, bound %ld B)",
	       what, d[SW_OBJ_DOMAINS], d[SW_OBJ_THREADS], d[SW_OBJ_QUEUES],
	       d[SW_OBJ_PINNED_PAGES], d[SW_OBJ_PREEMPT_WATCHES],
	       now.slab - before->slab, first, bound);
	EXPECT_GE(b->domains, d[SW_OBJ_DOMAINS]);
	EXPECT_GE(b->threads, d[SW_OBJ_THREADS]);
	EXPECT_GE(b->queues, d[SW_OBJ_QUEUES]);
	EXPECT_GE(b->pins, d[SW_OBJ_PINNED_PAGES]);
	EXPECT_GE(LIM_MEMLOCK, d[SW_OBJ_PINNED_PAGES]);
	EXPECT_GE(b->watches, d[SW_OBJ_PREEMPT_WATCHES]);
	EXPECT_GE(bound, now.slab - before->slab);
}

/* After the child exited: every count back, the slab back within noise. */
static void lim_check_gone(struct __test_metadata *_metadata,
			   const struct lim_snap *before)
{
	struct lim_snap now;
	bool back;
	int i;

	/* The counts first: cheap to read, unlike the slab. */
	SW_POLL(sw_read_objects(now.obj) &&
		now.obj[SW_OBJ_DOMAINS] <= before->obj[SW_OBJ_DOMAINS] &&
		now.obj[SW_OBJ_THREADS] <= before->obj[SW_OBJ_THREADS] &&
		now.obj[SW_OBJ_QUEUES] <= before->obj[SW_OBJ_QUEUES] &&
		now.obj[SW_OBJ_PINNED_PAGES] <=
			before->obj[SW_OBJ_PINNED_PAGES] &&
		now.obj[SW_OBJ_PREEMPT_WATCHES] <=
			before->obj[SW_OBJ_PREEMPT_WATCHES], SW_LONG_MS);
	back = LIM_POLL(&now,
		       now.obj[SW_OBJ_DOMAINS] <= before->obj[SW_OBJ_DOMAINS] &&
		       now.obj[SW_OBJ_THREADS] <= before->obj[SW_OBJ_THREADS] &&
		       now.obj[SW_OBJ_QUEUES] <= before->obj[SW_OBJ_QUEUES] &&
		       now.obj[SW_OBJ_PINNED_PAGES] <=
				before->obj[SW_OBJ_PINNED_PAGES] &&
		       now.obj[SW_OBJ_PREEMPT_WATCHES] <=
				before->obj[SW_OBJ_PREEMPT_WATCHES] &&
		       now.slab - before->slab <= LIM_SLACK);
	TH_LOG("after exit: slab %+ld B", now.slab - before->slab);
	EXPECT_TRUE(back) {
		for (i = 0; i < SW_OBJ_COUNT; i++)
			TH_LOG("%s %ld -> %ld", sw_obj_names[i],
			       before->obj[i], now.obj[i]);
	}
}

/* Run @fn unprivileged; check each of its @peaks reports against @b. */
static void lim_run(struct __test_metadata *_metadata,
		    const struct lim_snap *before, int (*fn)(struct lim_ctl *),
		    int peaks, void (*check)(struct __test_metadata *,
					     const struct lim_snap *, int,
					     const long *))
{
	struct lim_report r;
	struct lim_ctl c;
	int i, status;

	ASSERT_EQ(0, lim_spawn(&c, fn));
	for (i = 0; i < peaks; i++) {
		if (!lim_next(&c, &r)) {
			kill(c.pid, SIGKILL);
			lim_reap(&c);
			ASSERT_TRUE(false) {
				TH_LOG("no report %d from the child", i);
			}
		}
		if (r.step) {
			lim_reap(&c);
			ASSERT_EQ(0, r.step) {
				TH_LOG("child failed at step %d (counts %ld %ld %ld %ld)",
				       r.step, r.n[0], r.n[1], r.n[2], r.n[3]);
			}
		}
		check(_metadata, before, i, r.n);
		lim_go(&c);
	}
	status = lim_reap(&c);
	EXPECT_EQ(0, status);
	lim_check_gone(_metadata, before);
}

/* --- parked threads --- */

struct lim_shared {
	int fds[8];
	int nfds;
	struct sigwake_thread_block *blk[8];	/* per domain, 64 blocks */
	int round;		/* atomic: register in fds[] for this round */
	int stop;		/* atomic */
	int registered;		/* atomic: registrations that succeeded */
	int refused;		/* atomic: ENOSPC */
	int other;		/* atomic: any other result */
	int other_err;
	int arrived;		/* atomic: threads that finished a round */
};

struct lim_thr {
	struct lim_shared *s;
	int idx;
};

/* Wait (60 s at most) until *p >= want or stop. */
static bool lim_await(int *p, int want, int *stop)
{
	int64_t end = sw_now_ns() + 60 * SW_NSEC_PER_SEC;

	while (SW_LOAD(p) < want) {
		if ((stop && SW_LOAD(stop)) || sw_now_ns() > end)
			return false;
		usleep(1000);
	}
	return true;
}

static void *lim_thr_fn(void *arg)
{
	struct lim_thr *t = arg;
	struct lim_shared *s = t->s;
	int round, d, err;
	__u32 h;

	for (round = 1; ; round++) {
		if (!lim_await(&s->round, round, &s->stop))
			break;
		for (d = 0; d < SW_LOAD(&s->nfds); d++) {
			err = sw_register(s->fds[d], &s->blk[d][t->idx], NULL,
					  0, &h);
			if (!err) {
				SW_ADD(&s->registered, 1);
			} else if (err == -ENOSPC) {
				SW_ADD(&s->refused, 1);
			} else {
				SW_STORE(&s->other_err, err);
				SW_ADD(&s->other, 1);
			}
		}
		SW_ADD(&s->arrived, 1);
	}
	return NULL;
}

/* Threads until pthread_create fails: the count; *err its error. */
static int lim_spawn_threads(struct lim_shared *s, struct lim_thr *t, int max,
			     pthread_t *th, int *err)
{
	pthread_attr_t a;
	int n;

	pthread_attr_init(&a);
	pthread_attr_setstacksize(&a, 64 * 1024);
	*err = 0;
	for (n = 0; n < max; n++) {
		t[n] = (struct lim_thr){ .s = s, .idx = n };
		*err = pthread_create(&th[n], &a, lim_thr_fn, &t[n]);
		if (*err)
			break;
	}
	pthread_attr_destroy(&a);
	return n;
}

static void lim_join_threads(struct lim_shared *s, pthread_t *th, int n)
{
	int i;

	SW_STORE(&s->stop, 1);
	for (i = 0; i < n; i++)
		pthread_join(th[i], NULL);
}

static int lim_alloc_blocks(struct lim_shared *s, int ndom)
{
	int d;

	for (d = 0; d < ndom; d++) {
		s->blk[d] = sw_alloc_blocks(64);
		if (!s->blk[d])
			return -ENOMEM;
		memset(s->blk[d], 0, LIM_PAGE);	/* fault it in */
	}
	return 0;
}

/*
 * Threads per domain, and RLIMIT_NPROC: max_threads_per_domain = 32; the
 * child starts threads until RLIMIT_NPROC refuses one (EAGAIN), each
 * registering in one domain: exactly 32 registrations, every other one
 * ENOSPC.
 */
#define LIM_T_THREADS	32

static int threads_child(struct lim_ctl *c)
{
	static struct lim_shared s;
	static struct lim_thr t[LIM_NPROC + 1];
	static pthread_t th[LIM_NPROC + 1];
	int n, err;
	long counts[4];

	s.fds[0] = open(SIGWAKE_DEVICE, O_RDWR | O_CLOEXEC);
	if (s.fds[0] < 0)
		return 10;
	s.nfds = 1;
	if (lim_alloc_blocks(&s, 1))
		return 11;
	SW_STORE(&s.round, 1);
	n = lim_spawn_threads(&s, t, LIM_NPROC + 1, th, &err);
	if (err != EAGAIN || n > LIM_NPROC - 1)
		return 12;	/* RLIMIT_NPROC did not answer */
	if (!lim_await(&s.arrived, n, NULL))
		return 13;
	counts[0] = n;
	counts[1] = SW_LOAD(&s.registered);
	counts[2] = SW_LOAD(&s.refused);
	counts[3] = SW_LOAD(&s.other) ? SW_LOAD(&s.other_err) : 0;
	if (counts[1] != LIM_T_THREADS || counts[2] != n - LIM_T_THREADS ||
	    counts[3])
		return 14;
	if (lim_peak(c, counts, 4))
		return 15;
	lim_join_threads(&s, th, n);
	return 0;
}

static void threads_check(struct __test_metadata *_metadata,
			  const struct lim_snap *before, int peak,
			  const long *n)
{
	struct lim_bound b = {
		.domains = 1, .threads = LIM_T_THREADS,
		.watches = LIM_T_THREADS, .pins = 1,
	};

	TH_LOG("%ld threads (RLIMIT_NPROC %d): %ld registered, %ld ENOSPC",
	       n[0], LIM_NPROC, n[1], n[2]);
	lim_check_peak(_metadata, before, &b, "threads");
}

TEST_F(limits, threads_per_domain_and_nproc)
{
	ASSERT_EQ(0, sw_param_write("max_threads_per_domain", LIM_T_THREADS));
	lim_run(_metadata, &self->before, threads_child, 1, threads_check);
}

/*
 * Queues per domain and per user: max_queues_per_domain = 256,
 * max_queues_per_user = 640, four domains: 256, 256, 128 and 0 plain
 * queues (no page), each loop ending in ENOSPC.
 */
#define LIM_Q_DOM	256
#define LIM_Q_USER	640

static int queues_child(struct lim_ctl *c)
{
	static const long want[4] = { LIM_Q_DOM, LIM_Q_DOM,
				      LIM_Q_USER - 2 * LIM_Q_DOM, 0 };
	long counts[4];
	int fd, d, err;
	__u32 h;

	for (d = 0; d < 4; d++) {
		fd = open(SIGWAKE_DEVICE, O_RDWR | O_CLOEXEC);
		if (fd < 0)
			return 10 + d;
		counts[d] = 0;
		while (!(err = sw_wq_create(fd, NULL, &h)))
			if (++counts[d] > LIM_Q_DOM)
				return 20 + d;
		if (err != -ENOSPC || counts[d] != want[d])
			return 30 + d;
	}
	return lim_peak(c, counts, 4) ? 40 : 0;
}

static void queues_check(struct __test_metadata *_metadata,
			 const struct lim_snap *before, int peak,
			 const long *n)
{
	struct lim_bound b = { .domains = 4, .queues = LIM_Q_USER };

	TH_LOG("queues per domain: %ld %ld %ld %ld (limits %d per domain, %d per user)",
	       n[0], n[1], n[2], n[3], LIM_Q_DOM, LIM_Q_USER);
	lim_check_peak(_metadata, before, &b, "queues");
}

TEST_F(limits, queues_per_domain_and_user)
{
	ASSERT_EQ(0, sw_param_write("max_queues_per_domain", LIM_Q_DOM));
	ASSERT_EQ(0, sw_param_write("max_queues_per_user", LIM_Q_USER));
	lim_run(_metadata, &self->before, queues_child, 1, queues_check);
}

/* Domains per user: open(2) until ENOSPC, at the default 256. */
#define LIM_DOMAINS	256

static int domains_child(struct lim_ctl *c)
{
	long counts[1] = { 0 };
	int fd;

	while ((fd = open(SIGWAKE_DEVICE, O_RDWR | O_CLOEXEC)) >= 0)
		if (++counts[0] > LIM_DOMAINS)
			return 10;
	if (errno != ENOSPC || counts[0] != LIM_DOMAINS)
		return 11;
	return lim_peak(c, counts, 1) ? 12 : 0;
}

static void domains_check(struct __test_metadata *_metadata,
			  const struct lim_snap *before, int peak,
			  const long *n)
{
	struct lim_bound b = { .domains = LIM_DOMAINS };

	TH_LOG("%ld domains opened, then ENOSPC", n[0]);
	lim_check_peak(_metadata, before, &b, "domains");
}

TEST_F(limits, domains_per_user)
{
	ASSERT_EQ(0, sw_param_write("max_domains_per_user", LIM_DOMAINS));
	lim_run(_metadata, &self->before, domains_child, 1, domains_check);
}

/*
 * Pinned pages: RLIMIT_MEMLOCK = 16 pages over four domains of one user.
 * Words on fresh pages, round robin, until ENOMEM: exactly 16.  Then a
 * block and a kick byte on a fresh page are ENOMEM too, a word on a page
 * the domain pinned already is not, and the same page in another domain
 * is (each domain pins, and is charged for, its own).
 */
static int pins_child(struct lim_ctl *c)
{
	unsigned char *pages;
	struct sigwake_thread_block *blk;
	long counts[2] = { 0 };
	int fds[4], d, err, i;
	__u32 h;

	pages = mmap(NULL, (LIM_MEMLOCK + 4) * LIM_PAGE,
		     PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (pages == MAP_FAILED)
		return 10;
	memset(pages, 0, (LIM_MEMLOCK + 4) * LIM_PAGE);
	for (d = 0; d < 4; d++) {
		fds[d] = open(SIGWAKE_DEVICE, O_RDWR | O_CLOEXEC);
		if (fds[d] < 0)
			return 11;
	}
	for (i = 0; ; i++) {
		err = sw_wq_create(fds[i % 4], pages + i * LIM_PAGE, &h);
		if (err)
			break;
		if (++counts[0] > LIM_MEMLOCK)
			return 12;
	}
	if (err != -ENOMEM || counts[0] != LIM_MEMLOCK)
		return 13;
	blk = (void *)(pages + (LIM_MEMLOCK + 1) * LIM_PAGE);
	if (sw_register(fds[0], blk, NULL, 0, &h) != -ENOMEM)
		return 14;
	/* A block on a pinned page, its kick byte on a fresh one. */
	if (sw_register(fds[0], pages + 64, pages + (LIM_MEMLOCK + 2) * LIM_PAGE,
			SIGUSR1, &h) != -ENOMEM)
		return 15;
	/* fds[0] pinned pages 0, 4, 8, 12: another word on page 4 is free */
	if (sw_wq_create(fds[0], pages + 4 * LIM_PAGE + 128, &h))
		return 16;
	/* page 4 in domain 1: a pin of its own, over the limit */
	if (sw_wq_create(fds[1], pages + 4 * LIM_PAGE + 256, &h) != -ENOMEM)
		return 17;
	if (sw_register(fds[0], pages + 64, NULL, 0, &h))
		return 18;
	counts[1] = sw_unregister(fds[0], h);
	return lim_peak(c, counts, 2) ? 19 : 0;
}

static void pins_check(struct __test_metadata *_metadata,
		       const struct lim_snap *before, int peak,
		       const long *n)
{
	struct lim_bound b = { .domains = 4, .queues = LIM_MEMLOCK + 1,
			       .pins = LIM_MEMLOCK };
	long now[SW_OBJ_COUNT];

	TH_LOG("%ld pages pinned over 4 domains, then ENOMEM (RLIMIT_MEMLOCK %d pages)",
	       n[0], LIM_MEMLOCK);
	ASSERT_TRUE(sw_read_objects(now));
	EXPECT_EQ(LIM_MEMLOCK, now[SW_OBJ_PINNED_PAGES] -
			       before->obj[SW_OBJ_PINNED_PAGES]);
	lim_check_peak(_metadata, before, &b, "pins");
}

TEST_F(limits, pinned_pages_memlock)
{
	lim_run(_metadata, &self->before, pins_child, 1, pins_check);
}

/*
 * Preemption watches: max_domains_per_user = 4.  Threads start until
 * RLIMIT_NPROC refuses one; each registers in all four domains, the main
 * thread sets PREEMPT(TARGET_ALL) in each and closes them all: every
 * thread keeps four idle watches, and no fifth domain opens (ENOSPC).  A
 * second round in four new domains: the first REGISTER of each thread
 * drops its idle watches, so the count stays at threads x 4.
 */
#define LIM_W_DOMS	4

static int watches_round(struct lim_ctl *c, struct lim_shared *s, int n,
			 int round)
{
	struct sigwake_preempt_args a = {
		.size = sizeof(a), .target = SIGWAKE_TARGET_ALL,
		.budget_ns = SW_NSEC_PER_SEC,
	};
	long counts[4];
	int d, fd, err;

	for (d = 0; d < LIM_W_DOMS; d++) {
		s->fds[d] = open(SIGWAKE_DEVICE, O_RDWR | O_CLOEXEC);
		if (s->fds[d] < 0)
			return 10 * round + 1;
	}
	SW_STORE(&s->nfds, LIM_W_DOMS);
	SW_STORE(&s->round, round);
	if (!lim_await(&s->arrived, n * round, NULL))
		return 10 * round + 2;
	if (SW_LOAD(&s->registered) != n * LIM_W_DOMS * round ||
	    SW_LOAD(&s->other))
		return 10 * round + 3;
	for (d = 0; d < LIM_W_DOMS; d++) {
		err = sw_ioctl(s->fds[d], SIGWAKE_IOC_PREEMPT, &a);
		if (err == -EOPNOTSUPP)
			return 99;
		if (err)
			return 10 * round + 4;
	}
	fd = open(SIGWAKE_DEVICE, O_RDWR | O_CLOEXEC);
	if (fd >= 0 || errno != ENOSPC)
		return 10 * round + 5;
	for (d = 0; d < LIM_W_DOMS; d++)
		close(s->fds[d]);
	counts[0] = n;
	counts[1] = round;
	counts[2] = SW_LOAD(&s->registered);
	counts[3] = 0;
	return lim_peak(c, counts, 4) ? 10 * round + 6 : 0;
}

static int watches_child(struct lim_ctl *c)
{
	static struct lim_shared s;
	static struct lim_thr t[LIM_NPROC + 1];
	static pthread_t th[LIM_NPROC + 1];
	int n, err, ret;

	if (lim_alloc_blocks(&s, LIM_W_DOMS))
		return 2;
	n = lim_spawn_threads(&s, t, LIM_NPROC + 1, th, &err);
	if (err != EAGAIN || n > LIM_NPROC - 1)
		return 3;
	ret = watches_round(c, &s, n, 1);
	if (!ret)
		ret = watches_round(c, &s, n, 2);
	lim_join_threads(&s, th, n);
	return ret;
}

static void watches_check(struct __test_metadata *_metadata,
			  const struct lim_snap *before, int peak,
			  const long *n)
{
	struct lim_bound b = { .watches = LIM_NPROC * LIM_W_DOMS };
	long now[SW_OBJ_COUNT];

	TH_LOG("round %ld: %ld threads (RLIMIT_NPROC %d) x %d domains, %ld registrations in all, domains closed",
	       n[1], n[0], LIM_NPROC, LIM_W_DOMS, n[2]);
	/* The domains go once their last watch lets go of them. */
	ASSERT_TRUE(SW_POLL(sw_read_objects(now) &&
			    now[SW_OBJ_DOMAINS] <= before->obj[SW_OBJ_DOMAINS] &&
			    now[SW_OBJ_THREADS] <= before->obj[SW_OBJ_THREADS],
			    SW_LONG_MS));
	EXPECT_EQ(n[0] * LIM_W_DOMS, now[SW_OBJ_PREEMPT_WATCHES] -
				     before->obj[SW_OBJ_PREEMPT_WATCHES]);
	lim_check_peak(_metadata, before, &b, "watches");
}

TEST_F(limits, idle_preempt_watches)
{
	ASSERT_EQ(0, sw_param_write("max_domains_per_user", LIM_W_DOMS));
	lim_run(_metadata, &self->before, watches_child, 2, watches_check);
}

/*
 * Exited registrations: max_threads_per_domain = 64, max_domains_per_user
 * = 4.  In each domain, threads register and exit without unregistering,
 * one after another, until REGISTER is ENOSPC: exactly 64 each.  Only the
 * handles stay (256 xarray slots): no live thread, no pinned page.
 */
#define LIM_E_THREADS	64
#define LIM_E_DOMS	4

struct lim_exiter {
	int fd;
	struct sigwake_thread_block *blk;
	int err;
};

static void *lim_exiter_fn(void *arg)
{
	struct lim_exiter *e = arg;
	__u32 h;

	e->err = sw_register(e->fd, e->blk, NULL, 0, &h);
	return NULL;
}

static int exited_child(struct lim_ctl *c)
{
	struct sigwake_thread_block *blk = sw_alloc_blocks(64);
	long counts[LIM_E_DOMS];
	struct lim_exiter e;
	pthread_t th;
	int d, fd;

	if (!blk)
		return 10;
	for (d = 0; d < LIM_E_DOMS; d++) {
		fd = open(SIGWAKE_DEVICE, O_RDWR | O_CLOEXEC);
		if (fd < 0)
			return 11;
		counts[d] = 0;
		for (;;) {
			e = (struct lim_exiter){ .fd = fd,
				.blk = &blk[counts[d] % 64] };
			if (pthread_create(&th, NULL, lim_exiter_fn, &e))
				return 12;
			pthread_join(th, NULL);
			if (e.err)
				break;
			if (++counts[d] > LIM_E_THREADS)
				return 13;
		}
		if (e.err != -ENOSPC || counts[d] != LIM_E_THREADS)
			return 14;
	}
	return lim_peak(c, counts, LIM_E_DOMS) ? 15 : 0;
}

static void exited_check(struct __test_metadata *_metadata,
			 const struct lim_snap *before, int peak,
			 const long *n)
{
	struct lim_bound b = { .domains = LIM_E_DOMS,
			       .slots = LIM_E_DOMS * LIM_E_THREADS };
	long now[SW_OBJ_COUNT];

	TH_LOG("exited registrations per domain: %ld %ld %ld %ld, then ENOSPC",
	       n[0], n[1], n[2], n[3]);
	/* The reaper releases them: no thread object, no page stays. */
	ASSERT_TRUE(SW_POLL(sw_read_objects(now) &&
			    now[SW_OBJ_THREADS] <= before->obj[SW_OBJ_THREADS] &&
			    now[SW_OBJ_PINNED_PAGES] <=
				before->obj[SW_OBJ_PINNED_PAGES],
			    SW_LONG_MS)) {
		TH_LOG("live threads %ld -> %ld, pinned pages %ld -> %ld",
		       before->obj[SW_OBJ_THREADS], now[SW_OBJ_THREADS],
		       before->obj[SW_OBJ_PINNED_PAGES],
		       now[SW_OBJ_PINNED_PAGES]);
	}
	lim_check_peak(_metadata, before, &b, "exited");
}

TEST_F(limits, exited_registrations)
{
	ASSERT_EQ(0, sw_param_write("max_threads_per_domain", LIM_E_THREADS));
	ASSERT_EQ(0, sw_param_write("max_domains_per_user", LIM_E_DOMS));
	lim_run(_metadata, &self->before, exited_child, 1, exited_check);
}

TEST_HARNESS_MAIN
