// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * mini-runtime: the program that docs/integration.md's tutorial ("A mini
 * runtime, from an empty file") builds step by step; "make demo" runs it.
 * Two guest threads on libsigwake:
 *
 *   waiter   sleeps on a guest futex until main wakes it, then blocks in an
 *            emulated read(2) of a pipe that a guest signal interrupts and
 *            restarts, then sleeps on the futex until shutdown;
 *   spinner  runs a compute loop in guest code that a CPU budget preempts
 *            (SIGWAKE_IOC_PREEMPT), with no syscall on entry or exit.
 *
 * Then main presses "Ctrl-C" (a host SIGINT to its own process, forwarded
 * by the kernel as a guest SIGINT) and the runtime shuts down cleanly: the
 * thread that receives it kicks the other one and wakes the futex, each
 * thread unregisters, main closes the domain.  Every wait has a deadline;
 * the program exits 0 only if every step happened.
 */
#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libsigwake.h>

#define KICK_SIG	SIGUSR2		/* the host signal sigwake kicks with */
#define GUEST_SIGINT	2		/* guest signal numbers */
#define GUEST_SIGUSR1	10
#define BUDGET_NS	(5 * 1000 * 1000)	/* 5 ms of guest CPU time */
#define WATCHDOG_NS	(30LL * 1000 * 1000 * 1000)

static int dom;				/* the domain: one per runtime */
static int stopping;			/* atomic: the shutdown has begun */

static __s64 now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* A guest thread of the runtime. */
struct gthread {
	const char *name;
	pthread_t th;
	struct sigwake_self *sw;	/* its registration */
	__u32 handle;			/* its handle, for other threads */
	int ready;			/* atomic: registered */
	int done;			/* atomic: left its loop */
	int usr1, preemptions, kicks, sigint;	/* what it received */
};

static struct gthread waiter = { .name = "waiter" };
static struct gthread spinner = { .name = "spinner" };

/* A kick only has to interrupt guest code or a host system call. */
static void on_kick(int sig)
{
	(void)sig;
}

static int guest_register(struct gthread *g)
{
	int r = sigwake_register(dom, KICK_SIG, NULL, &g->sw);

	if (r < 0) {
		fprintf(stderr, "%s: sigwake_register: %s\n", g->name,
			strerror(-r));
		return r;
	}
	g->handle = g->sw->handle;
	__atomic_store_n(&g->ready, 1, __ATOMIC_RELEASE);
	return 0;
}

static void shutdown_runtime(struct gthread *g);

/*
 * Every guest signal and kick that a wait or a guest exit took ends up
 * here.  A real runtime builds the guest's signal frame; this one counts,
 * and a guest SIGINT starts the shutdown.
 */
static void deliver(struct gthread *g, __u64 sigs, __u32 flags)
{
	if (sigs & sigwake_sigbit(GUEST_SIGUSR1))
		__atomic_add_fetch(&g->usr1, 1, __ATOMIC_RELEASE);
	if (flags & SIGWAKE_TF_PREEMPTED)	/* the CPU budget ran out */
		__atomic_add_fetch(&g->preemptions, 1, __ATOMIC_RELEASE);
	if (flags & SIGWAKE_TF_KICK_REQUESTED)	/* another thread kicked */
		__atomic_add_fetch(&g->kicks, 1, __ATOMIC_RELEASE);
	if (sigs & sigwake_sigbit(GUEST_SIGINT)) {
		__atomic_add_fetch(&g->sigint, 1, __ATOMIC_RELEASE);
		shutdown_runtime(g);
	}
}

/* The guest futex: one word, one wait queue bound to it. */
static __u32 futex_word;
static int futex_wq;

/* FUTEX_WAIT for the guest: 0, -EAGAIN, -EINTR or -ETIMEDOUT. */
static int guest_futex_wait(struct gthread *g, __u32 val, __s64 deadline)
{
	struct sigwake_taken t;
	int r = sigwake_wait_take(g->sw, (__u32)futex_wq, val, deadline,
				  SIGWAKE_WAIT_ABSTIME, NULL, 0, &t);

	deliver(g, t.signals, t.flags);
	switch (r) {
	case SIGWAKE_REASON_WAKE:
		return 0;
	case SIGWAKE_REASON_TIMEOUT:
		return -ETIMEDOUT;
	case SIGWAKE_REASON_SIGNAL:	/* the guest's wait ends with EINTR */
	case SIGWAKE_REASON_KICK:	/* after its signal handler ran */
		return -EINTR;
	default:
		return r;		/* -EAGAIN: the word moved */
	}
}

