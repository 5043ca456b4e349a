// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * qemu-2011: the QEMU linux-user deadlock of December 2011, replayed on a
 * tiny runtime built on libsigwake.
 *
 * The guest program installs a SIGUSR1 handler (SA_RESTART) that write()s
 * one byte into a pipe, then read()s that pipe.  The handler is the pipe's
 * only writer, so natively the read blocks until SIGUSR1 arrives, the
 * handler runs, and the restarted read returns the byte.  QEMU linux-user
 * deadlocked on it: it queued guest signals while it emulated a blocking
 * syscall, so the handler that would have ended the read never ran.  Making
 * the syscall interruptible is not enough either, because a signal that
 * lands after the emulator checked "nothing pending" and before it blocked
 * wakes nobody.
 *
 * Here the guest pipe is a runtime-level buffer whose write counter is the
 * word of a sigwake wait queue.  An emulated read that finds the pipe empty
 * sleeps in SIGWAKE_IOC_WAIT on that queue, expecting the counter it saw;
 * the kernel checks pending guest signals and the word under the same locks
 * that SIGWAKE_IOC_POST and SIGWAKE_IOC_WAKE take, so the post cannot fall
 * between check and sleep.  A host thread posts guest SIGUSR1 at many
 * different moments, the runtime runs the guest handler when WAIT says
 * REASON_SIGNAL (or before it enters guest code), and the read restarts.
 *
 * For comparison, the same schedule runs against a naive user-space runtime
 * (a pending flag, a host signal to interrupt the thread, a futex on the
 * pipe word), with a short timeout standing in for "forever".
 *
 * Usage: qemu-2011 [-n iterations] [-N naive-iterations] [-s seed]
 *                  [-t seconds]
 *   -n 0 skips the sigwake run (no device needed); -N 0 skips the naive one;
 *   -t bounds the sigwake run's time (default 240 s: a slow emulated VM
 *   then runs fewer iterations instead of hitting its runner's timeout).
 */
#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "libsigwake.h"

#define GUEST_SIGUSR1		10
#define NSEC_PER_USEC		1000LL
#define NSEC_PER_SEC		1000000000LL
/* sigwake: a read this late is a deadlock (the watchdog, not a timeout). */
#define WATCHDOG_NS		(10 * NSEC_PER_SEC)
#define MAX_DEADLOCKS		3
/* naive: stands in for "forever"; the schedule is identical otherwise. */
#define NAIVE_TIMEOUT_NS	(2 * NSEC_PER_SEC / 1000)

/* When, relative to the guest thread, the host thread posts SIGUSR1. */
enum moment {
	AT_ASLEEP,	/* the guest sleeps in the emulated read */
	AT_WINDOW,	/* read() found the pipe empty, has not slept yet */
	AT_GUEST,	/* guest code runs, before read() */
	AT_RANDOM,	/* a random delay after the iteration starts */
	AT_HOSTSIG,	/* from a host signal handler, process-directed */
	AT_NR
};

static const char *const moment_desc[AT_NR] = {
	[AT_ASLEEP] = "while the guest slept in read()",
	[AT_WINDOW] = "after read() saw the pipe empty, before it slept",
	[AT_GUEST] = "while guest code ran, before read()",
	[AT_RANDOM] = "after a random 0-150 us delay",
	[AT_HOSTSIG] = "from a host SIGALRM handler",
};

/* The two runtimes: sigwake, and the naive one. */
struct backend {
	const char *name;
	/* guest thread */
	int (*setup)(void);
	void (*teardown)(void);
	void (*guest_code)(long long budget_ns, bool until_signal);
	int (*read_wait)(unsigned int it, __u32 seq, long long deadline);
	__u64 (*take_signals)(void);
	void (*wake_readers)(void);
	/* host thread */
	int (*post)(void);
	bool (*in_state)(int what);
	void (*host_signal)(void);
};

/* read_wait() results */
enum { RW_RETRY, RW_SIGNAL, RW_HUNG };
/* in_state() questions */
enum { ST_WAITING, ST_GUEST };

/* The emulated guest pipe. */
static struct {
	pthread_mutex_t lock;
	__u32 word;		/* write counter: the wait queue's word */
	unsigned int count;
	unsigned char buf[64];
} gpipe = { .lock = PTHREAD_MUTEX_INITIALIZER };

static const struct backend *be;
static unsigned long long rng_seed;

/* Per-iteration handshakes, each holding iteration + 1. */
static __u32 iter_start, iter_window, iter_posted, iter_done;

