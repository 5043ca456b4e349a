// SPDX-License-Identifier: GPL-2.0
/*
 * SIGWAKE_IOC_PREEMPT: a thread that stays RUNNING_IN_GUEST for more than
 * its budget of its own CPU time is kicked with SIGWAKE_TF_PREEMPTED |
 * SIGWAKE_TF_KICKED, its kick byte and its kick signal (on that thread,
 * SI_KERNEL); within budget + one sampling period + timer latency; once per
 * stint; bursts below the budget (told apart by entry_seq) never; another
 * thread's CPU time never counts; other states never count; budget 0
 * disarms; SIGWAKE_TARGET_ALL covers present and future threads; a budget
 * set by another thread is armed on the target; the errno paths.
 *
 * Timing: only the thread's CPU time counts, and that is what the tests
 * measure (CLOCK_THREAD_CPUTIME_ID, in the kick handler).  Under TCG the
 * timer latency can be tens of milliseconds, so the upper bound allows
 * SLACK_NS; the lower bound is exact up to LOW_SLACK_NS.  A host that stops
 * the vCPU in the middle of a short burst makes it a long one (the guest
 * kernel counts that as CPU time): such bursts are measured and excluded.
 */
#include <sys/epoll.h>
#include <sys/eventfd.h>

#include "sigwake_test.h"

#define MS		SW_NSEC_PER_MSEC
#define US		1000LL
#define KICK_SIG	SIGUSR1
#define BUDGET		(2 * MS)
#define SLACK_NS	(250 * MS)
#define LOW_SLACK_NS	(100 * US)
/* A stint this long (CPU) without a preemption was never preempted. */
#define NEVER_NS	(3000 * MS)

static __s64 period_of(__s64 b)
{
	return b / 8 > SIGWAKE_PREEMPT_MIN_PERIOD_NS ? b / 8 :
						       SIGWAKE_PREEMPT_MIN_PERIOD_NS;
}

static int64_t cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (int64_t)ts.tv_sec * SW_NSEC_PER_SEC + ts.tv_nsec;
}

static int sw_preempt(int fd, __u32 target, __u64 budget)
{
	struct sigwake_preempt_args a = {
		.size = sizeof(a),
		.target = target,
		.budget_ns = budget,
	};

	return sw_ioctl(fd, SIGWAKE_IOC_PREEMPT, &a);
}

/* ---- a simulated guest thread ---------------------------------------- */

enum mode {
	M_STINTS,	/* nstints long stints, each until preempted */
	M_ONCE,		/* one stint; after the preemption stay in guest */
	M_BURSTS,	/* nstints bursts of burst_ns each */
	M_SLEEP,	/* in guest code, asleep for sleep_ms */
	M_SPIN,		/* spin in guest, re-entering, until stop */
	M_STATE,	/* spin for burst_ns with state .state (not guest) */
	M_NOSYS,	/* in guest, no syscall at all, until the kick byte */
};

#define MAX_STINTS	64

struct spinner {
	/* set by the test */
	int fd;
	struct sigwake_thread_block *blk;
	unsigned char *kick;
	int kick_signo;
	enum mode mode;
	__u64 self_budget;	/* PREEMPT(self) before the go, if non-zero */
	int nstints;
	int64_t burst_ns;
	int sleep_ms;
	__u32 state;
	bool entry_seq;		/* bump entry_seq on entry (default true) */

	/* results */
	pthread_t th;
	pid_t tid;
	__u32 handle;
	int reg_err, err;
	int ready, go, stop, done;	/* atomics */
	int spinning;			/* M_NOSYS: in its loop (atomic) */
	int preempted;			/* stints with TF_PREEMPTED */
	int preempted_short;		/* M_BURSTS: of bursts < budget */
	int short_bursts;
	int64_t max_burst;
	__u32 flags_seen;		/* OR of all flags taken */
	int n_at;
	int64_t at[MAX_STINTS];		/* CPU into the stint at the kick */
	int64_t at_wall[MAX_STINTS];	/* wall time into it, the same */
	int switched_bursts;		/* M_BURSTS: switched out, not judged */
	int extra_signals;		/* M_ONCE: after the first */
	int64_t sleep_cpu;
	int byte_seen;			/* M_STATE: the kick byte went to 1 */
	bool until_byte;		/* M_STATE: stop when it does */
	int odd;			/* M_STINTS: stints the handler missed */
	__u32 odd_flags;
	int64_t odd_cpu;

	/* the kick handler's */
	volatile sig_atomic_t leave, signals;
	volatile int64_t kick_cpu, kick_wall;
	volatile int kick_code;
	volatile pid_t kick_tid;
};

static __thread struct spinner *cur;
static volatile sig_atomic_t stray_signals;

static void kick_handler(int sig, siginfo_t *si, void *uc)
{
	struct spinner *s = cur;

	if (!s) {
		stray_signals++;
		return;
	}
	s->kick_cpu = cpu_ns();
	s->kick_wall = sw_now_ns();
	s->kick_code = si->si_code;
	s->kick_tid = sw_gettid();
	s->signals++;
	s->leave = 1;
}

/* Enter guest code as libsigwake does: bump entry_seq, then the Dekker. */
static bool enter(struct spinner *s)
{
	if (s->entry_seq)
		SW_STORE(&s->blk->entry_seq, SW_LOAD(&s->blk->entry_seq) + 1);
	return sw_enter_guest(s->blk);
}

static __u32 leave(struct spinner *s)
{
	__u32 fl;

	sw_set_state(s->blk, SIGWAKE_RUNNING_IN_HOST);
	fl = SW_XCHG(&s->blk->flags, 0);
	SW_STORE(s->kick, 0);
	s->flags_seen |= fl;
	return fl;
}

/* Spin until the handler says leave, or @limit of CPU since @c0. */
static void spin(struct spinner *s, int64_t c0, int64_t limit, bool stop_on_leave)
{
	volatile unsigned long work = 0;

	for (;;) {
		for (int i = 0; i < 256; i++)
			work++;
		if (stop_on_leave && s->leave)
			return;
		if (SW_LOAD(&s->stop))
			return;
		if (cpu_ns() - c0 >= limit)
			return;
	}
}

