// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Host-side test of libsigwake's inline fast paths and of the wrappers'
 * error conventions.  Needs no /dev/sigwake: a second thread plays the
 * kernel's half of the Dekker handshake (set the pending bit, full barrier,
 * read the state) against sigwake_enter_guest() on real CPUs.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "libsigwake.h"

static int failures;

#define CHECK(cond)							\
	do {								\
		if (!(cond)) {						\
			fprintf(stderr, "%s:%d: FAIL: %s\n", __FILE__,	\
				__LINE__, #cond);			\
			failures++;					\
		}							\
	} while (0)

static struct sigwake_thread_block blk __attribute__((aligned(64)));

static void reset(void)
{
	memset(&blk, 0, sizeof(blk));
}

static void test_enter_leave(void)
{
	__u64 sigs;
	__u32 fl;

	reset();
	CHECK(sigwake_enter_guest(&blk) == 0);
	CHECK(sigwake_state(&blk) == SIGWAKE_RUNNING_IN_GUEST);
	sigwake_leave_guest(&blk);
	CHECK(sigwake_state(&blk) == SIGWAKE_RUNNING_IN_HOST);

	CHECK(sigwake_enter_syscall(&blk) == 0);
	CHECK(sigwake_state(&blk) == SIGWAKE_IN_SYSCALL);
	sigwake_leave_syscall(&blk);
	CHECK(sigwake_state(&blk) == SIGWAKE_RUNNING_IN_HOST);

	/* An unblocked pending signal refuses the entry and is not consumed. */
	blk.pending = sigwake_sigbit(10) | sigwake_sigbit(64);
	blk.blocked = sigwake_sigbit(64);
	CHECK(sigwake_enter_guest(&blk) == sigwake_sigbit(10));
	CHECK(sigwake_state(&blk) == SIGWAKE_RUNNING_IN_HOST);
	CHECK(blk.pending == (sigwake_sigbit(10) | sigwake_sigbit(64)));
	CHECK(sigwake_enter_syscall(&blk) == sigwake_sigbit(10));
	CHECK(sigwake_state(&blk) == SIGWAKE_RUNNING_IN_HOST);

	/* Only blocked signals pending: the entry goes ahead. */
	blk.pending = sigwake_sigbit(64);
	CHECK(sigwake_enter_guest(&blk) == 0);
	CHECK(sigwake_state(&blk) == SIGWAKE_RUNNING_IN_GUEST);
	sigwake_leave_guest(&blk);

	/* A kick alone refuses too, with the documented value. */
	reset();
	blk.flags = SIGWAKE_TF_KICKED;
	CHECK(sigwake_enter_guest(&blk) == SIGWAKE_ENTER_KICKED);
	CHECK(sigwake_state(&blk) == SIGWAKE_RUNNING_IN_HOST);
	CHECK(sigwake_try_enter(&blk, SIGWAKE_RUNNING_IN_GUEST, &sigs, &fl)
	      == 1);
	CHECK(sigs == 0 && fl == SIGWAKE_TF_KICKED);
	CHECK(sigwake_kicked(&blk));

	/* TF_PREEMPTED alone does not refuse. */
	blk.flags = SIGWAKE_TF_PREEMPTED;
	CHECK(sigwake_try_enter(&blk, SIGWAKE_RUNNING_IN_GUEST, &sigs, &fl)
	      == 0);
	CHECK(fl == SIGWAKE_TF_PREEMPTED && !sigwake_kicked(&blk));
	sigwake_leave_guest(&blk);
}

static void test_take_and_mask(void)
{
	reset();
	blk.pending = sigwake_sigbit(1) | sigwake_sigbit(2) |
		      sigwake_sigbit(33);
	CHECK(sigwake_set_blocked(&blk, sigwake_sigbit(2)) == 0);
	CHECK(sigwake_take_pending(&blk) ==
	      (sigwake_sigbit(1) | sigwake_sigbit(33)));
	CHECK(blk.pending == sigwake_sigbit(2));
	CHECK(sigwake_take_pending(&blk) == 0);
	CHECK(sigwake_set_blocked(&blk, 0) == sigwake_sigbit(2));
	CHECK(sigwake_take_pending(&blk) == sigwake_sigbit(2));
	CHECK(blk.pending == 0);

	blk.flags = SIGWAKE_TF_KICKED | SIGWAKE_TF_PREEMPTED;
	CHECK(sigwake_take_flags(&blk) ==
	      (SIGWAKE_TF_KICKED | SIGWAKE_TF_PREEMPTED));
	CHECK(blk.flags == 0 && sigwake_take_flags(&blk) == 0);
	CHECK(!sigwake_kicked(&blk));
}

/*
 * The Dekker race on two CPUs.  Each round both threads start together;
 * the "kernel" posts signal 1 (atomic OR, full barrier, read state) while
 * the runtime tries to enter guest code and, if it got in, stays there
 * until the kernel has looked.  A lost event is a round in which the
 * runtime entered without seeing the bit and the kernel did not see
 * RUNNING_IN_GUEST.
 */
#define ROUNDS 200000

static unsigned int round_go, round_kdone;
static unsigned long lost, kicks, refusals;

/* Spin for *p == v, yielding now and then: the host may be overcommitted. */
static void wait_for(const unsigned int *p, unsigned int v)
{
	unsigned int i;

	for (i = 1; __atomic_load_n(p, __ATOMIC_ACQUIRE) != v; i++)
		if (!(i % 16384))
			sched_yield();
}

static void *kernel_side(void *arg)
{
	unsigned int r;

	(void)arg;
	for (r = 1; r <= ROUNDS; r++) {
		__u32 st;

		wait_for(&round_go, r);
		__atomic_fetch_or(&blk.pending, sigwake_sigbit(1),
				  __ATOMIC_SEQ_CST);
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		st = __atomic_load_n(&blk.state, __ATOMIC_SEQ_CST);
		if (st == SIGWAKE_RUNNING_IN_GUEST) {
			__atomic_fetch_or(&blk.flags, SIGWAKE_TF_KICKED,
					  __ATOMIC_SEQ_CST);
			kicks++;
		}
		__atomic_store_n(&round_kdone, r, __ATOMIC_RELEASE);
	}
	return NULL;
}

static void test_dekker_race(void)
{
	pthread_t k;
	unsigned int r;

	reset();
	if (pthread_create(&k, NULL, kernel_side, NULL)) {
		CHECK(!"pthread_create");
		return;
	}
	for (r = 1; r <= ROUNDS; r++) {
		int entered;

		__atomic_store_n(&round_go, r, __ATOMIC_RELEASE);
		entered = sigwake_enter_guest(&blk) == 0;
		if (entered) {
			wait_for(&round_kdone, r);
			sigwake_leave_guest(&blk);
			if (!sigwake_kicked(&blk))
				lost++;
		} else {
			refusals++;
			wait_for(&round_kdone, r);
		}
		sigwake_take_flags(&blk);
		CHECK(sigwake_take_pending(&blk) == sigwake_sigbit(1));
	}
	pthread_join(k, NULL);
	printf("dekker: %d rounds, %lu refused entry, %lu kicked in guest, "
	       "%lu lost\n", ROUNDS, refusals, kicks, lost);
	CHECK(lost == 0);
	CHECK(refusals + kicks >= ROUNDS);
}

static void test_wrappers(void)
{
	struct sigwake_self *self = (void *)1;
	int fd, ret;

	/* No device on the build host, or a real one: either way no errno. */
	errno = 12345;
	ret = sigwake_open();
	CHECK(errno == 12345);
	if (ret >= 0)
		close(ret);
	else
		CHECK(ret == -ENOENT || ret == -EACCES || ret == -ENXIO ||
		      ret == -ENODEV);

	/* An fd that is not a domain: the block goes back to the pool. */
	fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	CHECK(fd >= 0);
	errno = 777;
	ret = sigwake_register(fd, 0, NULL, &self);
	CHECK(ret == -ENOTTY);
	CHECK(self == NULL);
	CHECK(errno == 777);
	CHECK(sigwake_self() == NULL && sigwake_self_in(fd) == NULL);
	CHECK(sigwake_post(fd, 1, 1, NULL) == -ENOTTY);
	CHECK(sigwake_wait(fd, SIGWAKE_NO_WQ, 0, 0, 0) == -ENOTTY);
	CHECK(sigwake_wake(fd, 1, 1) == -ENOTTY);
	CHECK(sigwake_kick(fd, 1) == -ENOTTY);
	CHECK(sigwake_wq_create(fd, NULL) == -ENOTTY);
	CHECK(sigwake_wq_destroy(fd, 1) == -ENOTTY);
	CHECK(sigwake_unregister_handle(fd, 1) == -ENOTTY);
	CHECK(errno == 777);
	close(fd);
	CHECK(sigwake_post(-1, 1, 1, NULL) == -EBADF);
	CHECK(sigwake_register(-1, -5, NULL, &self) == -EINVAL);
	CHECK(!strcmp(sigwake_reason_name(SIGWAKE_REASON_SIGNAL), "signal"));
	CHECK(!strcmp(sigwake_outcome_name(SIGWAKE_POST_QUEUED), "queued"));
	CHECK(!strcmp(sigwake_outcome_name(0), "?"));
}

/*
 * The block pool from many threads at once (every registration fails on
 * /dev/null, so each takes a block and gives it back), then from a child
 * forked while those threads ran: the pool lock must not be inherited held.
 */
#define POOL_THREADS	8
#define POOL_ROUNDS	5000

static int null_fd;

static void *pool_worker(void *arg)
{
	struct sigwake_self *self;
	long bad = 0;
	int i;

	(void)arg;
	for (i = 0; i < POOL_ROUNDS; i++)
		if (sigwake_register(null_fd, 0, NULL, &self) != -ENOTTY)
			bad++;
	return (void *)bad;
}

static void test_pool(void)
{
	pthread_t th[POOL_THREADS];
	struct sigwake_self *self;
	int i, status, forks = 0;
	void *bad;

	null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	CHECK(null_fd >= 0);
	for (i = 0; i < POOL_THREADS; i++)
		CHECK(pthread_create(&th[i], NULL, pool_worker, NULL) == 0);
	for (i = 0; i < 20; i++) {
		pid_t pid = fork();

		if (pid == 0)
			_exit(sigwake_register(null_fd, 0, NULL, &self) ==
			      -ENOTTY ? 0 : 1);
		CHECK(pid > 0);
		if (pid > 0 && waitpid(pid, &status, 0) == pid &&
		    WIFEXITED(status) && WEXITSTATUS(status) == 0)
			forks++;
	}
	for (i = 0; i < POOL_THREADS; i++) {
		CHECK(pthread_join(th[i], &bad) == 0);
		CHECK(bad == NULL);
	}
	CHECK(forks == 20);
	close(null_fd);
	printf("pool: %d threads x %d allocations, %d forked children ok\n",
	       POOL_THREADS, POOL_ROUNDS, forks);
}

int main(void)
{
	test_enter_leave();
	test_take_and_mask();
	test_wrappers();
	test_pool();
	test_dekker_race();
	if (failures) {
		printf("test-fastpath: %d failure(s)\n", failures);
		return 1;
	}
	printf("test-fastpath: all passed\n");
	return 0;
}