/*
 * Where the guest thread is, for the host thread's consistency check: a
 * post in a deterministic moment must find the guest where the moment says.
 */
enum phase { PH_HOST, PH_GUEST_CODE, PH_WINDOW, PH_WAIT, PH_NR };
static const char *const phase_name[PH_NR] = {
	[PH_HOST] = "in runtime code",
	[PH_GUEST_CODE] = "in guest code",
	[PH_WINDOW] = "holding the pre-sleep window",
	[PH_WAIT] = "in or entering SIGWAKE_IOC_WAIT",
};
static __u32 guest_phase;
static long long post_ns;
static int cur_moment;

struct stats {
	unsigned int done[AT_NR], hung[AT_NR], iters[AT_NR];
	unsigned int outcome[AT_NR][SIGWAKE_POST_QUEUED + 1];
	unsigned int post_errors, kick_signals, guest_exits, refused, odd;
	long long *lat;
	unsigned int nlat;
};
static struct stats st;
static unsigned int errors;

/* ---- small helpers ---------------------------------------------------- */

static long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * NSEC_PER_SEC + ts.tv_nsec;
}

/* xorshift64*: one state per thread, so the schedule is reproducible. */
static unsigned long long rnd(unsigned long long *state)
{
	*state ^= *state >> 12;
	*state ^= *state << 25;
	*state ^= *state >> 27;
	return *state * 2685821657736338717ULL;
}

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield" ::: "memory");
#else
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
#endif
}

static void spin_until(long long t)
{
	while (now_ns() < t)
		cpu_relax();
}

static __u32 ld(const __u32 *p)
{
	return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}

static void st32(__u32 *p, __u32 v)
{
	__atomic_store_n(p, v, __ATOMIC_RELEASE);
}

static int futex_wait(__u32 *addr, __u32 val, long long rel_ns)
{
	struct timespec ts = {
		.tv_sec = rel_ns / NSEC_PER_SEC,
		.tv_nsec = rel_ns % NSEC_PER_SEC,
	};
	long r = syscall(SYS_futex, addr, FUTEX_WAIT_PRIVATE, val, &ts,
			 NULL, 0);

	return r < 0 ? -errno : 0;
}