static void *spinner_fn(void *arg)
{
	struct spinner *s = arg;
	struct timespec ts;
	int64_t c0, w0;

	cur = s;
	s->tid = sw_gettid();
	s->reg_err = sw_register(s->fd, s->blk, s->kick, s->kick_signo,
				 &s->handle);
	if (!s->reg_err && s->self_budget)
		s->err = sw_preempt(s->fd, s->handle, s->self_budget);
	SW_STORE(&s->ready, 1);
	if (s->reg_err || s->err)
		goto out;
	/* returns to user mode while it waits: a budget set by another
	 * thread gets armed here */
	while (!SW_LOAD(&s->go))
		sched_yield();

	switch (s->mode) {
	case M_STINTS:
		for (int k = 0; k < s->nstints && k < MAX_STINTS; k++) {
			__u32 fl;

			/*
			 * CPU time from before the entry: an upper bound on
			 * the stint's (a host stall of a TCG vCPU right at
			 * the entry is charged to this thread, and counts).
			 */
			s->leave = 0;
			c0 = cpu_ns();
			w0 = sw_now_ns();
			while (!enter(s))
				leave(s);
			spin(s, c0, NEVER_NS, true);
			fl = leave(s);
			if (fl & SIGWAKE_TF_PREEMPTED)
				s->preempted++;
			if (s->leave) {
				s->at_wall[s->n_at] = s->kick_wall - w0;
				s->at[s->n_at++] = s->kick_cpu - c0;
			} else {
				s->odd_flags = fl;
				s->odd_cpu = cpu_ns() - c0;
				s->odd++;
			}
			sched_yield();	/* the runtime's own work */
		}
		break;
	case M_ONCE:
		s->leave = 0;
		c0 = cpu_ns();
		while (!enter(s))
			leave(s);
		spin(s, c0, NEVER_NS, true);
		if (s->leave)
			s->at[s->n_at++] = s->kick_cpu - c0;
		/* stay in this stint for five more budgets */
		s->signals = 0;
		s->leave = 0;
		spin(s, cpu_ns(), 5 * (int64_t)s->burst_ns, false);
		s->extra_signals = s->signals;
		if (leave(s) & SIGWAKE_TF_PREEMPTED)
			s->preempted++;
		/* a new stint: preempted again */
		s->leave = 0;
		c0 = cpu_ns();
		while (!enter(s))
			leave(s);
		spin(s, c0, NEVER_NS, true);
		if (s->leave)
			s->at[s->n_at++] = s->kick_cpu - c0;
		if (leave(s) & SIGWAKE_TF_PREEMPTED)
			s->preempted++;
		break;
	case M_BURSTS:
		for (int k = 0; k < s->nstints; k++) {
			int64_t dur, wall;
			__u32 fl;

			c0 = cpu_ns();
			w0 = sw_now_ns();
			while (!enter(s))
				leave(s);
			spin(s, c0, s->burst_ns, false);
			fl = leave(s);
			dur = cpu_ns() - c0;
			wall = sw_now_ns() - w0;
			if (dur > s->max_burst)
				s->max_burst = dur;
			/* Switched out: not judged (see check_window()). */
			if (wall - dur > LOW_SLACK_NS) {
				s->switched_bursts++;
				continue;
			}
			if (dur < (int64_t)s->self_budget) {
				s->short_bursts++;
				if (fl & SIGWAKE_TF_PREEMPTED)
					s->preempted_short++;
			}
			if (fl & SIGWAKE_TF_PREEMPTED)
				s->preempted++;
		}
		break;
	case M_SLEEP:
		ts.tv_sec = s->sleep_ms / 1000;
		ts.tv_nsec = (long)(s->sleep_ms % 1000) * MS;
		c0 = cpu_ns();
		while (!enter(s))
			leave(s);
		if (nanosleep(&ts, NULL))
			s->err = -errno;	/* a kick signal interrupted it */
		if (leave(s) & SIGWAKE_TF_PREEMPTED)
			s->preempted++;
		s->sleep_cpu = cpu_ns() - c0;
		break;
	case M_SPIN:
		while (!SW_LOAD(&s->stop)) {
			if (!enter(s)) {
				leave(s);
				continue;
			}
			s->leave = 0;
			spin(s, cpu_ns(), 50 * MS, true);
			if (leave(s) & SIGWAKE_TF_PREEMPTED)
				s->preempted++;
		}
		break;
	case M_STATE:
		sw_set_state(s->blk, s->state);
		c0 = cpu_ns();
		while (cpu_ns() - c0 < s->burst_ns) {
			spin(s, cpu_ns(), 100 * US, false);
			if (SW_LOAD(s->kick)) {
				s->byte_seen = 1;
				if (s->until_byte)
					break;
			}
		}
		if (leave(s) & SIGWAKE_TF_PREEMPTED)
			s->preempted++;
		break;
	case M_NOSYS: {
		volatile unsigned long work = 0;

		/* no CPU clock either: that is a system call */
		SW_STORE(&s->blk->entry_seq, SW_LOAD(&s->blk->entry_seq) + 1);
		sw_set_state(s->blk, SIGWAKE_RUNNING_IN_GUEST);
		SW_STORE(&s->spinning, 1);
		while (!SW_LOAD(&s->stop)) {
			for (int i = 0; i < 256; i++)
				work++;
			if (SW_LOAD(s->kick)) {
				s->byte_seen = 1;
				break;
			}
		}
		if (leave(s) & SIGWAKE_TF_PREEMPTED)
			s->preempted++;
		break;
	}
	}
out:
	SW_STORE(&s->done, 1);
	return NULL;
}

static void spinner_init(struct spinner *s, int fd,
			 struct sigwake_thread_block *blk, unsigned char *kick,
			 enum mode mode)
{
	memset(s, 0, sizeof(*s));
	s->fd = fd;
	s->blk = blk;
	s->kick = kick;
	s->kick_signo = KICK_SIG;
	s->mode = mode;
	s->nstints = 1;
	s->burst_ns = BUDGET;
	s->entry_seq = true;
}