/* FUTEX_WAKE for the guest. */
static void guest_futex_wake(__u32 val, __u32 n)
{
	__atomic_store_n(&futex_word, val, __ATOMIC_RELEASE);
	sigwake_wake(dom, (__u32)futex_wq, n);
}

/*
 * A blocking read(2) of the guest that a guest signal interrupts, with no
 * window: the descriptor is O_NONBLOCK, and the thread sleeps in WAIT on
 * it, which also ends for a guest signal or a kick.
 */
static ssize_t guest_read(struct gthread *g, int fd, void *buf, size_t len,
			  __s64 deadline)
{
	struct sigwake_pollfd pfd = { .fd = fd, .events = POLLIN };
	struct sigwake_taken t;
	ssize_t n;
	int r;

	for (;;) {
		n = read(fd, buf, len);
		if (n >= 0 || errno != EAGAIN)
			return n < 0 ? -errno : n;
		r = sigwake_wait_take(g->sw, SIGWAKE_NO_WQ, 0, deadline,
				      SIGWAKE_WAIT_ABSTIME, &pfd, 1, &t);
		deliver(g, t.signals, t.flags);
		if (r == SIGWAKE_REASON_TIMEOUT)
			return -ETIMEDOUT;
		if (r < 0)
			return r;
		if (__atomic_load_n(&stopping, __ATOMIC_ACQUIRE))
			return -EINTR;
		/* a guest signal: its handler ran (SA_RESTART), read again */
	}
}

static int pipe_fds[2];

static void *waiter_main(void *arg)
{
	struct gthread *g = arg;
	__s64 deadline = now_ns() + WATCHDOG_NS;
	char buf[64];
	ssize_t n;
	int r;

	if (guest_register(g))
		return NULL;
	/* 1. sleep on the futex until main stores 1 and wakes it */
	while (__atomic_load_n(&futex_word, __ATOMIC_ACQUIRE) == 0) {
		r = guest_futex_wait(g, 0, deadline);
		if (r < 0 && r != -EAGAIN && r != -EINTR)
			goto out;	/* -ETIMEDOUT, or the runtime is gone */
	}
	printf("waiter: woken from the guest futex\n");
	/* 2. a blocking read that main interrupts with a guest SIGUSR1 */
	n = guest_read(g, pipe_fds[0], buf, sizeof(buf) - 1, deadline);
	if (n > 0) {
		buf[n] = '\0';
		printf("waiter: read \"%s\" after %d guest SIGUSR1\n", buf,
		       g->usr1);
	}
	/* 3. sleep on the futex until the shutdown */
	while (!__atomic_load_n(&stopping, __ATOMIC_ACQUIRE)) {
		r = guest_futex_wait(g, 1, deadline);
		if (r < 0 && r != -EAGAIN && r != -EINTR)
			break;
	}
out:
	__atomic_store_n(&g->done, 1, __ATOMIC_RELEASE);
	sigwake_unregister(g->sw);
	return NULL;
}

/* Guest code that never makes a system call. */
static void guest_compute(volatile unsigned long *x)
{
	unsigned long i;

	for (i = 0; i < 100000; i++)
		*x = *x * 6364136223846793005ul + 1442695040888963407ul;
}

static void *spinner_main(void *arg)
{
	struct gthread *g = arg;
	struct sigwake_thread_block *b;
	volatile unsigned long x = 1;
	__s64 deadline = now_ns() + WATCHDOG_NS;

	if (guest_register(g))
		return NULL;
	b = g->sw->block;
	while (!__atomic_load_n(&stopping, __ATOMIC_ACQUIRE) &&
	       now_ns() < deadline) {
		if (sigwake_enter_guest(b) == 0) {
			/* until the budget runs out, or a kick */
			while (!sigwake_kicked(b))
				guest_compute(&x);
			sigwake_leave_guest(b);
		}
		/* after every exit, and every refused entry: take both */
		deliver(g, sigwake_take_pending(b), sigwake_take_flags(b));
	}
	__atomic_store_n(&g->done, 1, __ATOMIC_RELEASE);
	sigwake_unregister(g->sw);
	return NULL;
}