static void futex_wake(__u32 *addr)
{
	syscall(SYS_futex, addr, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
}

/*
 * Wait (spinning, then yielding so a single-CPU VM makes progress) until
 * *p == v or @limit_ns passed.  Returns whether it got there.
 */
static bool await(const __u32 *p, __u32 v, long long limit_ns)
{
	long long end = now_ns() + limit_ns;
	unsigned int i;

	for (i = 0; ld(p) != v; i++) {
		if (i > 64)
			sched_yield();
		else
			cpu_relax();
		if ((i & 63) == 0 && now_ns() > end)
			return false;
	}
	return true;
}

/* ---- the story of the first iteration ---------------------------------- */

static bool story_on;
static long long story_t0;
static char story_buf[4096];
static size_t story_len;
static pthread_mutex_t story_lock = PTHREAD_MUTEX_INITIALIZER;

__attribute__((format(printf, 1, 2)))
static void story(const char *fmt, ...)
{
	va_list ap;
	int n;

	if (!__atomic_load_n(&story_on, __ATOMIC_ACQUIRE))
		return;
	pthread_mutex_lock(&story_lock);
	if (!story_t0)
		story_t0 = now_ns();
	n = snprintf(story_buf + story_len, sizeof(story_buf) - story_len,
		     "  [%8.1f us] ", (now_ns() - story_t0) / 1000.0);
	if (n > 0 && (size_t)n < sizeof(story_buf) - story_len)
		story_len += n;
	va_start(ap, fmt);
	n = vsnprintf(story_buf + story_len, sizeof(story_buf) - story_len,
		      fmt, ap);
	va_end(ap);
	if (n > 0 && (size_t)n < sizeof(story_buf) - story_len - 1) {
		story_len += n;
		story_buf[story_len++] = '\n';
		story_buf[story_len] = 0;
	}
	pthread_mutex_unlock(&story_lock);
}

/* ---- the guest: its pipe, its handler ---------------------------------- */

/* The runtime's write(2) on the guest pipe. */
static void emu_write(unsigned char c)
{
	pthread_mutex_lock(&gpipe.lock);
	if (gpipe.count < sizeof(gpipe.buf))
		gpipe.buf[gpipe.count++] = c;
	__atomic_fetch_add(&gpipe.word, 1, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&gpipe.lock);
	be->wake_readers();
}

/* The guest's SIGUSR1 handler: write(pipefd[1], "x", 1). */
static void guest_usr1_handler(void)
{
	emu_write('x');
}

/*
 * Deliver the guest signals the runtime took: run each handler, as the
 * guest's sigaction asked (only SIGUSR1 has one here).  Returns how many
 * signals it delivered.
 */
static int deliver(void)
{
	__u64 sigs = be->take_signals();
	int n = __builtin_popcountll(sigs);

	while (sigs) {
		int signo = __builtin_ctzll(sigs) + 1;

		sigs &= sigs - 1;
		if (signo != GUEST_SIGUSR1)
			continue;
		story("runtime: delivers guest SIGUSR1: the guest's handler "
		      "runs write(pipe, \"x\", 1)");
		guest_usr1_handler();
		story("runtime: handler returned (pipe word now %u)",
		      ld(&gpipe.word));
	}
	return n;
}

/*
 * AT_WINDOW: the first time an emulated read has decided to sleep, hold
 * the thread right there until the host thread's post is in (and, if
 * @seen is given, until *@seen moved past @seen_val: the host signal that
 * goes with the post has been handled).  Each backend calls this at the
 * last point before it actually sleeps.
 */
static bool window_armed;

static void hold_window(unsigned int it, const __u32 *seen, __u32 seen_val)
{
	if (!window_armed)
		return;
	window_armed = false;
	st32(&guest_phase, PH_WINDOW);
	st32(&iter_window, it + 1);
	await(&iter_posted, it + 1, WATCHDOG_NS);
	if (seen)
		await(seen, seen_val + 1, NSEC_PER_SEC / 10);
	st32(&guest_phase, PH_HOST);
}

/*
 * The runtime's read(2) on the guest pipe, restarted after each guest
 * handler as SA_RESTART asks.  Returns whether it completed.
 */
static bool emu_read(unsigned int it, long long deadline)
{
	window_armed = cur_moment == AT_WINDOW;
	for (;;) {
		__u32 seq;
		int r;

		pthread_mutex_lock(&gpipe.lock);
		if (gpipe.count) {
			unsigned char c = gpipe.buf[--gpipe.count];

			pthread_mutex_unlock(&gpipe.lock);
			story("guest thread: read() returned 1 byte '%c': "
			      "the read completed", c);
			return true;
		}
		seq = gpipe.word;
		pthread_mutex_unlock(&gpipe.lock);

		r = be->read_wait(it, seq, deadline);
		if (r == RW_HUNG)
			return false;
		if (r == RW_SIGNAL) {
			story("runtime: read() interrupted by a guest signal "
			      "(-ERESTARTSYS)");
			deliver();
			story("runtime: SA_RESTART: read() restarts");
		}
	}
}

/* ---- runtime 1: sigwake ------------------------------------------------ */

static int dom = -1;
static __u32 pipe_wq;
static struct sigwake_self *gself;
static volatile unsigned char kick_byte;

/* Host kick signal (SIGURG): the kick byte already told guest code to exit. */
static void sw_kick_handler(int sig)
{
	struct sigwake_self *self = sigwake_self();

	(void)sig;
	if (self)
		__atomic_fetch_add(&st.kick_signals, 1, __ATOMIC_RELAXED);
}

/* Host SIGALRM: a Ctrl-C-like event for the guest, posted from the handler. */
static void sw_alarm_handler(int sig)
{
	__u32 it1 = ld(&iter_start);
	int r;

	(void)sig;
	__atomic_store_n(&post_ns, now_ns(), __ATOMIC_RELAXED);
	r = sigwake_post(dom, SIGWAKE_TARGET_ANY, GUEST_SIGUSR1, NULL);
	if (r > 0 && r <= SIGWAKE_POST_QUEUED)
		st.outcome[AT_HOSTSIG][r]++;
	else
		st.post_errors++;
	st32(&iter_posted, it1);
}

static int sw_setup(void)
{
	struct sigaction sa;
	int r;

	memset(&sa, 0, sizeof(sa));
	sa.sa_flags = SA_RESTART;
	sa.sa_handler = sw_kick_handler;
	sigaction(SIGURG, &sa, NULL);
	sa.sa_handler = sw_alarm_handler;
	sigaction(SIGALRM, &sa, NULL);

	r = sigwake_register(dom, SIGURG, &kick_byte, &gself);
	if (r < 0) {
		fprintf(stderr, "qemu-2011: SIGWAKE_IOC_REGISTER: %s\n",
			strerror(-r));
		return r;
	}
	return 0;
}

static void sw_teardown(void)
{
	int r = sigwake_unregister(gself);

	if (r < 0) {
		fprintf(stderr, "qemu-2011: SIGWAKE_IOC_UNREGISTER: %s\n",
			strerror(-r));
		errors++;
	}
}

static __u64 sw_take_signals(void)
{
	sigwake_take_flags(gself->block);
	return sigwake_take_pending(gself->block);
}

/*
 * Guest code: runs until its budget is spent, or with @until_signal until a
 * guest signal has been delivered.  Only a kick (the kick byte, as KVM's
 * immediate_exit) makes it leave early.
 */
static void sw_guest_code(long long budget_ns, bool until_signal)
{
	struct sigwake_thread_block *b = gself->block;
	long long end = now_ns() + budget_ns;

	for (;;) {
		__atomic_store_n(&kick_byte, 0, __ATOMIC_RELAXED);
		st32(&guest_phase, PH_GUEST_CODE);
		if (sigwake_enter_guest(b)) {
			st32(&guest_phase, PH_HOST);
			st.refused++;
			story("runtime: a guest signal is pending: "
			      "refuses to enter guest code");
			if (deliver() && until_signal)
				return;
		} else {
			while (!__atomic_load_n(&kick_byte, __ATOMIC_RELAXED) &&
			       now_ns() < end)
				cpu_relax();
			sigwake_leave_guest(b);
			st32(&guest_phase, PH_HOST);
			if (__atomic_load_n(&kick_byte, __ATOMIC_RELAXED)) {
				st.guest_exits++;
				story("runtime: kicked out of guest code "
				      "(kick byte set)");
				if (deliver() && until_signal)
					return;
			}
		}
		if (now_ns() >= end)
			return;
	}
}

static int sw_read_wait(unsigned int it, __u32 seq, long long deadline)
{
	int r;

	story("runtime: the pipe is empty (word %u): the guest thread "
	      "sleeps in SIGWAKE_IOC_WAIT on queue %u, expecting %u",
	      seq, pipe_wq, seq);
	/* The kernel checks pending signals itself, inside WAIT. */
	hold_window(it, NULL, 0);
	st32(&guest_phase, PH_WAIT);
	r = sigwake_wait(dom, pipe_wq, seq, deadline, SIGWAKE_WAIT_ABSTIME);
	st32(&guest_phase, PH_HOST);
	switch (r) {
	case SIGWAKE_REASON_SIGNAL:
		story("runtime: WAIT returned SIGWAKE_REASON_SIGNAL");
		return RW_SIGNAL;
	case SIGWAKE_REASON_KICK:
		sigwake_take_flags(gself->block);
		return RW_RETRY;
	case SIGWAKE_REASON_WAKE:
	case -EAGAIN:
	case -EINTR:
		return RW_RETRY;
	case SIGWAKE_REASON_TIMEOUT:
		fprintf(stderr, "qemu-2011: iteration %u: DEADLOCK: no "
			"wakeup in %lld s (post %s, pending %#llx, state %u)\n",
			it + 1, WATCHDOG_NS / NSEC_PER_SEC,
			ld(&iter_posted) == it + 1 ? "done" : "not done",
			(unsigned long long)gself->block->pending,
			sigwake_state(gself->block));
		return RW_HUNG;
	}
	fprintf(stderr, "qemu-2011: SIGWAKE_IOC_WAIT: %s\n", strerror(-r));
	errors++;
	return RW_HUNG;
}

static void sw_wake_readers(void)
{
	int r = sigwake_wake(dom, pipe_wq, INT_MAX);

	if (r < 0) {
		fprintf(stderr, "qemu-2011: SIGWAKE_IOC_WAKE: %s\n",
			strerror(-r));
		errors++;
	}
	story("runtime: the write bumped the pipe word and woke %d "
	      "reader(s) with SIGWAKE_IOC_WAKE", r);
}

static int sw_post(void)
{
	return sigwake_post(dom, gself->handle, GUEST_SIGUSR1, NULL);
}

static bool sw_in_state(int what)
{
	__u32 s = sigwake_state(gself->block);

	return what == ST_WAITING ? s == SIGWAKE_WAITING :
				    s == SIGWAKE_RUNNING_IN_GUEST;
}

static void sw_host_signal(void)
{
	kill(getpid(), SIGALRM);
}

static const struct backend sigwake_backend = {
	.name = "sigwake",
	.setup = sw_setup,
	.teardown = sw_teardown,
	.guest_code = sw_guest_code,
	.read_wait = sw_read_wait,
	.take_signals = sw_take_signals,
	.wake_readers = sw_wake_readers,
	.post = sw_post,
	.in_state = sw_in_state,
	.host_signal = sw_host_signal,
};

/* ---- runtime 2: naive user space --------------------------------------- */

static __u64 nv_pending;		/* the "TLS" record of guest signals */
static __u32 nv_state;			/* ST_* or -1 */
static __u32 nv_signals_seen;
static pid_t guest_tid;

/* Interrupts a blocking futex (no SA_RESTART): all it can do is return. */
static void nv_kick_handler(int sig)
{
	(void)sig;
	__atomic_fetch_add(&nv_signals_seen, 1, __ATOMIC_RELEASE);
}

static void nv_alarm_handler(int sig)
{
	__u32 it1 = ld(&iter_start);

	(void)sig;
	__atomic_store_n(&post_ns, now_ns(), __ATOMIC_RELAXED);
	__atomic_fetch_or(&nv_pending, sigwake_sigbit(GUEST_SIGUSR1),
			  __ATOMIC_SEQ_CST);
	__atomic_fetch_add(&nv_signals_seen, 1, __ATOMIC_RELEASE);
	st32(&iter_posted, it1);
}

static int nv_setup(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = nv_kick_handler;
	sigaction(SIGUSR2, &sa, NULL);
	sa.sa_handler = nv_alarm_handler;
	sigaction(SIGALRM, &sa, NULL);
	guest_tid = (pid_t)syscall(SYS_gettid);
	st32(&nv_state, -1);
	return 0;
}

static void nv_teardown(void)
{
}

static __u64 nv_take_signals(void)
{
	return __atomic_exchange_n(&nv_pending, 0, __ATOMIC_ACQ_REL);
}

/* Guest code polls the pending word, like a CPU loop's exit request. */
static void nv_guest_code(long long budget_ns, bool until_signal)
{
	long long end = now_ns() + budget_ns;

	for (;;) {
		__u64 pend;

		st32(&nv_state, ST_GUEST);
		while (!(pend = __atomic_load_n(&nv_pending,
						__ATOMIC_ACQUIRE)) &&
		       now_ns() < end)
			cpu_relax();
		st32(&nv_state, -1);
		deliver();
		if ((pend && until_signal) || now_ns() >= end)
			return;
	}
}

static int nv_read_wait(unsigned int it, __u32 seq, long long deadline)
{
	unsigned int seen = ld(&nv_signals_seen);
	int r;

	(void)deadline;
	/* Check, ... */
	if (__atomic_load_n(&nv_pending, __ATOMIC_ACQUIRE))
		return RW_SIGNAL;
	/* ... the signal lands here (AT_WINDOW holds it open) ... */
	hold_window(it, &nv_signals_seen, seen);
	/* ... then sleep. */
	for (;;) {
		st32(&nv_state, ST_WAITING);
		r = futex_wait(&gpipe.word, seq, NAIVE_TIMEOUT_NS);
		st32(&nv_state, -1);
		if (r != -ETIMEDOUT)
			return RW_RETRY;
		/* Stuck: hung if the signal was posted a timeout ago. */
		if (ld(&iter_posted) == it + 1 &&
		    now_ns() - __atomic_load_n(&post_ns, __ATOMIC_RELAXED) >=
		    NAIVE_TIMEOUT_NS)
			return RW_HUNG;
	}
}

static void nv_wake_readers(void)
{
	futex_wake(&gpipe.word);
}

static int nv_post(void)
{
	__atomic_fetch_or(&nv_pending, sigwake_sigbit(GUEST_SIGUSR1),
			  __ATOMIC_SEQ_CST);
	syscall(SYS_tgkill, getpid(), guest_tid, SIGUSR2);
	return SIGWAKE_POST_RECORDED;
}

static bool nv_in_state(int what)
{
	return ld(&nv_state) == (__u32)what;
}

static const struct backend naive_backend = {
	.name = "naive",
	.setup = nv_setup,
	.teardown = nv_teardown,
	.guest_code = nv_guest_code,
	.read_wait = nv_read_wait,
	.take_signals = nv_take_signals,
	.wake_readers = nv_wake_readers,
	.post = nv_post,
	.in_state = nv_in_state,
	.host_signal = sw_host_signal,
};

/* ---- the two threads --------------------------------------------------- */

static unsigned int sum(const unsigned int *v)
{
	unsigned int s = 0;
	int m;

	for (m = 0; m < AT_NR; m++)
		s += v[m];
	return s;
}

static unsigned int niters;
static long long run_until;	/* CLOCK_MONOTONIC end of the time budget */
static bool out_of_time;
static bool stop_run;		/* the guest thread is done */

static void *guest_thread(void *arg)
{
	sigset_t set;
	unsigned int it;

	unsigned long long rs = rng_seed;

	(void)arg;
	sigemptyset(&set);
	sigaddset(&set, SIGALRM);
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);
	if (be->setup() < 0) {
		errors++;
		__atomic_store_n(&stop_run, true, __ATOMIC_RELEASE);
		return NULL;
	}

	for (it = 0; it < niters && !stop_run; it++) {
		int m = it % AT_NR;
		long long t0 = now_ns(), budget;

		/* Whole rounds of the five moments only. */
		if (m == 0 && run_until && t0 > run_until) {
			out_of_time = true;
			break;
		}

		cur_moment = m;
		__atomic_store_n(&story_on, it == 0 && be == &sigwake_backend,
				 __ATOMIC_RELEASE);
		/* AT_GUEST: guest code spins until a signal gets it out. */
		budget = m == AT_GUEST ? WATCHDOG_NS :
					 (long long)(rnd(&rs) % 30) * 1000;
		st.iters[m]++;
		st32(&iter_start, it + 1);

		story("guest thread: runs guest code for %lld us, then "
		      "calls read(pipe) on the empty pipe", budget / 1000);
		be->guest_code(budget, m == AT_GUEST);
		if (emu_read(it, t0 + WATCHDOG_NS)) {
			long long lat = now_ns() -
				__atomic_load_n(&post_ns, __ATOMIC_RELAXED);

			st.done[m]++;
			st.lat[st.nlat++] = lat;
			if (story_on)
				story("(%.1f us after the post)", lat / 1000.0);
		} else {
			/* Recover: run the handler late, empty the pipe. */
			st.hung[m]++;
			if (be == &sigwake_backend &&
			    sum(st.hung) >= MAX_DEADLOCKS) {
				fprintf(stderr, "qemu-2011: %d deadlocks, "
					"giving up\n", MAX_DEADLOCKS);
				stop_run = true;
			}
			await(&iter_posted, it + 1, WATCHDOG_NS);
			deliver();
			pthread_mutex_lock(&gpipe.lock);
			gpipe.count = 0;
			pthread_mutex_unlock(&gpipe.lock);
		}
		__atomic_store_n(&story_on, false, __ATOMIC_RELEASE);
		st32(&iter_done, it + 1);
		futex_wake(&iter_done);
	}
	be->teardown();
	__atomic_store_n(&stop_run, true, __ATOMIC_RELEASE);
	return NULL;
}

