// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * litebox-sigint: Ctrl-C in a library OS, on sigwake.
 *
 * LiteBox (a library OS) added SIGINT in 2026 (PR 690).  A host SIGINT
 * handler recorded the signal in the guest thread's TLS, then CASed that
 * thread's wait state from WAITING to WOKEN and did a futex wake, so that a
 * thread about to sleep (or asleep) would notice.  Threads that were not
 * guest threads had to block SIGINT and re-raise it; on Windows the handler
 * ran on a kernel thread and needed a global list of all threads.
 *
 * With sigwake the runtime says once, at boot:
 *
 *	signal(SIGINT, SIG_IGN);		// the host itself ignores it
 *	SIGWAKE_IOC_FORWARD { host SIGINT -> guest SIGINT, target }
 *
 * and the kernel turns every host SIGINT sent to the process (a terminal's
 * Ctrl-C, kill(1) from another process) into a guest POST: the guest thread
 * sleeping in SIGWAKE_IOC_WAIT returns SIGWAKE_REASON_SIGNAL with guest
 * SIGINT in its pending set.  No handler, no TLS, no thread list, and the
 * "about to sleep" race is the kernel's business.
 *
 * Scenarios (one summary line each):
 *   ctrl-c            a child process kill()s us once; the sleeping guest
 *                     thread wakes with guest SIGINT pending
 *   ctrl-c paced      1000 kills, each sent after the previous delivery was
 *                     seen: exactly 1000 deliveries, kill-to-wake latency
 *   ctrl-c raw burst  1000 kills back to back: standard signals coalesce, so
 *                     1 <= deliveries <= 1000 (none is lost beyond that: the
 *                     last kill is always followed by a delivery)
 *   ctrl-c to any     the forward targets SIGWAKE_TARGET_ANY; one guest
 *                     thread blocks guest SIGINT, the other receives it
 *   all blocked       every guest thread blocks SIGINT: the forwarded post
 *                     is queued for the domain and the thread that unblocks
 *                     it takes it at its next poll (also a direct POST(ANY))
 *   forward removed   after SIGWAKE_FORWARD_REMOVE a kill is ignored by the
 *                     host and reaches no guest thread; removing again:
 *                     ENOENT
 *
 * Usage: litebox-sigint [-n burst]   (default 1000)
 * Exit status: 0 every scenario behaved, 1 one did not, 2 no sigwake.
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
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "libsigwake.h"

#define GUEST_SIGINT		2
#define NSEC_PER_USEC		1000LL
#define NSEC_PER_MSEC		1000000LL
#define NSEC_PER_SEC		1000000000LL
/* Anything that must happen gets this long (TCG is 10-50x slower). */
#define PATIENCE_NS		(20 * NSEC_PER_SEC)
/* How long "nothing arrives" is watched for. */
#define QUIET_NS		(300 * NSEC_PER_MSEC)

static int dom;
static int failures;

/* ---- small helpers ---------------------------------------------------- */

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * NSEC_PER_SEC + ts.tv_nsec;
}

