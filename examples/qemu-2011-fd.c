// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * qemu-2011-fd: the QEMU linux-user deadlock of 2011 with a *real* host pipe.
 *
 * The guest program (from Peter Maydell's 2011 mail):
 *
 *	void usr1_handler(int s) { char x = 'x'; write(pipefd[1], &x, 1); }
 *	...
 *	sigaction(SIGUSR1, { usr1_handler, SA_RESTART });
 *	read(pipefd[0], &x, 1);		// completes when SIGUSR1 comes
 *
 * An emulator that forwards the guest's read() to the host's read() blocks
 * in the host kernel, where the guest signal handler that would write the
 * byte can never run; and if it checks "guest signal pending?" first, a
 * signal that lands between that check and the host read() wakes nobody.
 *
 * sigwake's SIGWAKE_IOC_WAIT takes file descriptors (struct sigwake_pollfd,
 * version 1 of struct sigwake_wait_args): the runtime emulates the blocking
 * read as
 *
 *	WAIT { wq: SIGWAKE_NO_WQ, fds: { pipe read end, POLLIN } }
 *	  REASON_FD      -> the host read() cannot block: do it
 *	  REASON_SIGNAL  -> run the guest handler (it writes the pipe), then
 *	                    restart the read (SA_RESTART)
 *
 * The kernel watches the descriptors from before its pre-sleep checks, so
 * neither a guest signal nor the data can slip between check and sleep.
 *
 * Scenarios (one summary line each):
 *   the 2011 program  one run, step by step
 *   signal            many iterations; another thread posts guest SIGUSR1
 *                     at a random moment; the handler writes, the read
 *                     completes; none deadlocks (a 10 s watchdog)
 *   writer            many iterations; another thread write()s the pipe at a
 *                     random moment: WAIT returns REASON_FD, revents POLLIN
 *   both              a post and a write race in every iteration
 *
 * Usage: qemu-2011-fd [-n iterations] [-s seed]   (default 2000)
 * Exit status: 0 no deadlock and every read correct, 1 otherwise, 2 no
 * sigwake.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
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

#define GUEST_SIGUSR1		10
#define NSEC_PER_USEC		1000LL
#define NSEC_PER_MSEC		1000000LL
#define NSEC_PER_SEC		1000000000LL
/* A read that has not completed after this long is a deadlock. */
#define WATCHDOG_NS		(10 * NSEC_PER_SEC)
#define MAX_DEADLOCKS		3

static int dom;
static int pipefd[2];
static int failures;
static unsigned long long seed = 2011;

/* ---- small helpers ---------------------------------------------------- */

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * NSEC_PER_SEC + ts.tv_nsec;
}