/* The outcome a post at moment @m must have, or 0 if it may vary. */
static int expected_outcome(int m)
{
	if (be != &sigwake_backend)
		return 0;
	switch (m) {
	case AT_ASLEEP:
		return SIGWAKE_POST_WOKEN;
	case AT_WINDOW:
		return SIGWAKE_POST_RECORDED;
	case AT_GUEST:
		return SIGWAKE_POST_KICKED;
	}
	return 0;
}

/*
 * Post for iteration @it.  Marks the post done with @it itself: by the time
 * the ioctl returns, the guest may already be in the next iteration.
 */
static void host_post(int m, unsigned int it)
{
	__u32 ph0, ph1, state;
	int r, want;

	__atomic_store_n(&post_ns, now_ns(), __ATOMIC_RELAXED);
	ph0 = ld(&guest_phase);
	r = be->post();
	ph1 = ld(&guest_phase);
	want = expected_outcome(m);
	if (want && r != want && st.odd++ < 5) {
		state = sigwake_state(gself->block);
		printf("  note: iteration %u, post %s: outcome %s, expected "
		       "%s; the guest thread was %s before the post and %s "
		       "after it (block state now %u)\n", it + 1,
		       moment_desc[m], r > 0 ? sigwake_outcome_name(r) :
		       strerror(-r), sigwake_outcome_name(want),
		       phase_name[ph0 < PH_NR ? ph0 : 0],
		       phase_name[ph1 < PH_NR ? ph1 : 0], state);
	}
	if (r > 0 && r <= SIGWAKE_POST_QUEUED)
		st.outcome[m][r]++;
	else
		st.post_errors++;
	if (r < 0)
		fprintf(stderr, "qemu-2011: SIGWAKE_IOC_POST: %s\n",
			strerror(-r));
	if (m == AT_ASLEEP)
		story("host thread: sees the guest thread WAITING in its "
		      "thread block; posts guest SIGUSR1: outcome %s",
		      r > 0 ? sigwake_outcome_name(r) : strerror(-r));
	st32(&iter_posted, it + 1);
}

