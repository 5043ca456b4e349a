// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * shadow-preempt: native preemption of guest code (the Shadow simulator's
 * "cpu-only busy loop escape"), on sigwake.
 *
 * Shadow runs managed code natively and must regain control from a thread
 * that spins without making a syscall.  It arms ITIMER_VIRTUAL with
 * setitimer(2) and unblocks SIGVTALRM with sigprocmask(2) every time it
 * enters managed code, and disarms and blocks them every time it leaves:
 * four syscalls per switch.  And ITIMER_VIRTUAL counts the CPU time of the
 * whole process, so one thread's spinning brings every thread's timer closer
 * to firing, and the signal can land on any of them.
 *
 * With sigwake the runtime gives each thread a budget once:
 *
 *	SIGWAKE_IOC_PREEMPT { target, budget_ns }
 *
 * and then enters and leaves guest code with plain stores to its thread
 * block (sigwake_enter_guest() / sigwake_leave_guest(); no syscall).  When a
 * thread has run guest code for more than its budget of its *own* CPU time,
 * the kernel sets SIGWAKE_TF_PREEMPTED | SIGWAKE_TF_KICKED and sends that
 * thread alone its kick signal; the handler plays Shadow's part (here: it
 * tells the guest loop to return to the simulator).
 *
 * The kernel samples the state word at least eight times per budget, so a
 * preemption comes between the budget and the budget plus one sampling
 * period (budget / 8, at least SIGWAKE_PREEMPT_MIN_PERIOD_NS) plus timer
 * latency.  Timer latency is tens of microseconds on hardware and can reach
 * tens of milliseconds under QEMU's TCG, so the check here allows
 * TCG_SLACK_NS on top and prints what it measured.
 *
 * Scenarios (one summary line each):
 *   long stint     a thread spins in guest code; it is preempted, every
 *                  time, after budget .. budget + tolerance of its CPU time
 *   short bursts   many guest stints below the budget, with host code in
 *                  between: never preempted (entry_seq tells them apart)
 *   own CPU only   budget for every thread (SIGWAKE_TARGET_ALL); thread A
 *                  is in guest code but asleep while thread B spins in guest
 *                  code and keeps being preempted: A never is
 *   disarmed       budget 0: a long stint is not preempted
 *
 * Usage: shadow-preempt [-b budget_us] [-r stints]   (default 2000 us, 20)
 * Exit status: 0 every scenario behaved, 1 one did not, 2 no sigwake,
 * 4 the kernel lacks preempt notifiers (EOPNOTSUPP: skipped, not passed).
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "libsigwake.h"

/* The kick signal: the one Shadow used, now sent to one thread by sigwake. */
#define KICK_SIGNO		SIGVTALRM
#define NSEC_PER_USEC		1000LL
#define NSEC_PER_MSEC		1000000LL
#define NSEC_PER_SEC		1000000000LL
/* Timer latency allowance under TCG (see above). */
#define TCG_SLACK_NS		(50 * NSEC_PER_MSEC)
/* A stint that runs this much CPU without a preemption was never preempted. */
#define NEVER_NS		(2 * NSEC_PER_SEC)
#define PATIENCE_NS		(20 * NSEC_PER_SEC)

static int dom;
static int failures;
static bool unsupported;
static int64_t budget = 2 * NSEC_PER_MSEC;

/* ---- small helpers ---------------------------------------------------- */

static int64_t clock_ns(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return (int64_t)ts.tv_sec * NSEC_PER_SEC + ts.tv_nsec;
}

static int64_t now_ns(void)
{
	return clock_ns(CLOCK_MONOTONIC);
}

/* This thread's CPU time: what the budget is measured in. */
static int64_t cpu_ns(void)
{
	return clock_ns(CLOCK_THREAD_CPUTIME_ID);
}