/* "412 us", "23.10 ms", "1.20 s" */
static const char *fmt_ns(char *buf, size_t len, int64_t ns)
{
	if (ns < 10 * NSEC_PER_MSEC)
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

/* xorshift64* */
static unsigned long long rnd(unsigned long long *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 2685821657736338717ULL;
}

static void spin_ns(int64_t ns)
{
	int64_t end = now_ns() + ns;

	while (now_ns() < end)
		;
}

static __u32 ld(const __u32 *p)
{
	return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}

static void st(__u32 *p, __u32 v)
{
	__atomic_store_n(p, v, __ATOMIC_RELEASE);
}

static bool await(const __u32 *p, __u32 v, int64_t limit)
{
	int64_t end = now_ns() + limit;

	while (ld(p) != v) {
		if (now_ns() > end)
			return false;
		sched_yield();
	}
	return true;
}

/*
 * SIGWAKE_IOC_WAIT with file descriptors (sigwake_wait_fds()): the reason,
 * or -errno.  The caller takes the pending signals and the flags.
 */
static int wait_fds(struct sigwake_pollfd *fds, __u32 nfds, __s64 timeout_ns)
{
	return sigwake_wait_fds(dom, SIGWAKE_NO_WQ, 0, timeout_ns, 0, fds, nfds);
}

/* ---- the guest and its runtime ------------------------------------------- */

static struct sigwake_self *guest;
static __u32 guest_handle;

/* What the last emulated read went through. */
struct read_log {
	int signals;		/* REASON_SIGNAL: handlers run */
	int fd;			/* REASON_FD */
	int kicks;
	short revents;		/* of the last REASON_FD */
	char byte;		/* what read() returned */
};

/* The guest's SIGUSR1 handler: write(pipefd[1], "x", 1), on the real pipe. */
static void guest_usr1_handler(void)
{
	char x = 'x';

	if (write(pipefd[1], &x, 1) != 1)
		FAIL("the guest handler's write: %s", strerror(errno));
}

/*
 * The runtime's read(2) on a host descriptor that may block: sleep in
 * WAIT on the descriptor *and* the guest's signals, run guest handlers as
 * they come, restart (SA_RESTART), read once the descriptor is ready.
 * Returns 0, or -ETIMEDOUT for a deadlock, or another -errno.
 */
static int emu_read(int fd, char *c, struct read_log *log)
{
	memset(log, 0, sizeof(*log));
	for (;;) {
		struct sigwake_pollfd pfd = { .fd = fd, .events = POLLIN };
		__u64 sigs;
		ssize_t n;
		int r;

		r = wait_fds(&pfd, 1, WATCHDOG_NS);
		switch (r) {
		case SIGWAKE_REASON_FD:
			log->fd++;
			log->revents = pfd.revents;
			n = read(fd, c, 1);	/* O_NONBLOCK: never sleeps */
			if (n == 1) {
				log->byte = *c;
				return 0;
			}
			if (n < 0 && errno != EAGAIN)
				return -errno;
			break;	/* someone else took it: wait again */
		case SIGWAKE_REASON_SIGNAL:
			sigs = sigwake_take_pending(guest->block);
			if (sigs & sigwake_sigbit(GUEST_SIGUSR1)) {
				log->signals++;
				guest_usr1_handler();
			}
			break;	/* SA_RESTART: the read starts over */
		case SIGWAKE_REASON_KICK:
			log->kicks++;
			sigwake_take_flags(guest->block);
			break;
		case SIGWAKE_REASON_TIMEOUT:
			return -ETIMEDOUT;
		case -EINTR:
			break;
		default:
			return r < 0 ? r : -EPROTO;
		}
	}
}

/* ---- scenario 1: the 2011 program, once, step by step ------------------- */

static __u32 poster_go;

static void *post_when_asleep(void *arg)
{
	int64_t end = now_ns() + WATCHDOG_NS;
	int *outcome = arg;

	await(&poster_go, 1, WATCHDOG_NS);
	while (sigwake_state(guest->block) != SIGWAKE_WAITING && now_ns() < end)
		sched_yield();
	*outcome = sigwake_post(dom, guest_handle, GUEST_SIGUSR1, NULL);
	return NULL;
}

static void scenario_story(void)
{
	struct read_log log;
	pthread_t th;
	int outcome = 0, r;
	int64_t t0;
	char c = 0;

	if (pthread_create(&th, NULL, post_when_asleep, &outcome)) {
		FAIL("pthread_create");
		return;
	}
	t0 = now_ns();
	st(&poster_go, 1);
	r = emu_read(pipefd[0], &c, &log);
	pthread_join(th, NULL);
	if (r) {
		FAIL("the guest's read(): %s%s", strerror(-r),
		     r == -ETIMEDOUT ? " (deadlock)" : "");
		return;
	}
	if (outcome != SIGWAKE_POST_WOKEN || log.signals != 1 ||
	    log.fd != 1 || c != 'x' || !(log.revents & POLLIN)) {
		FAIL("expected: post woke the sleeper, one handler, one "
		     "REASON_FD with POLLIN, byte 'x'; got: post %s, %d "
		     "handler(s), %d REASON_FD (revents %#x), byte %#x",
		     outcome < 0 ? strerror(-outcome) :
		     sigwake_outcome_name(outcome), log.signals, log.fd,
		     (unsigned)log.revents, (unsigned char)c);
		return;
	}
	printf("the 2011 program: read() on the real pipe slept in WAIT "
	       "{fds: pipe, POLLIN}; guest SIGUSR1 woke it (REASON_SIGNAL), "
	       "the guest handler wrote 'x' to the pipe, the restarted read "
	       "got REASON_FD (revents POLLIN) at once and read 'x', in %s\n",
	       T(now_ns() - t0));
}

/* ---- scenarios 2-4: many iterations, random moments ---------------------- */

enum { DO_POST = 1, DO_WRITE = 2 };

static __u32 it_start, it_done;
static int host_what;
static unsigned int n_iters = 2000;
static int post_outcome[SIGWAKE_POST_QUEUED + 1];
static int post_errors, write_errors;

/* When in the iteration the host thread acts. */
static void random_moment(unsigned long long *rs)
{
	switch (rnd(rs) % 5) {
	case 0:		/* at once: often before the read starts */
		break;
	case 1:		/* a few microseconds in */
		spin_ns((int64_t)(rnd(rs) % 20) * NSEC_PER_USEC);
		break;
	case 2:		/* up to 200 us in */
		spin_ns((int64_t)(rnd(rs) % 200) * NSEC_PER_USEC);
		break;
	case 3:		/* once the reader sleeps (or 1 ms) */
		{
			int64_t end = now_ns() + NSEC_PER_MSEC;

			while (sigwake_state(guest->block) != SIGWAKE_WAITING &&
			       now_ns() < end)
				sched_yield();
		}
		break;
	case 4:
		sched_yield();
		break;
	}
}

static void *host_thread(void *arg)
{
	unsigned long long rs = seed * 7919 + 1;

	(void)arg;
	for (unsigned int i = 0; i < n_iters; i++) {
		if (!await(&it_start, i + 1, WATCHDOG_NS))
			return NULL;
		random_moment(&rs);
		if (host_what & DO_POST) {
			int r = sigwake_post(dom, guest_handle, GUEST_SIGUSR1,
					     NULL);

			if (r < 0)
				post_errors++;
			else if (r <= SIGWAKE_POST_QUEUED)
				post_outcome[r]++;
		}
		if (host_what & DO_WRITE) {
			if (host_what & DO_POST)
				random_moment(&rs);
			if (write(pipefd[1], "y", 1) != 1)
				write_errors++;
		}
		if (!await(&it_done, i + 1, 2 * WATCHDOG_NS))
			return NULL;
	}
	return NULL;
}

/* Empty the pipe and any pending guest signal between iterations. */
static int drain(void)
{
	char buf[16];
	int n = 0;
	ssize_t r;

	while ((r = read(pipefd[0], buf, sizeof(buf))) > 0)
		n += (int)r;
	return n;
}

static void scenario_many(const char *name, int what)
{
	/* Bytes each iteration reads: 'x' from the handler, 'y' from the writer. */
	const char *want = what == DO_POST ? "x" : what == DO_WRITE ? "y" : "xy";
	unsigned int deadlocks = 0, bad = 0, done = 0;
	long handlers = 0, fd_pollin = 0, reads = 0, stray = 0;
	int64_t t0 = now_ns(), worst = 0;
	size_t nb = strlen(want);
	pthread_t th;
	int f0 = failures;

	host_what = what;
	it_start = it_done = 0;
	memset(post_outcome, 0, sizeof(post_outcome));
	post_errors = write_errors = 0;
	if (pthread_create(&th, NULL, host_thread, NULL)) {
		FAIL("pthread_create");
		return;
	}
	for (unsigned int i = 0; i < n_iters && deadlocks < MAX_DEADLOCKS; i++) {
		int64_t t1 = now_ns(), dt;
		char got[3] = { 0 };
		int signals = 0, r = 0;

		st(&it_start, i + 1);
		for (size_t k = 0; k < nb && !r; k++) {
			struct read_log log;

			r = emu_read(pipefd[0], &got[k], &log);
			signals += log.signals;
			reads++;
			fd_pollin += !r && (log.revents & POLLIN);
		}
		dt = now_ns() - t1;
		if (dt > worst)
			worst = dt;
		if (r == -ETIMEDOUT) {
			deadlocks++;
			printf("  %s iteration %u: the read deadlocked (no byte "
			       "after %s)\n", name, i + 1, T(WATCHDOG_NS));
			stray += drain();
			st(&it_done, i + 1);
			continue;
		}
		if (r) {
			FAIL("%s iteration %u: %s", name, i + 1, strerror(-r));
			break;
		}
		done++;
		handlers += signals;
		if (nb == 2 && got[0] > got[1]) {
			char c = got[0];

			got[0] = got[1];
			got[1] = c;
		}
		if (strcmp(got, want) || signals != (what & DO_POST ? 1 : 0))
			bad++;
		/* Every event of this iteration is consumed: nothing left. */
		stray += drain();
		st(&it_done, i + 1);
	}
	st(&it_done, n_iters);
	pthread_join(th, NULL);
	if (deadlocks)
		FAIL("%s: %u reads deadlocked (stopped after %u iterations)",
		     name, deadlocks, done + deadlocks);
	if (bad)
		FAIL("%s: %u iterations read the wrong bytes or ran the handler "
		     "the wrong number of times", name, bad);
	if (fd_pollin != reads && !deadlocks)
		FAIL("%s: %ld of %ld reads ended without REASON_FD + POLLIN",
		     name, reads - fd_pollin, reads);
	if (post_errors || write_errors)
		FAIL("%s: %d post errors, %d write errors", name, post_errors,
		     write_errors);
	if (stray)
		FAIL("%s: %ld stray bytes in the pipe", name, stray);
	if (failures != f0)
		return;
	if (what == DO_POST)
		printf("signal: %u blocking reads of the real pipe, guest "
		       "SIGUSR1 posted at random moments (%d woke the sleeping "
		       "read, %d found it in host code): %ld handlers wrote the "
		       "byte, every read completed with REASON_FD, 0 deadlocks, "
		       "slowest read %s, in %s\n", done,
		       post_outcome[SIGWAKE_POST_WOKEN],
		       post_outcome[SIGWAKE_POST_RECORDED], handlers, T(worst),
		       T(now_ns() - t0));
	else if (what == DO_WRITE)
		printf("writer: %u blocking reads of the real pipe, another "
		       "thread write()s at random moments: %ld of %ld returned "
		       "REASON_FD with revents POLLIN, 0 deadlocks, slowest "
		       "read %s, in %s\n", done, fd_pollin, reads, T(worst),
		       T(now_ns() - t0));
	else
		printf("both: %u iterations, each with a post and a write "
		       "racing (%d posts woke a sleeping read, %d found it in "
		       "host code): %ld reads got 'x' and 'y', %ld handlers "
		       "ran, 0 deadlocks, slowest iteration %s, in %s\n", done,
		       post_outcome[SIGWAKE_POST_WOKEN],
		       post_outcome[SIGWAKE_POST_RECORDED], reads, handlers,
		       T(worst), T(now_ns() - t0));
}

int main(int argc, char **argv)
{
	int opt, r;

	while ((opt = getopt(argc, argv, "n:s:h")) != -1) {
		switch (opt) {
		case 'n':
			n_iters = (unsigned int)strtoul(optarg, NULL, 0);
			break;
		case 's':
			seed = strtoull(optarg, NULL, 0);
			break;
		default:
			fprintf(stderr, "usage: qemu-2011-fd [-n iterations] "
				"[-s seed]\n");
			return 2;
		}
	}
	if (!seed)
		seed = 2011;
	setvbuf(stdout, NULL, _IOLBF, 0);

	if (pipe2(pipefd, O_NONBLOCK | O_CLOEXEC)) {
		perror("pipe2");
		return 2;
	}
	dom = sigwake_open();
	if (dom < 0) {
		printf("qemu-2011-fd: sigwake_open: %s\n",
		       sigwake_open_error(dom));
		return 2;
	}
	/* The guest thread is this one; WAIT needs no kick signal. */
	r = sigwake_register(dom, 0, NULL, &guest);
	if (r < 0) {
		printf("qemu-2011-fd: SIGWAKE_IOC_REGISTER: %s\n", strerror(-r));
		return 2;
	}
	guest_handle = guest->handle;

	scenario_story();
	if (!failures)
		scenario_many("signal", DO_POST);
	if (!failures)
		scenario_many("writer", DO_WRITE);
	if (!failures)
		scenario_many("both", DO_POST | DO_WRITE);

	sigwake_unregister(guest);
	close(dom);
	if (failures) {
		printf("qemu-2011-fd: %d failure(s)\n", failures);
		return 1;
	}
	return 0;
}