/* Start: 0 once it registered (and set its own budget), or -errno. */
static int spinner_start(struct spinner *s)
{
	if (pthread_create(&s->th, NULL, spinner_fn, s))
		return -EAGAIN;
	if (!SW_POLL(SW_LOAD(&s->ready), SW_LONG_MS))
		return -ETIMEDOUT;
	return s->reg_err ? s->reg_err : s->err;
}

static void spinner_go(struct spinner *s)
{
	SW_STORE(&s->go, 1);
}

/* Wait for it to finish (ms), then join. */
static bool spinner_join(struct spinner *s, int ms)
{
	bool ok = SW_POLL(SW_LOAD(&s->done), ms);

	if (!ok)
		SW_STORE(&s->stop, 1);
	pthread_join(s->th, NULL);
	return ok;
}

FIXTURE(pre) {
	int fd;
	struct sigwake_thread_block *blk;
	unsigned char *kick;
};

FIXTURE_SETUP(pre)
{
	self->fd = -1;
	self->blk = sw_alloc_blocks(32);
	ASSERT_NE(NULL, self->blk);
	self->kick = sw_alloc_page();
	ASSERT_NE(NULL, self->kick);
	ASSERT_EQ(0, sw_sigaction(KICK_SIG, kick_handler, 0));
	SW_OPEN_DOMAIN(self->fd);
}