/* "412 us", "23.10 ms", "1.20 s" */
static const char *fmt_ns(char *buf, size_t len, int64_t ns)
{
	if (ns < 10 * NSEC_PER_MSEC && ns > -10 * NSEC_PER_MSEC)
		snprintf(buf, len, "%lld us", (long long)(ns / NSEC_PER_USEC));
	else if (ns < NSEC_PER_SEC)
		snprintf(buf, len, "%.2f ms", ns / 1e6);
	else
		snprintf(buf, len, "%.2f s", ns / 1e9);
	return buf;
}
#define T(ns)	fmt_ns((char[32]){ 0 }, 32, (ns))

#define FAIL(...) do {							\
	printf("  FAIL: " __VA_ARGS__);					\
	printf("\n");							\
	failures++;							\
} while (0)

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

/* The sampling period the header promises: budget / 8, at least the minimum. */
static int64_t period_of(int64_t b)
{
	return b / 8 > SIGWAKE_PREEMPT_MIN_PERIOD_NS ? b / 8 :
						       SIGWAKE_PREEMPT_MIN_PERIOD_NS;
}

/* SIGWAKE_IOC_PREEMPT (sigwake_preempt()): 0 or -errno. */
static int preempt(__u32 target, int64_t budget_ns)
{
	int r = sigwake_preempt(dom, target, (__u64)budget_ns);

	if (r == -EOPNOTSUPP)
		unsupported = true;
	return r;
}

/* ---- a simulated thread ------------------------------------------------ */

struct sim {
	pthread_t th;
	struct sigwake_self *self;
	__u32 handle;
	int ready;			/* registered: 1, failed: -1 */
	int go;				/* the scenario may start */
	int stop;			/* the scenario is over */
	int done;
	int err;
	/* set by the kick handler */
	volatile sig_atomic_t leave;	/* return to the simulator */
	volatile sig_atomic_t signals;	/* kick signals received */
	int64_t kick_cpu;		/* CPU time when the handler ran */
	/* results */
	int preempted;			/* stints that ended in a preemption */
	int overran;			/* short bursts that ran over budget */
	int64_t max_burst;		/* longest short burst (CPU time) */
	int64_t *over;			/* long stint: CPU at kick - budget */
	int n_over;
	long work;
};

static __thread struct sim *me;

/*
 * The kick handler: Shadow's handle_timer_signal.  It runs on the thread
 * that was preempted, and only there, because sigwake sent the signal to
 * that task alone.  A real simulator would move simulated time forward and
 * switch to its scheduler; here it notes the time and asks the guest loop
 * to return.
 */
static void on_kick(int sig, siginfo_t *si, void *uc)
{
	struct sim *s = me;

	(void)sig;
	(void)si;
	(void)uc;
	if (!s)
		return;
	s->kick_cpu = cpu_ns();
	s->signals++;
	s->leave = 1;
}

/*
 * Guest code: spin until the kick handler says leave, or until @limit of
 * this thread's CPU time (measured from @cpu0) has passed.
 */
static void guest_spin(struct sim *s, int64_t cpu0, int64_t limit)
{
	while (!s->leave) {
		for (int i = 0; i < 256 && !s->leave; i++)
			__atomic_add_fetch(&s->work, 1, __ATOMIC_RELAXED);
		if (cpu_ns() - cpu0 >= limit)
			break;
	}
}

static int sim_register(struct sim *s)
{
	int r = sigwake_register(dom, KICK_SIGNO, NULL, &s->self);

	me = s;
	if (r < 0) {
		s->err = r;
		__atomic_store_n(&s->ready, -1, __ATOMIC_RELEASE);
		return r;
	}
	s->handle = s->self->handle;
	__atomic_store_n(&s->ready, 1, __ATOMIC_RELEASE);
	/*
	 * Wait for the go (yielding: each return to user mode is where the
	 * kernel arms a budget that another thread set).
	 */
	while (!__atomic_load_n(&s->go, __ATOMIC_ACQUIRE))
		sched_yield();
	return 0;
}

static void sim_finish(struct sim *s)
{
	sigwake_unregister(s->self);
	__atomic_store_n(&s->done, 1, __ATOMIC_RELEASE);
}