/* The host thread: wait for iteration @it to start, unless the guest quit. */
static bool await_start(unsigned int it)
{
	while (ld(&iter_start) != it + 1) {
		if (__atomic_load_n(&stop_run, __ATOMIC_ACQUIRE))
			return false;
		sched_yield();
	}
	return true;
}

static void *host_thread(void *arg)
{
	unsigned long long rs = rng_seed * 7 + 1;
	unsigned int it;

	(void)arg;
	for (it = 0; it < niters; it++) {
		int m = it % AT_NR;
		__u32 d;

		if (!await_start(it))
			return NULL;
		switch (m) {
		case AT_ASLEEP:
		case AT_GUEST:
			/* Post as soon as the state word says so (or 1 s). */
			{
				long long end = now_ns() + NSEC_PER_SEC;
				int what = m == AT_ASLEEP ? ST_WAITING :
							    ST_GUEST;

				while (!be->in_state(what) && now_ns() < end)
					sched_yield();
			}
			host_post(m, it);
			break;
		case AT_WINDOW:
			await(&iter_window, it + 1, WATCHDOG_NS);
			host_post(m, it);
			break;
		case AT_RANDOM:
			spin_until(now_ns() + (long long)(rnd(&rs) % 150) * 1000);
			host_post(m, it);
			break;
		case AT_HOSTSIG:
			spin_until(now_ns() + (long long)(rnd(&rs) % 150) * 1000);
			be->host_signal();
			break;
		}
		while ((d = ld(&iter_done)) != it + 1) {
			if (__atomic_load_n(&stop_run, __ATOMIC_ACQUIRE))
				return NULL;
			futex_wait(&iter_done, d, NSEC_PER_SEC / 10);
		}
	}
	return NULL;
}

