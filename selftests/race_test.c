// SPDX-License-Identifier: GPL-2.0
/*
 * The lost-event race: POST vs WAIT, SIGWAKE_RACE_ITERS iterations.
 *
 * Without SIGWAKE_RACE_ITERS it runs 100,000 iterations whatever the time
 * they take, then goes on up to 1,000,000 while it has been running for
 * less than RACE_SOFT_SECONDS (90; SIGWAKE_RACE_SECONDS overrides it, and
 * `make check` sets it to 20 when VMs run side by side, LANE_RACE_SECONDS): a
 * loaded host still does the 100,000, an idle one does the million (about
 * 15 s on 6.1 under TCG, 60 s on the debug kernel).  The log says how many
 * it did and why it stopped.
 *
 * The poster hands exactly one guest signal at a time to a waiter and waits
 * for the waiter to acknowledge it before the next, with a random delay so
 * that the post lands before, during and after the waiter's "check, then
 * sleep".  A post counts as lost when the waiter's WAIT, with a 10 s
 * timeout, returns REASON_TIMEOUT: that is deterministic, and one lost post
 * fails the test.  The outcome counts (WOKEN: the waiter slept; RECORDED:
 * it had not yet) show that both sides of the window were hit.
 *
 * The acknowledgement is an atomic counter the poster spins on: a sleeping
 * hand-back costs a cross-vCPU wakeup per iteration, which under TCG was
 * 5-25 times slower (measured).  For the same reason a SCHED_IDLE thread
 * spins while the race runs: it keeps the waiter's vCPU from halting, so
 * waking the waiter is a reschedule of a running vCPU rather than a wakeup
 * of an idle host thread (2-3 times faster under TCG, measured; on real
 * hardware it only uses idle time).  The other races are in stress_test.c.
 */
#include "sigwake_test.h"

#define RACE_MIN_ITERS		100000ul
#define RACE_MAX_ITERS		1000000ul
#define RACE_SOFT_SECONDS	90

SW_DOMAIN_FIXTURE(domain, 8)

/* ------------------------------------------------------------------ */
/* POST vs WAIT (the receiver is sw_post_receiver())                   */

static int idle_stop;

static void *idle_spinner(void *arg)
{
	struct sched_param p = { 0 };

	sched_setscheduler(0, SCHED_IDLE, &p);
	while (!SW_LOAD(&idle_stop))
		sw_cpu_relax();
	return NULL;
}