/* After a stint: back in host code, take the flags, clear the leave flag. */
static __u32 stint_end(struct sim *s)
{
	struct sigwake_thread_block *b = s->self->block;
	__u32 fl;

	sigwake_leave_guest(b);
	fl = sigwake_take_flags(b);
	sigwake_take_pending(b);
	s->leave = 0;
	return fl;
}

static int sim_start(struct sim *s, void *(*fn)(void *))
{
	int64_t end = now_ns() + PATIENCE_NS;

	if (pthread_create(&s->th, NULL, fn, s))
		return -EAGAIN;
	while (!__atomic_load_n(&s->ready, __ATOMIC_ACQUIRE) && now_ns() < end)
		sched_yield();
	return __atomic_load_n(&s->ready, __ATOMIC_ACQUIRE) == 1 ? 0 :
	       (s->err ? s->err : -ETIMEDOUT);
}

/* ---- scenario 1: a long stint is preempted within the budget ------------ */

static int n_stints = 20;

static void *long_stints(void *arg)
{
	struct sim *s = arg;
	struct sigwake_thread_block *b;

	if (sim_register(s))
		return NULL;
	b = s->self->block;
	/* The thread sets its own budget: armed before it returns. */
	s->err = preempt(s->handle, budget);
	for (int i = 0; !s->err && i < n_stints; i++) {
		/*
		 * CPU time from before the entry: under TCG the host may stop
		 * the vCPU right at the entry, and the guest kernel charges
		 * that to this thread; measured from here it is counted.
		 */
		int64_t cpu0 = cpu_ns();
		__u32 fl;

		if (sigwake_enter_guest(b)) {
			stint_end(s);
			i--;
			continue;
		}
		guest_spin(s, cpu0, NEVER_NS);
		fl = stint_end(s);
		if (fl & SIGWAKE_TF_PREEMPTED) {
			s->preempted++;
			if (!(fl & SIGWAKE_TF_KICKED) || !s->signals)
				s->err = -EPROTO;
			s->over[s->n_over++] = s->kick_cpu - cpu0 - budget;
		}
		s->signals = 0;
		/* some host code (the simulator's turn) */
		sched_yield();
	}
	sim_finish(s);
	return NULL;
}

static void scenario_long(void)
{
	struct sim s = { 0 };
	int64_t t0 = now_ns(), lo, hi, tol = period_of(budget);
	int f0 = failures, r, outliers = 0;

	s.over = calloc((size_t)n_stints, sizeof(*s.over));
	if (!s.over) {
		FAIL("out of memory");
		return;
	}
	__atomic_store_n(&s.go, 1, __ATOMIC_RELEASE);
	r = sim_start(&s, long_stints);
	if (r) {
		FAIL("thread: %s", strerror(-r));
		return;
	}
	pthread_join(s.th, NULL);
	if (s.err == -EOPNOTSUPP)
		return;
	if (s.err == -EPROTO)
		FAIL("a preemption without TF_KICKED or without the kick signal");
	else if (s.err)
		FAIL("SIGWAKE_IOC_PREEMPT(self, %lld ns): %s",
		     (long long)budget, strerror(-s.err));
	if (s.preempted != n_stints)
		FAIL("%d of %d guest stints were preempted (each spun up to %s "
		     "of CPU time)", s.preempted, n_stints, T(NEVER_NS));
	if (!s.n_over) {
		free(s.over);
		return;
	}
	qsort(s.over, (size_t)s.n_over, sizeof(*s.over), cmp_i64);
	lo = s.over[0];
	hi = s.over[s.n_over - 1];
	/* 50 us of slack below, for the clock reads. */
	if (lo < -50 * NSEC_PER_USEC)
		FAIL("preempted %s before the budget ran out", T(-lo));
	/*
	 * The median must be within the bound.  Single stints may overshoot
	 * more: a host stall of the TCG vCPU is charged to the thread as
	 * CPU time and delays the sample that fires by as much.
	 */
	for (int k = 0; k < s.n_over; k++)
		outliers += s.over[k] > tol + TCG_SLACK_NS;
	if (s.over[s.n_over / 2] > tol + TCG_SLACK_NS)
		FAIL("preempted %s after the budget (median); bound: period %s "
		     "+ TCG timer slack %s", T(s.over[s.n_over / 2]), T(tol),
		     T(TCG_SLACK_NS));
	if (failures == f0)
		printf("long stint: a thread spinning in guest code with a %s "
		       "budget was preempted %d of %d times (TF_PREEMPTED + "
		       "TF_KICKED, its kick handler ran) after budget + %s "
		       "median, + %s max of its own CPU time (bound: budget + "
		       "%s sampling period + %s TCG timer slack; %d over it, "
		       "host stalls) in %s\n",
		       T(budget), s.preempted, n_stints,
		       T(s.over[s.n_over / 2]), T(hi), T(tol),
		       T(TCG_SLACK_NS), outliers, T(now_ns() - t0));
	free(s.over);
}