/*
 * One run of @n iterations on @backend, within @budget_ns if not 0;
 * returns 0 if it could run.
 */
static int run(const struct backend *backend, unsigned int n,
	       long long budget_ns)
{
	pthread_t g, h;

	be = backend;
	niters = n;
	run_until = budget_ns ? now_ns() + budget_ns : 0;
	out_of_time = false;
	stop_run = false;
	iter_start = iter_window = iter_posted = iter_done = 0;
	guest_phase = PH_HOST;
	gpipe.count = 0;
	memset(&st, 0, sizeof(st));
	st.lat = calloc(n ? n : 1, sizeof(*st.lat));
	if (!st.lat)
		return -ENOMEM;
	if (pthread_create(&g, NULL, guest_thread, NULL))
		return -EAGAIN;
	if (pthread_create(&h, NULL, host_thread, NULL)) {
		stop_run = true;
		pthread_join(g, NULL);
		return -EAGAIN;
	}
	pthread_join(g, NULL);
	stop_run = true;
	pthread_join(h, NULL);
	return 0;
}

static int cmp_ll(const void *a, const void *b)
{
	long long x = *(const long long *)a, y = *(const long long *)b;

	return (x > y) - (x < y);
}

static long long median_ns(void)
{
	if (!st.nlat)
		return 0;
	qsort(st.lat, st.nlat, sizeof(*st.lat), cmp_ll);
	return st.lat[st.nlat / 2];
}