FIXTURE_TEARDOWN(pre)
{
	if (self->fd >= 0)
		close(self->fd);
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

/*
 * Every recorded kick comes after the budget; the median within budget +
 * period + SLACK_NS.  A single stint may be later: a host stall of the TCG
 * vCPU is charged to the thread as CPU time and delays the sample that
 * fires, by as much as the stall (hundreds of ms on a busy host).
 */
static void check_window(struct __test_metadata *_metadata,
			 struct spinner *s, __s64 budget)
{
	int64_t sorted[MAX_STINTS];

	if (!s->n_at)
		return;
	for (int k = 0; k < s->n_at; k++) {
		/*
		 * A stint the thread was switched out of is not judged from
		 * below: the scheduler stops its CPU clock when it picks the
		 * next task, the sampler at the switch itself, and under TCG
		 * with a debug kernel the path between can take a hundred
		 * microseconds.
		 */
		if (s->at_wall[k] - s->at[k] > LOW_SLACK_NS) {
			TH_LOG("stint %d: %lld us of CPU in %lld us of wall time (switched out), not judged from below",
			       k, (long long)(s->at[k] / US),
			       (long long)(s->at_wall[k] / US));
			continue;
		}
		EXPECT_LE(budget - LOW_SLACK_NS, s->at[k]) {
			TH_LOG("stint %d preempted after %lld us of CPU (%lld us "
			       "of wall time), budget %lld us", k,
			       (long long)(s->at[k] / US),
			       (long long)(s->at_wall[k] / US),
			       (long long)(budget / US));
		}
	}
	memcpy(sorted, s->at, sizeof(*sorted) * s->n_at);
	qsort(sorted, s->n_at, sizeof(*sorted), cmp_i64);
	EXPECT_GE(budget + period_of(budget) + SLACK_NS, sorted[s->n_at / 2]) {
		TH_LOG("median stint preempted after %lld us of CPU, budget "
		       "%lld us + period %lld us + slack %lld ms",
		       (long long)(sorted[s->n_at / 2] / US),
		       (long long)(budget / US),
		       (long long)(period_of(budget) / US),
		       (long long)(SLACK_NS / MS));
	}
	TH_LOG("budget %lld us: preempted after %lld us of CPU (median), "
	       "%lld us (max) over %d stints", (long long)(budget / US),
	       (long long)(sorted[s->n_at / 2] / US),
	       (long long)(sorted[s->n_at - 1] / US), s->n_at);
}

/* ------------------------------------------------------------------ */

TEST_F(pre, spinning_guest_preempted_within_budget)
{
	struct spinner s;

	spinner_init(&s, self->fd, &self->blk[0], &self->kick[0], M_STINTS);
	s.self_budget = BUDGET;
	s.nstints = 10;
	ASSERT_EQ(0, spinner_start(&s));
	spinner_go(&s);
	ASSERT_TRUE(spinner_join(&s, 60000));
	EXPECT_EQ(10, s.preempted);
	EXPECT_EQ(10, s.n_at) {
		TH_LOG("%d stints ended without the kick handler (the last: "
		       "flags %#x after %lld us of CPU)", s.odd, s.odd_flags,
		       (long long)(s.odd_cpu / US));
	}
	EXPECT_EQ(SIGWAKE_TF_PREEMPTED | SIGWAKE_TF_KICKED, s.flags_seen);
	EXPECT_EQ(s.tid, s.kick_tid);
	EXPECT_EQ(SI_KERNEL, s.kick_code);
	EXPECT_EQ(0, stray_signals);
	check_window(_metadata, &s, BUDGET);
}

TEST_F(pre, larger_budget_window)
{
	struct spinner s;
	__u64 budget = 20 * MS;

	spinner_init(&s, self->fd, &self->blk[0], &self->kick[0], M_STINTS);
	s.self_budget = budget;
	s.nstints = 3;
	ASSERT_EQ(0, spinner_start(&s));
	spinner_go(&s);
	ASSERT_TRUE(spinner_join(&s, 60000));
	EXPECT_EQ(3, s.preempted);
	EXPECT_EQ(3, s.n_at);
	check_window(_metadata, &s, budget);
}

TEST_F(pre, min_budget_works)
{
	struct spinner s;

	spinner_init(&s, self->fd, &self->blk[0], &self->kick[0], M_STINTS);
	s.self_budget = SIGWAKE_PREEMPT_MIN_BUDGET_NS;
	s.nstints = 5;
	ASSERT_EQ(0, spinner_start(&s));
	spinner_go(&s);
	ASSERT_TRUE(spinner_join(&s, 60000));
	EXPECT_EQ(5, s.preempted);
	check_window(_metadata, &s, SIGWAKE_PREEMPT_MIN_BUDGET_NS);
}

TEST_F(pre, kick_byte_and_no_signal)
{
	struct spinner s;

	/* kick_signo 0: the flags and the byte are the whole kick */
	spinner_init(&s, self->fd, &self->blk[0], &self->kick[0], M_STATE);
	s.kick_signo = 0;
	s.self_budget = BUDGET;
	s.state = SIGWAKE_RUNNING_IN_GUEST;
	s.burst_ns = NEVER_NS;
	s.until_byte = true;
	ASSERT_EQ(0, spinner_start(&s));
	spinner_go(&s);
	ASSERT_TRUE(spinner_join(&s, 60000));
	EXPECT_EQ(1, s.byte_seen) {
		TH_LOG("no kick byte after %lld ms of CPU in guest",
		       (long long)(NEVER_NS / MS));
	}
	EXPECT_EQ(SIGWAKE_TF_PREEMPTED | SIGWAKE_TF_KICKED, s.flags_seen);
	EXPECT_EQ(1, s.preempted);
	EXPECT_EQ(0, s.signals);
	EXPECT_EQ(0, stray_signals);
}

TEST_F(pre, once_per_stint_then_again_after_reentry)
{
	struct spinner s;

	spinner_init(&s, self->fd, &self->blk[0], &self->kick[0], M_ONCE);
	s.self_budget = BUDGET;
	ASSERT_EQ(0, spinner_start(&s));
	spinner_go(&s);
	ASSERT_TRUE(spinner_join(&s, 60000));
	EXPECT_EQ(2, s.n_at);
	EXPECT_EQ(0, s.extra_signals) {
		TH_LOG("kicked again within one stint");
	}
	EXPECT_EQ(2, s.preempted);
	check_window(_metadata, &s, BUDGET);
}

TEST_F(pre, bursts_below_budget_not_preempted)
{
	struct spinner s;

	spinner_init(&s, self->fd, &self->blk[0], &self->kick[0], M_BURSTS);
	s.self_budget = BUDGET;
	s.nstints = 300;
	s.burst_ns = BUDGET / 4;
	ASSERT_EQ(0, spinner_start(&s));
	spinner_go(&s);
	ASSERT_TRUE(spinner_join(&s, 120000));
	EXPECT_EQ(0, s.preempted_short) {
		TH_LOG("%d of %d bursts shorter than the budget were preempted "
		       "(longest burst %lld us)", s.preempted_short,
		       s.short_bursts, (long long)(s.max_burst / US));
	}
	/* the test means something only if most bursts were short */
	EXPECT_LE(s.nstints / 2, s.short_bursts);
}

/*
 * A sits in guest code but sleeps; B spins in guest code.  Only A's own
 * CPU time counts, so A is never preempted.  A run is judged only if A's
 * stint really used less than half the budget of CPU time: under TCG the
 * host may stop the vCPU while A is on it (entering or leaving its sleep),
 * and the guest kernel charges that stall to A; such a run is repeated.
 */
TEST_F(pre, other_threads_cpu_not_counted)
{
	int clean = 0, b_preempted = 0, tries;

	ASSERT_EQ(0, sw_preempt(self->fd, SIGWAKE_TARGET_ALL, BUDGET));
	for (tries = 0; tries < 10 && clean < 2; tries++) {
		struct spinner a, b;

		spinner_init(&a, self->fd, &self->blk[2 * tries],
			     &self->kick[2 * tries], M_SLEEP);
		a.sleep_ms = 300;
		spinner_init(&b, self->fd, &self->blk[2 * tries + 1],
			     &self->kick[2 * tries + 1], M_SPIN);
		ASSERT_EQ(0, spinner_start(&a));
		ASSERT_EQ(0, spinner_start(&b));
		sw_sleep_ms(50);	/* both return to user mode: armed */
		spinner_go(&b);
		spinner_go(&a);
		ASSERT_TRUE(spinner_join(&a, 60000));
		SW_STORE(&b.stop, 1);
		ASSERT_TRUE(spinner_join(&b, 60000));
		b_preempted += b.preempted;
		if (a.sleep_cpu >= BUDGET / 2) {
			TH_LOG("run %d: A was charged %lld us of CPU (host "
			       "stall), not judged", tries,
			       (long long)(a.sleep_cpu / US));
			continue;
		}
		clean++;
		EXPECT_EQ(0, a.preempted) {
			TH_LOG("A slept in guest code (%lld us of CPU) and was "
			       "preempted", (long long)(a.sleep_cpu / US));
		}
		EXPECT_EQ(0, a.signals);
		EXPECT_EQ(0, a.err);
	}
	EXPECT_LE(1, clean) {
		TH_LOG("no run where A's stint used under %lld us of CPU",
		       (long long)(BUDGET / 2 / US));
	}
	EXPECT_LT(0, b_preempted) {
		TH_LOG("B spun in guest code for 300 ms, never preempted");
	}
}

TEST_F(pre, host_and_syscall_states_not_counted)
{
	struct spinner h, y;

	spinner_init(&h, self->fd, &self->blk[0], &self->kick[0], M_STATE);
	h.self_budget = BUDGET;
	h.state = SIGWAKE_RUNNING_IN_HOST;
	h.burst_ns = 10 * BUDGET;
	spinner_init(&y, self->fd, &self->blk[1], &self->kick[1], M_STATE);
	y.self_budget = BUDGET;
	y.state = SIGWAKE_IN_SYSCALL;
	y.burst_ns = 10 * BUDGET;
	ASSERT_EQ(0, spinner_start(&h));
	ASSERT_EQ(0, spinner_start(&y));
	spinner_go(&h);
	spinner_go(&y);
	ASSERT_TRUE(spinner_join(&h, 60000));
	ASSERT_TRUE(spinner_join(&y, 60000));
	EXPECT_EQ(0, h.preempted);
	EXPECT_EQ(0, h.signals);
	EXPECT_EQ(0, y.preempted);
	EXPECT_EQ(0, y.signals);
}

TEST_F(pre, budget_zero_disarms)
{
	struct spinner s;

	spinner_init(&s, self->fd, &self->blk[0], &self->kick[0], M_STATE);
	s.self_budget = BUDGET;
	s.state = SIGWAKE_RUNNING_IN_GUEST;
	s.burst_ns = 20 * BUDGET;
	ASSERT_EQ(0, spinner_start(&s));
	ASSERT_EQ(0, sw_preempt(self->fd, s.handle, 0));
	/* zero again: still fine */
	ASSERT_EQ(0, sw_preempt(self->fd, s.handle, 0));
	sw_sleep_ms(50);
	spinner_go(&s);
	ASSERT_TRUE(spinner_join(&s, 60000));
	EXPECT_EQ(0, s.preempted);
	EXPECT_EQ(0, s.signals);
	EXPECT_EQ(0, s.byte_seen);
}

TEST_F(pre, set_by_another_thread)
{
	struct spinner s;

	spinner_init(&s, self->fd, &self->blk[0], &self->kick[0], M_STINTS);
	s.nstints = 3;
	ASSERT_EQ(0, spinner_start(&s));
	ASSERT_EQ(0, sw_preempt(self->fd, s.handle, BUDGET));
	sw_sleep_ms(50);	/* it yields in a loop: armed by now */
	spinner_go(&s);
	ASSERT_TRUE(spinner_join(&s, 60000));
	EXPECT_EQ(3, s.preempted);
	EXPECT_EQ(3, s.n_at);
	check_window(_metadata, &s, BUDGET);
}

TEST_F(pre, target_all_present_and_future)
{
	struct spinner a, b;

	spinner_init(&a, self->fd, &self->blk[0], &self->kick[0], M_STINTS);
	a.nstints = 2;
	ASSERT_EQ(0, spinner_start(&a));
	ASSERT_EQ(0, sw_preempt(self->fd, SIGWAKE_TARGET_ALL, BUDGET));
	/* b registers after the PREEMPT */
	spinner_init(&b, self->fd, &self->blk[1], &self->kick[1], M_STINTS);
	b.nstints = 2;
	ASSERT_EQ(0, spinner_start(&b));
	sw_sleep_ms(50);
	spinner_go(&a);
	ASSERT_TRUE(spinner_join(&a, 60000));
	spinner_go(&b);
	ASSERT_TRUE(spinner_join(&b, 60000));
	EXPECT_EQ(2, a.preempted);
	EXPECT_EQ(2, b.preempted);
	check_window(_metadata, &a, BUDGET);
	check_window(_metadata, &b, BUDGET);
}

TEST_F(pre, target_all_zero_disarms_all)
{
	struct spinner a;

	spinner_init(&a, self->fd, &self->blk[0], &self->kick[0], M_STATE);
	a.state = SIGWAKE_RUNNING_IN_GUEST;
	a.burst_ns = 20 * BUDGET;
	ASSERT_EQ(0, spinner_start(&a));
	ASSERT_EQ(0, sw_preempt(self->fd, SIGWAKE_TARGET_ALL, BUDGET));
	ASSERT_EQ(0, sw_preempt(self->fd, SIGWAKE_TARGET_ALL, 0));
	sw_sleep_ms(50);
	spinner_go(&a);
	ASSERT_TRUE(spinner_join(&a, 60000));
	EXPECT_EQ(0, a.preempted);
	EXPECT_EQ(0, a.signals);
}

/* ------------------------------------------------------------------ */
/* errno paths                                                          */

TEST_F(pre, budget_below_minimum_einval)
{
	__u32 h;

	ASSERT_EQ(0, sw_register(self->fd, &self->blk[0], NULL, 0, &h));
	EXPECT_EQ(-EINVAL, sw_preempt(self->fd, h, 1));
	EXPECT_EQ(-EINVAL, sw_preempt(self->fd, h,
				      SIGWAKE_PREEMPT_MIN_BUDGET_NS - 1));
	EXPECT_EQ(-EINVAL, sw_preempt(self->fd, SIGWAKE_TARGET_ALL,
				      SIGWAKE_PREEMPT_MIN_BUDGET_NS - 1));
	EXPECT_EQ(0, sw_preempt(self->fd, h, SIGWAKE_PREEMPT_MIN_BUDGET_NS));
	EXPECT_EQ(0, sw_preempt(self->fd, h, 0));
}

TEST_F(pre, flags_pad_target_errors)
{
	struct sigwake_preempt_args a = {
		.size = sizeof(a),
		.budget_ns = BUDGET,
	};
	__u32 h;

	ASSERT_EQ(0, sw_register(self->fd, &self->blk[0], NULL, 0, &h));
	a.target = h;
	a.flags = 1;
	EXPECT_EQ(-EINVAL, sw_ioctl(self->fd, SIGWAKE_IOC_PREEMPT, &a));
	a.flags = 0;
	a.pad = 1;
	EXPECT_EQ(-EINVAL, sw_ioctl(self->fd, SIGWAKE_IOC_PREEMPT, &a));
	a.pad = 0;
	a.target = 999;
	EXPECT_EQ(-ENOENT, sw_ioctl(self->fd, SIGWAKE_IOC_PREEMPT, &a));
	a.target = h + 1;
	EXPECT_EQ(-ENOENT, sw_ioctl(self->fd, SIGWAKE_IOC_PREEMPT, &a));
	a.target = h;
	EXPECT_EQ(0, sw_ioctl(self->fd, SIGWAKE_IOC_PREEMPT, &a));
}

TEST_F(pre, exited_thread_esrch)
{
	struct sw_thread t;

	sw_thread_init(&t, self->fd, &self->blk[1]);
	ASSERT_EQ(0, sw_thread_start(&t));
	sw_thread_finish(&t);
	ASSERT_TRUE(SW_POLL(sw_preempt(self->fd, t.handle, BUDGET) == -ESRCH,
			    SW_LONG_MS)) {
		TH_LOG("PREEMPT of an exited thread: %d",
		       sw_preempt(self->fd, t.handle, BUDGET));
	}
}

/* debugfs live count of preemption watches; -1 if it cannot be read */
static long live_watches(void)
{
	long v[SW_OBJ_COUNT];

	sw_read_objects(v);
	return v[SW_OBJ_PREEMPT_WATCHES];
}

/*
 * A watch stays on its task when the registration ends; a thread that
 * registers, arms PREEMPT and closes its domain over and over must not
 * collect them (each would hold a page and a domain).
 */
TEST(idle_watches_do_not_pile_up)
{
	struct sigwake_thread_block *blk = sw_alloc_blocks(1);
	long before = live_watches(), after;
	int i;

	ASSERT_NE(NULL, blk);
	if (before < 0 && sw_allow_skip())
		SKIP(return, "no /sys/kernel/debug/sigwake/objects");
	ASSERT_LE(0, before);
	for (i = 0; i < 40; i++) {
		struct sigwake_preempt_args a = {
			.size = sizeof(a), .budget_ns = 10 * MS,
		};
		int fd, ret;

		SW_OPEN_DOMAIN(fd);
		ASSERT_EQ(0, sw_register(fd, blk, NULL, 0, &a.target));
		ret = sw_ioctl(fd, SIGWAKE_IOC_PREEMPT, &a);
		if (ret == -EOPNOTSUPP)
			SKIP(return, "PREEMPT is not available");
		ASSERT_EQ(0, ret);
		close(fd);
	}
	after = live_watches();
	EXPECT_GE(before + 1, after) {
		TH_LOG("%ld preemption watches after 40 register/PREEMPT/close rounds of one thread (%ld before)",
		       after, before);
	}
}

/* ------------------------------------------------------------------ */
/* PREEMPT of another thread stays out of its system calls              */

/* The state letter of thread @tid (/proc/self/task/<tid>/stat), or 0. */
static char task_state(pid_t tid)
{
	char path[64], buf[512], *p;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/self/task/%d/stat", tid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	p = strrchr(buf, ')');		/* comm may hold anything */
	return p && p[1] == ' ' ? p[2] : 0;
}

#define EPOLL_MS	500

struct epoller {
	int fd;
	struct sigwake_thread_block *blk;
	pid_t tid;
	__u32 handle;
	int reg_err;
	int ready, sleeping, returned;	/* atomics */
	int ret, err;
};

static void *epoller_fn(void *arg)
{
	struct epoller *e = arg;
	struct epoll_event ev = { .events = EPOLLIN };
	int efd, ep;

	e->tid = sw_gettid();
	/* no kick signal: nothing this thread is sent may end its sleep */
	e->reg_err = sw_register(e->fd, e->blk, NULL, 0, &e->handle);
	efd = eventfd(0, EFD_CLOEXEC);
	ep = epoll_create1(EPOLL_CLOEXEC);
	if (efd < 0 || ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, efd, &ev))
		e->reg_err = e->reg_err ?: -errno;
	SW_STORE(&e->ready, 1);
	if (!e->reg_err) {
		SW_STORE(&e->sleeping, 1);
		e->ret = epoll_wait(ep, &ev, 1, EPOLL_MS);
		e->err = e->ret < 0 ? errno : 0;
	}
	SW_STORE(&e->returned, 1);
	close(ep);
	close(efd);
	return NULL;
}