/* ---- scenario 2: bursts below the budget are never preempted ------------ */

static int n_bursts = 400;

static void *short_bursts(void *arg)
{
	struct sim *s = arg;
	struct sigwake_thread_block *b;

	if (sim_register(s))
		return NULL;
	b = s->self->block;
	s->err = preempt(s->handle, budget);
	for (int i = 0; !s->err && i < n_bursts; i++) {
		int64_t c0 = cpu_ns(), dur;
		__u32 fl;

		if (sigwake_enter_guest(b)) {
			stint_end(s);
			i--;
			continue;
		}
		guest_spin(s, c0, budget / 4);
		/* host code between stints: a few instructions, no syscall */
		fl = stint_end(s);
		/*
		 * The burst's real length in CPU time, entry to exit.  Under
		 * TCG the host can stop the vCPU in the middle of a burst,
		 * and the guest kernel counts that as CPU time: such a burst
		 * really was longer than the budget and may be preempted.
		 */
		dur = cpu_ns() - c0;
		if (dur > s->max_burst)
			s->max_burst = dur;
		if (dur >= budget)
			s->overran++;
		if ((fl & SIGWAKE_TF_PREEMPTED) && dur < budget)
			s->preempted++;
		s->signals = 0;
	}
	sim_finish(s);
	return NULL;
}

static void scenario_bursts(void)
{
	struct sim s = { 0 };
	int64_t t0 = now_ns();
	int f0 = failures, r;

	__atomic_store_n(&s.go, 1, __ATOMIC_RELEASE);
	r = sim_start(&s, short_bursts);
	if (r) {
		FAIL("thread: %s", strerror(-r));
		return;
	}
	pthread_join(s.th, NULL);
	if (s.err == -EOPNOTSUPP)
		return;
	if (s.err)
		FAIL("SIGWAKE_IOC_PREEMPT(self, %lld ns): %s",
		     (long long)budget, strerror(-s.err));
	if (s.preempted)
		FAIL("%d of %d guest bursts of %s (each shorter than the %s "
		     "budget, measured) were preempted", s.preempted, n_bursts,
		     T(budget / 4), T(budget));
	if (failures == f0)
		printf("short bursts: %d guest stints of %s CPU each (%s in "
		       "all, %lld budgets' worth; longest measured %s, %d "
		       "stretched past the budget by host stalls of the vCPU), "
		       "with host code between them: none shorter than the "
		       "budget was preempted, in %s\n", n_bursts,
		       T(budget / 4), T(n_bursts * (budget / 4)),
		       (long long)(n_bursts / 4), T(s.max_burst), s.overran,
		       T(now_ns() - t0));
}

/* ---- scenario 3: only the thread's own CPU time counts ------------------ */

#define SLEEP_NS	(300 * NSEC_PER_MSEC)

static int64_t sleeper_cpu;