/*
 * The thread that receives the guest SIGINT: every other guest thread must
 * leave what it is doing.  A kick reaches a thread in guest code or asleep
 * in a WAIT; the futex wake covers a thread about to sleep on it.
 */
static void shutdown_runtime(struct gthread *g)
{
	struct gthread *all[] = { &waiter, &spinner };
	unsigned int i;

	printf("%s: guest SIGINT: shutting down\n", g->name);
	__atomic_store_n(&stopping, 1, __ATOMIC_RELEASE);
	for (i = 0; i < 2; i++)
		if (all[i] != g && !__atomic_load_n(&all[i]->done,
						    __ATOMIC_ACQUIRE))
			sigwake_kick(dom, all[i]->handle);
	guest_futex_wake(2, UINT32_MAX);
}

/* Wait until *flag >= want, for the demo's own sequencing. */
static int await(int *flag, int want, const char *what)
{
	__s64 end = now_ns() + WATCHDOG_NS;

	while (__atomic_load_n(flag, __ATOMIC_ACQUIRE) < want) {
		if (now_ns() > end) {
			printf("not ok: timed out waiting for %s\n", what);
			return -1;
		}
		usleep(1000);
	}
	return 0;
}

int main(void)
{
	struct sigaction sa = { .sa_handler = on_kick, .sa_flags = SA_RESTART };
	int r, ok;

	setvbuf(stdout, NULL, _IOLBF, 0);
	dom = sigwake_open();
	if (dom < 0)
		errx(1, "sigwake_open: %s", sigwake_open_error(dom));

	/* the kick signal's handler, before any thread registers */
	sigaction(KICK_SIG, &sa, NULL);

	futex_wq = sigwake_wq_create(dom, &futex_word);
	if (futex_wq < 0)
		errx(1, "sigwake_wq_create: %s", strerror(-futex_wq));
	if (pipe2(pipe_fds, O_NONBLOCK | O_CLOEXEC))
		err(1, "pipe2");

	/* every guest thread, present and future: 5 ms of guest CPU time */
	r = sigwake_preempt(dom, SIGWAKE_TARGET_ALL, BUDGET_NS);
	if (r < 0)
		errx(1, "sigwake_preempt: %s", strerror(-r));

	/* Ctrl-C: host SIGINT becomes a guest SIGINT, in the kernel */
	signal(SIGINT, SIG_IGN);
	r = sigwake_forward(dom, SIGINT, GUEST_SIGINT, SIGWAKE_TARGET_ANY);
	if (r < 0)
		errx(1, "sigwake_forward: %s", strerror(-r));

	pthread_create(&waiter.th, NULL, waiter_main, &waiter);
	pthread_create(&spinner.th, NULL, spinner_main, &spinner);
	if (await(&waiter.ready, 1, "the waiter") ||
	    await(&spinner.ready, 1, "the spinner"))
		return 1;

	/* wake the futex: the waiter moves on to its read */
	guest_futex_wake(1, 1);
	/* a guest signal interrupts the read (or comes first: no matter) */
	usleep(50000);
	sigwake_post(dom, waiter.handle, GUEST_SIGUSR1, NULL);
	if (await(&waiter.usr1, 1, "the guest SIGUSR1"))
		return 1;
	if (write(pipe_fds[1], "hello", 5) != 5)
		err(1, "write");

	/* let the spinner be preempted a few times */
	if (await(&spinner.preemptions, 3, "three preemptions"))
		return 1;

	/* "Ctrl-C" */
	printf("main: kill(SIGINT)\n");
	kill(getpid(), SIGINT);
	if (await(&waiter.done, 1, "the waiter to stop") ||
	    await(&spinner.done, 1, "the spinner to stop"))
		return 1;
	pthread_join(waiter.th, NULL);
	pthread_join(spinner.th, NULL);

	sigwake_forward_remove(dom, SIGINT);
	sigwake_wq_destroy(dom, (__u32)futex_wq);
	close(dom);

	printf("waiter: %d guest SIGUSR1, %d kicks; spinner: %d preemptions, %d kicks; guest SIGINT received %d time(s)\n",
	       waiter.usr1, waiter.kicks, spinner.preemptions, spinner.kicks,
	       waiter.sigint + spinner.sigint);
	ok = waiter.usr1 >= 1 && spinner.preemptions >= 3 &&
	     waiter.sigint + spinner.sigint == 1;
	printf("%s mini-runtime\n", ok ? "ok" : "not ok");
	return ok ? 0 : 1;
}