/*
 * Issue 11 #3: PREEMPT of another thread asked it to attach its watch with
 * TWA_SIGNAL task work, which sets TIF_NOTIFY_SIGNAL: a thread asleep in
 * epoll_wait(2) (on an eventfd nobody writes) returned -1/EINTR though no
 * signal was sent.  It must time out (0).  Each round is a new thread with
 * a new registration, and PREEMPT lands while it is seen asleep (state S
 * after it announced the epoll_wait); a round where the sleep ended first
 * is not judged.
 */
TEST_F(pre, epoll_wait_of_preempted_thread_not_interrupted)
{
	int rounds = 24, judged = 0, eintr = 0, other = 0, r;

	for (r = 0; r < rounds; r++) {
		struct epoller e = {
			.fd = self->fd, .blk = &self->blk[r % 32],
		};
		pthread_t th;
		bool asleep;
		int ret;

		ASSERT_EQ(0, pthread_create(&th, NULL, epoller_fn, &e));
		ASSERT_TRUE(SW_POLL(SW_LOAD(&e.ready), SW_LONG_MS));
		if (e.reg_err) {
			pthread_join(th, NULL);
			if (e.reg_err == -EOPNOTSUPP)
				SKIP(return, "PREEMPT is not available");
			ASSERT_EQ(0, e.reg_err);
		}
		asleep = SW_POLL(SW_LOAD(&e.sleeping) &&
				 task_state(e.tid) == 'S', EPOLL_MS / 2);
		ret = sw_preempt(self->fd, e.handle, BUDGET);
		if (ret == -EOPNOTSUPP) {
			pthread_join(th, NULL);
			SKIP(return, "PREEMPT is not available");
		}
		EXPECT_EQ(0, ret);
		if (asleep && !SW_LOAD(&e.returned))
			judged++;
		else
			asleep = false;
		ASSERT_TRUE(SW_POLL(SW_LOAD(&e.returned), SW_LONG_MS));
		pthread_join(th, NULL);
		sw_unregister(self->fd, e.handle);
		if (!asleep)
			continue;
		if (e.ret < 0 && e.err == EINTR)
			eintr++;
		else if (e.ret != 0)
			other++;
	}
	EXPECT_EQ(0, eintr) {
		TH_LOG("epoll_wait failed with EINTR in %d of %d rounds where "
		       "PREEMPT landed while it slept", eintr, judged);
	}
	EXPECT_EQ(0, other);
	EXPECT_LE(rounds / 2, judged) {
		TH_LOG("only %d of %d rounds had PREEMPT land in the sleep",
		       judged, rounds);
	}
	TH_LOG("%d rounds judged, %d EINTR", judged, eintr);
}