/* A: in guest code, but the guest is idle: it sleeps. */
static void *sleeper(void *arg)
{
	struct sim *s = arg;
	struct timespec ts = { 0, SLEEP_NS };
	int64_t c0;

	if (sim_register(s))
		return NULL;
	c0 = cpu_ns();
	while (sigwake_enter_guest(s->self->block))
		stint_end(s);
	if (nanosleep(&ts, NULL))
		s->err = -errno;	/* EINTR: a kick signal */
	if (stint_end(s) & SIGWAKE_TF_PREEMPTED)
		s->preempted++;
	sleeper_cpu = cpu_ns() - c0;
	sim_finish(s);
	return NULL;
}

/* B: spins in guest code until A is done, re-entering after preemptions. */
static void *spinner(void *arg)
{
	struct sim *s = arg;

	if (sim_register(s))
		return NULL;
	while (!__atomic_load_n(&s->stop, __ATOMIC_ACQUIRE)) {
		if (sigwake_enter_guest(s->self->block)) {
			stint_end(s);
			continue;
		}
		guest_spin(s, cpu_ns(), 10 * NSEC_PER_MSEC);
		if (stint_end(s) & SIGWAKE_TF_PREEMPTED)
			s->preempted++;
	}
	sim_finish(s);
	return NULL;
}

/*
 * One run: A asleep in guest code, B spinning in guest code.  Returns 1 if
 * it can be judged (A's stint used less than half the budget of CPU time:
 * under TCG the host may stop the vCPU while A is on it, entering or
 * leaving its sleep, and the guest kernel charges that stall to A), 0 if
 * not, -1 on error.
 */
static int own_cpu_run(struct sim *a, struct sim *b)
{
	int64_t end;
	int r;

	memset(a, 0, sizeof(*a));
	memset(b, 0, sizeof(*b));
	r = sim_start(a, sleeper);
	if (!r)
		r = sim_start(b, spinner);
	if (r) {
		FAIL("threads: %s", strerror(-r));
		return -1;
	}
	/* Give both a return to user mode, where the kernel arms the budget. */
	usleep(20000);
	__atomic_store_n(&b->go, 1, __ATOMIC_RELEASE);
	__atomic_store_n(&a->go, 1, __ATOMIC_RELEASE);
	end = now_ns() + PATIENCE_NS;
	while (!__atomic_load_n(&a->done, __ATOMIC_ACQUIRE) && now_ns() < end)
		usleep(1000);
	pthread_join(a->th, NULL);
	__atomic_store_n(&b->stop, 1, __ATOMIC_RELEASE);
	pthread_join(b->th, NULL);
	return sleeper_cpu < budget / 2;
}

static void scenario_own_cpu(void)
{
	struct sim a, b;
	int64_t t0 = now_ns();
	int f0 = failures, r, runs = 0, judged = 0, b_preempted = 0;

	r = preempt(SIGWAKE_TARGET_ALL, budget);
	if (r) {
		if (r != -EOPNOTSUPP)
			FAIL("SIGWAKE_IOC_PREEMPT(ALL, %lld ns): %s",
			     (long long)budget, strerror(-r));
		return;
	}
	while (runs < 10 && !judged) {
		runs++;
		r = own_cpu_run(&a, &b);
		if (r < 0)
			break;
		b_preempted += b.preempted;
		if (!r)
			continue;	/* A was charged a host stall */
		judged = 1;
		if (a.preempted || a.signals || a.err)
			FAIL("thread A, asleep in guest code for %s using %s "
			     "of CPU, was preempted (%d, %d kick signals, "
			     "sleep: %s)", T(SLEEP_NS), T(sleeper_cpu),
			     a.preempted, (int)a.signals,
			     a.err ? strerror(-a.err) : "complete");
	}
	preempt(SIGWAKE_TARGET_ALL, 0);
	if (!judged && r >= 0)
		FAIL("in %d runs, thread A never stayed under %s of CPU (the "
		     "host kept stalling the vCPU): nothing could be judged",
		     runs, T(budget / 2));
	if (!b_preempted)
		FAIL("thread B spun in guest code and was never preempted");
	if (failures == f0)
		printf("own CPU only: budget %s for every thread "
		       "(SIGWAKE_TARGET_ALL); thread A sat in guest code asleep "
		       "for %s (%s of CPU) while thread B spun in guest code and "
		       "was preempted %d times: A was never preempted (%d "
		       "run%s, %d discarded: a host stall charged to A), in %s\n",
		       T(budget), T(SLEEP_NS), T(sleeper_cpu), b.preempted,
		       runs, runs == 1 ? "" : "s", runs - 1,
		       T(now_ns() - t0));
}