TEST_F_TIMEOUT(domain, post_wait, 600)
{
	const char *env = getenv("SIGWAKE_RACE_ITERS");
	bool fixed = env && *env;
	unsigned long iters = fixed ? sw_race_iters(1) : RACE_MAX_ITERS;
	unsigned long min_iters = fixed ? iters : RACE_MIN_ITERS;
	unsigned long i, outcomes[5] = { 0 };
	unsigned long post_err = 0, bad_outcome = 0, stalls = 0;
	const char *secs = getenv("SIGWAKE_RACE_SECONDS");
	int64_t soft_ns = (secs && *secs ? strtol(secs, NULL, 0) :
			   RACE_SOFT_SECONDS) * SW_NSEC_PER_SEC;
	bool soft_stop = false;
	struct sw_receiver r = {
		.fd = self->fd,
		.blk = &self->blk[0],
		.iters = iters,
	};
	uint64_t rng = 0x9e3779b97f4a7c15ull ^ (uint64_t)getpid();
	pthread_t th, spinner;
	int64_t t0;

	if (sysconf(_SC_NPROCESSORS_ONLN) > 1)
		ASSERT_EQ(0, pthread_create(&spinner, NULL, idle_spinner, NULL));
	SW_START_RECEIVER(th, sw_post_receiver, &r, &r);

	t0 = sw_now_ns();
	for (i = 0; i < iters; i++) {
		__u32 outcome = 0;
		int err;

		if (i >= min_iters && !(i & 1023) && sw_now_ns() - t0 > soft_ns) {
			soft_stop = true;
			break;
		}
		if (!sw_await_ulong(&r.ack, i, &r.done)) {
			stalls++;
			break;
		}
		sw_random_delay(&rng);
		err = sw_post(self->fd, r.handle, SW_SIG, NULL, &outcome);
		if (err) {
			post_err++;
			break;
		}
		if (outcome == SIGWAKE_POST_RECORDED || outcome == SIGWAKE_POST_WOKEN)
			outcomes[outcome]++;
		else
			bad_outcome++;
	}
	if (soft_stop) {
		/* Stop the waiter: the flag, then one more post ends its WAIT. */
		if (!sw_await_ulong(&r.ack, i, &r.done))
			stalls++;
		SW_STORE(&r.stop, 1);
		if (sw_post(self->fd, r.handle, SW_SIG, NULL, NULL))
			post_err++;
	} else if (i < iters) {
		SW_STORE(&r.stop, 1);
	}
	pthread_join(th, NULL);
	SW_STORE(&idle_stop, 1);
	if (sysconf(_SC_NPROCESSORS_ONLN) > 1)
		pthread_join(spinner, NULL);
	TH_LOG("%lu iterations in %.0f ms: %lu posts found the waiter asleep (WOKEN), %lu before it slept (RECORDED)%s",
	       r.ack, sw_ms_since(t0), outcomes[SIGWAKE_POST_WOKEN],
	       outcomes[SIGWAKE_POST_RECORDED],
	       soft_stop ? " (stopped at the soft time limit, past the floor)" : "");
	EXPECT_EQ(0, r.lost) {
		TH_LOG("LOST EVENT: a posted signal did not end WAIT within 10 s (iteration %lu)",
		       r.ack);
	}
	EXPECT_EQ(0, r.errors) {
		TH_LOG("WAIT failed: %s", strerror(-r.first_err));
	}
	EXPECT_EQ(0, r.bad_reason) {
		TH_LOG("WAIT returned reason %u", r.bad_reason_val);
	}
	EXPECT_EQ(0, r.missing);
	EXPECT_EQ(0, post_err);
	EXPECT_EQ(0, bad_outcome);
	EXPECT_EQ(0, stalls);
	if (soft_stop) {
		/* the stopping post may or may not have been taken */
		EXPECT_LE(i, r.ack);
		EXPECT_GE(i + 1, r.ack);
	} else {
		EXPECT_EQ(iters, r.ack);
	}
	EXPECT_LE(min_iters, r.ack);
}

/* ------------------------------------------------------------------ */
/* WAIT's early EAGAIN vs UNREGISTER and munmap() of the block         */

struct unreg_waiter {
	int fd;
	__u32 wq;
	void *block;
	__u32 handle;
	int registered;
	unsigned long eagains;
	int end;
};

static void *unreg_waiter(void *arg)
{
	struct unreg_waiter *w = arg;
	int ret;

	ret = sw_register(w->fd, w->block, NULL, 0, &w->handle);
	SW_STORE(&w->registered, ret ? -1 : 1);
	if (ret)
		return NULL;
	/* The word is 1: each WAIT takes the lockless EAGAIN path. */
	while ((ret = sw_wait(w->fd, w->wq, 0, SIGWAKE_TIMEOUT_NONE, 0,
			      NULL)) == -EAGAIN)
		SW_STORE(&w->eagains, w->eagains + 1);
	SW_STORE(&w->end, ret);
	return NULL;
}

/*
 * The lockless EAGAIN of a WAIT reads the caller's block after it found
 * the thread alive; another thread's UNREGISTER may unpin the block in
 * between, and the munmap() that follows frees the page.  The read must
 * stay within memory the kernel still holds (KASAN on the debug kernel
 * reports it otherwise), and the WAIT must end with ENOENT or EIDRM.
 */