/*
 * PREEMPT of another thread that spins in guest code on its CPU without
 * ever entering the kernel (no syscall, no yield, no signal): it is still
 * preempted, within a watchdog, by a timer armed from the PREEMPT call.
 */
TEST_F(pre, set_by_another_thread_on_a_busy_cpu)
{
	struct spinner s;

	spinner_init(&s, self->fd, &self->blk[0], &self->kick[0], M_NOSYS);
	s.kick_signo = 0;
	ASSERT_EQ(0, spinner_start(&s));
	spinner_go(&s);
	/* in guest code, spinning (give it a moment inside the loop) */
	ASSERT_TRUE(SW_POLL(SW_LOAD(&s.spinning), SW_LONG_MS));
	sw_sleep_ms(20);
	ASSERT_EQ(0, sw_preempt(self->fd, s.handle, BUDGET));
	EXPECT_TRUE(SW_POLL(SW_LOAD(&s.done), 10000)) {
		TH_LOG("a thread spinning in guest code was not preempted "
		       "within 10 s of PREEMPT");
	}
	SW_STORE(&s.stop, 1);
	pthread_join(s.th, NULL);
	EXPECT_EQ(1, s.byte_seen);
	EXPECT_EQ(1, s.preempted);
}

/* ------------------------------------------------------------------ */
/* no write into the block after UNREGISTER                              */