static void sleep_ns(int64_t ns)
{
	struct timespec ts = { ns / NSEC_PER_SEC, ns % NSEC_PER_SEC };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
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

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

/* SIGWAKE_IOC_FORWARD through libsigwake: 0 or -errno. */
static int forward(int host_signo, int guest_signo, __u32 target, __u32 flags)
{
	if (flags & SIGWAKE_FORWARD_REMOVE)
		return sigwake_forward_remove(dom, host_signo);
	return sigwake_forward(dom, host_signo, guest_signo, target);
}

/* ---- the "terminal": another process that sends SIGINT ----------------- */

/*
 * Shared with the child.  The child stores the time of each kill() before
 * it sends it, and (paced) waits for the guest to count the delivery.
 */
struct term {
	int64_t t_kill;		/* CLOCK_MONOTONIC just before the last kill() */
	long delivered;		/* guest SIGINT deliveries, written by the guest */
	long sent;		/* kills sent, written by the child */
	int stuck;		/* paced: a delivery did not come */
};
static struct term *term;

/*
 * Fork a child that sends @n SIGINTs to us; @paced: each one after the
 * previous delivery was seen.  Returns the child's pid.
 */
static pid_t terminal(long n, bool paced)
{
	pid_t parent = getpid(), pid = fork();

	if (pid)
		return pid;
	/* child: async-signal-safe calls only (the parent has threads) */
	for (long i = 0; i < n; i++) {
		long want = __atomic_load_n(&term->delivered, __ATOMIC_ACQUIRE) + 1;

		__atomic_store_n(&term->t_kill, now_ns(), __ATOMIC_RELEASE);
		kill(parent, SIGINT);
		__atomic_store_n(&term->sent, i + 1, __ATOMIC_RELEASE);
		if (!paced)
			continue;
		int64_t end = now_ns() + PATIENCE_NS;

		while (__atomic_load_n(&term->delivered, __ATOMIC_ACQUIRE) < want) {
			if (now_ns() > end) {
				__atomic_store_n(&term->stuck, 1, __ATOMIC_RELEASE);
				_exit(1);
			}
			sched_yield();
		}
	}
	_exit(0);
}

static int reap(pid_t pid)
{
	int status = 0;

	if (pid < 0)
		return 127;	/* fork failed */
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return 127;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

/* ---- guest threads ------------------------------------------------------ */

enum { CMD_NONE, CMD_UNBLOCK, CMD_EXIT };

struct guest {
	pthread_t th;
	int id;
	__u64 blocked;		/* guest mask it starts with */
	struct sigwake_self *self;
	__u32 handle;
	int ready;		/* registered (1) or failed (-1) */
	int cmd;		/* CMD_*, then a KICK makes it look */
	long sigint;		/* guest SIGINTs it took */
	int64_t t_took;		/* when it took the last one */
	int64_t *lat;		/* kill-to-wake samples, if not NULL */
	long nlat, maxlat;
	int err;		/* unexpected WAIT result, -errno */
};

/* The guest's SIGINT "handler" (runtime level): count, time it. */
static void deliver_sigint(struct guest *g, int64_t t)
{
	int64_t *lat = __atomic_load_n(&g->lat, __ATOMIC_ACQUIRE);

	if (lat && g->nlat < g->maxlat)
		lat[g->nlat++] = t - __atomic_load_n(&term->t_kill,
						     __ATOMIC_ACQUIRE);
	__atomic_store_n(&g->t_took, t, __ATOMIC_RELEASE);
	__atomic_add_fetch(&g->sigint, 1, __ATOMIC_ACQ_REL);
	__atomic_add_fetch(&term->delivered, 1, __ATOMIC_ACQ_REL);
}

/*
 * A guest thread that spends its life in a blocking guest syscall (say
 * nanosleep or sigsuspend), emulated by SIGWAKE_IOC_WAIT on no queue: it
 * returns for a guest signal it does not block, or a kick from the runtime.
 */
static void *guest_main(void *arg)
{
	struct guest *g = arg;
	struct sigwake_thread_block *b;
	int r = sigwake_register(dom, 0, NULL, &g->self);

	if (r < 0) {
		g->err = r;
		__atomic_store_n(&g->ready, -1, __ATOMIC_RELEASE);
		return NULL;
	}
	b = g->self->block;
	g->handle = g->self->handle;
	sigwake_set_blocked(b, g->blocked);
	__atomic_store_n(&g->ready, 1, __ATOMIC_RELEASE);

	for (;;) {
		__u64 sigs;
		int64_t t;

		r = sigwake_wait(dom, SIGWAKE_NO_WQ, 0, SIGWAKE_TIMEOUT_NONE, 0);
		t = now_ns();
		if (r < 0 && r != -EINTR) {
			g->err = r;
			break;
		}
		if (r == SIGWAKE_REASON_KICK) {
			sigwake_take_flags(b);
			switch (__atomic_load_n(&g->cmd, __ATOMIC_ACQUIRE)) {
			case CMD_EXIT:
				goto out;
			case CMD_UNBLOCK:
				/*
				 * Unblock SIGINT, then claim what the kernel
				 * queued for the domain while every thread
				 * blocked it: that happens inside WAIT only.
				 */
				sigwake_set_blocked(b, b->blocked &
						    ~sigwake_sigbit(GUEST_SIGINT));
				g->blocked = b->blocked;
				r = sigwake_poll(dom);
				t = now_ns();
				if (r < 0)
					g->err = r;
				break;
			}
			__atomic_store_n(&g->cmd, CMD_NONE, __ATOMIC_RELEASE);
		}
		sigs = sigwake_take_pending(b);
		if (sigs & sigwake_sigbit(GUEST_SIGINT))
			deliver_sigint(g, t);
	}
out:
	sigwake_unregister(g->self);
	return NULL;
}

static int guest_start(struct guest *g, int id, __u64 blocked)
{
	int64_t end = now_ns() + PATIENCE_NS;

	memset(g, 0, sizeof(*g));
	g->id = id;
	g->blocked = blocked;
	if (pthread_create(&g->th, NULL, guest_main, g))
		return -EAGAIN;
	while (!__atomic_load_n(&g->ready, __ATOMIC_ACQUIRE) && now_ns() < end)
		sched_yield();
	return __atomic_load_n(&g->ready, __ATOMIC_ACQUIRE) == 1 ? 0 :
	       (g->err ? g->err : -ETIMEDOUT);
}

/* Is the guest thread asleep in WAIT? (so a delivery must wake it) */
static bool guest_asleep(struct guest *g)
{
	int64_t end = now_ns() + PATIENCE_NS;

	while (sigwake_state(g->self->block) != SIGWAKE_WAITING) {
		if (now_ns() > end)
			return false;
		sched_yield();
	}
	return true;
}

/* Send a command: set it, kick the thread out of WAIT, wait until done. */
static bool guest_cmd(struct guest *g, int cmd)
{
	int64_t end = now_ns() + PATIENCE_NS;

	__atomic_store_n(&g->cmd, cmd, __ATOMIC_RELEASE);
	if (sigwake_kick(dom, g->handle) < 0)
		return false;
	if (cmd == CMD_EXIT)
		return !pthread_join(g->th, NULL);
	while (__atomic_load_n(&g->cmd, __ATOMIC_ACQUIRE) != CMD_NONE) {
		if (now_ns() > end)
			return false;
		sched_yield();
	}
	return true;
}

static long sigints(struct guest *g)
{
	return __atomic_load_n(&g->sigint, __ATOMIC_ACQUIRE);
}

/* Wait until @g took @n SIGINTs in all. */
static bool await_sigints(struct guest *g, long n)
{
	int64_t end = now_ns() + PATIENCE_NS;

	while (sigints(g) < n) {
		if (now_ns() > end)
			return false;
		sched_yield();
	}
	return true;
}

/* Wait until the count of @g stops moving for QUIET_NS; returns it. */
static long settle(struct guest *g)
{
	long n = sigints(g);
	int64_t quiet_until = now_ns() + QUIET_NS, end = now_ns() + PATIENCE_NS;

	while (now_ns() < quiet_until && now_ns() < end) {
		sleep_ns(NSEC_PER_MSEC);
		if (sigints(g) != n) {
			n = sigints(g);
			quiet_until = now_ns() + QUIET_NS;
		}
	}
	return n;
}

/* ---- scenarios ------------------------------------------------------- */

/* One Ctrl-C from another process wakes the sleeping guest thread. */
static void scenario_ctrl_c(struct guest *g)
{
	int f0 = failures, r;
	pid_t pid;

	r = forward(SIGINT, GUEST_SIGINT, g->handle, 0);
	if (r) {
		FAIL("SIGWAKE_IOC_FORWARD(SIGINT -> guest SIGINT, thread %u): %s",
		     g->handle, strerror(-r));
		return;
	}
	if (!guest_asleep(g)) {
		FAIL("the guest thread never went to sleep");
		return;
	}
	term->delivered = 0;
	pid = terminal(1, false);
	if (!await_sigints(g, 1))
		FAIL("no guest SIGINT %lld s after kill(SIGINT)",
		     (long long)(PATIENCE_NS / NSEC_PER_SEC));
	if (reap(pid))
		FAIL("the terminal process failed");
	if (g->err)
		FAIL("WAIT failed: %s", strerror(-g->err));
	if (failures == f0)
		printf("ctrl-c: kill(SIGINT) from another process woke the guest "
		       "thread sleeping in WAIT (REASON_SIGNAL, guest SIGINT "
		       "pending; host disposition SIG_IGN, no handler ran) in %s\n",
		       T(g->t_took - term->t_kill));
}

/* @n kills, each after the previous delivery: exactly @n deliveries. */
static void scenario_paced(struct guest *g, long n)
{
	int f0 = failures;
	long base = sigints(g), got;
	int64_t t0, t1, *lat = calloc((size_t)n, sizeof(*lat));
	pid_t pid;

	if (!lat) {
		FAIL("out of memory");
		return;
	}
	/* guest_main reads lat/nlat only when it takes a signal: none now */
	g->nlat = 0;
	g->maxlat = n;
	__atomic_store_n(&g->lat, lat, __ATOMIC_RELEASE);
	term->delivered = 0;
	t0 = now_ns();
	pid = terminal(n, true);
	if (reap(pid))
		FAIL("the terminal saw no delivery for kill %ld within %lld s",
		     term->sent, (long long)(PATIENCE_NS / NSEC_PER_SEC));
	t1 = now_ns();
	got = settle(g) - base;
	__atomic_store_n(&g->lat, NULL, __ATOMIC_RELEASE);
	if (got != n)
		FAIL("%ld kills, %ld deliveries (expected exactly %ld)",
		     term->sent, got, n);
	if (g->err)
		FAIL("WAIT failed: %s", strerror(-g->err));
	if (failures == f0 && g->nlat) {
		qsort(lat, (size_t)g->nlat, sizeof(*lat), cmp_i64);
		printf("ctrl-c paced: %ld kills, each sent after the previous "
		       "delivery was seen: %ld of %ld delivered, kill-to-wake "
		       "median %s, p99 %s, max %s, in %s\n",
		       n, got, n, T(lat[g->nlat / 2]),
		       T(lat[g->nlat * 99 / 100]), T(lat[g->nlat - 1]),
		       T(t1 - t0));
	}
	free(lat);
}

/*
 * @n kills back to back.  Like standard signals in the kernel, a guest
 * SIGINT that is already pending absorbs the next one: deliveries are
 * between 1 and @n, and the last kill is never lost (a delivery follows it).
 */
static void scenario_raw(struct guest *g, long n)
{
	int f0 = failures;
	long base = sigints(g), got;
	int64_t t0, t_last_kill, t_last_took;
	pid_t pid;

	term->delivered = 0;
	t0 = now_ns();
	pid = terminal(n, false);
	if (reap(pid))
		FAIL("the terminal process failed");
	t_last_kill = term->t_kill;
	got = settle(g) - base;
	t_last_took = __atomic_load_n(&g->t_took, __ATOMIC_ACQUIRE);
	if (got < 1 || got > n)
		FAIL("%ld kills, %ld deliveries (expected 1..%ld)", n, got, n);
	else if (t_last_took < t_last_kill)
		FAIL("the last delivery (%s after the start) came before the "
		     "last kill (%s): that kill was lost",
		     T(t_last_took - t0), T(t_last_kill - t0));
	if (g->err)
		FAIL("WAIT failed: %s", strerror(-g->err));
	if (failures == f0)
		printf("ctrl-c raw burst: %ld kills back to back gave %ld "
		       "deliveries (%ld coalesced with a still-pending guest "
		       "SIGINT, as standard signals do; the last kill was "
		       "delivered) in %s\n", n, got, n - got,
		       T(t_last_took - t0));
}

/* FORWARD to SIGWAKE_TARGET_ANY: the thread that does not block SIGINT. */
static void scenario_any(struct guest *busy, struct guest *idle)
{
	int f0 = failures, r;
	long b0 = sigints(busy), i0 = sigints(idle);
	pid_t pid;

	r = forward(SIGINT, GUEST_SIGINT, SIGWAKE_TARGET_ANY, 0);
	if (r) {
		FAIL("SIGWAKE_IOC_FORWARD(SIGINT -> guest SIGINT, ANY): %s",
		     strerror(-r));
		return;
	}
	if (!guest_asleep(busy) || !guest_asleep(idle)) {
		FAIL("the guest threads never went to sleep");
		return;
	}
	pid = terminal(1, false);
	if (!await_sigints(idle, i0 + 1))
		FAIL("thread %u (SIGINT unblocked) got no guest SIGINT",
		     idle->handle);
	reap(pid);
	settle(idle);
	if (sigints(busy) != b0)
		FAIL("thread %u blocks guest SIGINT but took it", busy->handle);
	if (busy->self->block->pending & sigwake_sigbit(GUEST_SIGINT))
		FAIL("guest SIGINT also pending on thread %u, which blocks it",
		     busy->handle);
	if (failures == f0)
		printf("ctrl-c to any: forwarded to SIGWAKE_TARGET_ANY; thread "
		       "%u blocks guest SIGINT, thread %u took it in %s\n",
		       busy->handle, idle->handle,
		       T(idle->t_took - term->t_kill));
}

/*
 * Every thread blocks SIGINT: a process-directed guest signal waits for the
 * domain (SIGWAKE_POST_QUEUED) until a thread unblocks it and polls.
 */
static void scenario_all_blocked(struct guest *a, struct guest *b)
{
	int f0 = failures, r;
	long a0, b0;
	__u32 h = ~0u;
	int64_t t;
	pid_t pid;

	/* Both block guest SIGINT now; the forward still targets ANY. */
	a->blocked |= sigwake_sigbit(GUEST_SIGINT);
	b->blocked |= sigwake_sigbit(GUEST_SIGINT);
	sigwake_set_blocked(a->self->block, a->blocked);
	sigwake_set_blocked(b->self->block, b->blocked);
	a0 = sigints(a);
	b0 = sigints(b);

	/* 1. a host Ctrl-C, forwarded to ANY */
	pid = terminal(1, false);
	reap(pid);
	settle(a);
	if (sigints(a) != a0 || sigints(b) != b0)
		FAIL("a thread took guest SIGINT although every thread blocks it");
	if ((a->self->block->pending | b->self->block->pending) &
	    sigwake_sigbit(GUEST_SIGINT))
		FAIL("guest SIGINT was made pending on a thread that blocks it "
		     "instead of being queued for the domain");
	t = now_ns();
	if (!guest_cmd(b, CMD_UNBLOCK))
		FAIL("thread %u did not unblock SIGINT", b->handle);
	if (!await_sigints(b, b0 + 1))
		FAIL("thread %u unblocked SIGINT and polled, but the queued "
		     "Ctrl-C did not come", b->handle);
	if (sigints(a) != a0)
		FAIL("thread %u (still blocking) took guest SIGINT", a->handle);
	if (failures != f0)
		return;
	printf("all blocked (forwarded ctrl-c): every guest thread blocked "
	       "SIGINT, the kill was queued for the domain; thread %u "
	       "unblocked it, polled and took it in %s\n", b->handle,
	       T(b->t_took - t));

	/* 2. the same with a direct POST(ANY) */
	b->blocked |= sigwake_sigbit(GUEST_SIGINT);
	sigwake_set_blocked(b->self->block, b->blocked);
	a0 = sigints(a);
	b0 = sigints(b);
	r = sigwake_post(dom, SIGWAKE_TARGET_ANY, GUEST_SIGINT, &h);
	if (r != SIGWAKE_POST_QUEUED)
		FAIL("POST(ANY, SIGINT) with every thread blocking it: %s "
		     "(expected queued, handle 0)",
		     r < 0 ? strerror(-r) : sigwake_outcome_name(r));
	else if (h != 0)
		FAIL("POST(ANY) queued but reported handle %u (expected 0)", h);
	t = now_ns();
	if (!guest_cmd(a, CMD_UNBLOCK))
		FAIL("thread %u did not unblock SIGINT", a->handle);
	if (!await_sigints(a, a0 + 1))
		FAIL("thread %u unblocked SIGINT and polled, but the queued "
		     "POST did not come", a->handle);
	settle(a);
	if (sigints(b) != b0)
		FAIL("thread %u (still blocking) took guest SIGINT", b->handle);
	if (failures == f0)
		printf("all blocked (POST ANY): outcome queued (handle 0); "
		       "thread %u unblocked SIGINT, polled and took it in %s\n",
		       a->handle, T(a->t_took - t));
}

/* After SIGWAKE_FORWARD_REMOVE nothing arrives; a second REMOVE: ENOENT. */
static void scenario_removed(struct guest *a, struct guest *b)
{
	int f0 = failures, r;
	long a0 = sigints(a), b0 = sigints(b);
	int64_t t0 = now_ns();
	pid_t pid;

	r = forward(SIGINT, 0, 0, SIGWAKE_FORWARD_REMOVE);
	if (r) {
		FAIL("SIGWAKE_FORWARD_REMOVE(SIGINT): %s", strerror(-r));
		return;
	}
	pid = terminal(1, false);
	reap(pid);
	sleep_ns(QUIET_NS);
	if (sigints(a) != a0 || sigints(b) != b0 ||
	    ((a->self->block->pending | b->self->block->pending) &
	     sigwake_sigbit(GUEST_SIGINT)))
		FAIL("a kill after FORWARD_REMOVE still reached a guest thread");
	r = forward(SIGINT, 0, 0, SIGWAKE_FORWARD_REMOVE);
	if (r != -ENOENT)
		FAIL("a second FORWARD_REMOVE(SIGINT) gave %s (expected ENOENT)",
		     r ? strerror(-r) : "success");
	if (failures == f0)
		printf("forward removed: after SIGWAKE_FORWARD_REMOVE a kill "
		       "(host: SIG_IGN) reached no guest thread in %s of "
		       "watching; removing again: ENOENT\n", T(now_ns() - t0));
}

int main(int argc, char **argv)
{
	struct guest g1, g2;
	long n = 1000;
	int opt, r;

	while ((opt = getopt(argc, argv, "n:h")) != -1) {
		switch (opt) {
		case 'n':
			n = strtol(optarg, NULL, 0);
			break;
		default:
			fprintf(stderr, "usage: litebox-sigint [-n burst]\n");
			return 2;
		}
	}
	if (n < 1)
		n = 1;
	setvbuf(stdout, NULL, _IOLBF, 0);
	term = mmap(NULL, sizeof(*term), PROT_READ | PROT_WRITE,
		    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (term == MAP_FAILED) {
		perror("mmap");
		return 2;
	}

	dom = sigwake_open();
	if (dom < 0) {
		printf("litebox-sigint: sigwake_open: %s\n",
		       sigwake_open_error(dom));
		return 2;
	}
	/* Boot: the host ignores SIGINT; the kernel forwards it. */
	signal(SIGINT, SIG_IGN);

	r = guest_start(&g1, 1, 0);
	if (r) {
		printf("litebox-sigint: guest thread: %s\n", strerror(-r));
		return 2;
	}
	scenario_ctrl_c(&g1);
	if (!failures)
		scenario_paced(&g1, n);
	if (!failures)
		scenario_raw(&g1, n);

	/* Two threads: g1 now blocks guest SIGINT (a critical section). */
	g1.blocked = sigwake_sigbit(GUEST_SIGINT);
	sigwake_set_blocked(g1.self->block, g1.blocked);
	r = guest_start(&g2, 2, 0);
	if (r) {
		printf("litebox-sigint: second guest thread: %s\n",
		       strerror(-r));
		return 2;
	}
	if (!failures)
		scenario_any(&g1, &g2);
	if (!failures)
		scenario_all_blocked(&g1, &g2);
	if (!failures)
		scenario_removed(&g1, &g2);

	if (!guest_cmd(&g1, CMD_EXIT) || !guest_cmd(&g2, CMD_EXIT))
		FAIL("a guest thread did not exit");
	close(dom);
	if (failures) {
		printf("litebox-sigint: %d failure(s)\n", failures);
		return 1;
	}
	return 0;
}