TEST_F_TIMEOUT(domain, eagain_vs_unregister_unmap, 300)
{
	size_t pg = (size_t)sysconf(_SC_PAGESIZE);
	uint64_t rng = 0x2545f4914f6cdd1dull ^ (uint64_t)getpid();
	unsigned long rounds = 0, bad = 0;
	__u32 *word = (__u32 *)self->kick;
	struct unreg_waiter w;
	int64_t t0 = sw_now_ns();
	__u32 wq;
	pthread_t th;

	*word = 1;
	ASSERT_EQ(0, sw_wq_create(self->fd, word, &wq));
	while (rounds < 20000 && sw_now_ns() - t0 < 3 * SW_NSEC_PER_SEC) {
		unsigned long want;

		memset(&w, 0, sizeof(w));
		w.fd = self->fd;
		w.wq = wq;
		w.block = sw_alloc_page();
		ASSERT_NE(NULL, w.block);
		ASSERT_EQ(0, pthread_create(&th, NULL, unreg_waiter, &w));
		while (!SW_LOAD(&w.registered))
			sw_cpu_relax();
		ASSERT_EQ(1, SW_LOAD(&w.registered));
		/* Let it loop a random while, then pull the block away. */
		want = sw_xorshift(&rng) % 8;
		while (SW_LOAD(&w.eagains) < want)
			sw_cpu_relax();
		ASSERT_EQ(0, sw_unregister(self->fd, w.handle));
		ASSERT_EQ(0, munmap(w.block, pg));
		pthread_join(th, NULL);
		if (w.end != -ENOENT && w.end != -EIDRM) {
			bad++;
			TH_LOG("round %lu: WAIT ended with %d", rounds, w.end);
		}
		rounds++;
	}
	TH_LOG("%lu rounds", rounds);
	EXPECT_EQ(0, bad);
	EXPECT_LT(0, rounds);
}

/* WAIT's early EAGAIN vs WQ_DESTROY and munmap() of the queue's word */

struct destroy_waiter {
	int fd;
	struct sigwake_thread_block *blk;
	volatile __u32 wq;
	int registered;
	unsigned long eagains;
	int end;
	int stop;
};

static void *destroy_waiter(void *arg)
{
	struct destroy_waiter *w = arg;
	__u32 handle;
	int ret;

	ret = sw_register(w->fd, w->blk, NULL, 0, &handle);
	SW_STORE(&w->registered, ret ? -1 : 1);
	if (ret)
		return NULL;
	while (!SW_LOAD(&w->stop)) {
		/* A queue's word is 1: each WAIT takes the lockless EAGAIN. */
		while ((ret = sw_wait(w->fd, SW_LOAD(&w->wq), 0,
				      SIGWAKE_TIMEOUT_NONE, 0, NULL)) == -EAGAIN)
			SW_STORE(&w->eagains, w->eagains + 1);
		if (ret != -ENOENT && ret != -EIDRM) {
			SW_STORE(&w->end, ret ? ret : -1);
			break;
		}
	}
	sw_unregister(w->fd, handle);
	return NULL;
}

/*
 * The same for the queue's word: the lockless EAGAIN reads it while
 * another thread destroys the queue, whose last put unpins the word, and
 * unmaps its page.  Each WAIT must end with EAGAIN, ENOENT or EIDRM.
 */
TEST_F_TIMEOUT(domain, eagain_vs_wq_destroy_unmap, 300)
{
	size_t pg = (size_t)sysconf(_SC_PAGESIZE);
	uint64_t rng = 0x9e3779b97f4a7c15ull ^ (uint64_t)getpid();
	struct destroy_waiter w = {
		.fd = self->fd,
		.blk = &self->blk[0],
		.wq = 0x7ffffff0,
	};
	int64_t t0 = sw_now_ns();
	unsigned long rounds = 0;
	pthread_t th;

	ASSERT_EQ(0, pthread_create(&th, NULL, destroy_waiter, &w));
	while (!SW_LOAD(&w.registered))
		sw_cpu_relax();
	ASSERT_EQ(1, SW_LOAD(&w.registered));
	while (rounds < 20000 && sw_now_ns() - t0 < 3 * SW_NSEC_PER_SEC &&
	       !SW_LOAD(&w.end)) {
		__u32 *word = sw_alloc_page();
		unsigned long want;
		__u32 wq;

		ASSERT_NE(NULL, word);
		*word = 1;
		ASSERT_EQ(0, sw_wq_create(self->fd, word, &wq));
		SW_STORE(&w.wq, wq);
		want = SW_LOAD(&w.eagains) + sw_xorshift(&rng) % 8;
		while (SW_LOAD(&w.eagains) < want && !SW_LOAD(&w.end))
			sw_cpu_relax();
		ASSERT_EQ(0, sw_wq_destroy(self->fd, wq));
		ASSERT_EQ(0, munmap(word, pg));
		rounds++;
	}
	SW_STORE(&w.stop, 1);
	SW_STORE(&w.wq, 0x7ffffff0);
	pthread_join(th, NULL);
	TH_LOG("%lu rounds, %lu EAGAIN", rounds, w.eagains);
	EXPECT_EQ(0, w.end);
	EXPECT_LT(0, rounds);
}

TEST_HARNESS_MAIN