struct streaker {
	int fd;
	struct sigwake_thread_block *blk;
	unsigned char *kick;
	__u32 handle;
	int reg_err;
	int ready, hands_off, stop;	/* atomics */
	int fires;			/* atomic */
};

/*
 * In guest code under the minimum budget; on every preemption start a new
 * stint (clear the flags, new entry_seq), so that the timer keeps firing.
 * Once the test unregisters it, it leaves the block alone but stays on its
 * CPU, "in guest code", until told to stop.
 */
static void *streaker_fn(void *arg)
{
	struct streaker *k = arg;
	volatile unsigned long work = 0;

	k->reg_err = sw_register(k->fd, k->blk, k->kick, 0, &k->handle);
	if (!k->reg_err)
		k->reg_err = sw_preempt(k->fd, k->handle,
					SIGWAKE_PREEMPT_MIN_BUDGET_NS);
	SW_STORE(&k->blk->entry_seq, 1);
	sw_set_state(k->blk, SIGWAKE_RUNNING_IN_GUEST);
	SW_STORE(&k->ready, 1);
	while (!SW_LOAD(&k->stop)) {
		for (int i = 0; i < 64; i++)
			work++;
		if (SW_LOAD(&k->hands_off))
			continue;
		if (SW_LOAD(&k->blk->flags) & SIGWAKE_TF_PREEMPTED) {
			SW_STORE(&k->blk->flags, 0);
			SW_STORE(k->kick, 0);
			SW_STORE(&k->blk->entry_seq,
				 SW_LOAD(&k->blk->entry_seq) + 1);
			SW_ADD(&k->fires, 1);
		}
	}
	return NULL;
}

/*
 * Issue 11 #13: a preemption timer already running when UNREGISTER ended
 * the registration could still OR TF_PREEMPTED | TF_KICKED into the block
 * and set the kick byte (pages the process may reuse for anything).  After
 * UNREGISTER returns, both are cleared and must stay clear.  A narrow
 * race: many rounds.
 */
TEST_F(pre, no_block_write_after_unregister)
{
	int rounds = 500, stray = 0, fired_rounds = 0, r;
	uint64_t rng = 0x9e3779b97f4a7c15ull;

	for (r = 0; r < rounds; r++) {
		struct streaker k = {
			.fd = self->fd, .blk = &self->blk[r % 32],
			.kick = &self->kick[r % 32],
		};
		pthread_t th;
		int64_t end;
		__u32 fl = 0;
		int byte = 0;

		memset(k.blk, 0, sizeof(*k.blk));
		SW_STORE(k.kick, 0);
		ASSERT_EQ(0, pthread_create(&th, NULL, streaker_fn, &k));
		ASSERT_TRUE(SW_POLL(SW_LOAD(&k.ready), SW_LONG_MS));
		if (k.reg_err) {
			SW_STORE(&k.stop, 1);
			pthread_join(th, NULL);
			if (k.reg_err == -EOPNOTSUPP)
				SKIP(return, "PREEMPT is not available");
			ASSERT_EQ(0, k.reg_err);
		}
		/* let the timer fire a few times, then strike at random */
		if (SW_POLL(SW_LOAD(&k.fires) >= 3, 2000))
			fired_rounds++;
		sw_random_delay(&rng);
		EXPECT_EQ(0, sw_unregister(self->fd, k.handle));
		SW_STORE(&k.hands_off, 1);
		SW_STORE(&k.blk->flags, 0);
		SW_STORE(k.kick, 0);
		end = sw_now_ns() + 5 * MS;
		while (sw_now_ns() < end && !fl && !byte) {
			fl = SW_LOAD(&k.blk->flags);
			byte = SW_LOAD(k.kick);
		}
		SW_STORE(&k.stop, 1);
		pthread_join(th, NULL);
		fl |= SW_LOAD(&k.blk->flags);
		byte |= SW_LOAD(k.kick);
		if (fl || byte) {
			stray++;
			TH_LOG("round %d: flags %#x, kick byte %d written after "
			       "UNREGISTER returned", r, fl, byte);
		}
	}
	EXPECT_EQ(0, stray);
	EXPECT_LE(rounds / 2, fired_rounds) {
		TH_LOG("the timer fired in only %d of %d rounds", fired_rounds,
		       rounds);
	}
	TH_LOG("%d rounds (%d with the timer firing), %d stray writes",
	       rounds, fired_rounds, stray);
}

/* ------------------------------------------------------------------ */
/* an idle watch holds no page                                           */

#define HUGE_SZ		(2UL << 20)
#define THP_THREADS	48

static long meminfo_kb(const char *key)
{
	char line[256];
	size_t n = strlen(key);
	long v = -1;
	FILE *f = fopen("/proc/meminfo", "re");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, key, n) && line[n] == ':') {
			v = atol(line + n + 1);
			break;
		}
	fclose(f);
	return v;
}

/* AnonHugePages (kB) of the mapping that starts at @addr; -1 if none. */
static long anon_huge_kb(void *addr)
{
	char line[256];
	unsigned long lo, hi;
	bool in = false;
	long v = -1;
	FILE *f = fopen("/proc/self/smaps", "re");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2) {
			in = lo <= (unsigned long)addr &&
			     (unsigned long)addr < hi;
			continue;
		}
		if (in && !strncmp(line, "AnonHugePages:", 14)) {
			v = atol(line + 14);
			break;
		}
	}
	fclose(f);
	return v;
}