/* ---- scenario 4: budget 0 turns it off ------------------------------------ */

static void *disarmed(void *arg)
{
	struct sim *s = arg;

	if (sim_register(s))
		return NULL;
	s->err = preempt(s->handle, budget);
	if (!s->err)
		s->err = preempt(s->handle, 0);
	if (!s->err) {
		while (sigwake_enter_guest(s->self->block))
			stint_end(s);
		guest_spin(s, cpu_ns(), 10 * budget);
		if (stint_end(s) & SIGWAKE_TF_PREEMPTED)
			s->preempted++;
	}
	sim_finish(s);
	return NULL;
}

static void scenario_disarmed(void)
{
	struct sim s = { 0 };
	int64_t t0 = now_ns();
	int f0 = failures, r;

	__atomic_store_n(&s.go, 1, __ATOMIC_RELEASE);
	r = sim_start(&s, disarmed);
	if (r) {
		FAIL("thread: %s", strerror(-r));
		return;
	}
	pthread_join(s.th, NULL);
	if (s.err == -EOPNOTSUPP)
		return;
	if (s.err)
		FAIL("SIGWAKE_IOC_PREEMPT(self): %s", strerror(-s.err));
	if (s.preempted || s.signals)
		FAIL("preempted (%d kick signals) after budget 0",
		     (int)s.signals);
	if (failures == f0)
		printf("disarmed: after budget 0 a guest stint of %s CPU "
		       "(10 budgets) was not preempted in %s\n",
		       T(10 * budget), T(now_ns() - t0));
}

int main(int argc, char **argv)
{
	struct sigaction sa;
	int opt;

	while ((opt = getopt(argc, argv, "b:r:h")) != -1) {
		switch (opt) {
		case 'b':
			budget = strtoll(optarg, NULL, 0) * NSEC_PER_USEC;
			break;
		case 'r':
			n_stints = atoi(optarg);
			break;
		default:
			fprintf(stderr, "usage: shadow-preempt [-b budget_us] "
				"[-r stints]\n");
			return 2;
		}
	}
	if (budget < SIGWAKE_PREEMPT_MIN_BUDGET_NS)
		budget = SIGWAKE_PREEMPT_MIN_BUDGET_NS;
	if (n_stints < 1)
		n_stints = 1;
	setvbuf(stdout, NULL, _IOLBF, 0);

	dom = sigwake_open();
	if (dom < 0) {
		printf("shadow-preempt: sigwake_open: %s\n",
		       sigwake_open_error(dom));
		return 2;
	}
	/* The kick handler; no SA_RESTART: a kicked host syscall returns. */
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_kick;
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	sigaction(KICK_SIGNO, &sa, NULL);

	scenario_long();
	if (!unsupported)
		scenario_bursts();
	if (!unsupported)
		scenario_own_cpu();
	if (!unsupported)
		scenario_disarmed();
	close(dom);
	if (unsupported) {
		printf("shadow-preempt: SKIP: SIGWAKE_IOC_PREEMPT: EOPNOTSUPP "
		       "(kernel without preempt notifiers); not a pass\n");
		return 4;
	}
	if (failures) {
		printf("shadow-preempt: %d failure(s)\n", failures);
		return 1;
	}
	return 0;
}