static void print_outcomes(int m)
{
	const char *sep = "";
	int o;

	printf("  (post ");
	for (o = 1; o <= SIGWAKE_POST_QUEUED; o++) {
		if (!st.outcome[m][o])
			continue;
		printf("%s%s %u", sep, sigwake_outcome_name(o),
		       st.outcome[m][o]);
		sep = ", ";
	}
	printf(")\n");
}

static void usage(void)
{
	fprintf(stderr, "usage: qemu-2011 [-n iterations] "
		"[-N naive-iterations] [-s seed] [-t seconds]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	unsigned int n = 10000, nnaive = 500, done = 0, hung = 0;
	unsigned long long seed = 2011;
	long long budget_s = 240;
	long long med = 0, t0;
	sigset_t set;
	int opt, m, r;

	while ((opt = getopt(argc, argv, "n:N:s:t:h")) != -1) {
		switch (opt) {
		case 'n':
			n = strtoul(optarg, NULL, 0);
			break;
		case 'N':
			nnaive = strtoul(optarg, NULL, 0);
			break;
		case 's':
			seed = strtoull(optarg, NULL, 0);
			break;
		case 't':
			budget_s = strtoll(optarg, NULL, 0);
			break;
		default:
			usage();
		}
	}
	rng_seed = seed ? seed : 2011;
	setvbuf(stdout, NULL, _IOLBF, 0);

	/* Only the guest thread takes the host SIGALRM ("Ctrl-C"). */
	sigemptyset(&set);
	sigaddset(&set, SIGALRM);
	pthread_sigmask(SIG_BLOCK, &set, NULL);

	printf("qemu-2011: the QEMU linux-user deadlock of December 2011, "
	       "replayed on sigwake\n"
	       "  The guest: a SIGUSR1 handler write()s one byte into a "
	       "pipe; main() read()s\n"
	       "  that pipe, and the handler is its only writer.  Natively "
	       "the read blocks\n"
	       "  until SIGUSR1 comes, the handler runs, the read completes.  "
	       "QEMU queued\n"
	       "  guest signals while it emulated a blocking syscall, so the "
	       "handler never\n"
	       "  ran and the guest hung; and a signal that lands after the "
	       "emulator checked\n"
	       "  \"nothing pending\" but before it blocked wakes nobody.\n\n");

	if (n) {
		__u32 w = 0;

		dom = sigwake_open();
		if (dom < 0) {
			printf("qemu-2011: sigwake_open: %s\n",
			       sigwake_open_error(dom));
			return 2;
		}
		r = sigwake_wq_create(dom, &gpipe.word);
		if (r < 0) {
			printf("qemu-2011: SIGWAKE_IOC_WQ_CREATE: %s\n",
			       strerror(-r));
			return 2;
		}
		pipe_wq = r;
		w = gpipe.word;
		printf("runtime: domain fd %d; the guest pipe is a buffer whose "
		       "write counter (now %u)\n"
		       "  is the word of wait queue %u; the guest thread "
		       "registers with kick signal\n"
		       "  SIGURG and a kick byte.\n\n", dom, w, pipe_wq);

		t0 = now_ns();
		if (run(&sigwake_backend, n, budget_s * NSEC_PER_SEC) < 0) {
			printf("qemu-2011: cannot start threads\n");
			return 2;
		}
		t0 = now_ns() - t0;
		if (out_of_time) {
			printf("(time budget of %lld s reached: %u of %u "
			       "iterations run)\n", budget_s, sum(st.iters), n);
			n = sum(st.iters);
		}
		printf("iteration 1, step by step:\n%s\n", story_buf);
		done = sum(st.done);
		hung = sum(st.hung);
		med = median_ns();
		printf("%u iterations in %.1f s, guest SIGUSR1 posted at %d "
		       "different moments:\n", sum(st.iters),
		       (double)t0 / NSEC_PER_SEC, AT_NR);
		for (m = 0; m < AT_NR; m++) {
			printf("  %-50s %5u/%-5u read", moment_desc[m],
			       st.done[m], st.iters[m]);
			print_outcomes(m);
		}
		printf("  guest entries refused by the Dekker check: %u; "
		       "kicked out of guest code: %u;\n"
		       "  host kick signals (SIGURG) received: %u\n",
		       st.refused, st.guest_exits, st.kick_signals);
		r = sigwake_wq_destroy(dom, pipe_wq);
		if (r < 0) {
			printf("qemu-2011: SIGWAKE_IOC_WQ_DESTROY: %s\n",
			       strerror(-r));
			errors++;
		}
		close(dom);
		errors += st.post_errors;
	}

	if (nnaive) {
		unsigned int nv_hung, nv_done;

		printf("\nthe naive user-space runtime on the same schedule "
		       "(no sigwake: a pending\n"
		       "flag, a host signal to interrupt the thread, a futex "
		       "on the pipe word;\n"
		       "\"hung\" = still asleep %lld ms after the post, where "
		       "it would sleep forever):\n",
		       NAIVE_TIMEOUT_NS / 1000000);
		if (run(&naive_backend, nnaive, 0) < 0) {
			printf("qemu-2011: cannot start threads\n");
			return 2;
		}
		for (m = 0; m < AT_NR; m++)
			printf("  %-50s %4u/%-4u would hang\n",
			       moment_desc[m], st.hung[m], st.iters[m]);
		nv_hung = sum(st.hung);
		nv_done = sum(st.done);
		printf("  naive: %u/%u reads completed, %u would have hung "
		       "forever\n\n", nv_done, nnaive, nv_hung);
	}

	if (!n)
		return errors ? 1 : 0;
	printf("qemu-2011: %u/%u reads completed, %u deadlocks, median "
	       "post-to-read-completion %lld us\n", done, n, hung,
	       (med + 500) / 1000);
	if (errors)
		printf("qemu-2011: %u errors (see above)\n", errors);
	return done == n && !hung && !errors ? 0 : 1;
}