struct thp_reg {
	__u64 budget;
	int err;		/* 0, or -errno of the step that failed */
	int thp;		/* the block sat in a THP */
	int mapped, go, parked, release;	/* atomics */
};

/*
 * Map and touch a 2 MiB THP; then, told to go: open, PREEMPT(TARGET_ALL),
 * REGISTER with the block in that THP, close, munmap, and park (the thread,
 * and so any watch on it, lives on).
 */
static void *thp_reg_fn(void *arg)
{
	struct thp_reg *g = arg;
	struct sigwake_preempt_args a = {
		.size = sizeof(a), .target = SIGWAKE_TARGET_ALL,
		.budget_ns = g->budget,
	};
	char *map, *blk = NULL;
	int fd;

	map = mmap(NULL, 2 * HUGE_SZ, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (map == MAP_FAILED) {
		g->err = -errno;
	} else {
		blk = (char *)(((uintptr_t)map + HUGE_SZ - 1) &
			       ~(HUGE_SZ - 1));
		madvise(blk, HUGE_SZ, MADV_HUGEPAGE);
		memset(blk, 0, HUGE_SZ);
		g->thp = anon_huge_kb(blk) >= (long)(HUGE_SZ >> 10);
	}
	SW_STORE(&g->mapped, 1);
	while (!SW_LOAD(&g->go))
		usleep(1000);
	if (!blk)
		goto park;
	fd = open(SIGWAKE_DEVICE, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		g->err = -errno;
	} else {
		g->err = sw_ioctl(fd, SIGWAKE_IOC_PREEMPT, &a);
		if (!g->err)
			g->err = sw_register(fd, blk, NULL, 0, NULL);
		close(fd);
	}
	munmap(map, 2 * HUGE_SZ);
park:
	SW_STORE(&g->parked, 1);
	while (!SW_LOAD(&g->release))
		usleep(1000);
	return NULL;
}

/*
 * Issue 11 #4: a preemption watch kept page references on the block (and
 * kick byte) after its registration was released and the memlock charge
 * given back, so "open, PREEMPT(ALL), REGISTER, close, munmap, park" in
 * many threads held memory no limit counted.  With each block in its own
 * THP, a leftover reference keeps the whole 2 MiB: the munmap gives back
 * nothing while the threads are parked.  MemFree is taken once the THPs
 * are touched, and again after the munmaps: it must have gained about
 * N * 2 MiB (a quarter of that is required; the old module gave 0).
 */
TEST(idle_watches_hold_no_pages)
{
	static struct thp_reg g[THP_THREADS];
	pthread_t th[THP_THREADS];
	pthread_attr_t attr;
	long v[SW_OBJ_COUNT], pinned0, free0, free1, gained_kb;
	int i, nthp = 0, fd;

	fd = open(SIGWAKE_DEVICE, O_RDWR | O_CLOEXEC);
	if (fd < 0 && sw_allow_skip())
		SKIP(return, "no " SIGWAKE_DEVICE);
	ASSERT_LE(0, fd) {
		TH_LOG("open " SIGWAKE_DEVICE ": %s", strerror(errno));
	}
	{
		struct sigwake_preempt_args a = {
			.size = sizeof(a), .target = SIGWAKE_TARGET_ALL,
		};

		if (sw_ioctl(fd, SIGWAKE_IOC_PREEMPT, &a) == -EOPNOTSUPP)
			SKIP(return, "PREEMPT is not available");
	}
	close(fd);
	sw_read_objects(v);
	pinned0 = v[SW_OBJ_PINNED_PAGES];
	/* small stacks: no THP of their own to blur the count */
	ASSERT_EQ(0, pthread_attr_init(&attr));
	ASSERT_EQ(0, pthread_attr_setstacksize(&attr, 256 << 10));
	for (i = 0; i < THP_THREADS; i++) {
		g[i].budget = 10 * MS;
		ASSERT_EQ(0, pthread_create(&th[i], &attr, thp_reg_fn, &g[i]));
	}
	for (i = 0; i < THP_THREADS; i++) {
		ASSERT_TRUE(SW_POLL(SW_LOAD(&g[i].mapped), SW_LONG_MS));
		nthp += g[i].thp;
	}
	free0 = meminfo_kb("MemFree");
	ASSERT_LT(0, free0);
	for (i = 0; i < THP_THREADS; i++)
		SW_STORE(&g[i].go, 1);
	for (i = 0; i < THP_THREADS; i++) {
		ASSERT_TRUE(SW_POLL(SW_LOAD(&g[i].parked), SW_LONG_MS));
		EXPECT_EQ(0, g[i].err);
	}
	/* a domain's teardown may finish in a work item */
	if (pinned0 >= 0) {
		EXPECT_TRUE(SW_POLL((sw_read_objects(v),
				     v[SW_OBJ_PINNED_PAGES] == pinned0), 10000)) {
			TH_LOG("pinned_pages %ld, %ld before",
			       v[SW_OBJ_PINNED_PAGES], pinned0);
		}
	}
	sw_sleep_ms(200);
	free1 = meminfo_kb("MemFree");
	gained_kb = free1 - free0;
	for (i = 0; i < THP_THREADS; i++) {
		SW_STORE(&g[i].release, 1);
		pthread_join(th[i], NULL);
	}
	if (nthp < THP_THREADS / 2)
		SKIP(return, "only %d of %d blocks got a THP", nthp,
		     THP_THREADS);
	/*
	 * Each THP freed gives 2048 kB; require a quarter of that (freed
	 * pages may sit on per-CPU lists, which MemFree does not count).  A
	 * leftover reference gives back nothing.
	 */
	EXPECT_LT((long)nthp * 512, gained_kb) {
		TH_LOG("munmap of %d blocks in THPs gave back %ld kB of "
		       "MemFree with their threads parked: idle watches hold "
		       "pages", nthp, gained_kb);
	}
	TH_LOG("%d blocks in THPs; munmap gave back %ld kB of MemFree",
	       nthp, gained_kb);
}

TEST_HARNESS_MAIN
